/* SPDX-License-Identifier: MIT */
/*
 * The app's system call filter. A denylist, kept short on purpose: what an
 * app has no business doing inside a rocker and what would let it undo the
 * rocker or reach a large kernel attack surface. Everything else is allowed.
 * docs/security.md lists each entry and why.
 *
 * Built with libseccomp, which knows the system call numbers of every
 * architecture it supports, so there is a filter wherever rocker builds.
 * Flatpak's pattern: the program is generated before the fork (libseccomp
 * allocates) and exported as raw BPF; the child after the raw clone only
 * hands that memory to the kernel.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#ifndef SCMP_VER_MAJOR
#error "<seccomp.h> is rocker's own src/client/seccomp.h here, not libseccomp's: keep src/client off this file's include path"
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
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
static const uint64_t namespace_clone_flags[] = {
        CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
};

typedef struct Rule {
        const char *name;
        int err;
} Rule;

/* Entries that do not exist on an architecture (umount outside i386-era
 * ABIs, kexec_file_load on i386) are skipped there. */
static const Rule rules[] = {
        { "unshare", EPERM },  /* not with AllowUserNamespaces=: see seccomp_program_build() */
        { "setns", EPERM },
        { "clone3", ENOSYS },
        { "mount", EPERM },
        { "umount", EPERM },
        { "umount2", EPERM },
        { "pivot_root", EPERM },
        { "open_tree", EPERM },
        { "move_mount", EPERM },
        { "fsopen", EPERM },
        { "fsconfig", EPERM },
        { "fsmount", EPERM },
        { "fspick", EPERM },
        { "mount_setattr", EPERM },
        { "open_tree_attr", EPERM },
        { "io_uring_setup", ENOSYS },
        { "io_uring_enter", ENOSYS },
        { "io_uring_register", ENOSYS },
        { "bpf", EPERM },
        { "userfaultfd", EPERM },
        { "perf_event_open", EPERM },
        { "kexec_load", EPERM },
        { "kexec_file_load", EPERM },
        { "init_module", EPERM },
        { "finit_module", EPERM },
        { "delete_module", EPERM },
};

/* System calls newer than the libseccomp rocker builds with (2.5.4 knows
 * Linux 5.19's) have no name there, and libseccomp cannot add a rule by a
 * number it cannot name on every architecture of the filter. They are
 * refused by a few instructions put in front of libseccomp's program, by
 * their number in the table every architecture has shared since Linux 5.1
 * (asm-generic numbering from 424 on), moved by the architecture's offset,
 * which pidfd_open (434) shows (mips o32 +4000, x32 | 0x40000000, …). */
static const struct {
        const char *name;
        int unified_nr;
        int err;
} newer_syscalls[] = {
        { "open_tree_attr", 467, EPERM },  /* Linux 6.15 */
};

/* The architectures a native process can also make system calls as: a
 * 64-bit x86 program can `int 0x80` into the i386 table or set the x32 bit,
 * an arm64 one can run AArch32 code. Each gets the same denylist; any other
 * architecture kills the process (SCMP_FLTATR_ACT_BADARCH). */
#define MAX_ARCHES 3
static const uint32_t arch_families[][MAX_ARCHES] = {
        { SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32 },
        { SCMP_ARCH_X32, SCMP_ARCH_X86_64, SCMP_ARCH_X86 },
        { SCMP_ARCH_AARCH64, SCMP_ARCH_ARM },
        { SCMP_ARCH_MIPS64, SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64N32 },
        { SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64N32 },
        { SCMP_ARCH_PPC64, SCMP_ARCH_PPC },
        { SCMP_ARCH_S390X, SCMP_ARCH_S390 },
        { SCMP_ARCH_PARISC64, SCMP_ARCH_PARISC },
};

/* The native architecture first, then its secondaries; returns how many. */
static size_t arches_of_native(uint32_t ret[static MAX_ARCHES]) {
        uint32_t native = seccomp_arch_native();

        for (size_t i = 0; i < ELEMENTSOF(arch_families); i++)
                if (arch_families[i][0] == native) {
                        size_t n = 0;

                        while (n < MAX_ARCHES && arch_families[i][n] != 0) {
                                ret[n] = arch_families[i][n];
                                n++;
                        }
                        return n;
                }
        ret[0] = native;
        return 1;
}

