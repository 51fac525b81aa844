/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/server/registry.c: rocker_exited_unreaped(), the check a
 * relaunch makes while the old rocker's launcher has not reaped its app yet,
 * on real processes in a real PID and mount namespace (root only).
 *
 * The "rocker": a child unshares a PID namespace and forks its PID 1 (the
 * guard), which unshares a mount namespace. An "app" is forked into that PID namespace with the
 * test as its parent, as the library does for a launcher; a third process
 * joins only the mount namespace, as `nsenter -m` would. Every process is
 * killed and reaped by the teardown, even when a test fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "registry.h"
#include "util.h"

typedef struct Fixture {
        pid_t mid;        /* parent of the guard, in the host's PID namespace */
        pid_t guard;      /* PID 1 of the namespace, by its host PID */
        int guard_pidfd;
        pid_t app;        /* in the guard's PID and mount namespaces; our child */
        pid_t outsider;   /* in the guard's mount namespace only; our child */
} Fixture;

static void sleep_forever(void) {
        for (;;)
                pause();
}

/* The guard's state as a relaunch would see it. */
static bool exited_unreaped(const Fixture *f) {
        return rocker_exited_unreaped(f->guard_pidfd, f->guard, pid_pidns_ino(f->guard), pid_mntns_ino(f->guard),
                                      pid_mntns(f->guard));
}

static int start_rocker_in(Fixture *f) {
        int fds[2];

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -1;
        f->mid = fork();
        if (f->mid < 0)
                return -1;
        if (f->mid == 0) {
                pid_t g;

                /* Each dies with its parent, even if the test crashes. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || unshare(CLONE_NEWPID) < 0)
                        _exit(1);
                g = fork();
                if (g < 0)
                        _exit(1);
                if (g == 0) {
                        /* its own mount namespace: mid stays out of it */
                        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || unshare(CLONE_NEWNS) < 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                                _exit(1);
                        sleep_forever();
                }
                if (write(fds[1], &g, sizeof g) != (ssize_t) sizeof g)
                        _exit(1);
                (void) waitpid(g, NULL, 0);
                _exit(0);
        }
        close(fds[1]);
        if (read(fds[0], &f->guard, sizeof f->guard) != (ssize_t) sizeof f->guard) {
                close(fds[0]);
                return -1;
        }
        close(fds[0]);
        f->guard_pidfd = (int) pidfd_open(f->guard, 0);
        if (f->guard_pidfd < 0)
                return -1;
        /* ready once it has its own mount namespace */
        for (int i = 0; i < 5000 && pid_mntns_ino(f->guard) == pid_mntns_ino(getpid()); i++)
                usleep(1000);
        return pid_mntns_ino(f->guard) == pid_mntns_ino(getpid()) ? -1 : 0;
}

static int stop_rocker(void **state);

static int start_rocker(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        if (!f)
                return -1;
        *state = f;
        f->guard_pidfd = -1;
        if (geteuid() != 0)
                return 0;  /* each test skips */
        if (start_rocker_in(f) < 0) {
                stop_rocker(state);  /* cmocka runs no teardown after a failed setup */
                return -1;
        }
        return 0;
}

static void kill_and_reap(pid_t *pid) {
        if (*pid > 0) {
                (void) kill(*pid, SIGKILL);
                (void) waitpid(*pid, NULL, 0);
        }
        *pid = 0;
}

static int stop_rocker(void **state) {
        Fixture *f = *state;

        kill_and_reap(&f->outsider);
        kill_and_reap(&f->app);
        if (f->guard > 0)
                (void) kill(f->guard, SIGKILL);
        kill_and_reap(&f->mid);  /* reaps the guard, then itself */
        if (f->guard_pidfd >= 0)
                close(f->guard_pidfd);
        free(f);
        return 0;
}

/* Forks a child that joins the guard's namespaces named by ns_flags and
 * sleeps there. With CLONE_NEWPID, the child is in its PID namespace but
 * ours: a launcher's app. */
static pid_t join(const Fixture *f, int ns_flags) {
        int self = -1;
        pid_t pid;

        if (ns_flags & CLONE_NEWPID) {
                self = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
                assert_true(self >= 0);
                assert_int_equal(setns(f->guard_pidfd, CLONE_NEWPID), 0);
        }
        pid = fork();
        if (pid == 0) {
                if (setns(f->guard_pidfd, CLONE_NEWNS) < 0)
                        _exit(1);
                sleep_forever();
        }
        if (self >= 0) {
                assert_int_equal(setns(self, CLONE_NEWPID), 0);  /* our later children are ours again */
                close(self);
        }
        assert_true(pid > 0);
        /* Returns once the child is in the guard's mount namespace (a
         * loaded machine may take a while to run its setns()). */
        for (int i = 0; i < 5000 && pid_mntns_ino(pid) != pid_mntns_ino(f->guard); i++)
                usleep(1000);
        assert_int_equal(pid_mntns_ino(pid), pid_mntns_ino(f->guard));
        return pid;
}

static char state_of(pid_t pid) {
        char comm[16], state = 0;

        return proc_get_name(pid, comm, &state) == 0 ? state : 0;
}

/* Waits until the guard is dying with its app a zombie, or 5 s. */
static void wait_for_zombie_app(const Fixture *f) {
        for (int i = 0; i < 5000 && (state_of(f->app) != 'Z' || pid_mntns_ino(f->guard) != 0); i++)
                usleep(1000);
        assert_int_equal(state_of(f->app), 'Z');
}

