/* SPDX-License-Identifier: MIT */
/* Live rockers, by guard name and by data dir. */
#ifndef ROCKER_REGISTRY_H
#define ROCKER_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "image.h"
#include "plan.h"

typedef struct Conn Conn;
typedef struct Manager Manager;

typedef enum RockerState {
        ROCKER_BUILDING,   /* guard is building; its report has not come */
        ROCKER_UNCLAIMED,  /* reply sent, the client has not acked its join yet */
        ROCKER_RUNNING,    /* joined: lives until its guard is killed */
} RockerState;

typedef struct Rocker {
        struct Rocker *next, *prev;
        Manager *manager;
        char name[16];
        pid_t pid;
        int pidfd;
        int status_fd;
        sd_event_source *pidfd_source;
        sd_event_source *status_source;
        RockerState state;
        bool killed;            /* rockerd sent SIGKILL */
        bool adopted;           /* started by an earlier rockerd: not our child */
        unsigned long long starttime;  /* of the guard, from /proc: its identity with pid */
        uint64_t mntns;         /* the rocker's mount namespace id (never reused in a boot), 0 if unknown */
        ino_t mntns_ino;        /* ...and its nsfs inode number (reused: only a fast first check) */
        bool mounts_gone;       /* dying, and no task holds its mount namespace any more:
                                 * its overlays are gone, its data dir is free */
        Plan plan;
        Image *image;
        Conn *conn;             /* the client it is being built for, until claimed */
        uint64_t started_usec;  /* CLOCK_MONOTONIC */
} Rocker;

typedef struct Registry {
        Rocker *head;
        size_t n;
} Registry;

void registry_add(Registry *reg, Rocker *r);
void registry_remove(Registry *reg, Rocker *r);
Rocker *registry_find_name(const Registry *reg, const char *name);
/* The live rocker whose data dir is data_dir, contains it or lies in it
 * (rockers whose mounts are gone do not count). */
Rocker *registry_find_data_dir(const Registry *reg, const char *data_dir);

/* A fresh random guard name no live rocker has. 0 or -errno. */
int registry_new_name(const Registry *reg, char name[16]);

/* True if pid has been SIGKILLed or is exiting, so its teardown is under way. */
bool pid_is_dying(pid_t pid);

/* The id of pid's mount namespace (NS_GET_MNTNS_ID: unique for the boot,
 * unlike its nsfs inode number, which is reused at once), or 0. */
uint64_t pid_mntns(pid_t pid);

/* The nsfs inode number of pid's mount namespace, or 0. */
ino_t pid_mntns_ino(pid_t pid);

/* True once no process holds the mount namespace mntns any more: the guard
 * has let go of it, and so has every process of the rocker (the app may
 * still be a zombie waiting for its parent, which holds nothing). */
bool mntns_released(pid_t guard, ino_t ino, uint64_t id);

#endif
