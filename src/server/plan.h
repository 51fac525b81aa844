/* SPDX-License-Identifier: MIT */
/*
 * A validated enter request, as a typed plan the builder and the guard
 * execute. plan_from_request() is the only place a client's strings become
 * paths rockerd acts on; everything downstream takes a Plan.
 */
#ifndef ROCKER_PLAN_H
#define ROCKER_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"
#include "proto.h"

/* Where an overlaid dir's layers live: <data>/overlay/<escaped dir>/{upper,work}
 * (see path_escape() and docs/data-dir.md). */
#define PLAN_OVERLAY_SUBDIR "overlay"

/* DBusTalk=, DBusOwn=, DBusSee= come from the app's config alone. */
#define PLAN_DBUS_NAMES_MAX CONFIG_DBUS_NAMES_MAX

/* The most host paths one Devices= group brings (dev.c's device_groups). */
#define PLAN_DEVICE_GROUP_PATHS_MAX 2

/* The daemon's and the app's SharedWritablePaths=, and "/dev" when it is
 * shared whole (plan_apply_policy()), with room to spare. */
#define PLAN_SHARED_PATHS_MAX (2 * CONFIG_PATHS_MAX + 4)

/* The daemon's and the app's Devices=, each group expanded to its paths. */
#define PLAN_DEVICES_MAX (2 * CONFIG_PATHS_MAX * PLAN_DEVICE_GROUP_PATHS_MAX)

/* Host sockets of the app's uid an app's Sockets= may name. */
enum {
        PLAN_SOCKET_WAYLAND = 1 << 0,     /* /run/user/<uid>/wayland-*     */
        PLAN_SOCKET_PULSEAUDIO = 1 << 1,  /* /run/user/<uid>/pulse/native  */
        PLAN_SOCKET_PIPEWIRE = 1 << 2,    /* /run/user/<uid>/pipewire-0    */
        PLAN_SOCKET_X11 = 1 << 3,         /* /tmp/.X11-unix (in the shared /tmp) */
};

typedef enum PlanBus {
        PLAN_BUS_FILTERED,  /* through xdg-dbus-proxy (bus.c): the default */
        PLAN_BUS_NONE,
        PLAN_BUS_HOST,      /* the user's bus socket itself, unfiltered */
} PlanBus;

typedef struct PlanOverlay {
        char *dir;      /* host dir covered, e.g. "/var" */
        char *upper;    /* "<data>/overlay/var/upper" */
        char *work;     /* "<data>/overlay/var/work" */
        uid_t uid;      /* owner and mode of the host dir, which the merged */
        gid_t gid;      /* dir keeps (the upper dir's root carries them)   */
        mode_t mode;
        /* Which directory the check saw (0 0: not checked yet): the guard
         * refuses another one at that path when it opens the layer. */
        dev_t dev;
        ino_t ino;
        /* Which upper and work dirs plan_prepare_data_dir() made or found
         * (0 0: not prepared yet): the guard refuses others at their paths. */
        dev_t upper_dev, work_dev;
        ino_t upper_ino, work_ino;
} PlanOverlay;

