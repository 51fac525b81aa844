/* SPDX-License-Identifier: MIT */
/*
 * /proc/self/mountinfo, read into a table, and the pure helpers the mount
 * code needs from it: which mounts lie at or below a path, whether each was
 * read-only (its own flag, not its superblock's), and which statvfs() flags
 * a bind remount must carry over.
 */
#ifndef ROCKER_MOUNTINFO_H
#define ROCKER_MOUNTINFO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct MountEntry {
        int id;            /* the mount ID (statx STATX_MNT_ID gives the same) */
        char *mount_point; /* unescaped ("\040" → ' ') */
        bool ro;           /* the mount's own read-only flag */
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

/* The per-mount flags among statvfs() f_flag bits (ST_NOSUID, ST_NODEV,
 * ST_NOEXEC, ST_NOATIME, ST_NODIRATIME, ST_RELATIME, ST_NOSYMFOLLOW) as
 * mount(2) MS_* flags, for a bind remount that changes only read-only.
 * ST_RDONLY is left out: it may be the superblock's. */
unsigned long mount_flags_from_statvfs(unsigned long f_flag);

#endif
