/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/server/mountinfo.c and the pure parts of kernel.c:
 * mountinfo lines (escapes, the mount's own read-only flag, malformed
 * lines), whole tables, the flags a bind remount carries over, and
 * ROCKER_FORCE_FALLBACK values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cmocka.h>

#include "kernel.h"
#include "mountinfo.h"

static void test_line(void **state) {
        char line[] = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue";
        char ro[] = "37 36 0:40 / /tmp/ro ro,nosuid,relatime shared:5 - tmpfs tmpfs rw";
        MountEntry e;

        (void) state;
        assert_int_equal(mountinfo_parse_line(line, &e), 0);
        assert_int_equal(e.id, 36);
        assert_string_equal(e.mount_point, "/mnt2");
        assert_false(e.ro);
        /* "ro" of the mount, not of the superblock (after " - ") */
        assert_int_equal(mountinfo_parse_line(ro, &e), 0);
        assert_int_equal(e.id, 37);
        assert_true(e.ro);
}

static void test_line_superblock_ro_is_not_mount_ro(void **state) {
        char line[] = "40 1 7:1 / /opt/app rw,nosuid - squashfs /dev/loop1 ro";
        MountEntry e;

        (void) state;
        assert_int_equal(mountinfo_parse_line(line, &e), 0);
        assert_false(e.ro);
}

static void test_line_escapes(void **state) {
        char line[] = "50 1 0:41 / /tmp/a\\040b\\011c\\134d\\012e rw - tmpfs x rw";
        char odd[] = "51 1 0:41 / /tmp/\\9xy rw - tmpfs x rw";
        MountEntry e;

        (void) state;
        assert_int_equal(mountinfo_parse_line(line, &e), 0);
        assert_string_equal(e.mount_point, "/tmp/a b\tc\\d\ne");
        /* not an octal escape: kept as it is */
        assert_int_equal(mountinfo_parse_line(odd, &e), 0);
        assert_string_equal(e.mount_point, "/tmp/\\9xy");
}

static void test_line_malformed(void **state) {
        char short_line[] = "36 35 98:0 /mnt1 /mnt2";
        char bad_id[] = "x6 35 98:0 / /mnt rw - tmpfs x rw";
        char neg_id[] = "-1 35 98:0 / /mnt rw - tmpfs x rw";
        char relative[] = "36 35 98:0 / mnt rw - tmpfs x rw";
        char empty[] = "";
        MountEntry e;

        (void) state;
        assert_int_equal(mountinfo_parse_line(short_line, &e), -EBADMSG);
        assert_int_equal(mountinfo_parse_line(bad_id, &e), -EBADMSG);
        assert_int_equal(mountinfo_parse_line(neg_id, &e), -EBADMSG);
        assert_int_equal(mountinfo_parse_line(relative, &e), -EBADMSG);
        assert_int_equal(mountinfo_parse_line(empty, &e), -EBADMSG);
}

static void test_table(void **state) {
        static const char text[] = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
                                   "2 1 0:5 / /tmp rw,nosuid - tmpfs tmpfs rw\n"
                                   "3 2 0:6 / /tmp/ro ro - tmpfs tmpfs rw\n"
                                   "\n"
                                   "4 1 0:7 / /var\\040x rw - tmpfs tmpfs rw";  /* no final newline */
        MountTable t = {};

        (void) state;
        assert_int_equal(mount_table_parse(text, strlen(text), &t), 0);
        assert_int_equal(t.n, 4);
        assert_string_equal(t.entries[0].mount_point, "/");
        assert_true(t.entries[2].ro);
        assert_false(t.entries[1].ro);
        assert_string_equal(t.entries[3].mount_point, "/var x");
        mount_table_done(&t);
        assert_int_equal(t.n, 0);
        assert_int_equal(mount_table_parse("1 0 8:1 / / rw - x y rw\nbroken\n", 31, &t), -EBADMSG);
        assert_null(t.entries);
}

static void test_table_read(void **state) {
        MountTable t = {};
        bool root = false;

        (void) state;
        assert_int_equal(mount_table_read(&t), 0);
        for (size_t i = 0; i < t.n; i++)
                root |= !strcmp(t.entries[i].mount_point, "/");
        assert_true(root);
        mount_table_done(&t);
}

static void test_flags(void **state) {
        char line[] = "36 35 98:0 / /mnt rw,nosuid,nodev,noexec,relatime master:1 - ext4 /dev/root rw";
        char atime[] = "37 35 98:0 / /mnt2 ro,noatime,nodiratime,nosymfollow - ext4 /dev/root rw";
        char plain[] = "38 35 98:0 / /mnt3 rw - ext4 /dev/root ro,nosuid";
        MountTable t = { 0 };
        MountEntry e[3];

        (void) state;
        assert_int_equal(mountinfo_parse_line(line, &e[0]), 0);
        assert_int_equal(e[0].flags, MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
        assert_int_equal(mountinfo_parse_line(atime, &e[1]), 0);
        /* read-only is MountEntry.ro, never in flags */
        assert_true(e[1].ro);
        assert_int_equal(e[1].flags, MS_NOATIME | MS_NODIRATIME | 256 /* MS_NOSYMFOLLOW */);
        /* the superblock's options (after " - ") are not the mount's */
        assert_int_equal(mountinfo_parse_line(plain, &e[2]), 0);
        assert_false(e[2].ro);
        assert_int_equal(e[2].flags, 0);

        t.entries = e;
        t.n = 3;
        assert_ptr_equal(mount_table_find(&t, 37), &e[1]);
        assert_null(mount_table_find(&t, 39));
}

static void test_forced_fallbacks(void **state) {
        KernelFeatures f = {};
        const char *bad = NULL;
        size_t bad_len = 0;

        (void) state;
        assert_int_equal(kernel_parse_forced(NULL, &f, &bad, &bad_len), 0);
        assert_int_equal(kernel_parse_forced("", &f, &bad, &bad_len), 0);
        assert_false(f.image_staging || f.bind_remount);
        assert_int_equal(kernel_parse_forced("bind-remount", &f, &bad, &bad_len), 0);
        assert_true(f.bind_remount);
        assert_false(f.image_staging);
        f = (KernelFeatures) {};
        assert_int_equal(kernel_parse_forced("image-staging,,bind-remount,", &f, &bad, &bad_len), 0);
        assert_true(f.image_staging && f.bind_remount);
        f = (KernelFeatures) {};
        /* the client library's fallback: accepted, nothing of rockerd's */
        assert_int_equal(kernel_parse_forced("cloexec-walk", &f, &bad, &bad_len), 0);
        assert_false(f.image_staging || f.bind_remount);
        assert_int_equal(kernel_parse_forced("all", &f, &bad, &bad_len), 0);
        assert_true(f.image_staging && f.bind_remount);
        f = (KernelFeatures) {};
        assert_int_equal(kernel_parse_forced("image-staging,bogus,all", &f, &bad, &bad_len), -EINVAL);
        assert_int_equal(bad_len, 5);
        assert_memory_equal(bad, "bogus", 5);
        assert_int_equal(kernel_parse_forced("image-stagingX", &f, &bad, &bad_len), -EINVAL);
        assert_int_equal(kernel_parse_forced("al", &f, &bad, &bad_len), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_line),
                cmocka_unit_test(test_line_superblock_ro_is_not_mount_ro),
                cmocka_unit_test(test_line_escapes),
                cmocka_unit_test(test_line_malformed),
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_table_read),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_forced_fallbacks),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
