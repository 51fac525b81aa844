/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/client/seccomp.c: the filter is built in this process
 * (as the library does before its fork) and loaded in a forked child, which
 * then tries each call. The arguments are chosen so that the kernel itself,
 * without the filter, would answer otherwise (EFAULT, EINVAL, EBADF, or
 * success), so each check fails without its rule.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "seccomp.h"

#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467
#endif

#define BAD ((long) -1)

typedef struct Denied {
        const char *name;
        long nr;
        int err;
} Denied;

#define D(name, err) { #name, SYS_##name, err }
static const Denied denied[] = {
        D(setns, EPERM), D(clone3, ENOSYS), D(mount, EPERM), D(umount2, EPERM), D(pivot_root, EPERM),
        D(open_tree, EPERM), D(move_mount, EPERM), D(fsopen, EPERM), D(fsconfig, EPERM), D(fsmount, EPERM),
        D(fspick, EPERM), D(mount_setattr, EPERM), D(open_tree_attr, EPERM), D(io_uring_setup, ENOSYS),
        D(io_uring_enter, ENOSYS), D(io_uring_register, ENOSYS), D(bpf, EPERM), D(userfaultfd, EPERM),
        D(perf_event_open, EPERM), D(kexec_load, EPERM), D(init_module, EPERM), D(finit_module, EPERM),
        D(delete_module, EPERM),
#ifdef SYS_kexec_file_load
        D(kexec_file_load, EPERM),
#endif
};

/* In the child: 0 if the call failed with want, else a message and 1. */
static int expect_errno(const char *what, long r, int want) {
        if (r == -1 && errno == want)
                return 0;
        fprintf(stderr, "%s: got %ld (%s), want %s\n", what, r, r == -1 ? strerror(errno) : "no error",
                strerror(want));
        return 1;
}

static int expect_ok(const char *what, long r) {
        if (r >= 0)
                return 0;
        fprintf(stderr, "%s: %s\n", what, strerror(errno));
        return 1;
}

/* A fork-like clone() with these flags; the child exits at once. */
static long clone_flags(unsigned long flags) {
        long pid = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);

        if (pid == 0)
                _exit(0);
        if (pid > 0)
                while (waitpid((pid_t) pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        return pid;
}

/* Runs body in a child under the filter; the child's exit status is the
 * number of failed checks. */
static void run_filtered(bool user_namespaces, int (*body)(void)) {
        struct sock_fprog prog;
        int status;
        pid_t pid;

        assert_int_equal(seccomp_program_build(user_namespaces, &prog), 0);
        assert_true(prog.len > 0);
        if (RUNNING_ON_VALGRIND) {
                /* valgrind answers many of these calls itself (ENOSYS for
                 * those it does not know, EBADF for a bad fd) before the
                 * kernel and its filter see them: only the building and
                 * freeing are checked here; the plain and ASan runs check
                 * the filter. */
                seccomp_program_free(&prog);
                return;
        }
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_program_load(&prog) < 0) {
                        perror("loading the filter");
                        _exit(100);
                }
                _exit(body());
        }
        seccomp_program_free(&prog);
        assert_null(prog.filter);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static int denies_each_listed_call_body(void) {
        int failed = 0;

        for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
                failed += expect_errno(denied[i].name, syscall(denied[i].nr, BAD, BAD, BAD, BAD, BAD, BAD),
                                       denied[i].err);
        failed += expect_errno("unshare(0)", syscall(SYS_unshare, 0), EPERM);
        return failed;
}

static void denies_each_listed_call(void **state) {
        (void) state;
        run_filtered(false, denies_each_listed_call_body);
}

static int thread_token;

static void *thread_main(void *arg) {
        return arg;
}

static int allows_ordinary_calls_body(void) {
        int failed = 0;
        pthread_t t;
        void *ret = NULL;
        char buf[64];
        int fds[2];

        failed += expect_ok("getpid", getpid());
        failed += expect_ok("pipe", pipe(fds));
        failed += expect_ok("write", write(fds[1], "x", 1));
        failed += expect_ok("read", read(fds[0], buf, sizeof buf));
        failed += expect_ok("fork-like clone", clone_flags(0));
        /* glibc tries clone3 first and falls back to clone on ENOSYS. */
        if (pthread_create(&t, NULL, thread_main, &thread_token) != 0 || pthread_join(t, &ret) != 0 ||
            ret != &thread_token) {
                fprintf(stderr, "pthread_create/join failed\n");
                failed++;
        }
        return failed;
}

static void allows_ordinary_calls(void **state) {
        (void) state;
        run_filtered(false, allows_ordinary_calls_body);
        run_filtered(true, allows_ordinary_calls_body);
}

static int clone_namespace_flags_denied_body(void) {
        static const struct {
                const char *name;
                unsigned long flag;
        } flags[] = {
                { "CLONE_NEWUSER", CLONE_NEWUSER }, { "CLONE_NEWNS", CLONE_NEWNS },
                { "CLONE_NEWPID", CLONE_NEWPID },   { "CLONE_NEWNET", CLONE_NEWNET },
                { "CLONE_NEWUTS", CLONE_NEWUTS },   { "CLONE_NEWIPC", CLONE_NEWIPC },
                { "CLONE_NEWCGROUP", CLONE_NEWCGROUP }, { "CLONE_PARENT", CLONE_PARENT },
        };
        int failed = 0;

        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
                failed += expect_errno(flags[i].name, clone_flags(flags[i].flag), EPERM);
        failed += expect_errno("unshare(CLONE_NEWUSER)", syscall(SYS_unshare, CLONE_NEWUSER), EPERM);
        return failed;
}

