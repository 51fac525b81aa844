/* SPDX-License-Identifier: MIT */
/*
 * Non-root launchers (issue 17) against a real rockerd: a real unprivileged
 * user, created here (useradd, a unique name) and removed at the end even
 * when a case fails, is allowed by AllowUsers= and spawns through
 * ROCKER_spawn_rocker(). Every rule of policy.c is tried and must refuse
 * with its text; the app must gain nothing its user could not do outside.
 * The client side of each case runs in a child that has become the user.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <rocker/rocker.h>

#include "harness.h"

static char user[32];
static uid_t user_uid;
static gid_t user_gid;
static bool user_made;

static void user_remove(void) {
        if (user_made) {
                (void) harness_sh("userdel %s >/dev/null 2>&1", user);
                user_made = false;
        }
}

static int setup(void **state) {
        char conf[300];
        struct passwd *pw;

        if (harness_setup(state) < 0)
                return -1;
        snprintf(user, sizeof user, "rkspawn%d", (int) getpid());
        if (harness_sh("useradd -M -U -s /bin/sh %s", user) != 0)
                return -1;
        user_made = true;
        atexit(user_remove);  /* a crash between setup and teardown */
        pw = getpwnam(user);
        if (!pw)
                return -1;
        user_uid = pw->pw_uid;
        user_gid = pw->pw_gid;
        /* The suite's own config (the image backend), and the policy. */
        snprintf(conf, sizeof conf, "%s/user.conf", H.dir);
        if (harness_sh("{ cat %s 2>/dev/null; printf '[Policy]\\nAllowUsers=%s\\nMaxRockersPerUser=1\\n'; } > %s",
                       H.base_config[0] ? H.base_config : "/dev/null", user, conf) != 0)
                return -1;
        (void) harness_stop_daemon(SIGTERM);
        snprintf(H.config, sizeof H.config, "%s", conf);
        if (harness_restart_daemon(0) < 0)
                return -1;
        /* what the user's requests name */
        if (harness_sh("cd %s && mkdir -p udata && chmod 0755 udata && cp app.squashfs secret.squashfs && "
                       "chmod 0600 secret.squashfs && mkdir -m 0700 private && mkdir -m 0755 rootdata && "
                       "cp /usr/bin/id %s/suid-id && chmod 4755 %s/suid-id && "
                       "printf s3cret > %s/secret && chmod 0600 %s/secret",
                       H.dir, H.open_dir, H.open_dir, H.open_dir, H.open_dir) != 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        int r;

        (void) harness_sh("rm -f %s/suid-id %s/secret", H.open_dir, H.open_dir);
        r = harness_teardown(state);
        user_remove();
        return r;
}

/* A request of the user's: its own ids, a data dir of its own (made here,
 * <dir>/udata/<tag>, owned by it), the exec dir under its overlaid dir. */
static RockerRequest user_request(const char *tag, char *buf, size_t size) {
        RockerRequest req = ROCKER_request_new();

        snprintf(buf, size / 2, "%s/exec-%s", H.open_dir, tag);
        req.app_exec_dir = buf;
        snprintf(buf + size / 2, size / 2, "%s/udata/%s", H.dir, tag);
        req.app_data_dir = buf + size / 2;
        assert_int_equal(harness_sh("mkdir -p %s && chown %u:%u %s && chmod 0700 %s", req.app_data_dir,
                                    (unsigned) user_uid, (unsigned) user_gid, req.app_data_dir, req.app_data_dir), 0);
        req.app_id = 1000;
        req.uid = (int) user_uid;
        req.gid = (int) user_gid;
        req.app_pkg_path = H.image;
        req.app_overlay_dirs[0] = H.open_dir;
        req.app_overlay_dirs[1] = "/etc";
        return req;
}

typedef struct Call {
        RockerRequest req;
        const char *const *argv;
        uid_t uid;              /* who calls */
        gid_t gid;
        bool enter;             /* ROCKER_enter_rocker instead */
        int stdin_fd;           /* for the app, or -1: /dev/null */
        /* results */
        int err_no;
        int wstatus;
        char error[1024];
        char *output;
} Call;

/* In a child that has become c->uid (its own groups, gid): spawns, waits,
 * and reports "err wstatus\nerror\n" then the app's output. */
