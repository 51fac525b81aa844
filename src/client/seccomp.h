/* SPDX-License-Identifier: MIT */
/* The system call filter every app process gets (seccomp.c). */
#ifndef ROCKER_SECCOMP_H
#define ROCKER_SECCOMP_H

/* Installs the filter on the calling thread (no_new_privs must be set):
 * new namespaces, mounts, io_uring, bpf, userfaultfd, perf events and
 * kernel modules are refused with EPERM or ENOSYS; clone3 with ENOSYS, so
 * the C library uses clone(), whose flags are checked. Async-signal-safe:
 * no allocation. 0 or -errno. */
int seccomp_install(void);

#endif
