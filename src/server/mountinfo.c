/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "macro.h"
#include "mountinfo.h"
#include "procfs.h"

#define MOUNTINFO_MAX (16u << 20)  /* 16 MiB: some 100000 mounts */

/* The kernel escapes ' ', '\t', '\n' and '\\' as "\ooo" (octal). */
static void unescape(char *s) {
        char *w = s;

        for (char *r = s; *r; r++)
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
                    r[3] <= '7') {
                        *w++ = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else
                        *w++ = *r;
        *w = '\0';
}

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256  /* 5.10; not in every glibc's headers */
#endif

/* The per-mount options mountinfo shows (show_mnt_opts()), as mount(2)
 * flags; "ro" is MountEntry.ro. */
static const struct {
        const char *name;
        unsigned long ms;
} per_mount_flags[] = {
        { "nosuid", MS_NOSUID },
        { "nodev", MS_NODEV },
        { "noexec", MS_NOEXEC },
        { "noatime", MS_NOATIME },
        { "nodiratime", MS_NODIRATIME },
        { "relatime", MS_RELATIME },
        { "nosymfollow", MS_NOSYMFOLLOW },
};

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
 * fields 1 (mount ID), 5 (mount point), 6 (per-mount options). */
int mountinfo_parse_line(char *line, MountEntry *ret) {
        char *field[6], *save = NULL, *end;
        long id;
        size_t i;

        for (i = 0; i < ELEMENTSOF(field); i++) {
                field[i] = strtok_r(i == 0 ? line : NULL, " ", &save);
                if (!field[i])
                        return -EBADMSG;
        }
        errno = 0;
        id = strtol(field[0], &end, 10);
        if (errno || *end || id < 0 || id > 0x7fffffff || field[4][0] != '/')
                return -EBADMSG;
        unescape(field[4]);
        ret->id = (int) id;
        ret->mount_point = field[4];
        ret->ro = false;
        ret->flags = 0;
        for (char *o = strtok_r(field[5], ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                if (!strcmp(o, "ro"))
                        ret->ro = true;
                for (size_t k = 0; k < ELEMENTSOF(per_mount_flags); k++)
                        if (!strcmp(o, per_mount_flags[k].name))
                                ret->flags |= per_mount_flags[k].ms;
        }
        return 0;
}

const MountEntry *mount_table_find(const MountTable *t, int id) {
        for (size_t i = 0; i < t->n; i++)
                if (t->entries[i].id == id)
                        return &t->entries[i];
        return NULL;
}

void mount_table_done(MountTable *t) {
        for (size_t i = 0; i < t->n; i++)
                free(t->entries[i].mount_point);
        free(t->entries);
        *t = (MountTable) {};
}

int mount_table_parse(const char *text, size_t len, MountTable *t) {
        MountTable new = {};
        size_t cap = 0;

        for (size_t pos = 0; pos < len;) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                size_t n = nl ? (size_t) (nl - (text + pos)) : len - pos;
                _cleanup_free_ char *line = strndup(text + pos, n);
                MountEntry e;

                pos += n + 1;
                if (!line) {
                        mount_table_done(&new);
                        return -ENOMEM;
                }
                if (n == 0)
                        continue;
                if (mountinfo_parse_line(line, &e) < 0) {
                        mount_table_done(&new);
                        return -EBADMSG;
                }
                if (new.n == cap) {
                        MountEntry *p = reallocarray(new.entries, cap ? cap * 2 : 64, sizeof *p);

                        if (!p) {
                                mount_table_done(&new);
                                return -ENOMEM;
                        }
                        new.entries = p;
                        cap = cap ? cap * 2 : 64;
                }
                e.mount_point = strdup(e.mount_point);
                if (!e.mount_point) {
                        mount_table_done(&new);
                        return -ENOMEM;
                }
                new.entries[new.n++] = e;
        }
        *t = new;
        return 0;
}

int mount_table_read(MountTable *t) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = procfs_read_all(PROCFS_AT, PROCFS_SELF, "mountinfo", MOUNTINFO_MAX, &buf, &len);
        if (r < 0)
                return r;
        return mount_table_parse(buf, len, t);
}
