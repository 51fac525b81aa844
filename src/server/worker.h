/* SPDX-License-Identifier: MIT */
/*
 * Workers: a forked child of rockerd per step of a request that touches
 * client-named paths (systemd-mountfsd's pattern). A path on a hung file
 * system (a FUSE daemon that stopped, an NFS server that went away) then
 * blocks that child, never the event loop: the loop only moves the
 * worker's reply and at most two fds (SCM_RIGHTS, fdpass.h): the job's,
 * and the pidfd of a child the job started for rockerd
 * (worker_spawn_child()); the request's deadline ends a worker that
 * overruns with SIGKILL by pidfd.
 *
 * A worker keeps none of rockerd's fds but its reply socket and the one fd
 * it was given (close_range()): a worker stuck on a hung path holds no other
 * client's connection, no guard's pidfd, no image mount.
 */
#ifndef ROCKER_WORKER_H
#define ROCKER_WORKER_H

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "error.h"
#include "plan.h"
#include "proto.h"
#include "reaper.h"

typedef struct Worker Worker;

/* What a worker sends back: fixed size, no pointers (it crosses a process
 * boundary). The fd, if any, travels beside it. */
typedef struct WorkerReply {
        RkError err;                     /* code 0, or the job's failure */
        /* the image file's identity (the cache key, image.h) */
        uint64_t image_dev, image_ino;
        int64_t image_size, image_mtime_sec, image_mtime_nsec;
        /* owner and mode of each overlaid host dir, in the plan's order */
        uint32_t overlay_uid[PROTO_OVERLAY_MAX];
        uint32_t overlay_gid[PROTO_OVERLAY_MAX];
        uint32_t overlay_mode[PROTO_OVERLAY_MAX];
        uint64_t overlay_dev[PROTO_OVERLAY_MAX];
        uint64_t overlay_ino[PROTO_OVERLAY_MAX];
        /* the check's exec dir parent (0 0: none recorded, plan.h) */
        uint64_t exec_parent_dev, exec_parent_ino;
        /* the build's upper and work dirs of each overlay, in the plan's
         * (sorted) order */
        uint64_t upper_dev[PROTO_OVERLAY_MAX], upper_ino[PROTO_OVERLAY_MAX];
        uint64_t work_dev[PROTO_OVERLAY_MAX], work_ino[PROTO_OVERLAY_MAX];
        /* the kernel could not mount the image (image_kernel_unavailable()):
         * the auto backend's cue for squashfuse */
        int32_t kernel_error;
        /* a non-root peer's image that is not root's and unchangeable by
         * others, or lies on FUSE: never handed to the kernel's squashfs */
        int32_t image_untrusted;
        /* the image was mounted by squashfuse (image_mount_fuse()) */
        int32_t image_fuse;
        /* the app's user has a session bus socket on the host
         * (bus_host_has_bus(): a path under /run/user/<uid>, the user's) */
        int32_t host_has_bus;
        /* which fds travel beside it (set by worker.c): WORKER_FD_JOB,
         * WORKER_FD_CHILD, in that order */
        uint32_t fds;
} WorkerReply;

#define WORKER_FD_JOB 1U
#define WORKER_FD_CHILD 2U

/* Runs in the worker: fills reply (reply->err on failure) and returns
 * an fd to hand back, or -EBADF. in_fd is the fd given to worker_start(),
 * or -EBADF. */
typedef int (*WorkerJob)(void *job_data, int in_fd, WorkerReply *reply);

/* Called by the loop with the worker's reply and fd (owned by the callee,
 * -EBADF if none). A worker that died without replying gives an error
 * reply. The Worker is the caller's no more once the call returns (it
 * lingers, by itself, until the reply socket's other end is closed: see
 * worker_spawn_child()). */
typedef void (*WorkerDone)(const WorkerReply *reply, int fd, void *userdata);

/* Forks a worker that runs job(job_data, in_fd, ...) (job_data is read in
 * the worker's copy of rockerd's memory: it must be valid now, not later).
 * in_fd is not taken. name: the worker's comm (15 chars). 0 or -errno. */
int worker_start(sd_event *event, Reaper *reaper, const char *name, WorkerJob job, void *job_data, int in_fd,
                 WorkerDone done, void *userdata, Worker **ret);

/* Ends a worker whose result is no longer wanted (deadline, client gone):
 * SIGKILL by pidfd; the reaper reaps it. done is not called. NULL. */
Worker *worker_kill(Worker *w);

/* The worker process' pid, for logs. */
pid_t worker_pid(const Worker *w);

/* In a WorkerDone callback of a successful reply: the pidfd of the child
 * the job started with worker_spawn_child() (owned by the caller from
 * now), or -EBADF. A child not taken is killed and reaped by the loop. */
int worker_take_child(Worker *w);

/* In a job: starts fn(data) (which must exec or _exit) in a new process
 * whose parent is rockerd, not the worker (clone3(CLONE_PARENT |
 * CLONE_PIDFD)), so that rockerd can reap it (waitid(P_PIDFD)) after the
 * worker has gone. At most one per worker. Its pidfd goes to *ret_pidfd and
 * travels back with a successful reply; on a failed one it is killed.
 *
 * Why nothing leaks if the worker is SIGKILLed (at the deadline) at any
 * point: a child of rockerd the loop does not know would never be reaped
 * (rockerd reaps by pidfd only) and could run on. So the child's first act,
 * before fn, is to send the loop its own pidfd over the worker's reply
 * socket (which it inherited, close-on-exec), and the worker's reply,
 * success or failure, carries it too; the loop keeps a pidfd only if it is
 * one of its own children's (never a pid it is told). The loop keeps the
 * reply socket until every holder has closed it (the worker exits, the
 * child execs or exits), even after the reply or worker_kill(), so the
 * note is never lost: a child not handed over in a successful reply is
 * killed and reaped. PR_SET_PDEATHSIG cannot do it (it follows the
 * parent, rockerd, not the worker). Only in a worker's job (-EPERM
 * elsewhere). 0 or -errno. */
int worker_spawn_child(void (*fn)(void *data), void *data, int *ret_pidfd);

#endif