static void call_as(Call *c) {
        int rep[2], status;
        pid_t pid;
        char *text, *nl;

        assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int out = -1, handle = -1, ws = -1;
                struct passwd *pw = getpwuid(c->uid);
                RockerResult res;
                char *o = NULL;

                if ((pw ? initgroups(pw->pw_name, c->gid) : setgroups(0, NULL)) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
                    setresuid(c->uid, c->uid, c->uid) < 0)
                        _exit(90);
                if (c->enter) {
                        res = ROCKER_enter_rocker(&c->req, app_exit0, NULL);
                        dprintf(rep[1], "%d -1\n%s\n", res.err_no, ROCKER_last_error());
                        _exit(0);
                }
                res = harness_spawn_piped(&c->req, c->argv, NULL, c->stdin_fd, &out, &handle);
                if (out < 0)
                        _exit(91);
                if (res.err_no == ROCKER_ERR_success) {
                        RockerResult w = harness_spawn_collect(handle, out, &ws, &o);
                        if (w.err_no != ROCKER_ERR_success)
                                res = w;
                }
                dprintf(rep[1], "%d %d\n%s\n%s", res.err_no, ws, ROCKER_last_error(), o ? o : "");
                _exit(0);
        }
        close(rep[1]);
        text = read_all(rep[0]);
        close(rep[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(sscanf(text, "%d %d", &c->err_no, &c->wstatus), 2);
        nl = strchr(text, '\n');
        assert_non_null(nl);
        snprintf(c->error, sizeof c->error, "%.*s", (int) strcspn(nl + 1, "\n"), nl + 1);
        nl = strchr(nl + 1, '\n');
        c->output = strdup(nl ? nl + 1 : "");
        free(text);
}

static void test_user_spawn_works(void **state) {
        const char *const argv[] = { "/bin/sh", "-c", "id -u; id -g; id -G; exit 5", NULL };
        char buf[1024], want[128];
        Call c = { .argv = argv, .uid = user_uid, .gid = user_gid, .stdin_fd = -1 };

        (void) state;
        c.req = user_request("works", buf, sizeof buf);
        call_as(&c);
        if (c.err_no != ROCKER_ERR_success)
                print_error("spawn as %s: %d: %s\n", user, c.err_no, c.error);
        assert_int_equal(c.err_no, ROCKER_ERR_success);
        assert_true(WIFEXITED(c.wstatus));
        assert_int_equal(WEXITSTATUS(c.wstatus), 5);
        snprintf(want, sizeof want, "%u\n%u\n%u\n", (unsigned) user_uid, (unsigned) user_gid, (unsigned) user_gid);
        assert_string_equal(c.output, want);
        free(c.output);
        harness_assert_clean();
}

/* An image the user owns (so could have crafted, or could change while it
 * is mounted) never reaches the kernel's squashfs driver: rockerd mounts it
 * with squashfuse, unprivileged, whatever the app's ImageBackend= says. */
static void test_user_own_image_goes_to_squashfuse(void **state) {
        char buf[1024], image[300], cmd[400], *log;
        const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
        Call c = { .argv = argv, .uid = user_uid, .gid = user_gid, .stdin_fd = -1 };
        int fd;

        (void) state;
        c.req = user_request("ownimage", buf, sizeof buf);
        snprintf(image, sizeof image, "%s/udata/own.squashfs", H.dir);
        assert_int_equal(harness_sh("cp %s %s && chown %u:%u %s && chmod 0644 %s", H.image, image,
                                    (unsigned) user_uid, (unsigned) user_gid, image, image), 0);
        c.req.app_pkg_path = image;
        snprintf(cmd, sizeof cmd, "cat %s/README", c.req.app_exec_dir);
        call_as(&c);
        if (c.err_no != ROCKER_ERR_success)
                print_error("spawn as %s: %d: %s\n", user, c.err_no, c.error);
        assert_int_equal(c.err_no, ROCKER_ERR_success);
        assert_true(WIFEXITED(c.wstatus) && WEXITSTATUS(c.wstatus) == 0);
        assert_string_equal(c.output, "image v1\n");
        free(c.output);
        snprintf(cmd, sizeof cmd, "%s/rockerd.log", H.dir);
        fd = open(cmd, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        log = read_all(fd);
        close(fd);
        assert_non_null(log);
        if (!strstr(log, "own.squashfs is not root's alone: mounted with squashfuse")) {
                print_error("rockerd did not mount the user's own image with squashfuse; its log:\n%s\n", log);
                fail();
        }
        free(log);
        (void) unlink(image);
        harness_assert_clean();
}

static void expect_refused(Call *c, int err_no, const char *needle) {
        call_as(c);
        if (c->err_no != err_no || !strstr(c->error, needle)) {
                print_error("want %d \"%s\", got %d \"%s\"\n", err_no, needle, c->err_no, c->error);
                fail();
        }
        print_message("refused: %s\n", c->error);
        free(c->output);
        c->output = NULL;
}

static void test_user_refusals(void **state) {
        const char *const argv[] = { "/bin/true", NULL };
        char buf[1024], path[300], path2[300];
        Call c = { .argv = argv, .uid = user_uid, .gid = user_gid, .stdin_fd = -1 };
        RockerRequest good;

        (void) state;
        good = user_request("refused", buf, sizeof buf);

        /* a user AllowUsers= does not name */
        c.req = good;
        c.uid = 65534;
        c.gid = 65534;
        c.req.uid = c.req.gid = 65534;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "may not use rockerd");
        c.uid = user_uid;
        c.gid = user_gid;

        /* enter: only root can join */
        c.req = good;
        c.enter = true;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "only root may enter");
        c.enter = false;

        /* another uid, another gid */
        c.req = good;
        c.req.uid = (int) user_uid + 1;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "uid: ");
        assert_non_null(strstr(c.error, "may only ask for its own uid and gid"));
        c.req = good;
        c.req.gid = (int) user_gid + 1;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "gid: ");

        /* an image it cannot read */
        c.req = good;
        snprintf(path, sizeof path, "%s/secret.squashfs", H.dir);
        c.req.app_pkg_path = path;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "cannot be opened by uid");

        /* a data dir that is not its own; one that does not exist */
        c.req = good;
        snprintf(path, sizeof path, "%s/rootdata", H.dir);
        c.req.app_data_dir = path;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "not by the caller");
        snprintf(path, sizeof path, "%s/udata/nonexistent", H.dir);
        c.req.app_data_dir = path;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "does not exist");
        /* ...behind a directory it may not search: the refusal tells it no
         * more than it could find out itself (not the owner, not the mode,
         * not whether the path exists) */
        snprintf(path, sizeof path, "%s/sealed/inner", H.dir);
        assert_int_equal(harness_sh("mkdir -p %s && chown %u %s && chmod 0700 %s/sealed", path, (unsigned) user_uid,
                                    path, H.dir), 0);
        c.req.app_data_dir = path;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "Permission denied");
        assert_null(strstr(c.error, "owned by"));
        (void) harness_sh("rm -rf %s/sealed", H.dir);
        /* ...under a directory someone else may write to (StrictModes) */
        snprintf(path, sizeof path, "%s/lax", H.open_dir);
        assert_int_equal(harness_sh("mkdir -p %s && chown %u %s", path, (unsigned) user_uid, path), 0);
        c.req.app_data_dir = path;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "StrictModes");
        (void) harness_sh("rmdir %s", path);

        /* an exec dir that does not exist and is not under an overlaid dir */
        c.req = good;
        snprintf(path, sizeof path, "%s/no-such-exec", H.dir);
        c.req.app_exec_dir = path;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "app_exec_dir");
        assert_non_null(strstr(c.error, "rockerd creates no host directory"));
        assert_int_equal(access(path, F_OK), -1);  /* nor did it */

        /* overlaying a dir it cannot read */
        c.req = good;
        snprintf(path, sizeof path, "%s/private", H.dir);
        c.req.app_overlay_dirs[1] = path;
        expect_refused(&c, ROCKER_ERR_build_rocker_failed, "is not readable by uid");

        /* more than MaxRockersPerUser=1 live rockers */
        {
                const char *const wait_argv[] = { "/bin/sh", "-c", "read x", NULL };
                int in[2], status;
                Call first = { .argv = wait_argv, .uid = user_uid, .gid = user_gid };
                pid_t pid;
                RockerInfo *list = NULL;
                int n = 0, mine = 0;

                assert_int_equal(pipe2(in, O_CLOEXEC), 0);
                first.stdin_fd = in[0];
                first.req = user_request("first", path2, sizeof path2);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        close(in[1]);
                        call_as(&first);
                        _exit(first.err_no == 0 && WIFEXITED(first.wstatus) ? 0 : 1);
                }
                close(in[0]);
                /* wait for it to be listed, bounded */
                for (int i = 0; i < 500 && mine == 0; i++) {
                        assert_int_equal(ROCKER_list_rockers(&list, &n).err_no, ROCKER_ERR_success);
                        for (int k = 0; k < n; k++)
                                mine += list[k].uid == (int) user_uid;
                        ROCKER_free_rockers(list, n);
                        if (mine == 0)
                                poll(NULL, 0, 20);
                }
                assert_int_equal(mine, 1);
                c.req = good;
                expect_refused(&c, ROCKER_ERR_build_rocker_failed, "MaxRockersPerUser=1");
                close(in[1]);  /* its app reads EOF and exits */
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        harness_assert_clean();
}

