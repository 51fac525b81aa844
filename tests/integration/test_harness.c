/* SPDX-License-Identifier: MIT */
/*
 * The harness tested on itself: its mount table (libmount) reads paths that
 * mountinfo escapes, tells a directory from a name that merely starts the
 * same, and its leak check names the mount that leaked. A test that cannot
 * fail on a leak proves nothing, so the last case runs this program again
 * as a suite that leaks a mount on purpose, and reads its failure message.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define LEAK_SOURCE "rocker-leak-probe"

/* A tmpfs with source name at dir (made) with mode 0755. */
static void mount_tmpfs(const char *source, const char *dir) {
        assert_int_equal(mkdir(dir, 0755), 0);
        if (mount(source, dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") < 0)
                fail_msg("mount tmpfs on %s: %s", dir, strerror(errno));
}

/* "a b" is "a\040b" in mountinfo: a sscanf("%s") reader sees another path,
 * and one that cuts at the blank would see "a". */
static void test_path_with_space(void **state) {
        char dir[256], spaced[300];
        struct libmnt_table *tab;
        int added = -1, removed = -1;
        char diff[1024];

        (void) state;
        snprintf(dir, sizeof dir, "%s/spaced", H.dir);
        snprintf(spaced, sizeof spaced, "%s/with space", dir);
        assert_int_equal(mkdir(dir, 0755), 0);
        mount_tmpfs("rocker test", spaced);

        tab = testlib_mounts_read();
        assert_non_null(tab);
        assert_int_equal(testlib_mounts_under(tab, spaced), 1);
        assert_int_equal(testlib_mounts_under(tab, dir), 1);
        assert_int_equal(testlib_mounts_diff(H.baseline_mounts, tab, &added, &removed, diff, sizeof diff), 0);
        print_message("%s", diff);
        assert_int_equal(added, 1);
        assert_int_equal(removed, 0);
        assert_non_null(strstr(diff, "+ rocker test on "));
        assert_non_null(strstr(diff, "/spaced/with space type tmpfs\n"));
        testlib_mounts_free(tab);

        /* the teardown's clean-up finds it by its real name */
        assert_int_equal(testlib_unmount_under(dir), 1);
        harness_assert_clean();
}

/* "<dir>/pre" must not claim "<dir>/prefix": a component boundary. */
static void test_prefix_similar_paths(void **state) {
        char pre[256], prefix[256];
        struct libmnt_table *tab;

        (void) state;
        snprintf(pre, sizeof pre, "%s/pre", H.dir);
        snprintf(prefix, sizeof prefix, "%s/prefix", H.dir);
        mount_tmpfs("rocker-pre", pre);
        mount_tmpfs("rocker-prefix", prefix);

        tab = testlib_mounts_read();
        assert_non_null(tab);
        assert_int_equal(testlib_mounts_under(tab, pre), 1);
        assert_int_equal(testlib_mounts_under(tab, prefix), 1);
        assert_int_equal(testlib_mounts_under(tab, H.dir), 2);
        testlib_mounts_free(tab);

        assert_int_equal(testlib_unmount_under(pre), 1);
        tab = testlib_mounts_read();
        assert_non_null(tab);
        assert_int_equal(testlib_mounts_under(tab, prefix), 1);  /* untouched */
        testlib_mounts_free(tab);
        assert_int_equal(testlib_unmount_under(prefix), 1);
        harness_assert_clean();
}

/* Two mounts stacked with the same source on one target: mnt_tabdiff
 * pairs by source and target and sees no change; the diff must still name
 * one new mount. */
static void test_stacked_mount_counted(void **state) {
        char dir[256], diff[1024];
        struct libmnt_table *tab;
        int added = -1, removed = -1;

        (void) state;
        snprintf(dir, sizeof dir, "%s/stacked", H.dir);
        mount_tmpfs("rocker-stacked", dir);
        tab = testlib_mounts_read();
        assert_non_null(tab);
        if (mount("rocker-stacked", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0)
                fail_msg("mount: %s", strerror(errno));
        {
                struct libmnt_table *now = testlib_mounts_read();

                assert_non_null(now);
                assert_int_equal(testlib_mounts_diff(tab, now, &added, &removed, diff, sizeof diff), 0);
                testlib_mounts_free(now);
        }
        testlib_mounts_free(tab);
        print_message("%s", diff);
        assert_int_equal(added, 1);
        assert_int_equal(removed, 0);
        assert_non_null(strstr(diff, "+ rocker-stacked on "));
        assert_int_equal(testlib_unmount_under(dir), 2);
        harness_assert_clean();
}

/* Run by the case below in a child: leaks a mount, then checks. */
static void leak_a_mount(void **state) {
        char dir[256];

        (void) state;
        snprintf(dir, sizeof dir, "%s/leak me", H.dir);
        mount_tmpfs(LEAK_SOURCE, dir);
        H.clean_bound_ms = 1000;  /* this leak stays: no need to wait it out for 30 s */
        harness_assert_clean();  /* fails, naming it; the teardown unmounts it */
}

static void test_leak_is_named(void **state) {
        char *out, exe[4096];
        int fds[2], status;
        ssize_t n;
        pid_t pid;

        (void) state;
        n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        assert_true(n > 0);
        exe[n] = '\0';
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(fds[1], 1);
                dup2(fds[1], 2);
                unsetenv("ROCKER_TEST_FILTER");
                execl(exe, exe, "--leak", (char *) NULL);
                _exit(127);
        }
        close(fds[1]);
        out = read_all(fds[0]);  /* to EOF: the child and its rockerd are gone */
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        print_message("the leaking suite said:\n%s", out);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 127);
        assert_non_null(strstr(out, "leak: mounts "));
        assert_non_null(strstr(out, "+ " LEAK_SOURCE " on /tmp/rocker-it."));
        assert_non_null(strstr(out, "/leak me type tmpfs\n"));
        free(out);
        harness_assert_clean();
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_path_with_space),
                cmocka_unit_test(test_prefix_similar_paths),
                cmocka_unit_test(test_stacked_mount_counted),
                cmocka_unit_test(test_leak_is_named),
        };
        const struct CMUnitTest leak[] = {
                cmocka_unit_test(leak_a_mount),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "the integration tests need root\n");
                return 77;
        }
        if (argc == 2 && strcmp(argv[1], "--leak") == 0)
                return cmocka_run_group_tests_name("leaking on purpose", leak, harness_setup, harness_teardown);
        if (getenv("ROCKER_TEST_FILTER"))
                cmocka_set_test_filter(getenv("ROCKER_TEST_FILTER"));
        return cmocka_run_group_tests_name("harness", tests, harness_setup, harness_teardown);
}
