/* SPDX-License-Identifier: MIT */
/*
 * Non-root peers (issue 17): who may use rockerd besides root
 * (AllowUsers=, AllowGroups=), and what an allowed non-root peer may ask
 * for. docs/security.md §7 is the threat model.
 */
#ifndef ROCKER_POLICY_H
#define ROCKER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "error.h"
#include "plan.h"

struct ManagerConfig;

/* Parses a space-separated list of user (groups: group) names or numeric
 * ids into ids[] (at most max), resolving names now. 0, or -EINVAL with a
 * reason in err. */
int policy_parse_ids(const char *v, bool groups, uint32_t *ids, size_t *n, size_t max, RkError *err);

/* The supplementary groups the peer of socket fd had when it connected
 * (SO_PEERGROUPS: the kernel's word, no user database lookup), in *ret
 * (malloc'd) and *ret_n. 0 or -errno. */
int policy_peer_groups(int fd, gid_t **ret, int *ret_n);

/* True if peer may talk to rockerd at all: root, a uid of AllowUsers=, or
 * a process whose gid or one of whose supplementary groups (groups: from
 * policy_peer_groups()) is a group of AllowGroups=. */
bool policy_peer_allowed(const struct ManagerConfig *cfg, const struct ucred *peer, const gid_t *groups,
                         int n_groups);

/* Every check on a spawn request of a non-root peer, in this order: its own
 * uid and gid; MaxRockersPerUser= (live: its live rockers now); the data
 * dir and every directory above it (StrictModes relative to the peer); then,
 * in a child that has become the peer (its groups as it connected, gid,
 * uid), the image
 * opened for reading, each overlaid dir readable, the exec dir existing
 * (unless under an overlaid dir). On success *ret_image_fd is the image as
 * the peer opened it, for rockerd to mount (never re-resolved by root), and
 * each overlay's dev and ino are those of the dir the peer could read
 * (plan_check_host() and the guard then refuse any other).
 * 0, or -EPERM / -errno with err naming the rule. */
int policy_check_spawn(const struct ManagerConfig *cfg, const struct ucred *peer, const gid_t *groups, int n_groups,
                       Plan *p, unsigned live,
                       int *ret_image_fd, RkError *err);

#endif
