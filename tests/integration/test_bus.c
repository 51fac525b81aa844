/* SPDX-License-Identifier: MIT */
/*
 * A rocker's /run/user and session bus, against a real rockerd, a real
 * dbus-daemon and a real xdg-dbus-proxy: the app's uid has a "session"
 * (/run/user/<uid> with a bus and a user manager's private socket) made by
 * the suite; a service on that bus owns an allowed name and a forbidden one.
 * From inside a rocker the app must reach the allowed name only, own no
 * name it was not given, and never see the user manager.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <poll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>

#include <rocker/rocker.h>

#include "harness.h"

#define APP_UID 65534  /* nobody: dbus-daemon wants a passwd entry; no one has a session as nobody */
#define RUN_DIR "/run/user/65534"
#define BUS_ADDR "unix:path=" RUN_DIR "/bus"
#define ALLOWED "org.freedesktop.portal.RockerTest"   /* in the proxy's default talk list */
#define FORBIDDEN "org.rocker.Forbidden"

static struct {
        pid_t bus_daemon;
        pid_t service;
        int private_fd;         /* a fake user manager socket: systemd/private */
        bool made_run_user;     /* /run/user did not exist */
} S = { .bus_daemon = -1, .service = -1, .private_fd = -1 };

/* ---- the "session": dbus-daemon and a service on it ------------------- */

static int method_ping(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        (void) userdata;
        (void) e;
        return sd_bus_reply_method_return(m, "s", "pong");
}

static const sd_bus_vtable ping_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Ping", "", "s", method_ping, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

_Noreturn static void service_main(int ready_fd) {
        sd_bus *bus = NULL;

        if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, BUS_ADDR) < 0 || sd_bus_set_bus_client(bus, 1) < 0 ||
            sd_bus_start(bus) < 0 || sd_bus_request_name(bus, ALLOWED, 0) < 0 ||
            sd_bus_request_name(bus, FORBIDDEN, 0) < 0 ||
            sd_bus_add_object_vtable(bus, NULL, "/org/rocker/Test", "org.rocker.Test", ping_vtable, NULL) < 0)
                _exit(1);
        if (write(ready_fd, "x", 1) != 1)
                _exit(1);
        close(ready_fd);
        for (;;) {
                int r = sd_bus_process(bus, NULL);
                if (r < 0)
                        _exit(1);
                if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
                        _exit(1);
        }
}

static int read_ready(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char buf[256];

        /* bounded: a daemon that never gets ready fails the suite */
        if (poll(&p, 1, 20000) != 1)
                return -1;
        return read(fd, buf, sizeof buf) > 0 ? 0 : -1;
}

