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

#endif
