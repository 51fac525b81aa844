/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "procfs.h"
#include "util.h"

/* "<pid>/<name>", "self/<name>" or "<name>", under "/proc/" without a
 * proc_fd. -ENOENT for a pid no process has, -ENAMETOOLONG if it does not
 * fit. */
static int procfs_path(int proc_fd, pid_t pid, const char *name, char *buf, size_t size) {
        const char *root = proc_fd >= 0 ? "" : "/proc/";
        int n;

        if (pid == PROCFS_SELF)
                n = snprintf(buf, size, "%sself/%s", root, name);
        else if (pid == PROCFS_TOP)
                n = snprintf(buf, size, "%s%s", root, name);
        else if (pid > 0)
                n = snprintf(buf, size, "%s%d/%s", root, (int) pid, name);
        else
                return -ENOENT;  /* no process has it */
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

int procfs_open(int proc_fd, pid_t pid, const char *name, int flags) {
        char path[128];
        int r, fd;

        r = procfs_path(proc_fd, pid, name, path, sizeof path);
        if (r < 0)
                return r;
        fd = openat(proc_fd >= 0 ? proc_fd : AT_FDCWD, path, flags | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

int procfs_read(int proc_fd, pid_t pid, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;

        if (size == 0)
                return -EINVAL;
        fd = procfs_open(proc_fd, pid, name, O_RDONLY | O_NOCTTY);
        if (fd < 0)
                return fd;
        return read_fd_small(fd, buf, size);
}

int procfs_read_all(int proc_fd, pid_t pid, const char *name, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        fd = procfs_open(proc_fd, pid, name, O_RDONLY | O_NOCTTY);
        if (fd < 0)
                return fd;
        for (;;) {
                ssize_t n;

                if (len == cap) {
                        size_t next = cap ? cap * 2 : 16384;
                        char *p;

                        if (cap >= max)
                                return -EFBIG;
                        if (next > max)
                                next = max;  /* never more than max */
                        p = realloc(buf, next);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = next;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int procfs_readlink(int proc_fd, pid_t pid, const char *name, char *buf, size_t size) {
        char path[128];
        ssize_t n;
        int r;

        if (size == 0)
                return -EINVAL;
        r = procfs_path(proc_fd, pid, name, path, sizeof path);
        if (r < 0)
                return r;
        n = readlinkat(proc_fd >= 0 ? proc_fd : AT_FDCWD, path, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return (int) n;
}

int procfs_ns_ino(int proc_fd, pid_t pid, const char *ns, ino_t *ret) {
        char name[32], path[128];
        struct stat st;
        int r;

        if (snprintf(name, sizeof name, "ns/%s", ns) >= (int) sizeof name)
                return -ENAMETOOLONG;
        r = procfs_path(proc_fd, pid, name, path, sizeof path);
        if (r < 0)
                return r;
        if (fstatat(proc_fd >= 0 ? proc_fd : AT_FDCWD, path, &st, 0) < 0)
                return negative_errno();
        *ret = st.st_ino;
        return 0;
}

int procfs_pids_open(int proc_fd, DIR **ret) {
        _cleanup_close_ int fd = -EBADF;
        DIR *d;

        fd = openat(proc_fd >= 0 ? proc_fd : AT_FDCWD, proc_fd >= 0 ? "." : "/proc",
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        TAKE_FD(fd);  /* the DIR has it */
        *ret = d;
        return 0;
}

bool procfs_pid_next(DIR *d, pid_t *ret) {
        struct dirent *de;

        while ((de = readdir(d))) {
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                *ret = atoi(de->d_name);
                return true;
        }
        return false;
}

int procfs_status_field(const char *buf, size_t len, const char *key, char *ret, size_t size) {
        size_t klen = strlen(key);

        if (size == 0)
                return -EINVAL;
        for (size_t i = 0; i + klen < len; i++) {
                size_t j = 0;

                if ((i > 0 && buf[i - 1] != '\n') || memcmp(buf + i, key, klen) != 0 || buf[i + klen] != ':')
                        continue;
                i += klen + 1;
                if (i < len && buf[i] == '\t')
                        i++;
                for (; i + j < len && buf[i + j] != '\n'; j++) {
                        if (j + 1 >= size)
                                return -ENOBUFS;
                        ret[j] = buf[i + j];
                }
                ret[j] = '\0';
                return 0;
        }
        return -ENOENT;
}

/* Just after the last ')' of a stat text (the end of its name), or NULL. */
static const char *stat_after_name(const char *buf, size_t len) {
        for (const char *q = buf + len; q > buf; q--)
                if (q[-1] == ')')
                        return q;
        return NULL;
}

int procfs_stat_field(const char *buf, size_t len, unsigned field, unsigned long long *ret) {
        const char *p = stat_after_name(buf, len);
        unsigned long long v = 0;
        unsigned f = 2;

        if (!p || field < 3)
                return -EBADMSG;
        /* ") S ppid ..." : each ' ' starts the next field */
        for (; p < buf + len; p++) {
                if (*p == ' ') {
                        f++;
                        continue;
                }
                if (f == field) {
                        const char *e = p;
                        while (e < buf + len && *e >= '0' && *e <= '9') {
                                v = v * 10 + (unsigned long long) (*e - '0');
                                e++;
                        }
                        if (e == p)
                                return -EBADMSG;
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

int proc_stat_parse(const char *buf, size_t len, char name[16], char *ret_state) {
        const char *open = memchr(buf, '(', len), *close;
        size_t n;

        if (!open)
                return -EBADMSG;
        close = stat_after_name(open, (size_t) (buf + len - open));
        if (!close)
                return -EBADMSG;
        close--;
        n = (size_t) (close - open - 1);
        if (n > 15)
                return -EBADMSG;  /* the kernel's TASK_COMM_LEN is 16 */
        /* ") S " — the state follows the closing parenthesis. */
        if ((size_t) (close - buf) + 3 > len || close[1] != ' ')
                return -EBADMSG;
        memcpy(name, open + 1, n);
        name[n] = '\0';
        if (ret_state)
                *ret_state = close[2];
        return 0;
}

int proc_stat_starttime(const char *buf, size_t len, unsigned long long *ret) {
        return procfs_stat_field(buf, len, 22, ret);
}

/* /proc/<pid>/stat, raw (size - 1 bytes at most): its length, -ESRCH for a
 * process that is not there, or -errno. */
static int proc_read_stat(pid_t pid, char *buf, size_t size) {
        int n;

        if (pid <= 0)
                return -EINVAL;
        n = procfs_read(PROCFS_AT, pid, "stat", buf, size);
        return n == -ENOENT ? -ESRCH : n;
}

int proc_get_identity(pid_t pid, char name[16], unsigned long long *ret_starttime) {
        char buf[1024];
        int n, r;

        n = proc_read_stat(pid, buf, sizeof buf);
        if (n < 0)
                return n;
        r = proc_stat_parse(buf, (size_t) n, name, NULL);
        if (r < 0)
                return r;
        return proc_stat_starttime(buf, (size_t) n, ret_starttime);
}

int proc_get_name(pid_t pid, char name[16], char *ret_state) {
        char buf[1024];
        int n = proc_read_stat(pid, buf, sizeof buf);

        if (n < 0)
                return n;
        return proc_stat_parse(buf, (size_t) n, name, ret_state);
}

bool proc_status_is_guard(const char *buf, size_t len) {
        /* NSpid: at most 32 levels of up to 7 digits and a tab each */
        char uid[128], nspid[512], *last = NULL, *end;
        int fields = 0;

        if (procfs_status_field(buf, len, "Uid", uid, sizeof uid) < 0 ||
            procfs_status_field(buf, len, "NSpid", nspid, sizeof nspid) < 0)
                return false;
        if (strcmp(uid, "0\t0\t0\t0") != 0)
                return false;
        /* "<pid>\t<pid>...": numbers, one tab between each two */
        for (char *p = nspid;; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                last = p;
                while (*p >= '0' && *p <= '9')
                        p++;
                fields++;
                if (*p == '\0')
                        break;
                if (*p != '\t')
                        return false;
        }
        if (fields < 2)
                return false;
        errno = 0;
        return strtol(last, &end, 10) == 1 && *end == '\0' && errno == 0;
}

int proc_check_guard(pid_t pid) {
        char buf[4096];
        int n;

        n = procfs_read(PROCFS_AT, pid, "status", buf, sizeof buf);
        if (n < 0)
                return n == -ENOENT ? -ESRCH : n;
        return proc_status_is_guard(buf, (size_t) n) ? 0 : -EPERM;
}

int proc_cgroup_parse(const char *buf, char *ret, size_t size) {
        for (const char *line = buf; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t) (nl - line) : strlen(line);

                if (len > 3 && !strncmp(line, "0::/", 4)) {
                        static const char deleted[] = " (deleted)";

                        len -= 3;
                        line += 3;
                        if (len >= sizeof deleted - 1 && !memcmp(line + len - (sizeof deleted - 1), deleted,
                                                                sizeof deleted - 1))
                                return -ENOENT;
                        if (len >= size)
                                return -ENAMETOOLONG;
                        memcpy(ret, line, len);
                        ret[len] = '\0';
                        return 0;
                }
                line = nl ? nl + 1 : NULL;
        }
        return -ENOMEDIUM;
}

bool proc_pid_exit_done(pid_t pid) {
        char buf[1024];
        unsigned long long flags;
        int n;

        if (procfs_read(PROCFS_AT, pid, "wchan", buf, sizeof buf) <= 0)
                return false;
        if (strcmp(buf, "zap_pid_ns_processes") == 0)
                return true;
        if (strcmp(buf, "0") != 0)
                return false;  /* a named wait elsewhere */
        /* No symbol: field 9 of stat (after the ")" of the name) is flags. */
        n = procfs_read(PROCFS_AT, pid, "stat", buf, sizeof buf);
        if (n <= 0 || procfs_stat_field(buf, (size_t) n, 9, &flags) < 0)
                return false;
        if (!(flags & 0x00000004UL))  /* PF_EXITING */
                return false;
        return procfs_readlink(PROCFS_AT, pid, "ns/mnt", buf, sizeof buf) == -ENOENT;
}

int pidfd_get_pid(int pidfd) {
        char name[32], buf[1024], pid_text[32], *end;
        long pid;
        int r;

        snprintf(name, sizeof name, "fdinfo/%d", pidfd);
        r = procfs_read(PROCFS_AT, PROCFS_SELF, name, buf, sizeof buf);
        if (r < 0)
                return r;
        if (procfs_status_field(buf, (size_t) r, "Pid", pid_text, sizeof pid_text) < 0)
                return -EBADF;  /* not a pidfd */
        errno = 0;
        pid = strtol(pid_text, &end, 10);
        if (errno || end == pid_text || *end != '\0')
                return -EBADMSG;
        return pid > 0 ? (int) pid : -ESRCH;  /* 0: outside our namespace, -1: reaped */
}
