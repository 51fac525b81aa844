/* SPDX-License-Identifier: MIT */
/*
 * The app's system call filter. A denylist, kept short on purpose: what an
 * app has no business doing inside a rocker and what would let it undo the
 * rocker or reach a large kernel attack surface. Everything else is allowed.
 * docs/security.md lists each entry and why.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "seccomp.h"

/* clone() flags an app may not use. New namespaces: a user namespace would
 * give the app every capability in it (and pin the rocker's mounts in copies
 * of its mount namespace), the others need one. CLONE_PARENT: the app is the
 * launcher's child, so its CLONE_PARENT children would be the launcher's too,
 * outside the rocker's reaping; killed with the rocker they stay zombies of a
 * launcher that does not know them, and the guard, as PID 1, waits for them
 * to be reaped before its pidfd fires (the rocker never ends). CLONE_THREAD
 * needs no entry: a thread is reaped with its group. CLONE_VFORK only
 * suspends the caller.
 * clone() is checked by its flags; clone3() passes them in memory a filter
 * cannot read, so it is refused as if unknown (ENOSYS), and the C library
 * falls back to clone() (glibc >= 2.34 for pthread_create and posix_spawn;
 * fork() uses clone() itself). The library's own clone3(CLONE_PARENT) that
 * creates the app runs before the filter is installed. */
#define NAMESPACE_CLONE_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | \
                               CLONE_NEWPID | CLONE_NEWNET)
#define DENIED_CLONE_FLAGS (NAMESPACE_CLONE_FLAGS | CLONE_PARENT)

typedef struct Rule {
        int nr;
        int err;
} Rule;

typedef struct Abi {
        uint32_t arch;          /* AUDIT_ARCH_* */
        int clone_nr;
        int unshare_nr;
        bool deny_x32;          /* x86_64: the x32 ABI's numbers (bit 30) are refused */
        const Rule *rules;
        size_t n_rules;
} Abi;

#define RULES_COMMON(p)                                                                                     \
        { p##unshare, EPERM }, { p##setns, EPERM }, { p##clone3, ENOSYS },                                 \
        { p##mount, EPERM }, { p##umount2, EPERM }, { p##pivot_root, EPERM },                              \
        { p##open_tree, EPERM }, { p##move_mount, EPERM }, { p##fsopen, EPERM }, { p##fsconfig, EPERM },   \
        { p##fsmount, EPERM }, { p##fspick, EPERM }, { p##mount_setattr, EPERM },                          \
        { p##io_uring_setup, ENOSYS }, { p##io_uring_enter, ENOSYS }, { p##io_uring_register, ENOSYS },    \
        { p##bpf, EPERM }, { p##userfaultfd, EPERM }, { p##perf_event_open, EPERM },                       \
        { p##kexec_load, EPERM }, { p##init_module, EPERM }, { p##finit_module, EPERM },                   \
        { p##delete_module, EPERM }, { p##open_tree_attr, EPERM }

#ifndef __NR_open_tree_attr
#define __NR_open_tree_attr 467  /* Linux 6.15; the same number on every architecture */
#endif

#if defined(__x86_64__)
static const Rule rules_native[] = { RULES_COMMON(__NR_), { __NR_kexec_file_load, EPERM } };

/* i386 programs run on x86_64 kernels with their own numbers
 * (asm/unistd_32.h); the same entries, by those. */
enum {
        I386_unshare = 310, I386_setns = 346, I386_clone3 = 435, I386_mount = 21, I386_umount2 = 52,
        I386_pivot_root = 217, I386_open_tree = 428, I386_move_mount = 429, I386_fsopen = 430,
        I386_fsconfig = 431, I386_fsmount = 432, I386_fspick = 433, I386_mount_setattr = 442,
        I386_io_uring_setup = 425, I386_io_uring_enter = 426, I386_io_uring_register = 427, I386_bpf = 357,
        I386_userfaultfd = 374, I386_perf_event_open = 336, I386_kexec_load = 283, I386_init_module = 128,
        I386_finit_module = 350, I386_delete_module = 129, I386_clone = 120, I386_umount = 22,
        I386_open_tree_attr = 467,
};
static const Rule rules_i386[] = { RULES_COMMON(I386_), { I386_umount, EPERM } };

static const Abi abis[] = {
        { AUDIT_ARCH_X86_64, __NR_clone, __NR_unshare, true, rules_native, sizeof rules_native / sizeof rules_native[0] },
        { AUDIT_ARCH_I386, I386_clone, I386_unshare, false, rules_i386, sizeof rules_i386 / sizeof rules_i386[0] },
};
#elif defined(__aarch64__)
static const Rule rules_native[] = { RULES_COMMON(__NR_), { __NR_kexec_file_load, EPERM } };
static const Abi abis[] = {
        { AUDIT_ARCH_AARCH64, __NR_clone, __NR_unshare, false, rules_native,
          sizeof rules_native / sizeof rules_native[0] },
};
#else
/* Never silently without a filter: a build for another architecture
 * fails here until it has a table (the packages are amd64 and arm64). */
#error "rocker has no system call filter table for this architecture (src/client/seccomp.c)"
#endif

#define MAX_INSNS 256

#define STMT(code, k) ((struct sock_filter) BPF_STMT((code), (k)))
#define JUMP(code, k, jt, jf) ((struct sock_filter) BPF_JUMP((code), (k), (jt), (jf)))
#define RET_ERRNO(e) STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

/* One ABI's block: skipped unless the arch matches; decides every call of
 * that ABI. Returns the new length, or -1 if the program would not fit. */
static int emit_abi(struct sock_filter *p, int n, const Abi *abi, bool user_namespaces) {
        int start;

        if (n + 11 + 2 * (int) abi->n_rules > MAX_INSNS)  /* and the final return */
                return -1;
        p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        start = n;
        p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, abi->arch, 0, 0);  /* jf patched below */
        p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        if (abi->deny_x32) {
                p[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
                p[n++] = RET_ERRNO(ENOSYS);
        }
        for (size_t i = 0; i < abi->n_rules; i++) {
                /* Apps that sandbox themselves (AllowUserNamespaces=):
                 * unshare() is theirs; setns() still is not. */
                if (user_namespaces && abi->rules[i].nr == abi->unshare_nr)
                        continue;
                p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t) abi->rules[i].nr, 0, 1);
                p[n++] = RET_ERRNO(abi->rules[i].err);
        }
        p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t) abi->clone_nr, 0, 3);
        p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));  /* low half: flags */
        p[n++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, user_namespaces ? CLONE_PARENT : DENIED_CLONE_FLAGS, 0, 1);
        p[n++] = RET_ERRNO(EPERM);
        p[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        if (n - start - 1 > 255)
                return -1;
        p[start].jf = (uint8_t) (n - start - 1);
        return n;
}

int seccomp_install(bool user_namespaces) {
        struct sock_filter prog[MAX_INSNS];
        struct sock_fprog fprog;
        int n = 0;

        for (size_t i = 0; i < sizeof abis / sizeof abis[0]; i++) {
                n = emit_abi(prog, n, &abis[i], user_namespaces);
                if (n < 0)
                        return -E2BIG;
        }
        prog[n++] = RET_ERRNO(ENOSYS);  /* an ABI without a table */
        fprog = (struct sock_fprog) { .len = (unsigned short) n, .filter = prog };
        /* Needs no_new_privs, which the caller has set. */
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0)
                return -errno;
        return 0;
}
