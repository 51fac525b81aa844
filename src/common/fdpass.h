/* SPDX-License-Identifier: MIT */
/* One message (and at most one fd) per SOCK_SEQPACKET datagram. */
#ifndef ROCKER_FDPASS_H
#define ROCKER_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* Sends len bytes as one message, with fd attached via SCM_RIGHTS when
 * fd >= 0. Never raises SIGPIPE. 0 or -errno (-EMSGSIZE if only part went). */
int fdpass_send(int sock, const void *buf, size_t len, int fd);

/* Receives one message into buf (size bytes). Returns its length, 0 on an
 * orderly EOF, or -errno. The received fd (close-on-exec) goes to *ret_fd, or
 * -EBADF if none came; when ret_fd is NULL any fd is refused. A message that
 * did not fit (MSG_TRUNC), a truncated control message (MSG_CTRUNC), more than
 * one fd or any other ancillary data is refused with -EBADMSG, and every fd
 * that did arrive is closed first. */
ssize_t fdpass_recv(int sock, void *buf, size_t size, int *ret_fd);

/* The same with up to 4 fds (a spawn request's stdin, stdout, stderr):
 * -EINVAL for more, -EBADF if one is negative. */
int fdpass_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds);

/* The same with up to max_fds fds (at most 16), stored in ret_fds[0..*ret_n_fds):
 * more than max_fds is refused with -EBADMSG, every fd closed, as are
 * truncated messages. ret_fds may be NULL with max_fds 0 (no fd accepted). */
ssize_t fdpass_recv_fds(int sock, void *buf, size_t size, int *ret_fds, size_t max_fds, size_t *ret_n_fds);

#endif
