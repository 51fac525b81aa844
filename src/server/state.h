/* SPDX-License-Identifier: MIT */
/*
 * What rockerd must remember across its own restarts: one small JSON file per
 * live rocker in the state dir (default /run/rocker/state). A restarted rockerd
 * reads them back, trusts none blindly — each must still name a live process
 * with the recorded name and start time — and adopts those rockers.
 */
#ifndef ROCKER_STATE_H
#define ROCKER_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct StateRecord {
        char name[16];
        pid_t pid;
        unsigned long long starttime;
        bool claimed;
        int32_t app_id;
        uid_t uid;
        gid_t gid;
        char *pkg_path;
        char *exec_dir;
        char *data_dir;
        char *cgroup;           /* NULL if the rocker has no cgroup of its own */
        uid_t owner;            /* the peer that asked for it (0: root, or a record without "owner") */
} StateRecord;

/* Creates dir (0700) if missing. 0 or -errno. */
int state_dir_open(const char *dir);

/* Writes (atomically: temporary file, then rename) the record of rocker name.
 * 0 or -errno. */
int state_save(const char *dir, const StateRecord *rec);

/* Removes the record of rocker name; a missing one is fine. */
void state_remove(const char *dir, const char *name);

/* Calls fn for each well-formed record in dir, then frees it; malformed
 * files are removed. 0 or -errno. */
int state_load_all(const char *dir, void (*fn)(StateRecord *rec, void *userdata), void *userdata);

void state_record_done(StateRecord *rec);

#endif
