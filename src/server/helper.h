/* SPDX-License-Identifier: MIT */
/*
 * The helper programs rockerd starts outside every rocker (helper.c):
 * squashfuse, which serves an image, and xdg-dbus-proxy, which filters an
 * app's session bus. Both run unprivileged; both are started the same way.
 */
#ifndef ROCKER_HELPER_H
#define ROCKER_HELPER_H

#include <stddef.h>
#include <sys/types.h>

/* The whole environment a helper is started with. None of rockerd's own
 * goes along (NOTIFY_SOCKET, INVOCATION_ID, CREDENTIALS_DIRECTORY, what its
 * unit or its starter set): the proxy runs as the app's user, who may read
 * its /proc/PID/environ. */
extern char *const helper_environ[];

/* In the helper's process, between fork or clone and exec: no signal
 * blocked (rockerd's signalfd mask must not cross the exec), stdin and
 * stdout on /dev/null (stderr stays rockerd's, the journal), the n_keep
 * fds of keep[] inheritable and every other fd left as it is (all of
 * rockerd's are close-on-exec), then uid and gid, no supplementary group,
 * no capability (they go with uid 0, no keep-caps) and no_new_privs (a
 * set-user-ID program would give it nothing). 0, or -errno; makes only
 * system calls. */
int helper_drop(uid_t uid, gid_t gid, const int *keep, size_t n_keep);

#endif
