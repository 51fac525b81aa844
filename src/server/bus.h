/* SPDX-License-Identifier: MIT */
/*
 * A rocker's session bus, filtered: rockerd starts xdg-dbus-proxy per
 * rocker, as the app's uid, outside the rocker, listening on a socket in a
 * directory of rockerd's state dir; the guard binds that socket at
 * /run/user/<uid>/bus in the rocker's private /run/user (rundir.c). The
 * proxy lives as long as the guard holds its sync pipe.
 */
#ifndef ROCKER_BUS_H
#define ROCKER_BUS_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "plan.h"

#define BUS_PROXY_PATH "/usr/bin/xdg-dbus-proxy"

typedef struct BusProxy {
        int pidfd;       /* the proxy: a child of rockerd, to be reaped */
        int sync_fd;     /* the read end of its sync pipe: the guard keeps it */
        char *socket;    /* <state_dir>/.bus-<name>/bus */
} BusProxy;

/* Whether the host has a session bus for uid: /run/user/<uid>/bus is a
 * socket. */
bool bus_host_has_bus(uid_t uid);

/* Starts the proxy for plan p's uid and policy (DBusTalk= ...), in
 * <state_dir>/.bus-<name>/. On success *ret holds its pid, pidfd, the sync
 * pipe's read end and the socket path; on failure -errno with err set and
 * nothing left behind. */
int bus_proxy_start(const Plan *p, const char *state_dir, const char *name, BusProxy *ret, RkError *err);

/* Removes the proxy's directory (its socket) once the rocker is gone;
 * what else a same-uid process put there stays, logged by the caller. */
int bus_proxy_remove_dir(const char *state_dir, const char *name);

/* Whether s is a D-Bus name xdg-dbus-proxy may be given as a rule:
 * well-known name elements, optionally ending in ".*". */
bool bus_name_is_valid(const char *s);

#endif
