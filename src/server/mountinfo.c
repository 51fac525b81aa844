/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "macro.h"
#include "mountinfo.h"

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
        for (char *o = strtok_r(field[5], ",", &save); o; o = strtok_r(NULL, ",", &save))
                if (!strcmp(o, "ro"))
                        ret->ro = true;
        return 0;
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
        _cleanup_close_ int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        int r;

        if (fd < 0)
                return negative_errno();
        for (;;) {
                ssize_t n;

                if (len == cap) {
                        char *p;

                        if (cap >= MOUNTINFO_MAX)
                                return -EFBIG;
                        p = realloc(buf, cap ? cap * 2 : 16384);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = cap ? cap * 2 : 16384;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        r = mount_table_parse(buf, len, t);
        return r;
}

unsigned long mount_flags_from_statvfs(unsigned long f_flag) {
        static const struct {
                unsigned long st, ms;
        } map[] = {
                { ST_NOSUID, MS_NOSUID },
                { ST_NODEV, MS_NODEV },
                { ST_NOEXEC, MS_NOEXEC },
                { ST_NOATIME, MS_NOATIME },
                { ST_NODIRATIME, MS_NODIRATIME },
                { ST_RELATIME, MS_RELATIME },
                { 0x2000 /* ST_NOSYMFOLLOW (5.10), not in glibc's headers yet */, MS_NOSYMFOLLOW },
        };
        unsigned long ms = 0;

        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (f_flag & map[i].st)
                        ms |= map[i].ms;
        return ms;
}
