/* SPDX-License-Identifier: MIT */
/* The system call filter every app process gets (seccomp.c). */
#ifndef ROCKER_SECCOMP_H
#define ROCKER_SECCOMP_H

#include <linux/filter.h>
#include <stdbool.h>

/* The filter, built with libseccomp for the native architecture and the
 * ones its processes can also call the kernel as (x86_64: i386 and x32;
 * arm64: arm; …); a call as any other architecture kills the process.
 * With user_namespaces (the app's AllowUserNamespaces=), clone() and
 * unshare() may make new namespaces (an app without capabilities can only
 * begin with a user namespace; the others then belong to it): the other
 * entries stay. Without it: new namespaces, mounts, io_uring, bpf,
 * userfaultfd, perf events and kernel modules are refused with EPERM or
 * ENOSYS; clone3 with ENOSYS, so the C library uses clone(), whose flags
 * are checked. Allocates: call it before a fork or raw clone. On success
 * *ret owns the instructions (seccomp_program_free()). 0 or -errno; *ret
 * untouched on failure. */
int seccomp_program_build(bool user_namespaces, struct sock_fprog *ret);

/* The same program, built once per process and variant and kept until
 * the process ends: *ret is shared and must not be freed. Thread-safe, no
 * lock (safe to call from a process forked by a threaded one). Allocates
 * on first use: call it before a fork or raw clone. 0 or -errno. */
int seccomp_program_get(bool user_namespaces, const struct sock_fprog **ret);

/* Frees what seccomp_program_build() made; leaves *prog empty. */
void seccomp_program_free(struct sock_fprog *prog);

/* Installs a built filter on the calling thread (no_new_privs must be set).
 * Async-signal-safe: one prctl(), no allocation, so it may run in the child
 * of a raw clone. 0 or -errno. */
int seccomp_program_load(const struct sock_fprog *prog);

/* Build + load + free in one step, for a caller that may allocate (not
 * after a raw clone or in a multi-threaded process's forked child).
 * 0 or -errno. */
int seccomp_install(bool user_namespaces);

#endif
