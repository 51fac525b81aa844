/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rocker/rocker.h>

#include "harness.h"
#include "testlib.h"

Harness H;

void harness_kmsg_mark(char *mark) {
        static int n;
        int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
        char line[80];
        int len;

        snprintf(mark, 64, "rocker-test-mark-%d-%d-%ld", (int) getpid(), ++n, (long) time(NULL));
        len = snprintf(line, sizeof line, "%s\n", mark);
        assert_true(fd >= 0);
        if (write(fd, line, (size_t) len) != len)  /* one record: one write */
                fail_msg("cannot write to /dev/kmsg: %s", strerror(errno));
        close(fd);
}

int harness_overlay_warnings_since(const char *mark) {
        int n = harness_sh("dmesg 2>/dev/null | awk '/%s$/ { seen = 1; n = 0; next }"
                           " /overlayfs: (upper|work)dir is in-use/ { n++ }"
                           " END { exit seen ? (n < 200 ? n : 200) : 255 }'", mark);

        return n == 255 ? -1 : n;
}

char *read_all(int fd) {
        size_t size = 4096, len = 0;
        char *buf = malloc(size);
        ssize_t n;

        assert_non_null(buf);
        for (;;) {
                if (len + 1 >= size) {
                        size *= 2;
                        buf = realloc(buf, size);
                        assert_non_null(buf);
                }
                n = read(fd, buf + len, size - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        return buf;
}

char *report_get(const char *text, const char *key) {
        size_t k = strlen(key);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, key, k) == 0 && p[k] == '=') {
                        const char *v = p + k + 1;
                        return strndup(v, strcspn(v, "\n"));
                }
        return NULL;
}

void report_say(int fd, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if (n > (int) sizeof buf - 2)
                n = (int) sizeof buf - 2;
        buf[n++] = '\n';
        (void) !write(fd, buf, (size_t) n);
}

int report_int(const char *text, const char *key, int def) {
        char *v = report_get(text, key);
        int n = v ? atoi(v) : def;

        free(v);
        return n;
}

void report_expect(const char *report, const char *key, const char *want) {
        char *v = report_get(report, key);

        if (!v || strcmp(v, want) != 0) {
                print_error("%s: want \"%s\", got \"%s\"\nreport:\n%s\n", key, want, v ? v : "(missing)", report);
                free(v);
                fail();
        }
        free(v);
}

void report_expect_not(const char *report, const char *key, const char *unwanted) {
        char *v = report_get(report, key);

        if (!v || strcmp(v, unwanted) == 0) {
                print_error("%s: got \"%s\", which it must not be\nreport:\n%s\n", key, v ? v : "(missing)", report);
                free(v);
                fail();
        }
        free(v);
}

int harness_squashfuse_pids(pid_t *pids, int max) {
        return testlib_children_named(H.daemon, "squashfuse", pids, max);
}

void snapshot_take(Snapshot *s) {
        char p[64];
        struct libmnt_table *tab = testlib_mounts_read();

        assert_non_null(tab);
        s->mounts = testlib_mounts_count(tab);
        testlib_mounts_free(tab);
        s->loops = testlib_loops_under(H.dir) + harness_squashfuse_pids(NULL, 0);
        s->guards = testlib_children_named(H.daemon, "rk-", NULL, 0);
        snprintf(p, sizeof p, "/proc/%d/fd", (int) H.daemon);
        s->daemon_fds = H.daemon > 0 ? testlib_count_dir(p) : 0;
        s->own_fds = testlib_count_dir("/proc/self/fd");
}

bool snapshot_equal(const Snapshot *a, const Snapshot *b) {
        return a->mounts == b->mounts && a->loops == b->loops && a->guards == b->guards &&
               a->daemon_fds == b->daemon_fds && a->own_fds == b->own_fds;
}

/* The mount table against the baseline's: true if exactly extra mounts
 * were added and none went; diff names every mount that differs. */
static bool mounts_as_baseline(int extra, char *diff, size_t size) {
        struct libmnt_table *now = testlib_mounts_read();
        int added = 0, removed = 0, r;

        assert_non_null(now);
        r = testlib_mounts_diff(H.baseline_mounts, now, &added, &removed, diff, size);
        testlib_mounts_free(now);
        assert_int_equal(r, 0);
        return added == extra && removed == 0;
}

