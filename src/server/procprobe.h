/* SPDX-License-Identifier: MIT */
/* What rockerd asks /proc about a guard and the processes of its rocker:
 * whether it is dying, its namespaces, whether its exit is done. Read
 * through procfs.h; the registry and the manager act on the answers. */
#ifndef ROCKER_PROCPROBE_H
#define ROCKER_PROCPROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* True if pid has been SIGKILLed or is exiting, so its teardown is under way. */
bool pid_is_dying(pid_t pid);

/* The id of pid's mount namespace (NS_GET_MNTNS_ID: unique for the boot,
 * unlike its nsfs inode number, which is reused at once), or 0. */
uint64_t pid_mntns(pid_t pid);

/* The nsfs inode number of pid's mount namespace, or 0. */
ino_t pid_mntns_ino(pid_t pid);

/* The nsfs inode number of pid's PID namespace, or 0. Not reused while
 * a pidfd of a process of that namespace is held. */
ino_t pid_pidns_ino(pid_t pid);

/* True once every process of the rocker has finished its exit but for being
 * reaped, so its mounts are gone and its data dir is free:
 *  - the guard (PID 1) waits in zap_pid_ns_processes() for the other tasks
 *    of its PID namespace to be reaped: its own exit, which may have
 *    dropped the last reference to the mount namespace and unmounted the
 *    tree, is done, and every task of the namespace has been SIGKILLed;
 *  - every other task of that PID namespace (pidns_ino) is a zombie;
 *  - no process outside it is in the rocker's mount namespace.
 * "No process in the mount namespace" alone is not enough: a task leaves
 * its namespaces (and /proc stops showing them) before its exit's task work
 * has run the final unmount, so a relaunch in between would put a second
 * overlay on a live upper dir. */
bool rocker_exited_unreaped(int guard_pidfd, pid_t guard, ino_t pidns_ino, ino_t mntns_ino, uint64_t mntns_id);

#endif