static bool newer_syscall_in_libseccomp(size_t i) {
        return seccomp_syscall_resolve_name(newer_syscalls[i].name) != __NR_SCMP_ERROR;
}

#define STMT(code, k) ((struct sock_filter) BPF_STMT((code), (k)))
#define JUMP(code, k, jt, jf) ((struct sock_filter) BPF_JUMP((code), (k), (jt), (jf)))

/* The instructions in front of libseccomp's program for newer_syscalls[]:
 * per architecture, "if arch matches and nr is one of them: errno", else on
 * to the next block and finally to libseccomp's program. Returns how many
 * were written into p (at most max), or -errno. */
static int prefix_emit(struct sock_filter *p, size_t max, const uint32_t *arches, size_t n_arches) {
        size_t n = 0, k = 0;

        for (size_t i = 0; i < ELEMENTSOF(newer_syscalls); i++)
                k += !newer_syscall_in_libseccomp(i);
        if (k == 0)
                return 0;
        for (size_t a = 0; a < n_arches; a++) {
                int ref = seccomp_syscall_resolve_name_arch(arches[a], "pidfd_open");

                if (ref < 0)
                        return -EPROTO;  /* every architecture has it since Linux 5.3 */
                if (n + 3 + 2 * k > max)
                        return -E2BIG;
                p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
                /* The kernel reports x32 calls as x86_64's, with bit 30 in
                 * the number (which ref carries): SCMP_ARCH_X32 is
                 * libseccomp's own token, never seen in seccomp_data. */
                p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, arches[a] == SCMP_ARCH_X32 ? SCMP_ARCH_X86_64 : arches[a], 0,
                              (uint8_t) (1 + 2 * k));
                p[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
                for (size_t i = 0; i < ELEMENTSOF(newer_syscalls); i++) {
                        if (newer_syscall_in_libseccomp(i))
                                continue;
                        p[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                      (uint32_t) (ref - 434 + newer_syscalls[i].unified_nr), 0, 1);
                        p[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (newer_syscalls[i].err & SECCOMP_RET_DATA));
                }
        }
        return (int) n;
}

static int rule_add(scmp_filter_ctx ctx, int err, const char *name, unsigned n_cmp, const struct scmp_arg_cmp *cmp) {
        /* Native numbers: libseccomp translates them, by name, for every
         * architecture of the filter and leaves out those that lack it
         * (umount outside i386-era ABIs, kexec_file_load on i386). */
        int nr = seccomp_syscall_resolve_name(name);

        if (nr == __NR_SCMP_ERROR)
                return -EPROTO;
        return seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(err), nr, n_cmp, cmp);
}

static int filter_build(bool user_namespaces, const uint32_t *arches, size_t n_arches, scmp_filter_ctx *ret) {
        scmp_filter_ctx ctx;
        int r;
        /* s390's clone() takes the stack first and the flags second
         * (CONFIG_CLONE_BACKWARDS2); everywhere else the flags come first.
         * The secondaries share their native architecture's order. */
        unsigned flags_arg = arches[0] == SCMP_ARCH_S390 || arches[0] == SCMP_ARCH_S390X ? 1 : 0;
        struct scmp_arg_cmp cmp;

        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;
        /* libseccomp offers KILL_PROCESS only if it sees the kernel take it
         * (Linux 4.14, below rocker's floor): a launcher under a filter that
         * hides seccomp(2) from it (or valgrind) gets the thread killed. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r == -EINVAL)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_THREAD);
        if (r < 0)
                goto fail;
        for (size_t i = 1; i < n_arches; i++) {
                r = seccomp_arch_add(ctx, arches[i]);
                if (r < 0)
                        goto fail;
        }

        for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
                /* Apps that sandbox themselves (AllowUserNamespaces=):
                 * unshare() is theirs; setns() still is not. */
                if (user_namespaces && strcmp(rules[i].name, "unshare") == 0)
                        continue;
                if (seccomp_syscall_resolve_name(rules[i].name) == __NR_SCMP_ERROR)
                        continue;  /* newer than libseccomp: prefix_emit() */
                r = rule_add(ctx, rules[i].err, rules[i].name, 0, NULL);
                if (r < 0)
                        goto fail;
        }

        /* Refused if any one denied flag is set: one rule per flag. */
        cmp = SCMP_CMP(flags_arg, SCMP_CMP_MASKED_EQ, CLONE_PARENT, CLONE_PARENT);
        r = rule_add(ctx, EPERM, "clone", 1, &cmp);
        if (r < 0)
                goto fail;
        if (!user_namespaces)
                for (size_t i = 0; i < ELEMENTSOF(namespace_clone_flags); i++) {
                        cmp = SCMP_CMP(flags_arg, SCMP_CMP_MASKED_EQ, namespace_clone_flags[i],
                                       namespace_clone_flags[i]);
                        r = rule_add(ctx, EPERM, "clone", 1, &cmp);
                        if (r < 0)
                                goto fail;
                }

        *ret = ctx;
        return 0;