/* Polls the check for up to 5 s: the exits it waits for take a moment. */
static bool freed_within_5s(const Fixture *f, ino_t pidns, ino_t mntns, uint64_t id) {
        for (int i = 0; i < 5000; i++) {
                if (rocker_exited_unreaped(f->guard_pidfd, f->guard, pidns, mntns, id))
                        return true;
                usleep(1000);
        }
        return false;
}

static void skip_unless_root(void) {
        if (geteuid() != 0)
                skip();
}

/* A live rocker has not exited. */
static void test_live_rocker(void **state) {
        Fixture *f = *state;

        skip_unless_root();
        f->app = join(f, CLONE_NEWPID);
        assert_false(exited_unreaped(f));
        kill_and_reap(&f->app);
        assert_false(exited_unreaped(f));
}

/* The guard killed, its app a zombie its launcher has not reaped: the guard
 * waits for that zombie, its mounts are gone, the data dir is free; and the
 * guard's pidfd cannot tell, it fires only once the zombie is reaped. */
static void test_killed_with_unreaped_app(void **state) {
        Fixture *f = *state;
        ino_t pidns, mntns;
        uint64_t id;

        skip_unless_root();
        f->app = join(f, CLONE_NEWPID);
        pidns = pid_pidns_ino(f->guard);
        mntns = pid_mntns_ino(f->guard);
        id = pid_mntns(f->guard);
        assert_true(pidns != 0 && mntns != 0);
        assert_int_equal(kill(f->guard, SIGKILL), 0);
        wait_for_zombie_app(f);
        assert_true(freed_within_5s(f, pidns, mntns, id));
        /* without a NS_GET_MNTNS_ID, the inode number decides alone */
        assert_true(rocker_exited_unreaped(f->guard_pidfd, f->guard, pidns, mntns, 0));
        /* a wrong PID namespace is not this guard's */
        assert_false(rocker_exited_unreaped(f->guard_pidfd, f->guard, 0, mntns, id));

        kill_and_reap(&f->app);
        kill_and_reap(&f->mid);
        f->guard = 0;
        /* the guard is gone and its pidfd with it: no claim about a PID */
        assert_false(rocker_exited_unreaped(f->guard_pidfd, f->guard, pidns, mntns, id));
}

/* A process outside the rocker that joined its mount namespace keeps its
 * mounts: not free until it has left. */
static void test_outsider_in_mount_namespace(void **state) {
        Fixture *f = *state;
        ino_t pidns, mntns;
        uint64_t id;

        skip_unless_root();
        f->app = join(f, CLONE_NEWPID);
        f->outsider = join(f, 0);
        pidns = pid_pidns_ino(f->guard);
        mntns = pid_mntns_ino(f->guard);
        id = pid_mntns(f->guard);
        assert_int_equal(pid_mntns_ino(f->outsider), mntns);
        assert_int_equal(kill(f->guard, SIGKILL), 0);
        wait_for_zombie_app(f);
        if (id == 0) {
                /* No unique namespace ids on this kernel (before 6.x): no
                 * inode number match is trusted, the outsider is not seen;
                 * the overlay watches keep the data dir in use instead as
                 * long as it holds the mounts (lifecycle.c). */
                assert_true(freed_within_5s(f, pidns, mntns, id));
                kill_and_reap(&f->outsider);
                return;
        }
        usleep(20 * 1000);
        assert_false(rocker_exited_unreaped(f->guard_pidfd, f->guard, pidns, mntns, id));

        kill_and_reap(&f->outsider);
        assert_true(freed_within_5s(f, pidns, mntns, id));
}

/* Issue 18.2: a rocker past its exit keeps its data dir while an overlay of
 * it lives (held open from outside); nested and containing dirs count. */
static void test_data_dir_held_by_overlays(void **state) {
        Registry reg = {};
        Rocker r = { .plan = { .data_dir = (char *) "/var/lib/app/data" } };

        (void) state;
        registry_add(&reg, &r);
        assert_ptr_equal(registry_find_data_dir(&reg, "/var/lib/app/data"), &r);
        r.mounts_gone = true;
        r.n_overlays_alive = 2;
        assert_ptr_equal(registry_find_data_dir(&reg, "/var/lib/app/data"), &r);
        assert_ptr_equal(registry_find_data_dir(&reg, "/var/lib/app"), &r);
        assert_ptr_equal(registry_find_data_dir(&reg, "/var/lib/app/data/x"), &r);
        assert_ptr_equal(registry_find_data_dir_holding(&reg, "/var/lib/app/data/lower"), &r);
        r.n_overlays_alive = 0;
        assert_null(registry_find_data_dir(&reg, "/var/lib/app/data"));
        assert_null(registry_find_data_dir_holding(&reg, "/var/lib/app/data/lower"));
        r.mounts_gone = false;
        assert_ptr_equal(registry_find_data_dir(&reg, "/var/lib/app/data"), &r);
        registry_remove(&reg, &r);
        assert_int_equal(reg.n, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_data_dir_held_by_overlays),
                cmocka_unit_test_setup_teardown(test_live_rocker, start_rocker, stop_rocker),
                cmocka_unit_test_setup_teardown(test_killed_with_unreaped_app, start_rocker, stop_rocker),
                cmocka_unit_test_setup_teardown(test_outsider_in_mount_namespace, start_rocker, stop_rocker),
        };

        return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
