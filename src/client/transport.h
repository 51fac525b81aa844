/* SPDX-License-Identifier: MIT */
/* The client's side of the conversation with rockerd. */
#ifndef ROCKER_TRANSPORT_H
#define ROCKER_TRANSPORT_H

#include <rocker/err_no.h>

#include "error.h"
#include "proto.h"

#include <sys/types.h>

/*
 * The library's internal convention (docs/errors.md): a function that can
 * fail returns the public code of the phase that failed (ROCKER_ERR_success
 * otherwise) and fills the RkError its caller passed with the errno and the
 * text; the public functions (rocker.c) hand that text to
 * ROCKER_last_error() in one place. Nothing here touches the thread's
 * error text.
 */

/* Connects to rockerd ($ROCKER_SOCKET or the default path): *ret_sock.
 * server_unaddr_invalid or gen_local_addr_failed. */
ROCKER_ERR transport_connect(int *ret_sock, RkError *err);

/* Sends one message: success, send_req_failed, or build_rocker_failed when
 * rockerd had refused the connection and said why. */
ROCKER_ERR transport_send(int sock, const char *buf, size_t len, RkError *err);

/* The same with n_fds fds attached (SCM_RIGHTS). */
ROCKER_ERR transport_send_fds(int sock, const char *buf, size_t len, const int *fds, size_t n_fds, RkError *err);

/* Encodes the enter request, connects and sends it: the connected socket
 * in *ret_sock. param_invalid (encoding) or as transport_connect() and
 * transport_send(). */
ROCKER_ERR transport_send_enter(const ProtoEnter *enter, int *ret_sock, RkError *err);

/* The same for a spawn request, with the caller's stdio attached. */
ROCKER_ERR transport_send_spawn(const ProtoEnter *enter, const char *const *argv, const char *const *envp,
                                const int stdio[3], int *ret_sock, RkError *err);

/* Waits (bounded by $ROCKER_TIMEOUT_MS, default 30000) for one message of
 * at most size bytes: its length in *ret_n. An fd that came with it goes to
 * *ret_fd (NULL: none is accepted). recv_resp_failed. */
ROCKER_ERR transport_recv(int sock, char *buf, size_t size, int *ret_fd, size_t *ret_n, RkError *err);

/* Waits as transport_recv() for the reply to an enter request. On a
 * success reply *ret_pidfd is the guard's pidfd, checked to be a pidfd of
 * reply->guard_pid, a live guard. recv_resp_failed, sys, or
 * build_rocker_failed (rockerd's reason in err and reply->error). */
ROCKER_ERR transport_recv_reply(int sock, ProtoReply *reply, int *ret_pidfd, RkError *err);

/* Decodes the n bytes of a reply into *ret: success, or recv_resp_failed
 * with "<what>: <the decoder's reason>" (what: e.g. "malformed reply from
 * rockerd"). */
ROCKER_ERR transport_decode_reply(const char *buf, size_t n, ProtoReply *ret, const char *what, RkError *err);

/* One reply without an fd on sock, within the reply timeout (buffer
 * allocated here, off the caller's stack), decoded as above. */
ROCKER_ERR transport_recv_plain_reply(int sock, ProtoReply *ret, const char *what, RkError *err);

/* Tells rockerd the rocker has been joined and is the caller's now, and
 * waits for rockerd to confirm it has recorded that (so a restarted rockerd
 * adopts the rocker). Success or the phase that failed. */
ROCKER_ERR transport_ack(int sock, const ProtoReply *rocker, RkError *err);

#endif
