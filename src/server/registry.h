/* SPDX-License-Identifier: MIT */
/* Live rockers, by guard name and by data dir. */
#ifndef ROCKER_REGISTRY_H
#define ROCKER_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "image.h"
#include "list.h"
#include "plan.h"
#include "procprobe.h"

typedef struct Conn Conn;
typedef struct Manager Manager;

typedef enum RockerState {
        ROCKER_BUILDING,   /* guard is building; its report has not come */
        ROCKER_UNCLAIMED,  /* reply sent, the client has not acked its join yet */
        ROCKER_RUNNING,    /* joined: lives until its guard is killed */
} RockerState;

typedef struct Rocker {
        LIST_FIELDS(struct Rocker, rockers);
        Manager *manager;
        char name[16];
        pid_t pid;
        int pidfd;
        int status_fd;
        sd_event_source *pidfd_source;
        sd_event_source *status_source;
        RockerState state;
        bool killed;            /* rockerd sent SIGKILL */
        bool stopping;          /* the guard reported a graceful stop... */
        uint64_t stop_deadline_usec;  /* ...which ends by then (CLOCK_MONOTONIC) */
        bool adopted;           /* started by an earlier rockerd: not our child */
        unsigned long long starttime;  /* of the guard, from /proc: its identity with pid */
        uint64_t mntns;         /* the rocker's mount namespace id (never reused in a boot), 0 if unknown */
        ino_t mntns_ino;        /* ...and its nsfs inode number (reused: only a fast first check) */
        ino_t pidns_ino;        /* the nsfs inode number of its PID namespace (pinned by pidfd) */
        bool mounts_gone;       /* dying, and rocker_exited_unreaped(): its mount
                                 * namespace is gone; its data dir is free once
                                 * n_overlays_alive is 0 too */
        int overlay_wds[PROTO_OVERLAY_MAX];  /* inotify watch of each overlay's root, -1 once gone */
        size_t n_overlays_alive; /* overlays whose superblock still exists (overlaywatch.h) */
        bool lingering;         /* the guard has exited, an overlay has not: held open
                                 * from outside; in Manager.lingering, not the registry */
        Plan plan;
        Image *image;
        Conn *conn;             /* the client it is being built for, until claimed */
        uint64_t started_usec;  /* CLOCK_MONOTONIC */
        char *cgroup;           /* its own cgroup, relative to the hierarchy root; NULL if none */
        struct CgroupScopeJob *scope_job;  /* systemd: its scope is being started */
        /* A spawned rocker (issue 17): rockerd created its app, reaps it,
         * and ends the rocker with it. */
        pid_t app_pid;          /* 0 for an entered rocker */
        int app_pidfd;          /* until the app is reaped, else -EBADF */
        sd_event_source *app_source;
        bool app_exited;
        int app_wstatus;        /* waitpid()-style, once app_exited */
        Conn *spawner;          /* the connection waiting for the app's exit status, or NULL */
        uid_t owner_uid;        /* the peer that asked for it (0: root); only it and root may see,
                                 * stop or kill it. Kept in its state record. */
} Rocker;

typedef struct Registry {
        LIST_HEAD(Rocker, rockers);
        size_t n;
} Registry;

void registry_add(Registry *reg, Rocker *r);
void registry_remove(Registry *reg, Rocker *r);
Rocker *registry_find_name(const Registry *reg, const char *name);
/* The live rocker whose data dir is data_dir, contains it or lies in it
 * (rockers whose mounts and overlays are gone do not count). */
Rocker *registry_find_data_dir(const Registry *reg, const char *data_dir);

/* The live rocker whose data dir holds path (rockers whose mounts and
 * overlays are gone do not count). */
Rocker *registry_find_data_dir_holding(const Registry *reg, const char *path);

/* A fresh random guard name no live rocker has. 0 or -errno. */
int registry_new_name(const Registry *reg, char name[16]);

#endif