static int start_session(void) {
        char conf[256];
        int fds[2];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (access("/usr/bin/dbus-daemon", X_OK) < 0 || access("/usr/bin/xdg-dbus-proxy", X_OK) < 0) {
                fprintf(stderr, "test_bus needs dbus-daemon and xdg-dbus-proxy (scripts/install-deps.sh)\n");
                return -1;
        }
        S.made_run_user = access("/run/user", F_OK) < 0;
        if (harness_sh("mkdir -p %s/systemd && chown -R %d:%d %s && chmod 0700 %s", RUN_DIR, APP_UID, APP_UID,
                       RUN_DIR, RUN_DIR) != 0)
                return -1;
        snprintf(conf, sizeof conf, "%s/session.conf", H.dir);
        if (harness_sh("cat > %s <<'EOF'\n"
                       "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                       " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                       "<busconfig><type>session</type><listen>%s</listen><auth>EXTERNAL</auth>\n"
                       "<policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>"
                       "<allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\nEOF", conf, BUS_ADDR) != 0)
                return -1;

        /* dbus-daemon prints its address once it listens: the event */
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -1;
        S.bus_daemon = fork();
        if (S.bus_daemon == 0) {
                char fd_arg[32];
                /* the user's own bus, as a login session has it */
                if (setgroups(0, NULL) < 0 || setresgid(APP_UID, APP_UID, APP_UID) < 0 ||
                    setresuid(APP_UID, APP_UID, APP_UID) < 0)
                        _exit(126);
                dup2(fds[1], 3);
                snprintf(fd_arg, sizeof fd_arg, "--print-address=3");
                execl("/usr/bin/dbus-daemon", "dbus-daemon", "--nofork", "--nopidfile", "--config-file", conf, fd_arg,
                      (char *) NULL);
                _exit(127);
        }
        close(fds[1]);
        if (S.bus_daemon < 0 || read_ready(fds[0]) < 0) {
                close(fds[0]);
                return -1;
        }
        close(fds[0]);

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -1;
        S.service = fork();
        if (S.service == 0) {
                close(fds[0]);
                /* a service of the user's session */
                if (setgroups(0, NULL) < 0 || setresgid(APP_UID, APP_UID, APP_UID) < 0 ||
                    setresuid(APP_UID, APP_UID, APP_UID) < 0)
                        _exit(126);
                service_main(fds[1]);
        }
        close(fds[1]);
        if (S.service < 0 || read_ready(fds[0]) < 0) {
                close(fds[0]);
                return -1;
        }
        close(fds[0]);

        /* the user manager's socket, which must never be reachable */
        S.private_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/systemd/private", RUN_DIR);
        if (S.private_fd < 0 || bind(S.private_fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(S.private_fd, 4) < 0)
                return -1;
        return 0;
}

static void stop_child(pid_t *pid) {
        if (*pid > 0) {
                (void) kill(*pid, SIGKILL);
                (void) waitpid(*pid, NULL, 0);
        }
        *pid = -1;
}

static int suite_setup(void **state) {
        if (harness_setup(state) < 0)
                return -1;
        if (start_session() < 0) {
                fprintf(stderr, "test_bus: cannot start the test session (dbus-daemon, service)\n");
                return -1;
        }
        /* the policies the cases use */
        if (harness_sh("mkdir -p %s/etc-bus/apps.d && printf '[Daemon]\\nAppsDir=%s/etc-bus/apps.d\\n' > "
                       "%s/etc-bus/rockerd.conf && "
                       "printf '[Rocker]\\nSessionBus=host\\n' > %s/etc-bus/apps.d/5002.conf && "
                       "printf '[Rocker]\\nDBusTalk=%s\\nDBusOwn=org.rocker.Mine\\n' > %s/etc-bus/apps.d/5003.conf && "
                       "printf '[Rocker]\\nSessionBus=none\\n' > %s/etc-bus/apps.d/5004.conf",
                       H.dir, H.dir, H.dir, H.dir, FORBIDDEN, H.dir, H.dir) != 0 ||
            harness_stop_daemon(SIGTERM) != 0)
                return -1;
        snprintf(H.config, sizeof H.config, "%s/etc-bus/rockerd.conf", H.dir);
        if (harness_restart_daemon(0) < 0)
                return -1;
        /* the session's fds are the suite's: our own fd baseline */
        {
                Snapshot now;
                snapshot_take(&now);
                H.baseline.own_fds = now.own_fds;
        }

        return 0;
}

static int suite_teardown(void **state) {
        if (getenv("ROCKER_TEST_KEEP_LOG"))
                (void) harness_sh("cat %s/rockerd.log >&2", H.dir);
        stop_child(&S.service);
        stop_child(&S.bus_daemon);
        if (S.private_fd >= 0)
                close(S.private_fd);
        (void) harness_sh("rm -rf %s", RUN_DIR);
        if (S.made_run_user)
                (void) rmdir("/run/user");
        return harness_teardown(state);
}

/* ---- inside the rocker -------------------------------------------------- */

typedef struct Probe {
        int fd;
} Probe;

/* Runs gdbus (GDBus: what most desktop apps speak) on the session bus;
 * its first line of output, or "error" when it fails. sd-bus clients are
 * not used: xdg-dbus-proxy 0.1.4 (Debian 12) refuses their "AUTH EXTERNAL"
 * without an initial response (docs/security.md). */
static void gdbus(const Probe *p, const char *key, char *const argv[]) {
        char out[256] = "";
        int fds[2], status = 0;
        ssize_t n = 0;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0) {
                report_say(p->fd, "%s=pipe", key);
                return;
        }
        pid = fork();
        if (pid == 0) {
                char *envp[] = { (char *) "DBUS_SESSION_BUS_ADDRESS=" BUS_ADDR, (char *) "PATH=/usr/bin:/bin", NULL };
                dup2(fds[1], 1);
                dup2(fds[1], 2);
                execve("/usr/bin/gdbus", argv, envp);
                _exit(127);
        }
        close(fds[1]);
        if (pid > 0) {
                n = read(fds[0], out, sizeof out - 1);
                (void) waitpid(pid, &status, 0);
        }
        close(fds[0]);
        out[n > 0 ? n : 0] = '\0';
        out[strcspn(out, "\n")] = '\0';
        if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                report_say(p->fd, "%s=error", key);
        else
                report_say(p->fd, "%s=%s", key, out);
}