void harness_assert_clean_but(int extra_mounts) {
        Snapshot now, want = H.baseline;
        char diff[4096] = "";

        want.mounts += extra_mounts;
        /* Mounts, loop devices and a guard's last fds go away after the
         * events a test waits for (a loop device is released asynchronously
         * after its last unmount): the kernel tells nothing of them, so this
         * looks at a fixed interval, within a bound of time (not of tries:
         * a slow machine gets as long as a fast one). */
        for (long long deadline = mono_ms() + (H.clean_bound_ms ? H.clean_bound_ms : CLEAN_BOUND_MS);;) {
                snapshot_take(&now);
                if (snapshot_equal(&now, &want) && mounts_as_baseline(extra_mounts, diff, sizeof diff))
                        return;
                if (mono_ms() >= deadline)
                        break;
                usleep(10 * 1000);
        }
        (void) mounts_as_baseline(extra_mounts, diff, sizeof diff);
        print_error("leak: mounts %d→%d, loops %d→%d, guards %d→%d, rockerd fds %d→%d, own fds %d→%d\n%s%s",
                    want.mounts, now.mounts, want.loops, now.loops, want.guards, now.guards, want.daemon_fds,
                    now.daemon_fds, want.own_fds, now.own_fds, diff[0] ? "mounts not as at the start:\n" : "", diff);
        fail();
}

void harness_assert_mounts_as(struct libmnt_table *before) {
        struct libmnt_table *now = testlib_mounts_read();
        int added = 0, removed = 0;
        char diff[4096];

        assert_non_null(now);
        assert_int_equal(testlib_mounts_diff(before, now, &added, &removed, diff, sizeof diff), 0);
        testlib_mounts_free(now);
        if (added != 0 || removed != 0)
                fail_msg("the mount table changed: %d mounts more, %d gone:\n%s", added, removed, diff);
}

void harness_assert_clean(void) {
        harness_assert_clean_but(0);
}

/* How long rockerd may take to say it is ready: far beyond its few ms. */
#define DAEMON_READY_TIMEOUT_MS 20000

int harness_start_daemon(void) {
        char log[160], state[160], notify[160];
        TestDaemon d = {
                .rockerd = ROCKERD_PATH, .socket = H.socket, .state_dir = state, .log = log, .notify = notify,
                .config = H.config[0] ? H.config : NULL, .debug = true,
                .ready_timeout_ms = DAEMON_READY_TIMEOUT_MS,
        };
        int r;

        snprintf(log, sizeof log, "%s/rockerd.log", H.dir);
        snprintf(state, sizeof state, "%s/state", H.dir);
        snprintf(notify, sizeof notify, "%s/notify", H.dir);
        /* rockerd tells it is ready as it would tell systemd (sd_notify,
         * after listen()): wait for that, not for the socket to appear. */
        r = testlib_daemon_start(&d, &H.daemon);
        if (r == -ECHILD)
                H.daemon = 0;
        return r < 0 ? -1 : 0;
}

/* A snapshot of the daemon in its steady state, taken without waiting for
 * luck: one request is answered on a connection held open meanwhile (so
 * sd-event has made its timerfd for the first deadline, and the
 * connection's fd is known to be there, on both sides), then counted out. */
static int snapshot_steady(Snapshot *ret) {
        static const char list[] = "{\"id\":\"list\",\"version\":1,\"data\":{\"offset\":0}}";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct pollfd p;
        char buf[65536];
        int fd, r = -1;

        if (strlen(H.socket) >= sizeof sa.sun_path)
                return -1;
        memcpy(sa.sun_path, H.socket, strlen(H.socket) + 1);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        p = (struct pollfd) { .fd = fd, .events = POLLIN };
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0 &&
            send(fd, list, sizeof list - 1, MSG_NOSIGNAL) == (ssize_t) sizeof list - 1 &&
            poll(&p, 1, DAEMON_READY_TIMEOUT_MS) == 1 && recv(fd, buf, sizeof buf, 0) > 0) {
                snapshot_take(ret);
                ret->daemon_fds--;
                ret->own_fds--;
                r = 0;
        }
        close(fd);
        return r;
}

const char *harness_backend(void) {
        return getenv("ROCKER_TEST_BACKEND") ? getenv("ROCKER_TEST_BACKEND") : "auto";
}

void harness_restart_with_config(const char *fmt, ...) {
        va_list ap;

        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
        va_start(ap, fmt);
        vsnprintf(H.config, sizeof H.config, fmt, ap);
        va_end(ap);
        assert_int_equal(harness_restart_daemon(0), 0);
}

