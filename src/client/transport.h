/* SPDX-License-Identifier: MIT */
/* The client's side of the conversation with rockerd. */
#ifndef ROCKER_TRANSPORT_H
#define ROCKER_TRANSPORT_H

#include <rocker/err_no.h>

#include "proto.h"

/* Connects to rockerd ($ROCKER_SOCKET or the default path) and sends the
 * enter request. Returns the connected socket, or sets *ret_err (and the
 * thread's error text) and returns -1. */
int transport_send_enter(const ProtoEnter *enter, ROCKER_ERR *ret_err);

/* Waits (bounded by $ROCKER_TIMEOUT_MS, default 30000) for the reply. On a
 * success reply *ret_pidfd is the guard's pidfd, checked to be a pidfd of
 * reply->guard_pid. ROCKER_ERR_success, recv_resp_failed or
 * build_rocker_failed (reply->error then holds the daemon's reason). */
ROCKER_ERR transport_recv_reply(int sock, ProtoReply *reply, int *ret_pidfd);

/* Tells rockerd the rocker has been joined and is the caller's now. */
int transport_send_ack(int sock);

#endif