fail:
        seccomp_release(ctx);
        return r;
}

/* The exported program, behind `prefix` instructions left free at the
 * start of the returned array. */
static int filter_export(scmp_filter_ctx ctx, size_t prefix, struct sock_filter **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        struct sock_filter *insns;
        struct stat st;
        size_t len;
        ssize_t n;
        int r;

        fd = memfd_create("rocker-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0)
                return -EIO;
        len = (size_t) st.st_size / sizeof(struct sock_filter);
        if (prefix + len > BPF_MAXINSNS)
                return -E2BIG;
        insns = calloc(prefix + len, sizeof(struct sock_filter));
        if (!insns)
                return -ENOMEM;
        n = pread(fd, insns + prefix, (size_t) st.st_size, 0);
        if (n != st.st_size) {
                r = n < 0 ? -errno : -EIO;
                free(insns);
                return r;
        }
        *ret = insns;
        *ret_len = prefix + len;
        return 0;
}

#define MAX_PREFIX 64

int seccomp_program_build(bool user_namespaces, struct sock_fprog *ret) {
        struct sock_filter prefix[MAX_PREFIX], *insns = NULL;
        uint32_t arches[MAX_ARCHES] = {};
        size_t n_arches = arches_of_native(arches), len = 0;
        scmp_filter_ctx ctx;
        int r, n_prefix;

        n_prefix = prefix_emit(prefix, ELEMENTSOF(prefix), arches, n_arches);
        if (n_prefix < 0)
                return n_prefix;
        r = filter_build(user_namespaces, arches, n_arches, &ctx);
        if (r < 0)
                return r;
        r = filter_export(ctx, (size_t) n_prefix, &insns, &len);
        seccomp_release(ctx);
        if (r < 0)
                return r;
        memcpy(insns, prefix, (size_t) n_prefix * sizeof prefix[0]);
        *ret = (struct sock_fprog) { .len = (unsigned short) len, .filter = insns };
        return 0;
}

/* One program per variant per process, built on first use (a build costs
 * about 0.3 ms here, a third of a warm enter) and never changed or freed
 * after: published with a compare-and-swap, so no lock is held that a
 * fork() of another thread could leave taken. Two threads racing both
 * build; the loser frees its copy. */
static struct sock_fprog *_Atomic cached_programs[2];

int seccomp_program_get(bool user_namespaces, const struct sock_fprog **ret) {
        struct sock_fprog *_Atomic *slot = &cached_programs[user_namespaces];
        struct sock_fprog *prog, *expected = NULL;
        int r;

        prog = atomic_load(slot);
        if (prog) {
                *ret = prog;
                return 0;
        }
        prog = malloc(sizeof *prog);
        if (!prog)
                return -ENOMEM;
        r = seccomp_program_build(user_namespaces, prog);
        if (r < 0) {
                free(prog);
                return r;
        }
        if (!atomic_compare_exchange_strong(slot, &expected, prog)) {
                seccomp_program_free(prog);
                free(prog);
                prog = expected;
        }
        *ret = prog;
        return 0;
}

void seccomp_program_free(struct sock_fprog *prog) {
        free(prog->filter);
        *prog = (struct sock_fprog) {};
}

int seccomp_program_load(const struct sock_fprog *prog) {
        /* Needs no_new_privs (or CAP_SYS_ADMIN), which the caller has set. */
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
                return -errno;
        return 0;
}

int seccomp_install(bool user_namespaces) {
        struct sock_fprog prog;
        int r;

        r = seccomp_program_build(user_namespaces, &prog);
        if (r < 0)
                return r;
        r = seccomp_program_load(&prog);
        seccomp_program_free(&prog);
        return r;
}
