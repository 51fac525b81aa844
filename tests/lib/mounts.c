/* SPDX-License-Identifier: MIT */
/* The mount table through libmount: read, compare, clean up. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include <libmount.h>

#include "testlib.h"
#include "util.h"

struct libmnt_table *testlib_mounts_read(void) {
        struct libmnt_table *tab = mnt_new_table_from_file("/proc/self/mountinfo");

        if (!tab && errno == 0)
                errno = EIO;
        return tab;
}

void testlib_mounts_free(struct libmnt_table *tab) {
        mnt_unref_table(tab);
}

int testlib_mounts_count(struct libmnt_table *tab) {
        return tab ? mnt_table_get_nents(tab) : 0;
}

int testlib_mounts_under(struct libmnt_table *tab, const char *dir) {
        struct libmnt_iter *itr = mnt_new_iter(MNT_ITER_FORWARD);
        struct libmnt_fs *fs;
        int n = 0;

        if (!itr)
                return -ENOMEM;
        while (mnt_table_next_fs(tab, itr, &fs) == 0) {
                const char *target = mnt_fs_get_target(fs);
                n += target && path_contains(dir, target);
        }
        mnt_free_iter(itr);
        return n;
}

/* Appends to text[size] at *len; once full, ends it with "...". */
__attribute__((format(printf, 4, 5)))
static void text_add(char *text, size_t size, size_t *len, const char *fmt, ...) {
        va_list ap;
        int n;

        if (size == 0 || *len >= size)
                return;
        va_start(ap, fmt);
        n = vsnprintf(text + *len, size - *len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= size - *len) {
                if (size >= 4)
                        memcpy(text + size - 4, "...", 4);
                *len = size;
                return;
        }
        *len += (size_t) n;
}

static void name_fs(char *text, size_t size, size_t *len, char sign, struct libmnt_fs *fs) {
        const char *source = mnt_fs_get_source(fs), *target = mnt_fs_get_target(fs), *type = mnt_fs_get_fstype(fs);

        text_add(text, size, len, "%c %s on %s type %s\n", sign, source ? source : "none", target ? target : "?",
                 type ? type : "?");
}

/* mnt_diff_tables() pairs mounts by source and target: a second mount
 * stacked with the same two on one target looks unchanged to it. When the
 * numbers disagree with the pairs it found, the mounts whose IDs are new (or
 * gone) are named instead. */
static void diff_by_id(struct libmnt_table *from, struct libmnt_table *to, char sign, int *count, char *text,
                       size_t size, size_t *len) {
        struct libmnt_iter *itr = mnt_new_iter(MNT_ITER_FORWARD), *itr2 = mnt_new_iter(MNT_ITER_FORWARD);
        struct libmnt_fs *fs, *other;

        while (itr && itr2 && mnt_table_next_fs(to, itr, &fs) == 0) {
                bool found = false;

                mnt_reset_iter(itr2, MNT_ITER_FORWARD);
                while (!found && mnt_table_next_fs(from, itr2, &other) == 0)
                        found = mnt_fs_get_id(other) == mnt_fs_get_id(fs);
                if (!found) {
                        (*count)++;
                        name_fs(text, size, len, sign, fs);
                }
        }
        mnt_free_iter(itr);
        mnt_free_iter(itr2);
}

int testlib_mounts_diff(struct libmnt_table *before, struct libmnt_table *after, int *ret_added, int *ret_removed,
                        char *text, size_t size) {
        struct libmnt_tabdiff *diff = mnt_new_tabdiff();
        struct libmnt_iter *itr = mnt_new_iter(MNT_ITER_FORWARD);
        struct libmnt_fs *old_fs, *new_fs;
        int added = 0, removed = 0, oper, r;
        size_t len = 0;

        if (size > 0)
                text[0] = '\0';
        if (!diff || !itr) {
                r = -ENOMEM;
                goto out;
        }
        r = mnt_diff_tables(diff, before, after);
        if (r < 0)
                goto out;
        while (mnt_tabdiff_next_change(diff, itr, &old_fs, &new_fs, &oper) == 0) {
                /* A remount or a propagation change leaves the mount
                 * where it was: no leak. */
                if (oper == MNT_TABDIFF_UMOUNT || oper == MNT_TABDIFF_MOVE) {
                        removed++;
                        name_fs(text, size, &len, '-', old_fs);
                }
                if (oper == MNT_TABDIFF_MOUNT || oper == MNT_TABDIFF_MOVE) {
                        added++;
                        name_fs(text, size, &len, '+', new_fs);
                }
        }
        if (added - removed != testlib_mounts_count(after) - testlib_mounts_count(before)) {
                added = removed = 0;
                len = 0;
                if (size > 0)
                        text[0] = '\0';
                diff_by_id(before, after, '+', &added, text, size, &len);
                diff_by_id(after, before, '-', &removed, text, size, &len);
        }
        r = 0;
out:
        mnt_free_iter(itr);
        mnt_free_tabdiff(diff);
        if (r == 0) {
                *ret_added = added;
                *ret_removed = removed;
        }
        return r;
}

int testlib_unmount_under(const char *dir) {
        struct libmnt_table *tab = testlib_mounts_read();
        struct libmnt_iter *itr = mnt_new_iter(MNT_ITER_BACKWARD);
        struct libmnt_fs *fs;
        int n = 0;

        if (!tab || !itr) {
                mnt_unref_table(tab);
                mnt_free_iter(itr);
                return -ENOMEM;
        }
        /* mountinfo lists a mount after the one it sits on: backwards, the
         * latest (deepest) goes first. */
        while (mnt_table_next_fs(tab, itr, &fs) == 0) {
                const char *target = mnt_fs_get_target(fs);

                if (target && path_contains(dir, target) && umount2(target, MNT_DETACH) == 0)
                        n++;
        }
        mnt_free_iter(itr);
        mnt_unref_table(tab);
        return n;
}