static void clone_namespace_flags_denied(void **state) {
        (void) state;
        run_filtered(false, clone_namespace_flags_denied_body);
}

static int user_namespaces_variant_body(void) {
        int failed = 0;

        failed += expect_ok("clone(CLONE_NEWUSER)", clone_flags(CLONE_NEWUSER));
        failed += expect_ok("clone(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID)",
                            clone_flags(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID));
        failed += expect_errno("clone(CLONE_PARENT)", clone_flags(CLONE_PARENT), EPERM);
        failed += expect_errno("setns", syscall(SYS_setns, BAD, 0), EPERM);
        failed += expect_errno("mount", syscall(SYS_mount, BAD, BAD, BAD, BAD, BAD), EPERM);
        failed += expect_errno("clone3", syscall(SYS_clone3, BAD, BAD), ENOSYS);
        /* Last: it changes this child's own namespaces. */
        failed += expect_ok("unshare(CLONE_NEWUSER)", syscall(SYS_unshare, CLONE_NEWUSER));
        return failed;
}

static void user_namespaces_variant(void **state) {
        (void) state;
        run_filtered(true, user_namespaces_variant_body);
}

#if defined(__x86_64__)
/* An i386 system call from this 64-bit process, through int 0x80: the
 * kernel takes it by the i386 table (AUDIT_ARCH_I386). */
static long int80(long nr, long a, long b) {
        long r;

        __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b) : "memory", "r8", "r9", "r10", "r11");
        return r;
}

enum { I386_getpid = 20, I386_unshare = 310, I386_setns = 346, X32_SYSCALL_BIT = 0x40000000 };

static int compat_calls_denied_body(void) {
        int failed = 0;
        long r;

        r = int80(I386_setns, BAD, 0);
        if (r != -EPERM) {
                fprintf(stderr, "int 0x80 setns: got %ld, want -EPERM\n", r);
                failed++;
        }
        r = int80(I386_unshare, CLONE_NEWUSER, 0);
        if (r != -EPERM) {
                fprintf(stderr, "int 0x80 unshare(CLONE_NEWUSER): got %ld, want -EPERM\n", r);
                failed++;
        }
        /* x32: the same rules by the x32 numbers (x86_64's with bit 30). */
        failed += expect_errno("x32 setns", syscall(X32_SYSCALL_BIT | SYS_setns, BAD, 0), EPERM);
        failed += expect_errno("x32 unshare", syscall(X32_SYSCALL_BIT | SYS_unshare, CLONE_NEWUSER), EPERM);
        /* a call newer than libseccomp, refused by rocker's own prefix */
        failed += expect_errno("x32 open_tree_attr", syscall(X32_SYSCALL_BIT | SYS_open_tree_attr, BAD, "", 0, NULL, 0),
                               EPERM);
        return failed;
}

static void compat_calls_denied(void **state) {
        (void) state;
        /* Without IA32 emulation int 0x80 answers ENOSYS and nothing can
         * get past the filter that way; valgrind cannot run int 0x80 (and
         * ASan builds, which test_seccomp is part of, cover this one). */
        if (RUNNING_ON_VALGRIND) {
                fprintf(stderr, "skipped: valgrind cannot emulate int 0x80\n");
                skip();
                return;
        }
        if (int80(I386_getpid, 0, 0) != getpid()) {
                fprintf(stderr, "skipped: this kernel has no IA32 emulation\n");
                skip();
                return;
        }
        run_filtered(false, compat_calls_denied_body);
}
#else
static void compat_calls_denied(void **state) {
        (void) state;
        fprintf(stderr, "skipped: the int 0x80 check is x86_64-only\n");
        skip();
}
#endif

/* The library's per-process copy: built once per variant, then shared. */
static void program_get_caches(void **state) {
        const struct sock_fprog *a = NULL, *b = NULL, *u = NULL;
        struct sock_fprog fresh;

        (void) state;
        assert_int_equal(seccomp_program_get(false, &a), 0);
        assert_int_equal(seccomp_program_get(false, &b), 0);
        assert_int_equal(seccomp_program_get(true, &u), 0);
        assert_ptr_equal(a, b);
        assert_ptr_not_equal(a, u);
        assert_int_equal(seccomp_program_build(false, &fresh), 0);
        assert_int_equal(fresh.len, a->len);
        assert_memory_equal(fresh.filter, a->filter, fresh.len * sizeof fresh.filter[0]);
        seccomp_program_free(&fresh);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(denies_each_listed_call),
                cmocka_unit_test(allows_ordinary_calls),
                cmocka_unit_test(clone_namespace_flags_denied),
                cmocka_unit_test(user_namespaces_variant),
                cmocka_unit_test(compat_calls_denied),
                cmocka_unit_test(program_get_caches),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
