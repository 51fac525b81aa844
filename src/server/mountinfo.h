/* SPDX-License-Identifier: MIT */
/*
 * /proc/self/mountinfo, read into a table, and the pure helpers the mount
 * code needs from it: which mounts lie at or below a path, whether each was
 * read-only (its own flag, not its superblock's), and which per-mount flags
 * a bind remount must carry over. All of it is the VFS's: no file system is
 * asked (a hung FUSE or NFS mount answers nothing).
 */
#ifndef ROCKER_MOUNTINFO_H
#define ROCKER_MOUNTINFO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct MountEntry {
        int id;            /* the mount ID (statx STATX_MNT_ID gives the same) */
        char *mount_point; /* unescaped ("\040" → ' ') */
        bool ro;           /* the mount's own read-only flag */
        unsigned long flags; /* its other per-mount flags as MS_* (MS_NOSUID,
                              * MS_NODEV, MS_NOEXEC, MS_NOATIME, MS_NODIRATIME,
                              * MS_RELATIME, MS_NOSYMFOLLOW): what a bind
                              * remount that changes only read-only gives again */
} MountEntry;

typedef struct MountTable {
        MountEntry *entries;
        size_t n;
} MountTable;

/* Parses one line of mountinfo (without its newline) in place: the entry's
 * mount_point points into line. 0 or -EBADMSG. */
int mountinfo_parse_line(char *line, MountEntry *ret);

/* Parses a whole mountinfo text (len bytes) into t (owned: mount_table_done).
 * 0, -EBADMSG or -ENOMEM. */
int mount_table_parse(const char *text, size_t len, MountTable *t);

/* Reads and parses /proc/self/mountinfo. 0 or -errno. */
int mount_table_read(MountTable *t);

void mount_table_done(MountTable *t);

/* The entry of mount ID id in t, or NULL. */
const MountEntry *mount_table_find(const MountTable *t, int id);

#endif