int harness_restart_daemon(int live_rockers) {
        Snapshot now;

        if (harness_start_daemon() < 0 || snapshot_steady(&now) < 0)
                return -1;
        /* the new daemon holds one pidfd per adopted rocker on top of its own */
        H.baseline.daemon_fds = now.daemon_fds - live_rockers;
        return 0;
}

int harness_stop_daemon(int sig) {
        int status;

        if (H.daemon <= 0)
                return 0;
        /* a daemon that ignores sig within the bound is killed: its status says so */
        status = testlib_daemon_stop(H.daemon, sig, DAEMON_READY_TIMEOUT_MS);
        H.daemon = 0;
        return status;
}

int harness_setup(void **state) {
        (void) state;
        memset(&H, 0, sizeof H);
        snprintf(H.dir, sizeof H.dir, "/tmp/rocker-it.XXXXXX");
        if (!mkdtemp(H.dir))
                return -1;
        snprintf(H.socket, sizeof H.socket, "%s/rockerd.sock", H.dir);
        snprintf(H.image, sizeof H.image, "%s/app.squashfs", H.dir);
        snprintf(H.image_v2, sizeof H.image_v2, "%s/app-v2.squashfs", H.dir);
        snprintf(H.bad_image, sizeof H.bad_image, "%s/bad.squashfs", H.dir);
        snprintf(H.open_dir, sizeof H.open_dir, "%s/host-open", H.dir);
        /* outside /tmp (shared with rockers) and the seed's overlay dirs */
        snprintf(H.ro_dir, sizeof H.ro_dir, "/srv/rocker-it.XXXXXX");
        if (!mkdtemp(H.ro_dir) || chmod(H.ro_dir, 0777) < 0)
                return -1;
        if (testlib_make_image(H.dir, H.image, "image v1") < 0 || testlib_make_image(H.dir, H.image_v2, "image v2") < 0)
                return -1;
        if (harness_sh("head -c 65536 /dev/urandom > %s && mkdir -m 0777 %s && chmod 0777 %s && chmod 0755 %s",
                       H.bad_image, H.open_dir, H.open_dir, H.dir) != 0)
                return -1;
        /* ROCKER_TEST_BACKEND=squashfuse runs the suite on the FUSE backend */
        if (getenv("ROCKER_TEST_BACKEND")) {
                snprintf(H.base_config, sizeof H.base_config, "%s/backend.conf", H.dir);
                if (harness_sh("printf '[Daemon]\\nImageBackend=%s\\n' > %s", getenv("ROCKER_TEST_BACKEND"),
                               H.base_config) != 0)
                        return -1;
                snprintf(H.config, sizeof H.config, "%s", H.base_config);
        }
        if (harness_start_daemon() < 0)
                return -1;
        setenv("ROCKER_SOCKET", H.socket, 1);
        /* sd-event creates its timerfd with the first deadline: let one
         * request be answered before the baseline is taken. */
        if (snapshot_steady(&H.baseline) < 0)
                return -1;
        H.baseline_mounts = testlib_mounts_read();
        return H.baseline_mounts ? 0 : -1;
}

int harness_teardown(void **state) {
        int status, ret = 0;

        (void) state;
        /* A failed case may have left a rocker alive: its guard is one of
         * rockerd's children, ended here by PID. */
        if (H.daemon > 0) {
                pid_t guards[4096];
                int n = testlib_children_named(H.daemon, "rk-", guards, 4096);

                for (int i = 0; i < n && i < 4096; i++)
                        kill(guards[i], SIGKILL);
        }
        /* A clean stop, with no sanitizer report: rockerd exits 0. */
        status = harness_stop_daemon(SIGTERM);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "rockerd did not stop cleanly (status 0x%x); its log:\n", status);
                harness_sh("cat %s/rockerd.log >&2", H.dir);
                ret = -1;
        }
        /* Anything a failed case left mounted under our directory goes. */
        (void) testlib_unmount_under(H.dir);
        if (H.ro_dir[0])
                harness_sh("rm -rf %s", H.ro_dir);
        testlib_mounts_free(H.baseline_mounts);
        H.baseline_mounts = NULL;
        if (getenv("ROCKER_TEST_KEEP") == NULL)
                harness_sh("rm -rf %s", H.dir);
        else
                fprintf(stderr, "kept %s\n", H.dir);
        return ret;
}

