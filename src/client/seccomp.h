/* SPDX-License-Identifier: MIT */
/* The system call filter every app process gets (seccomp.c). */
#ifndef ROCKER_SECCOMP_H
#define ROCKER_SECCOMP_H

#include <stdbool.h>

/* Installs the filter on the calling thread (no_new_privs must be set).
 * With user_namespaces (the app's AllowUserNamespaces=), clone() and
 * unshare() may make new namespaces (an app without capabilities can only
 * begin with a user namespace; the others then belong to it): the other
 * entries stay. Without it:
 * new namespaces, mounts, io_uring, bpf, userfaultfd, perf events and
 * kernel modules are refused with EPERM or ENOSYS; clone3 with ENOSYS, so
 * the C library uses clone(), whose flags are checked. Async-signal-safe:
 * no allocation. 0 or -errno. */
int seccomp_install(bool user_namespaces);

#endif