static void ping(const Probe *p, const char *key, const char *dest) {
        char *argv[] = { (char *) "gdbus", (char *) "call", (char *) "--session", (char *) "--timeout", (char *) "5",
                         (char *) "--dest", (char *) dest, (char *) "--object-path", (char *) "/org/rocker/Test",
                         (char *) "--method", (char *) "org.rocker.Test.Ping", NULL };
        gdbus(p, key, argv);
}

static int probe_bus(void *arg) {
        const Probe *p = arg;
        struct stat st;
        char entries[256] = "";
        DIR *d;
        struct dirent *de;
        report_say(p->fd, "systemd_private=%d", stat(RUN_DIR "/systemd/private", &st) == 0 ? 0 : errno);
        report_say(p->fd, "run_user_mode=%o", stat(RUN_DIR, &st) == 0 ? (unsigned) (st.st_mode & 07777) : 0U);
        report_say(p->fd, "run_user_owner=%d", stat(RUN_DIR, &st) == 0 ? (int) st.st_uid : -1);
        d = opendir("/run/user");
        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.') {
                        size_t n = strlen(entries);
                        snprintf(entries + n, sizeof entries - n, "%.64s,", de->d_name);
                }
        if (d)
                closedir(d);
        report_say(p->fd, "run_user=%s", entries);
        report_say(p->fd, "bus_present=%d", stat(RUN_DIR "/bus", &st) == 0 && S_ISSOCK(st.st_mode));
        ping(p, "allowed", ALLOWED);
        ping(p, "forbidden", FORBIDDEN);
        {
                char *argv[] = { (char *) "gdbus", (char *) "call", (char *) "--session", (char *) "--timeout",
                                 (char *) "5", (char *) "--dest", (char *) "org.freedesktop.DBus", (char *) "--object-path",
                                 (char *) "/org/freedesktop/DBus", (char *) "--method",
                                 (char *) "org.freedesktop.DBus.RequestName", (char *) "org.rocker.Mine", (char *) "0",
                                 NULL };
                gdbus(p, "own", argv);
        }
        return 0;
}

static RockerResult run_probe(int app_id, char **ret_report) {
        char buf[1024];
        RockerRequest req = harness_request("bus", buf, sizeof buf);
        Probe probe;
        RockerResult res;
        int fds[2], status;

        req.app_id = app_id;
        req.uid = APP_UID;
        req.gid = APP_UID;
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        probe.fd = fds[1];
        res = ROCKER_enter_rocker(&req, probe_bus, &probe);
        close(fds[1]);
        if (res.err_no == ROCKER_ERR_success)
                assert_int_equal(waitpid(res.app_pid, &status, 0), res.app_pid);
        else
                fprintf(stderr, "enter: %s\n", ROCKER_last_error());
        *ret_report = read_all(fds[0]);
        close(fds[0]);
        return res;
}