typedef struct Plan {
        int32_t app_id;
        uid_t uid;
        gid_t gid;
        char *pkg_path;
        char *exec_dir;
        char *data_dir;
        /* Which directory the check saw as exec_dir's parent (0 0: none
         * recorded: missing then, or under an overlaid dir or /run/user,
         * which the guard sees through an overlay or its private
         * /run/user): the guard refuses another one. */
        dev_t exec_parent_dev;
        ino_t exec_parent_ino;
        PlanOverlay overlays[PROTO_OVERLAY_MAX];  /* sorted: parents before children */
        size_t n_overlays;
        /* From the daemon's and the app's policy (plan_apply_policy()).
         * The strings are borrowed: valid until the guard is spawned, whose
         * copy of rockerd's memory keeps them; nothing else reads them. */
        bool private_network;
        uint64_t stop_timeout_usec;    /* StopTimeoutSec=: the guard's grace on SIGTERM */
        const char *shared_paths[PLAN_SHARED_PATHS_MAX];
        size_t n_shared_paths;
        /* A private /dev (dev.c) unless /dev is shared whole (Devices=all,
         * or /dev in SharedWritablePaths=): the base nodes, these host
         * paths ("/dev/x" or "/dev/x*"), its own devpts and /dev/shm. */
        bool private_dev;
        const char *devices[PLAN_DEVICES_MAX];
        size_t n_devices;
        uint64_t dev_shm_size;  /* bytes, > 0 */
        /* A private /run/user (rundir.c) unless /run/user is shared: only
         * /run/user/<uid>, holding the sockets of Sockets= and the session
         * bus as session_bus says; the user manager's sockets never. */
        bool allow_user_namespaces;  /* told to the library, whose filter then lets the app make them */
        /* The guard creates no missing component of exec_dir on the host:
         * for a non-root peer, whose exec dir must exist already unless it
         * lies under an overlaid dir (then it is made in the upper layer). */
        bool exec_dir_no_create;
        bool private_run_user;
        unsigned sockets;       /* PLAN_SOCKET_* */
        PlanBus session_bus;
        const char *dbus_talk[PLAN_DBUS_NAMES_MAX];
        size_t n_dbus_talk;
        const char *dbus_own[PLAN_DBUS_NAMES_MAX];
        size_t n_dbus_own;
        const char *dbus_see[PLAN_DBUS_NAMES_MAX];
        size_t n_dbus_see;
        /* Set by rockerd right before the guard is cloned, when a proxy
         * serves the rocker: its socket and the read end of its sync pipe
         * (bus_sync_fd is meaningful only with bus_socket set). */
        char *bus_socket;
        int bus_sync_fd;
} Plan;

/* Checks every field of e that needs no file system (syntax, relations
 * between the paths) and builds *ret, taking e's strings; the overlays stay
 * in the request's order, their owner and mode unset. On failure -EINVAL
 * (or -errno) with err naming the field and the reason; e and *ret are then
 * left for the caller to free. Touches no path: the event loop runs it. */
int plan_parse_request(ProtoEnter *e, Plan *ret, RkError *err);

/* What lstat() says of the plan's paths now: the image a regular file, the
 * exec and data dirs directories if they exist, each overlaid dir a
 * directory (not a symlink), whose owner, mode, dev and ino it records (and
 * the exec dir's parent's dev and ino, unless under an overlaid dir); with
 * strict_modes, StrictModes= too. 0 or -errno with err set. Touches client-
 * named paths, which may hang: run in a worker (worker.h), never in the
 * event loop. */
int plan_check_host(Plan *p, bool strict_modes, RkError *err);

/* Sorts the overlays parents before children, as the guard mounts them. */
void plan_sort_overlays(Plan *p);

/* plan_parse_request(), plan_check_host() without StrictModes= and
 * plan_sort_overlays() in one step (for tests and tools; rockerd runs the
 * host checks in a worker). */
int plan_from_request(ProtoEnter *e, Plan *ret, RkError *err);

/* Checks the plan against the policy (the image must lie in one of the
 * app's ImageDirs, if it has any) and takes its network and shared paths.
 * 0 or -EPERM with err set. Touches no path (StrictModes= is checked by
 * plan_check_host()). */
int plan_apply_policy(Plan *p, const ManagerConfig *cfg, const AppPolicy *app, RkError *err);

/* Creates what is missing of the data dir and its overlay layout (parents
 * 0755, the data dir and each overlay's directory 0700 root, each upper dir
 * with its host dir's owner and mode), refusing symlinks on the way, and
 * records the dev and ino of each upper and work dir it leaves.
 * 0 or -errno with err set. */
int plan_prepare_data_dir(Plan *p, RkError *err);
/* (Touches client-named paths: a worker's job.) */

void plan_done(Plan *p);

#endif
