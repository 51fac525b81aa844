/* SPDX-License-Identifier: MIT */
/*
 * What the modules of rockerd's manager share (manager.c lists them): the
 * Manager and a client's Conn, and the functions one module calls in
 * another. Not for the rest of the daemon, which sees manager.h only.
 */
#ifndef ROCKER_MANAGER_INTERNAL_H
#define ROCKER_MANAGER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "config.h"
#include "image.h"
#include "kernel.h"
#include "list.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "plan.h"
#include "proto.h"
#include "reaper.h"
#include "registry.h"
#include "spawn.h"
#include "state.h"
#include "worker.h"

struct Conn {
        Manager *m;
        LIST_FIELDS(Conn, conns);
        int fd;
        sd_event_source *io;
        sd_event_source *timer;
        struct ucred peer;
        gid_t *peer_groups;      /* its supplementary groups as it connected (non-root peers) */
        int n_peer_groups;
        Rocker *rocker;          /* being built for this client, until claimed */
        Rocker *waiting_for;     /* the holder of the data dir asked for */
        bool holder_dying;       /* ...seen being killed: wait for its teardown */
        sd_event_source *poll;   /* looks for the holder's mounts being gone */
        Plan plan;               /* the request, while waiting */
        AppPolicy policy;        /* its app's; plan borrows strings from it */
        bool has_plan;
        bool done;               /* replied: only an ack or EOF may follow */
        /* Everything that touches the paths the request names runs in a
         * worker (worker.h) under the request's deadline, never here. */
        Worker *worker;          /* checking the request, or preparing its build */
        int image_fd;            /* the image, opened by the check worker (as the peer, for a non-root one) */
        ImageId image_id;
        Image *image;            /* its cache entry, if it was cached when the build began */
        bool host_has_bus;       /* the build worker saw the user's session bus socket */
        bool is_spawn;           /* a spawn request: rockerd starts the app (issue 17) */
        SpawnRequest spawn;      /* ...its argv, envp and stdio, until the app is started */
        Rocker *spawned;         /* ...its rocker, whose app's exit status it waits for */
        /* A spawn into a live rocker: the process rockerd made there (its
         * child, reaped here), until it exits. */
        pid_t joined_pid;
        int joined_pidfd;
        sd_event_source *joined_source;
        pid_t joined_guard;      /* ...in the rocker of this guard */
        char joined_guard_name[16];
};

struct Manager {
        ManagerConfig cfg;
        sd_event *event;
        int listen_fd;
        sd_event_source *listen_source;
        bool accept_paused;      /* out of fds: accept again when one is freed */
        LIST_HEAD(Conn, conns);
        unsigned n_conns;
        Registry registry;
        Registry lingering;      /* ended rockers whose overlays are held open from outside */
        int inotify_fd;          /* watches every rocker's overlays (overlaywatch.h) */
        sd_event_source *inotify_source;
        ImageCache *images;
        Reaper *reaper;          /* rockers' session bus proxies */
        KernelFeatures kernel;   /* probed once by main() */
        CgroupSetup *cgroups;
};

/* ---- manager.c ---- */

/* CLOCK_MONOTONIC, in µs. */
uint64_t now_usec(void);
/* Tells systemd how many rockers, images and connections there are. */
void manager_status(Manager *m);
/* An fd was freed: if accept() had run out of them, resume it. */
void manager_fd_freed(Manager *m);

/* ---- listen.c ---- */

/* The listening socket: systemd's, or bound at cfg->socket_path. The fd,
 * or -errno (logged). */
int listen_socket(const ManagerConfig *cfg);
/* The listening socket's handler: a new connection, or a refusal. */
int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* ---- conn.c ---- */

int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* Ends the connection, and kills a rocker it has not claimed. NULL. */
Conn *conn_free(Conn *c);
static inline void conn_freep(Conn **c) { conn_free(*c); }
int conn_set_deadline(Conn *c, uint64_t usec);
int conn_send(Conn *c, const ProtoReply *reply, int fd);
/* Replies with an error and logs it; the connection lingers until its
 * deadline for the client to read it. */
_printf_(2, 3) void conn_fail(Conn *c, const char *fmt, ...);
/* Live rockers of uid and its requests in progress besides self. */
unsigned count_owned(const Manager *m, uid_t uid, const Conn *self);
/* A worker job's failure r: reply->err as the callee filled it, or r's text. */
int job_fail(WorkerReply *reply, int r);

/* ---- build.c ---- */

/* The request is valid: build now, or wait for the data dir's holder. */
void conn_start(Conn *c);

/* ---- requests.c ---- */

void conn_spawn_app(Conn *c, Rocker *r);
void conn_spawn_report_exit(Conn *c, const ProtoReply *last);
void conn_spawn_in(Conn *c, ProtoRequest *req);
void conn_signal(Conn *c, const ProtoRequest *req);
void conn_list(Conn *c, int32_t offset);

/* ---- lifecycle.c ---- */

LogFields rocker_fields(const Rocker *r);

/* A line about r, carrying its journal fields. */
#define log_rocker(level, r, ...)                                  \
        do {                                                       \
                LogFields _f_ = rocker_fields(r);                  \
                log_struct((level), &_f_, __VA_ARGS__);            \
        } while (0)

void rocker_kill(Rocker *r, const char *why);
int rocker_save(Rocker *r);
void rocker_release(Rocker *r, bool keep_state);
void rocker_free(Rocker *r);
void rocker_linger(Rocker *r);
bool read_overlay_watches(Manager *m);
void release_waiters(Manager *m, const Rocker *r);
void act_on_gone_overlays(Manager *m);
int on_overlay_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata);
void conn_wait_teardown(Conn *c);
void on_scope_done(int error, const char *text, void *userdata);
int on_guard_status(sd_event_source *s, int fd, uint32_t revents, void *userdata);
int on_guard_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata);
int on_app_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* ---- adopt.c ---- */

/* state_load_all()'s callback at start: adopts the rocker of rec if its
 * guard still lives, else drops rec. */
void rocker_adopt(StateRecord *rec, void *userdata);

#endif