/* rockerd's xdg-dbus-proxy children, by PPid: none must outlive its rocker. */
static int count_proxies(void) {
        return testlib_children_named(H.daemon, "xdg-dbus-proxy", NULL, 0);
}

static void assert_no_proxy_left(void) {
        /* the proxy exits when the guard's end of its sync pipe closes, and
         * rockerd reaps it: no event to wait on from here, so a bounded look */
        for (int i = 0; i < 500 && count_proxies() > 0; i++)
                usleep(10 * 1000);
        assert_int_equal(count_proxies(), 0);
}

/* The default: a filtered bus. The portal name answers, the other name does
 * not exist for the app, owning a name fails, the user manager is not there. */
static void test_bus_filtered_by_default(void **state) {
        char *report;
        RockerResult res;
        pid_t proxy = 0;
        int proxies, environ_ok = -1;

        (void) state;
        res = run_probe(5001, &report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        proxies = testlib_children_named(H.daemon, "xdg-dbus-proxy", &proxy, 1);
        /* The proxy runs as the app's user, who may read its environment:
         * none of rockerd's goes along (NOTIFY_SOCKET, the harness's own). */
        if (proxies == 1)
                environ_ok = testlib_environ_is(proxy, (char *const[]) { (char *) "PATH=/usr/bin:/bin", NULL });
        harness_kill_guard(&res);
        report_expect(report, "systemd_private", "2");        /* ENOENT */
        report_expect(report, "run_user", "65534,");
        report_expect(report, "run_user_mode", "700");
        report_expect(report, "run_user_owner", "65534");
        report_expect(report, "bus_present", "1");
        report_expect(report, "allowed", "('pong',)");
        report_expect_not(report, "forbidden", "('pong',)");
        report_expect(report, "own", "error");
        free(report);
        assert_int_equal(proxies, 1);
        assert_int_equal(environ_ok, 1);
        assert_no_proxy_left();
        harness_assert_clean();
}

/* SessionBus=host: the user's bus itself, unfiltered (the control: the
 * forbidden call is answered there, so the default's refusal is the proxy's). */
static void test_bus_host(void **state) {
        char *report;
        RockerResult res;

        (void) state;

        res = run_probe(5002, &report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);
        report_expect(report, "systemd_private", "2");
        report_expect(report, "allowed", "('pong',)");
        report_expect(report, "forbidden", "('pong',)");
        report_expect(report, "own", "(uint32 1,)");
        free(report);
        assert_int_equal(count_proxies(), 0);
        harness_assert_clean();
}

/* DBusTalk= and DBusOwn= open exactly those names. */
static void test_bus_policy_names(void **state) {
        char *report;
        RockerResult res;

        (void) state;
        res = run_probe(5003, &report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);
        report_expect(report, "allowed", "('pong',)");
        report_expect(report, "forbidden", "('pong',)");
        report_expect(report, "own", "(uint32 1,)");
        free(report);
        assert_no_proxy_left();
        harness_assert_clean();
}

/* SessionBus=none: no bus at all. */
static void test_bus_none(void **state) {
        char *report;
        RockerResult res;

        (void) state;
        res = run_probe(5004, &report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);
        report_expect(report, "bus_present", "0");
        report_expect(report, "run_user", "65534,");
        free(report);
        assert_int_equal(count_proxies(), 0);
        harness_assert_clean();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bus_filtered_by_default),
                cmocka_unit_test(test_bus_host),
                cmocka_unit_test(test_bus_policy_names),
                cmocka_unit_test(test_bus_none),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "the integration tests need root\n");
                return 77;
        }
        return cmocka_run_group_tests_name("session bus", tests, suite_setup, suite_teardown);
}
