/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "macro.h"
#include "util.h"

int path_check(const char *path, size_t max, const char **ret_reason) {
        const char *reason = NULL;
        size_t len;

        if (!path)
                reason = "not set";
        else if ((len = strnlen(path, max + 1)) == 0)
                reason = "empty";
        else if (len > max)
                reason = "too long";
        else if (path[0] != '/')
                reason = "not an absolute path";
        else if (len > 1 && path[len - 1] == '/')
                reason = "ends with '/'";
        else {
                for (const char *p = path; *p && !reason; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                reason = "holds a control character";
                for (const char *c = path; !reason && *c; ) {
                        /* c points at a '/', the component follows it */
                        const char *e = strchrnul(c + 1, '/');
                        size_t n = (size_t) (e - c - 1);

                        if (n == 0 && len > 1)
                                reason = "holds an empty component (\"//\")";
                        else if ((n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
                                reason = "holds a \".\" or \"..\" component";
                        c = e;
                }
        }
        if (reason) {
                if (ret_reason)
                        *ret_reason = reason;
                return -EINVAL;
        }
        return 0;
}

bool path_contains(const char *prefix, const char *path) {
        size_t n = strlen(prefix);

        if (strcmp(prefix, "/") == 0)
                return true;
        return strncmp(prefix, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int path_escape(const char *path, char *ret, size_t size) {
        size_t o = 0;

        for (const char *p = path[0] == '/' ? path + 1 : path; *p; p++) {
                unsigned char c = (unsigned char) *p;
                char tmp[5];
                size_t k;

                if (c == '/')
                        tmp[0] = '-', k = 1;
                else if (c == '-' || c == '\\' || c <= 0x20 || c >= 0x7f)
                        k = (size_t) snprintf(tmp, sizeof tmp, "\\x%02x", c);
                else
                        tmp[0] = (char) c, k = 1;
                if (o + k >= size)
                        return -ENAMETOOLONG;
                memcpy(ret + o, tmp, k);
                o += k;
        }
        if (o >= size)
                return -ENAMETOOLONG;
        ret[o] = '\0';
        return 0;
}

#define NAME_PREFIX "rk-"
#define NAME_ALPHABET "abcdefghijklmnopqrstuvwxyz0123456789"

int guard_name_generate(char name[16]) {
        unsigned char rnd[12];
        size_t got = 0;

        while (got < sizeof rnd) {
                ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                got += (size_t) n;
        }
        memcpy(name, NAME_PREFIX, 3);
        for (size_t i = 0; i < sizeof rnd; i++)
                /* 256 % 36 != 0: the bias (at most 1/256 per letter) does not
                 * matter for names, whose uniqueness the registry enforces. */
                name[3 + i] = NAME_ALPHABET[rnd[i] % (sizeof NAME_ALPHABET - 1)];
        name[15] = '\0';
        return 0;
}

bool guard_name_valid(const char *name) {
        if (strnlen(name, 16) != 15 || strncmp(name, NAME_PREFIX, 3) != 0)
                return false;
        for (size_t i = 3; i < 15; i++)
                if (!strchr(NAME_ALPHABET, name[i]))
                        return false;
        return true;
}

int proc_stat_parse(const char *buf, size_t len, char name[16], char *ret_state) {
        const char *open = memchr(buf, '(', len), *close = NULL;
        size_t n;

        if (!open)
                return -EBADMSG;
        for (const char *p = buf + len; p > open; p--)
                if (p[-1] == ')') {
                        close = p - 1;
                        break;
                }
        if (!close)
                return -EBADMSG;
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
        const char *p = NULL;
        unsigned long long v = 0;
        int field = 2;  /* the comm field ends at the last ')' */

        for (const char *q = buf + len; q > buf; q--)
                if (q[-1] == ')') {
                        p = q;
                        break;
                }
        if (!p)
                return -EBADMSG;
        /* ") S ppid ..." : each ' ' starts the next field */
        for (; p < buf + len; p++) {
                if (*p == ' ') {
                        field++;
                        continue;
                }
                if (field == 22) {
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

static int proc_read_stat(pid_t pid, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        ssize_t n;

        if (pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        n = read(fd, buf, size);
        if (n < 0)
                return errno == ESRCH ? -ESRCH : negative_errno();
        return (int) n;
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

/* The value of "key" (e.g. "\nUid:\t") in a status text, up to its line's
 * end, into out; false if absent. */
static bool status_field(const char *buf, size_t len, const char *key, char *out, size_t size) {
        size_t klen = strlen(key);

        for (size_t i = 0; i + klen <= len; i++) {
                size_t j = 0;

                if (memcmp(buf + i, key, klen) != 0)
                        continue;
                i += klen;
                while (i + j < len && buf[i + j] != '\n' && j + 1 < size) {
                        out[j] = buf[i + j];
                        j++;
                }
                out[j] = '\0';
                return true;
        }
        return false;
}

bool proc_status_is_guard(const char *buf, size_t len) {
        char uid[128], nspid[128], *last, *end;
        int fields = 0;

        if (!status_field(buf, len, "\nUid:", uid, sizeof uid) ||
            !status_field(buf, len, "\nNSpid:", nspid, sizeof nspid))
                return false;
        if (strcmp(uid, "\t0\t0\t0\t0") != 0)
                return false;
        last = NULL;
        for (char *p = nspid; *p; ) {
                if (*p != '\t')
                        return false;
                p++;
                if (*p < '0' || *p > '9')
                        return false;
                last = p;
                while (*p >= '0' && *p <= '9')
                        p++;
                fields++;
        }
        if (fields < 2 || !last)
                return false;
        errno = 0;
        return strtol(last, &end, 10) == 1 && *end == '\0' && errno == 0;
}

int proc_check_guard(pid_t pid) {
        char path[64], buf[4096];
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        n = read(fd, buf, sizeof buf);
        if (n < 0) {
                int k = -errno;
                close(fd);
                return k;
        }
        close(fd);
        return proc_status_is_guard(buf, (size_t) n) ? 0 : -EPERM;
}

void fs_context_log(int fs_fd, char *buf, size_t size) {
        ssize_t n;

        if (size == 0)
                return;
        n = read(fs_fd, buf, size - 1);
        if (n <= 0) {
                buf[0] = '\0';
                return;
        }
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if ((buf[0] == 'e' || buf[0] == 'w' || buf[0] == 'i') && buf[1] == ' ')
                memmove(buf, buf + 2, strlen(buf + 2) + 1);
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

bool cgroup_path_is_rockers(const char *path, const char *guard_name) {
        const char *last = strrchr(path, '/'), *p;
        size_t n = strlen(guard_name);

        if (!last || strncmp(last + 1, "rocker-", 7) != 0)
                return false;
        p = last + 8;
        if (*p == '-')
                p++;
        if (!isdigit((unsigned char) *p))
                return false;
        while (isdigit((unsigned char) *p))
                p++;
        if (*p != '-' || strncmp(p + 1, guard_name, n) != 0)
                return false;
        p += 1 + n;
        return *p == '\0' || strcmp(p, ".scope") == 0;
}

bool proc_pid_exit_done(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long flags = 0;
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "/proc/%d/wchan", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        safe_close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        if (strcmp(buf, "zap_pid_ns_processes") == 0)
                return true;
        if (strcmp(buf, "0") != 0)
                return false;  /* a named wait elsewhere */
        /* No symbol: field 9 of stat (after the ")" of the name) is flags. */
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        safe_close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
                return false;
        if (!(flags & 0x00000004UL))  /* PF_EXITING */
                return false;
        snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int) pid);
        return readlink(path, buf, sizeof buf) < 0 && errno == ENOENT;
}

int read_file_small(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (size == 0)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        do
                n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return (int) n;
}

int pidfd_get_pid(int pidfd) {
        char path[64], buf[1024], *p, *end;
        long pid;
        int r;

        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
        r = read_file_small(path, buf, sizeof buf);
        if (r < 0)
                return r;
        p = strstr(buf, "\nPid:\t");
        if (!p)
                return -EBADF;  /* not a pidfd */
        errno = 0;
        pid = strtol(p + 6, &end, 10);
        if (errno || end == p + 6 || (*end != '\n' && *end != '\0'))
                return -EBADMSG;
        return pid > 0 ? (int) pid : -ESRCH;  /* 0: outside our namespace, -1: reaped */
}
