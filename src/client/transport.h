/* SPDX-License-Identifier: MIT */
/* The client's side of the conversation with rockerd. */
#ifndef ROCKER_TRANSPORT_H
#define ROCKER_TRANSPORT_H

#include <rocker/err_no.h>

#include "proto.h"

#include <sys/types.h>

/* Connects to rockerd ($ROCKER_SOCKET or the default path). The socket, or
 * -1 with *ret_err and the thread's error text set. */
int transport_connect(ROCKER_ERR *ret_err);

/* Sends one message: success or send_req_failed. */
ROCKER_ERR transport_send(int sock, const char *buf, size_t len);

/* The same with n_fds fds attached (SCM_RIGHTS). */
ROCKER_ERR transport_send_fds(int sock, const char *buf, size_t len, const int *fds, size_t n_fds);

/* Connects and sends a spawn request with the caller's stdio attached.
 * The connected socket, or -1 as transport_send_enter(). */
int transport_send_spawn(const ProtoEnter *enter, const char *const *argv, const char *const *envp,
                         const int stdio[3], ROCKER_ERR *ret_err);

/* Waits (bounded by $ROCKER_TIMEOUT_MS) for one message; its length, or -1
 * with the error text set (the caller maps it to recv_resp_failed). An fd
 * that came with it goes to *ret_fd (NULL: none is accepted). */
ssize_t transport_recv(int sock, char *buf, size_t size, int *ret_fd);

/* Connects to rockerd ($ROCKER_SOCKET or the default path) and sends the
 * enter request. Returns the connected socket, or sets *ret_err (and the
 * thread's error text) and returns -1. */
int transport_send_enter(const ProtoEnter *enter, ROCKER_ERR *ret_err);

/* Waits (bounded by $ROCKER_TIMEOUT_MS, default 30000) for the reply. On a
 * success reply *ret_pidfd is the guard's pidfd, checked to be a pidfd of
 * reply->guard_pid. ROCKER_ERR_success, recv_resp_failed or
 * build_rocker_failed (reply->error then holds the daemon's reason). */
ROCKER_ERR transport_recv_reply(int sock, ProtoReply *reply, int *ret_pidfd);

/* Decodes the n bytes of a reply into *ret: ROCKER_ERR_success, or
 * ROCKER_ERR_recv_resp_failed with "<what>: <the decoder's reason>" as the
 * thread's error text (what: e.g. "malformed reply from rockerd"). */
ROCKER_ERR transport_decode_reply(const char *buf, size_t n, ProtoReply *ret, const char *what);

/* One reply without an fd on sock, within the reply timeout (buffer
 * allocated here, off the caller's stack), decoded as above. */
ROCKER_ERR transport_recv_plain_reply(int sock, ProtoReply *ret, const char *what);

/* Tells rockerd the rocker has been joined and is the caller's now, and
 * waits for rockerd to confirm it has recorded that (so a restarted rockerd
 * adopts the rocker). ROCKER_ERR_success or the phase that failed. */
ROCKER_ERR transport_ack(int sock, const ProtoReply *rocker);

#endif
