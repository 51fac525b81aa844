/* SPDX-License-Identifier: MIT */
/*
 * ROCKER_spawn_rocker() / ROCKER_wait_rocker() (issue 17) against a real
 * rockerd, called by root: rockerd creates the app with the caller's stdio,
 * reaps it, ends the rocker with it and hands the exit status back. Every
 * case ends with harness_assert_clean().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <rocker/rocker.h>

#include "harness.h"

/* Spawns argv in a new rocker, stdin /dev/null, stdout and stderr into one
 * pipe (harness_spawn_piped()), with the environment the cases expect. */
static RockerResult spawn_piped(RockerRequest *req, const char *const argv[], int *ret_out, int *ret_handle) {
        const char *const envp[] = { "PATH=/usr/bin:/bin", "ROCKER_TEST=1", NULL };
        RockerResult res = harness_spawn_piped(req, argv, envp, -1, ret_out, ret_handle);

        assert_true(*ret_out >= 0);
        return res;
}

/* The rocker of res is gone: its guard has exited and rockerd lists it no
 * more. */
static void assert_rocker_gone(const RockerResult *res) {
        RockerInfo *list = NULL;
        int n = 0, pidfd;

        pidfd = pidfd_open(res->guard_pid, 0);
        if (pidfd >= 0) {
                /* the PID may have been reused by then: then not by a guard of that name */
                RockerResult g = ROCKER_get_guardname(res->guard_pid);
                assert_false(g.err_no == ROCKER_ERR_success && strcmp(g.guard_pname, res->guard_pname) == 0);
                close(pidfd);
        }
        assert_int_equal(ROCKER_list_rockers(&list, &n).err_no, ROCKER_ERR_success);
        for (int i = 0; i < n; i++)
                assert_false(strcmp(list[i].guard_pname, res->guard_pname) == 0);
        ROCKER_free_rockers(list, n);
}

static void test_spawn_output_and_exit_status(void **state) {
        const char *const argv[] = { "/bin/sh", "-c", "echo hi; echo \"env=$ROCKER_TEST\"; exit 7", NULL };
        char buf[1024], *out;
        RockerRequest req = harness_request("spawn-exit", buf, sizeof buf);
        RockerResult res, w;
        int fd_out, handle = -1, status = -1;

        (void) state;
        res = spawn_piped(&req, argv, &fd_out, &handle);
        if (res.err_no != ROCKER_ERR_success)
                print_error("spawn: %s: %s\n", ROCKER_strerror(res.err_no), ROCKER_last_error());
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        assert_true(res.app_pid > 0);
        assert_true(res.guard_pid > 0);
        assert_int_equal(strncmp(res.guard_pname, "rk-", 3), 0);
        assert_true(handle >= 0);
        assert_true(fcntl(handle, F_GETFD) & FD_CLOEXEC);

        w = harness_spawn_collect(handle, fd_out, &status, &out);
        assert_int_equal(w.err_no, ROCKER_ERR_success);
        assert_int_equal(w.app_pid, res.app_pid);
        assert_int_equal(w.guard_pid, res.guard_pid);
        assert_string_equal(w.guard_pname, res.guard_pname);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 7);
        assert_string_equal(out, "hi\nenv=1\n");
        free(out);
        assert_rocker_gone(&res);
        harness_assert_clean();
}

static void test_spawn_signal_killed(void **state) {
        const char *const argv[] = { "/bin/sh", "-c", "kill -TERM $$; sleep 5", NULL };
        char buf[1024], *out;
        RockerRequest req = harness_request("spawn-signal", buf, sizeof buf);
        RockerResult res, w;
        int fd_out, handle = -1, status = -1;

        (void) state;
        res = spawn_piped(&req, argv, &fd_out, &handle);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        w = harness_spawn_collect(handle, fd_out, &status, &out);
        assert_int_equal(w.err_no, ROCKER_ERR_success);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGTERM);
        free(out);
        assert_rocker_gone(&res);
        harness_assert_clean();
}

/* Killing the guard ends the app: wait reports the SIGKILL. */
static void test_spawn_guard_killed(void **state) {
        const char *const argv[] = { "/bin/sleep", "60", NULL };
        char buf[1024], *out;
        RockerRequest req = harness_request("spawn-kill", buf, sizeof buf);
        RockerResult res, w;
        struct pollfd p;
        int fd_out, handle = -1, status = -1;

        (void) state;
        res = spawn_piped(&req, argv, &fd_out, &handle);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        p = (struct pollfd) { .fd = handle, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 0), 0);  /* still running */
        harness_kill_guard(&res);
        w = harness_spawn_collect(handle, fd_out, &status, &out);
        assert_int_equal(w.err_no, ROCKER_ERR_success);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        free(out);
        assert_rocker_gone(&res);
        harness_assert_clean();
}

#define STATUS_FIELDS "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):"

typedef struct EnterProbe {
        int out;
} EnterProbe;

static int enter_probe(void *arg) {
        const EnterProbe *p = arg;

        if (dup2(p->out, 1) < 0)
                return 127;
        execl("/bin/grep", "grep", "-E", STATUS_FIELDS, "/proc/self/status", (char *) NULL);
        return 127;
}