/* Inside an app of the user's: a setuid-root program gives no privilege, a
 * file only root can read in an overlaid dir stays unreadable (and cannot
 * be copied up by writing to it), and no device opens that the user could
 * not open outside. */
static void test_user_gains_nothing(void **state) {
        char script[1024], buf[1024];
        const char *const argv[] = { "/bin/sh", "-c", script, NULL };
        Call c = { .argv = argv, .uid = user_uid, .gid = user_gid, .stdin_fd = -1 };
        char *line, *save = NULL;
        int devices = 0;

        (void) state;
        snprintf(script, sizeof script,
                 "echo \"euid=$(%s/suid-id -u)\"; "
                 "if cat %s/secret 2>/dev/null; then echo read=yes; else echo read=no; fi; "
                 "if echo x 2>/dev/null >> %s/secret; then echo write=yes; else echo write=no; fi; "
                 "for f in $(find /dev -type c -o -type b 2>/dev/null); do "
                 "timeout 2 sh -c \": < $f\" 2>/dev/null && echo \"dev=$f\"; done; true",
                 H.open_dir, H.open_dir, H.open_dir);
        c.req = user_request("nothing", buf, sizeof buf);
        call_as(&c);
        if (c.err_no != ROCKER_ERR_success)
                print_error("spawn as %s: %d: %s\n", user, c.err_no, c.error);
        assert_int_equal(c.err_no, ROCKER_ERR_success);
        print_message("%s", c.output);
        {
                char want[64];
                snprintf(want, sizeof want, "euid=%u\n", (unsigned) user_uid);
                assert_non_null(strstr(c.output, want));
        }
        assert_non_null(strstr(c.output, "read=no\n"));
        assert_non_null(strstr(c.output, "write=no\n"));
        assert_null(strstr(c.output, "s3cret"));
        /* each device the app opened, the user opens outside too */
        for (line = strtok_r(c.output, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, "dev=", 4) != 0)
                        continue;
                devices++;
                /* The rocker's devpts is a private instance: its ptmx makes
                 * ptys there, as /dev/ptmx does outside (the host's
                 * /dev/pts/ptmx may be mode 0). */
                if (strcmp(line + 4, "/dev/pts/ptmx") == 0)
                        line = "dev=/dev/ptmx";
                if (harness_sh("su -s /bin/sh %s -c 'timeout 2 sh -c \": < %s\"' 2>/dev/null", user, line + 4) != 0) {
                        print_error("the app opened %s, which %s cannot open outside\n", line + 4, user);
                        fail();
                }
        }
        assert_true(devices > 0);  /* /dev/null at least */
        free(c.output);
        /* the host's file is untouched */
        assert_int_equal(harness_sh("test \"$(cat %s/secret)\" = s3cret", H.open_dir), 0);
        harness_assert_clean();
}