RockerRequest harness_request(const char *tag, char *buf, size_t size) {
        RockerRequest req = ROCKER_request_new();
        static const char *const seed_overlays[] = { "/usr", "/var", "/etc", "/home", "/root" };
        int n;
        size_t i;

        /* buf holds the strings: exec\0data\0 */
        n = snprintf(buf, size, "%s/exec/%s", H.dir, tag);
        assert_true(n > 0 && (size_t) n < size / 2);
        req.app_exec_dir = buf;
        n = snprintf(buf + size / 2, size / 2, "%s/data/%s", H.dir, tag);
        assert_true(n > 0 && (size_t) n < size / 2);
        req.app_data_dir = buf + size / 2;
        req.app_id = 1000;
        req.uid = 1000;
        req.gid = 1000;
        req.app_pkg_path = H.image;
        for (i = 0; i < 5; i++)
                req.app_overlay_dirs[i] = (char *) seed_overlays[i];
        req.app_overlay_dirs[i] = H.open_dir;
        return req;
}

void harness_kill_guard(const RockerResult *res) {
        int pidfd = pidfd_open(res->guard_pid, 0);
        struct pollfd p;
        RockerResult k;

        assert_true(pidfd >= 0);
        k = ROCKER_kill_rocker(res->guard_pid, res->guard_pname, SIGKILL);
        assert_int_equal(k.err_no, ROCKER_ERR_success);
        p = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 5000), 1);
        close(pidfd);
}

long long mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int count_rockers(void) {
        RockerInfo *list = NULL;
        int n = 0;
        RockerResult r = ROCKER_list_rockers(&list, &n);

        if (r.err_no != ROCKER_ERR_success)
                print_error("ROCKER_list_rockers: %s: %s\n", ROCKER_strerror(r.err_no), ROCKER_last_error());
        assert_int_equal(r.err_no, ROCKER_ERR_success);
        ROCKER_free_rockers(list, n);
        return n;
}

int app_exit0(void *arg) {
        (void) arg;
        return 0;
}

static bool name_listed(const char *name, const char *const *names) {
        for (; names && *names; names++)
                if (strcmp(name, *names) == 0)
                        return true;
        return false;
}

int harness_run_suite(const char *name, const struct CMUnitTest *tests, size_t n,
                      const char *const *not_on_squashfuse, int (*setup)(void **state),
                      int (*teardown)(void **state)) {
        const char *variant = getenv("ROCKER_TEST_VARIANT");
        bool squashfuse = variant && strcmp(variant, "squashfuse") == 0;
        struct CMUnitTest *run = calloc(n ? n : 1, sizeof *run);
        size_t k = 0;
        int r;

        if (!run)
                return 1;
        for (size_t i = 0; i < n; i++)
                if (!squashfuse || !name_listed(tests[i].name, not_on_squashfuse))
                        run[k++] = tests[i];
        if (getenv("ROCKER_TEST_FILTER"))
                cmocka_set_test_filter(getenv("ROCKER_TEST_FILTER"));
        if (geteuid() != 0) {
                fprintf(stderr, "the integration tests need root\n");
                free(run);
                return 77;
        }
        r = _cmocka_run_group_tests(name, run, k, setup, teardown);
        free(run);
        return r;
}

RockerResult harness_spawn_piped(RockerRequest *req, const char *const argv[], const char *const envp[],
                                 int stdin_fd, int *ret_out, int *ret_handle) {
        int fds[2], null = -1, stdio[3];
        RockerResult res = { .err_no = ROCKER_ERR_sys };

        *ret_out = -1;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return res;
        if (stdin_fd < 0 && (null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
                close(fds[0]);
                close(fds[1]);
                return res;
        }
        stdio[0] = stdin_fd >= 0 ? stdin_fd : null;
        stdio[1] = stdio[2] = fds[1];
        res = ROCKER_spawn_rocker(req, argv, envp, stdio, ret_handle);
        /* rockerd and the app have their copies: ours must go for EOF. */
        close(fds[1]);
        if (null >= 0)
                close(null);
        *ret_out = fds[0];
        return res;
}

RockerResult harness_spawn_collect(int handle, int out, int *ret_status, char **ret_output) {
        RockerResult w = ROCKER_wait_rocker(handle, ret_status);

        close(handle);
        *ret_output = read_all(out);  /* EOF: every copy of the pipe's write end is gone */
        close(out);
        return w;
}
