/* SPDX-License-Identifier: MIT */
/* Watching rockerd, and a raw launcher: see faults.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rocker/rocker.h>

#include "harness.h"
#include "faults.h"

int env_int(const char *name, int def, int min, int max) {
        const char *v = getenv(name);
        char *end;
        long n;

        if (!v || !*v)
                return def;
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || *end || n < min || n > max) {
                print_message("ignoring %s=%s (want %d..%d), using %d\n", name, v, min, max, def);
                return def;
        }
        return (int) n;
}

long log_mark(void) {
        char path[160];
        struct stat st;

        snprintf(path, sizeof path, "%s/rockerd.log", H.dir);
        return stat(path, &st) == 0 ? (long) st.st_size : 0;
}

int log_since(long mark, const char *needle, bool show) {
        char path[160], line[4096];
        FILE *f;
        int n = 0;

        snprintf(path, sizeof path, "%s/rockerd.log", H.dir);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fseek(f, mark, SEEK_SET) == 0)
                while (fgets(line, sizeof line, f))
                        if (strstr(line, needle)) {
                                n++;
                                if (show)
                                        print_message("  rockerd: %s", strstr(line, "rockerd: ") ? strstr(line, "rockerd: ") + 9 : line);
                        }
        fclose(f);
        return n;
}

void wait_rockers(int want, int timeout_ms) {
        long long end = mono_ms() + timeout_ms;
        int n;

        while ((n = count_rockers()) != want && mono_ms() < end)
                usleep(10 * 1000);
        if (n != want)
                print_error("rockerd lists %d live rockers, expected %d\n", n, want);
        assert_int_equal(n, want);
}

bool wait_gone(int pid, const char *name, int timeout_ms) {
        int pidfd = pidfd_open(pid, 0);
        RockerResult g;
        struct pollfd p;
        int r;

        if (pidfd < 0)
                return errno == ESRCH;
        g = ROCKER_get_guardname(pid);
        if (name && (g.err_no != ROCKER_ERR_success || strcmp(g.guard_pname, name) != 0)) {
                close(pidfd);
                return true;
        }
        p = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        r = poll(&p, 1, timeout_ms);
        close(pidfd);
        return r == 1;
}

/* Entries in rockerd's state dir: one record per live rocker, plus, for a
 * moment, a record being written or a squashfuse staging dir. With no
 * rocker alive it must come back to empty. */
static int count_state_entries(char *first, size_t size) {
        char path[160];
        struct dirent *de;
        DIR *d;
        int n = 0;

        snprintf(path, sizeof path, "%s/state", H.dir);
        d = opendir(path);
        if (first)
                first[0] = '\0';
        while (d && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n++ == 0 && first)
                        snprintf(first, size, "%s", de->d_name);
        }
        if (d)
                closedir(d);
        return n;
}

void assert_state_dir_empty(void) {
        char first[256];
        int n = 0;

        for (long long deadline = mono_ms() + CLEAN_BOUND_MS;
             (n = count_state_entries(first, sizeof first)) != 0 && mono_ms() < deadline;)
                usleep(10 * 1000);
        if (n != 0) {
                print_error("rockerd's state dir holds %d entries with no rocker alive (e.g. %s)\n", n, first);
                fail();
        }
}

void assert_all_clean(void) {
        harness_assert_clean();
        assert_state_dir_empty();
}

void run_once(RockerRequest *req) {
        RockerResult res = ROCKER_enter_rocker(req, app_exit0, NULL);
        int status;

        if (res.err_no != ROCKER_ERR_success)
                print_error("%s: %s\n", ROCKER_strerror(res.err_no), ROCKER_last_error());
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        assert_int_equal(waitpid(res.app_pid, &status, 0), res.app_pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        harness_kill_guard(&res);
}

/* ---- the raw protocol (docs/protocol.md), for launchers that misbehave -- */

/* Appends s as a JSON string. */
static void json_string(char *out, size_t size, const char *s) {
        size_t o = strlen(out);

        if (o + 2 >= size)
                return;
        out[o++] = '"';
        for (; *s && o + 8 < size; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\') {
                        out[o++] = '\\';
                        out[o++] = (char) c;
                } else if (c < 0x20)
                        o += (size_t) snprintf(out + o, size - o, "\\u%04x", c);
                else
                        out[o++] = (char) c;
        }
        out[o++] = '"';
        out[o] = '\0';
}

void enter_json(const RockerRequest *req, char *out, size_t size) {
        size_t n;

        snprintf(out, size, "{\"id\":\"enter\",\"version\":1,\"data\":{\"app_id\":%d,\"uid\":%d,\"gid\":%d,"
                            "\"app_pkg_path\":", req->app_id, req->uid, req->gid);
        json_string(out, size, req->app_pkg_path);
        strncat(out, ",\"app_exec_dir\":", size - strlen(out) - 1);
        json_string(out, size, req->app_exec_dir);
        strncat(out, ",\"app_data_dir\":", size - strlen(out) - 1);
        json_string(out, size, req->app_data_dir);
        strncat(out, ",\"app_overlay_dirs\":[", size - strlen(out) - 1);
        for (size_t i = 0; i < 16 && req->app_overlay_dirs[i]; i++) {
                if (i > 0)
                        strncat(out, ",", size - strlen(out) - 1);
                json_string(out, size, req->app_overlay_dirs[i]);
        }
        strncat(out, "]}}", size - strlen(out) - 1);
        n = strlen(out);
        assert_true(n + 1 < size);
}

int launcher_connect(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        memcpy(sa.sun_path, H.socket, strlen(H.socket) + 1);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        return fd;
}

int launcher_send(int sock, const char *msg) {
        ssize_t n = send(sock, msg, strlen(msg), MSG_NOSIGNAL);

        return n == (ssize_t) strlen(msg) ? 0 : n < 0 ? -errno : -EIO;
}

void launcher_recv(int sock, int timeout_ms, RawReply *r) {
        static char buf[MSG_MAX + 1];
        const char *q;
        size_t n_fds;
        ssize_t n;

        *r = (RawReply) { .got = RAW_ERROR, .pidfd = -1 };
        /* the first fd is kept, any more closed */
        n = testlib_recv_raw(sock, timeout_ms, buf, sizeof buf, &r->pidfd, 1, &n_fds, NULL);
        if (n == -ETIME) {
                r->got = RAW_TIMEOUT;
                return;
        }
        if (n < 0)
                return;
        r->n_fds = (int) n_fds;
        if (n == 0) {
                r->got = RAW_EOF;
                return;
        }
        snprintf(r->body, sizeof r->body, "%.*s", (int) sizeof r->body - 1, buf);
        r->got = RAW_REPLY;
        r->success = strstr(buf, "\"success\":true") != NULL;
        q = strstr(buf, "\"guard_pid\":");
        if (q)
                r->guard_pid = atoi(q + strlen("\"guard_pid\":"));
        q = strstr(buf, "\"guard_name\":\"");
        if (q) {
                q += strlen("\"guard_name\":\"");
                snprintf(r->guard_name, sizeof r->guard_name, "%.*s", (int) strcspn(q, "\""), q);
        }
}

char *child_report(int fd) {
        char *text = read_all(fd);

        close(fd);
        return text;
}

int app_pause(void *arg) {
        (void) arg;
        for (;;)
                pause();
        return 0;
}