/* Runs fn(fd, arg) in a child that has become the user (its groups, its
 * gid), fn writing "key=value" lines to fd; returns what it wrote
 * (malloc'ed, and printed) once the child has exited. */
static char *report_as_user(void (*fn)(int fd, void *arg), void *arg) {
        int rep[2], status;
        char *report;
        pid_t pid;

        assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(rep[0]);
                if (initgroups(user, user_gid) < 0 || setresgid(user_gid, user_gid, user_gid) < 0 ||
                    setresuid(user_uid, user_uid, user_uid) < 0)
                        _exit(90);
                fn(rep[1], arg);
                _exit(0);
        }
        close(rep[1]);
        report = read_all(rep[0]);
        close(rep[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        print_message("%s", report);
        return report;
}

typedef struct StopKill {
        RockerResult root;      /* root's rocker */
        RockerRequest req;      /* the user's */
        char req_buf[1024];
} StopKill;

/* As the user: root's rocker is neither listed, nor stopped, nor killed;
 * its own is listed and stopped. Reports "key=value" lines. */
static void user_stop_kill(int fd, void *arg) {
        StopKill *sk = arg;
        const char *const argv[] = { "/bin/sh", "-c", "read x", NULL };
        RockerRequest req = sk->req;
        RockerInfo *list = NULL;
        RockerResult r, own;
        int n = 0, in[2], stdio[3], handle = -1, ws = -1, mine = 0, low;
        struct rlimit rl;

        r = ROCKER_list_rockers(&list, &n);
        dprintf(fd, "list_err=%d\nlist_n=%d\n", r.err_no, n);
        ROCKER_free_rockers(list, n);
        r = ROCKER_kill_rocker(sk->root.guard_pid, sk->root.guard_pname, SIGKILL);
        dprintf(fd, "kill_err=%d\nkill_text=%s\n", r.err_no, ROCKER_last_error());
        r = ROCKER_stop_rocker(sk->root.guard_pid, sk->root.guard_pname, 0);
        dprintf(fd, "stop_err=%d\nstop_text=%s\n", r.err_no, ROCKER_last_error());
        /* out of fds: a failure of the system, not "no such rocker" */
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || (low = dup(fd)) < 0 || close(low) < 0 ||
            setrlimit(RLIMIT_NOFILE, &(struct rlimit) { .rlim_cur = (rlim_t) low, .rlim_max = rl.rlim_max }) < 0)
                return;
        r = ROCKER_stop_rocker(sk->root.guard_pid, sk->root.guard_pname, 0);
        dprintf(fd, "emfile_stop_err=%d\nemfile_stop_text=%s\n", r.err_no, ROCKER_last_error());
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;

        if (pipe2(in, O_CLOEXEC) < 0)
                return;
        stdio[0] = in[0];
        stdio[1] = stdio[2] = open("/dev/null", O_WRONLY | O_CLOEXEC);
        own = ROCKER_spawn_rocker(&req, argv, NULL, stdio, &handle);
        dprintf(fd, "spawn_err=%d\n", own.err_no);
        if (own.err_no != ROCKER_ERR_success)
                return;
        r = ROCKER_list_rockers(&list, &n);
        for (int i = 0; i < n; i++)
                mine += strcmp(list[i].guard_pname, own.guard_pname) == 0;
        ROCKER_free_rockers(list, n);
        dprintf(fd, "own_list_n=%d\nown_listed=%d\n", n, mine);
        r = ROCKER_stop_rocker(own.guard_pid, own.guard_pname, 2000);
        dprintf(fd, "own_stop_err=%d\nown_stop_text=%s\n", r.err_no, ROCKER_last_error());
        r = ROCKER_wait_rocker(handle, &ws);
        dprintf(fd, "own_wait_err=%d\nown_signaled=%d\n", r.err_no, WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
}

static void test_user_stop_kill_own_only(void **state) {
        const char *const argv[] = { "/bin/sleep", "60", NULL };
        int stdio[3], handle = -1, ws = -1;
        StopKill sk;
        char buf[1024], *report, *v;
        RockerRequest req = harness_request("root-rocker", buf, sizeof buf);

        (void) state;
        stdio[0] = stdio[1] = stdio[2] = open("/dev/null", O_RDWR | O_CLOEXEC);
        sk.req = user_request("stopkill", sk.req_buf, sizeof sk.req_buf);
        sk.root = ROCKER_spawn_rocker(&req, argv, NULL, stdio, &handle);
        close(stdio[0]);
        assert_int_equal(sk.root.err_no, ROCKER_ERR_success);

        report = report_as_user(user_stop_kill, &sk);
#define EXPECT(key, want) do { v = report_get(report, key); assert_non_null(v); assert_string_equal(v, want); free(v); } while (0)
        EXPECT("list_err", "0");
        EXPECT("list_n", "0");          /* root's rocker is not listed to the user */
        EXPECT("kill_err", "1");        /* ROCKER_ERR_sys */
        v = report_get(report, "kill_text");
        assert_non_null(strstr(v, "is not yours"));
        free(v);
        EXPECT("stop_err", "1");
        v = report_get(report, "stop_text");
        assert_non_null(strstr(v, "is not yours"));
        free(v);
        EXPECT("emfile_stop_err", "1");  /* ROCKER_ERR_sys, not get_guardname_failed */
        v = report_get(report, "emfile_stop_text");
        assert_non_null(v);
        print_message("stop with no fd left: %s\n", v);
        assert_non_null(strstr(v, "pidfd_open"));
        free(v);
        EXPECT("spawn_err", "0");
        EXPECT("own_list_n", "1");
        EXPECT("own_listed", "1");
        EXPECT("own_stop_err", "0");
        EXPECT("own_wait_err", "0");
        EXPECT("own_signaled", "15");   /* the graceful stop's SIGTERM */
#undef EXPECT
        free(report);

        /* root's rocker lived through it all */
        assert_int_equal(kill(sk.root.guard_pid, 0), 0);
        harness_kill_guard(&sk.root);
        assert_int_equal(ROCKER_wait_rocker(handle, &ws).err_no, ROCKER_ERR_success);
        close(handle);
        harness_assert_clean();
}

typedef struct Restart {
        RockerRequest req;      /* the user's */
        int round;              /* 0: spawn; 1 (rockerd restarted): list and kill */
        char name[16];          /* the rocker's guard, from round 0 */
        int gpid;
} Restart;

/* As the user: spawn a rocker, or list and kill it after the restart. */
static void user_restart_round(int fd, void *arg) {
        const char *const argv[] = { "/bin/sleep", "60", NULL };
        Restart *rs = arg;

        if (rs->round == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC), handle = -1;
                const int stdio[3] = { null, null, null };
                RockerResult res = ROCKER_spawn_rocker(&rs->req, argv, NULL, stdio, &handle);

                dprintf(fd, "err=%d\nname=%s\npid=%d\n", res.err_no, res.guard_pname, res.guard_pid);
        } else {
                RockerInfo *list = NULL;
                int n = 0, mine = 0;
                RockerResult r = ROCKER_list_rockers(&list, &n);

                for (int i = 0; i < n; i++)
                        mine += strcmp(list[i].guard_pname, rs->name) == 0;
                ROCKER_free_rockers(list, n);
                r = ROCKER_kill_rocker(rs->gpid, rs->name, SIGKILL);
                dprintf(fd, "listed=%d\nkill=%d\n", mine, r.err_no);
        }
}