/* The app of a spawn is confined exactly as an entered one: same ids, no
 * groups, no capabilities, no_new_privs, the same seccomp filter. */
static void test_spawn_app_equals_entered_app(void **state) {
        const char *const argv[] = { "/bin/grep", "-E", STATUS_FIELDS, "/proc/self/status", NULL };
        char buf[1024], buf2[1024], *spawned, *entered;
        RockerRequest req = harness_request("spawn-creds", buf, sizeof buf);
        RockerRequest req2 = harness_request("spawn-creds-enter", buf2, sizeof buf2);
        RockerResult res, w;
        EnterProbe probe;
        int fd_out, handle = -1, status = -1, fds[2];

        (void) state;
        res = spawn_piped(&req, argv, &fd_out, &handle);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        w = harness_spawn_collect(handle, fd_out, &status, &spawned);
        assert_int_equal(w.err_no, ROCKER_ERR_success);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        probe.out = fds[1];
        res = ROCKER_enter_rocker(&req2, enter_probe, &probe);
        close(fds[1]);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        assert_int_equal(waitpid(res.app_pid, &status, 0), res.app_pid);
        assert_true(WIFEXITED(status));
        entered = read_all(fds[0]);
        close(fds[0]);
        harness_kill_guard(&res);

        print_message("spawned app:\n%s", spawned);
        assert_non_null(strstr(spawned, "Uid:\t1000\t1000\t1000\t1000\n"));
        assert_non_null(strstr(spawned, "CapEff:\t0000000000000000\n"));
        assert_non_null(strstr(spawned, "NoNewPrivs:\t1\n"));
        assert_non_null(strstr(spawned, "Seccomp:\t2\n"));
        assert_string_equal(spawned, entered);
        free(spawned);
        free(entered);
        harness_assert_clean();
}

/* An exec that fails is the app's exit status 127, like a shell's; bad
 * arguments never reach rockerd. */
static void test_spawn_bad_arguments(void **state) {
        const char *const missing[] = { "/no/such/program", NULL };
        const char *const empty[] = { NULL };
        const char *const argv[] = { "/bin/true", NULL };
        char buf[1024], *out;
        RockerRequest req = harness_request("spawn-bad", buf, sizeof buf);
        RockerResult res, w;
        int fd_out, handle = -1, status = -1, stdio[3] = { 0, 1, -1 };

        (void) state;
        res = ROCKER_spawn_rocker(&req, empty, NULL, stdio, &handle);
        assert_int_equal(res.err_no, ROCKER_ERR_param_invalid);
        res = ROCKER_spawn_rocker(&req, argv, NULL, stdio, &handle);
        assert_int_equal(res.err_no, ROCKER_ERR_param_invalid);
        res = ROCKER_spawn_rocker(NULL, argv, NULL, stdio, &handle);
        assert_int_equal(res.err_no, ROCKER_ERR_param_invalid);
        assert_int_equal(handle, -1);
        assert_int_equal(ROCKER_wait_rocker(-1, &status).err_no, ROCKER_ERR_param_invalid);

        res = spawn_piped(&req, missing, &fd_out, &handle);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        w = harness_spawn_collect(handle, fd_out, &status, &out);
        assert_int_equal(w.err_no, ROCKER_ERR_success);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 127);
        free(out);

        /* rockerd refuses (uid 0): build_rocker_failed with its reason */
        req.uid = 0;
        res = spawn_piped(&req, argv, &fd_out, &handle);
        close(fd_out);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), "uid: 0"));
        harness_assert_clean();
}

/* A caller that closes its handle early leaves the app running; rockerd
 * still reaps it and ends the rocker with it. */
static void test_spawn_handle_closed_early(void **state) {
        const char *const argv[] = { "/bin/sh", "-c", "read x; exit 3", NULL };
        char buf[1024];
        RockerRequest req = harness_request("spawn-detach", buf, sizeof buf);
        RockerResult res;
        int in[2], out[2], handle = -1, stdio[3], pidfd;
        struct pollfd p;

        (void) state;
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        stdio[0] = in[0];
        stdio[1] = stdio[2] = out[1];
        res = ROCKER_spawn_rocker(&req, argv, NULL, stdio, &handle);
        close(in[0]);
        close(out[1]);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        close(handle);
        pidfd = pidfd_open(res.guard_pid, 0);
        assert_true(pidfd >= 0);
        p = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 0), 0);  /* the app waits on its stdin: alive */
        assert_int_equal(write(in[1], "x\n", 2), 2);
        close(in[1]);
        assert_int_equal(poll(&p, 1, 30000), 1);  /* the rocker ends with its app */
        close(pidfd);
        close(out[0]);
        harness_assert_clean();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spawn_output_and_exit_status),
                cmocka_unit_test(test_spawn_signal_killed),
                cmocka_unit_test(test_spawn_guard_killed),
                cmocka_unit_test(test_spawn_app_equals_entered_app),
                cmocka_unit_test(test_spawn_bad_arguments),
                cmocka_unit_test(test_spawn_handle_closed_early),
        };

        return harness_run_suite("spawn", tests, sizeof tests / sizeof tests[0], NULL, harness_setup, harness_teardown);
}