/* The owner survives a restart of rockerd (its state record): the adopted
 * rocker is still listed to the user, and the user may still kill it. */
static void test_user_owner_survives_restart(void **state) {
        char buf[1024], *report, *v;
        Restart rs = { .req = user_request("restart", buf, sizeof buf) };
        char *name = rs.name;
        int pidfd;
        struct pollfd p;

        (void) state;
        for (int round = 0; round < 2; round++) {
                rs.round = round;
                report = report_as_user(user_restart_round, &rs);
                if (round == 0) {
                        v = report_get(report, "err");
                        assert_string_equal(v, "0");
                        free(v);
                        v = report_get(report, "name");
                        snprintf(name, sizeof rs.name, "%s", v);
                        free(v);
                        v = report_get(report, "pid");
                        rs.gpid = atoi(v);
                        free(v);
                        /* rockerd restarts; the rocker lives on, adopted */
                        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
                        assert_int_equal(harness_restart_daemon(1), 0);
                } else {
                        v = report_get(report, "listed");
                        assert_string_equal(v, "1");
                        free(v);
                        v = report_get(report, "kill");
                        assert_string_equal(v, "0");
                        free(v);
                }
                free(report);
        }
        pidfd = pidfd_open(rs.gpid, 0);
        if (pidfd >= 0) {
                p = (struct pollfd) { .fd = pidfd, .events = POLLIN };
                assert_int_equal(poll(&p, 1, 20000), 1);
                close(pidfd);
        }
        harness_assert_clean();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_user_spawn_works),
                cmocka_unit_test(test_user_own_image_goes_to_squashfuse),
                cmocka_unit_test(test_user_refusals),
                cmocka_unit_test(test_user_gains_nothing),
                cmocka_unit_test(test_user_stop_kill_own_only),
                cmocka_unit_test(test_user_owner_survives_restart),
        };

        if (system("command -v useradd >/dev/null && command -v userdel >/dev/null") != 0) {
                fprintf(stderr, "useradd/userdel missing\n");
                return 77;
        }
        return harness_run_suite("spawn-user", tests, sizeof tests / sizeof tests[0], NULL, setup, teardown);
}
