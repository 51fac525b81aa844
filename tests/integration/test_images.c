/* SPDX-License-Identifier: MIT */
/*
 * Images: the kernel loop + squashfs backend and the squashfuse backend
 * (squashfuse's death, its privileges, its path), the image cache (an upgrade
 * in place, many cached images), the kernel mechanisms rockerd picked, and
 * images that are no squashfs or are crafted to break one.
 *
 * case                              what it proves (issue)
 * test_image_upgrade                an image replaced in place: old rockers keep the old one (4)
 * test_squashfuse_death             a squashfuse SIGKILLed: rockerd sees it dead, serves again (4)
 * test_squashfuse_unprivileged      squashfuse runs unprivileged, from its absolute path, with
 *                                   none of rockerd's environment (4)
 * test_squashfuse_by_absolute_path  SquashfusePath= is never looked up in PATH (4)
 * test_kernel_mechanisms_logged     rockerd names the kernel mechanisms it picked (12)
 * test_lib_bad_images               random, truncated, tiny, empty, special-file images (3)
 * test_lib_image_crafted_96_4096    bytes 96..4096 of a real image overwritten (3)
 * test_many_cached_images           200 cached images grow neither mount table (12)
 *
 * Callbacks run in the app process inside the rocker: they cannot use
 * cmocka, so they report "key=value" lines through a pipe and the test
 * asserts on them after waitpid(). Every case ends with
 * harness_assert_clean(): no mount, loop device, guard, daemon fd or own fd
 * more than before.
 * The test_raw_* and test_lib_* cases are hostile requests: what each
 * is checked for after it, and the table of refusals printed at the
 * end, are in hostile.h.
 * The fault and load cases also wait until rockerd's state dir is empty
 * again, and are left out of the -squashfuse variant (docs/testing.md).
 *
 * Knobs (environment):
 *   ROCKER_TEST_IMAGES     images cached by the many-images case (200)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rocker/rocker.h>

#include "harness.h"
#include "probe.h"
#include "hostile.h"
#include "faults.h"

/* The app store renames a new image over the old one while a rocker of the
 * old version runs. */
static int probe_readme(void *arg) {
        const Probe *p = arg;
        char path[512], buf[64];
        int fd, n;

        snprintf(path, sizeof path, "%s/README", p->exec_dir);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? (int) read(fd, buf, sizeof buf - 1) : 0;
        if (fd >= 0)
                close(fd);
        buf[n > 0 ? n - 1 : 0] = '\0';
        report_say(p->fd, "readme=%s", buf);
        return 0;
}

/* A squashfuse that dies (a crafted image crashed it, an admin killed it)
 * leaves its mount answering ENOTCONN: the next rocker of that image gets
 * a fresh one, not the dead mount. Only on the squashfuse backend. */
/* SIGKILLs every squashfuse and waits (on pidfds, 10 s at most) until each
 * has exited: rockerd then sees its image's squashfuse dead. */
static int kill_squashfuse(void) {
        pid_t pids[16];
        int n = harness_squashfuse_pids(pids, 16), killed = 0;

        for (int i = 0; i < n && i < 16; i++) {
                int pidfd = pidfd_open(pids[i], 0);
                struct pollfd p = { .fd = pidfd, .events = POLLIN };

                if (pidfd < 0)
                        continue;
                if (pidfd_send_signal(pidfd, SIGKILL, NULL, 0) == 0 && poll(&p, 1, 10000) == 1)
                        killed++;
                close(pidfd);
        }
        return killed;
}

static void test_squashfuse_death(void **state) {
        char buf[1024], buf2[1024], *report;
        RockerRequest a_req = harness_request("fuse-a", buf, sizeof buf);
        RockerRequest b_req = harness_request("fuse-b", buf2, sizeof buf2);
        Probe probe = { .tag = "fuse" };
        RockerResult a, b;
        int status;

        (void) state;
        if (!getenv("ROCKER_TEST_BACKEND") || strcmp(getenv("ROCKER_TEST_BACKEND"), "squashfuse") != 0)
                skip();
        probe.exec_dir = a_req.app_exec_dir;
        a = probe_run(&a_req, probe_readme, &probe, &report, &status);
        assert_int_equal(a.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v1");
        free(report);
        assert_int_equal(kill_squashfuse(), 1);

        probe.exec_dir = b_req.app_exec_dir;
        b = probe_run(&b_req, probe_readme, &probe, &report, &status);
        if (b.err_no == ROCKER_ERR_success)
                harness_kill_guard(&b);
        harness_kill_guard(&a);
        assert_int_equal(b.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v1");
        free(report);
        harness_assert_clean();
}

/* The value of a "Key:\t..." line of /proc/<pid>/status, or "". */
static void pid_status_field(pid_t pid, const char *key, char *ret, size_t size) {
        char path[64], line[256];
        size_t klen = strlen(key);
        FILE *f;

        ret[0] = '\0';
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof line, f))
                if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        snprintf(ret, size, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
                        ret[strcspn(ret, "\n")] = '\0';
                        break;
                }
        if (f)
                fclose(f);
}

/* squashfuse parses untrusted images: it runs from its absolute path as a
 * user that is not root, with no capability, no supplementary group and
 * no_new_privs (rockerd mounted the FUSE filesystem for it). Only on the
 * squashfuse backend. */
static void test_squashfuse_unprivileged(void **state) {
        char buf[1024], field[256], exe[PATH_MAX], path[64], *report;
        RockerRequest req = harness_request("fuse-unpriv", buf, sizeof buf);
        Probe probe = { .tag = "fuse" };
        RockerResult res;
        pid_t pid;
        ssize_t n;
        int status;

        (void) state;
        if (!getenv("ROCKER_TEST_BACKEND") || strcmp(getenv("ROCKER_TEST_BACKEND"), "squashfuse") != 0)
                skip();
        probe.exec_dir = req.app_exec_dir;
        res = probe_run(&req, probe_readme, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v1");
        free(report);
        assert_int_equal(harness_squashfuse_pids(&pid, 1), 1);

        /* real, effective, saved and fs ids: none is root */
        for (int i = 0; i < 2; i++) {
                unsigned ids[4];

                pid_status_field(pid, i == 0 ? "Uid" : "Gid", field, sizeof field);
                assert_int_equal(sscanf(field, "%u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]), 4);
                for (int j = 0; j < 4; j++)
                        assert_int_not_equal(ids[j], 0);
        }
        pid_status_field(pid, "Groups", field, sizeof field);
        assert_string_equal(field, "");
        pid_status_field(pid, "CapEff", field, sizeof field);
        assert_string_equal(field, "0000000000000000");
        pid_status_field(pid, "CapPrm", field, sizeof field);
        assert_string_equal(field, "0000000000000000");
        pid_status_field(pid, "NoNewPrivs", field, sizeof field);
        assert_string_equal(field, "1");
        snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        n = readlink(path, exe, sizeof exe - 1);
        assert_true(n > 0);
        exe[n] = '\0';
        assert_string_equal(exe, "/usr/bin/squashfuse");
        /* and none of rockerd's environment (its harness gives it
         * NOTIFY_SOCKET and the test's own) */
        assert_int_equal(testlib_environ_is(pid, (char *const[]) { (char *) "PATH=/usr/bin:/bin", NULL }), 1);

        harness_kill_guard(&res);
        harness_assert_clean();
}

/* squashfuse is never looked up in PATH: a SquashfusePath= that does not
 * exist refuses the request, naming it, even with a squashfuse in PATH. */
static void test_squashfuse_by_absolute_path(void **state) {
        char buf[1024], etc[128], missing[160], *report;
        RockerRequest req = harness_request("fuse-path", buf, sizeof buf);
        Probe probe = { .tag = "fuse" };
        RockerResult res;
        int status;

        (void) state;
        snprintf(etc, sizeof etc, "%s/etc-fuse-path", H.dir);
        snprintf(missing, sizeof missing, "%s/no-such-squashfuse", H.dir);
        assert_int_equal(harness_sh("mkdir -p %s && printf '[Daemon]\\nImageBackend=squashfuse\\nSquashfusePath=%s\\n' "
                                    "> %s/rockerd.conf", etc, missing, etc), 0);
        harness_restart_with_config("%s/rockerd.conf", etc);

        probe.exec_dir = req.app_exec_dir;
        res = probe_run(&req, probe_readme, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), missing));

        harness_restart_with_config("%s", H.base_config);
        harness_assert_clean();
}

static void test_image_upgrade(void **state) {
        char buf[1024], buf2[1024], image[256], *report;
        RockerRequest old_req = harness_request("upgrade-old", buf, sizeof buf);
        RockerRequest new_req = harness_request("upgrade-new", buf2, sizeof buf2);
        Probe probe = { .tag = "upgrade" };
        RockerResult old_res, new_res;
        int status, loops_before;

        (void) state;
        snprintf(image, sizeof image, "%s/upgrade.squashfs", H.dir);
        assert_int_equal(harness_sh("cp %s %s", H.image, image), 0);
        old_req.app_pkg_path = new_req.app_pkg_path = image;

        old_res = probe_run(&old_req, probe_readme, &probe, &report, &status);
        assert_int_equal(old_res.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v1");
        free(report);

        /* written beside it, renamed over it */
        assert_int_equal(harness_sh("cp %s %s.new && mv %s.new %s", H.image_v2, image, image, image), 0);
        new_res = probe_run(&new_req, probe_readme, &probe, &report, &status);
        assert_int_equal(new_res.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v2");
        free(report);

        /* the old rocker still sees its version: look through its guard's root */
        assert_int_equal(harness_sh("grep -qx 'image v1' /proc/%d/root%s/README", old_res.guard_pid,
                                    old_req.app_exec_dir), 0);
        assert_int_equal(harness_sh("grep -qx 'image v2' /proc/%d/root%s/README", new_res.guard_pid,
                                    new_req.app_exec_dir), 0);
        {
                Snapshot now;
                snapshot_take(&now);
                loops_before = now.loops;
                assert_int_equal(loops_before, H.baseline.loops + 2);  /* one per version */
        }
        harness_kill_guard(&old_res);
        harness_kill_guard(&new_res);
        harness_assert_clean();  /* both loop devices released */
}

/* rockerd says once, at start, which mechanism it picked for each thing
 * kernels differ in; ROCKER_FORCE_FALLBACK (the *-fallback ctest variants)
 * must really put it on the fallbacks. */
static void test_kernel_mechanisms_logged(void **state) {
        const char *forced = getenv("ROCKER_FORCE_FALLBACK");
        bool all = forced && !strcmp(forced, "all");
        char path[128], *log, *line;
        int fd;

        (void) state;
        snprintf(path, sizeof path, "%s/rockerd.log", H.dir);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        log = read_all(fd);
        close(fd);
        line = strstr(log, "rockerd: kernel ");
        assert_non_null(line);
        line[strcspn(line, "\n")] = '\0';
        assert_non_null(strstr(line, "overlay layers as /proc/self/fd strings"));
        if (all) {
                assert_non_null(strstr(line, "image clones from a staging mount namespace"));
                assert_non_null(strstr(line, "mount flags by bind remounts"));
        } else if (!forced || !*forced) {
                /* what the running kernel has (docs/kernels.md) */
                struct utsname u;
                int version;

                assert_int_equal(uname(&u), 0);
                version = atoi(u.release) * 1000 + (strchr(u.release, '.') ? atoi(strchr(u.release, '.') + 1) : 0);
                assert_non_null(strstr(line, version >= 6015 ? "image clones from detached mounts" :
                                       "image clones from a staging mount namespace"));
                assert_non_null(strstr(line, version >= 5012 ? "mount flags by mount_setattr" :
                                       "mount flags by bind remounts"));
        }
        free(log);
}

static void test_lib_bad_images(void **state) {
        static const LibCase cases[] = {
                { "image: random bytes", { { F_PKG, "{dir}/bad.squashfs" } }, BUILD,
                  { "app_pkg_path", "not a squashfs image", NULL } },
                { "image: first 4 KiB of a real one", { { F_PKG, "{dir}/img/truncated.squashfs" } }, BUILD,
                  { "app_pkg_path", "not a mountable squashfs image", NULL } },
                { "image: magic, 64 bytes", { { F_PKG, "{dir}/img/tiny.squashfs" } }, BUILD,
                  { "app_pkg_path", "too small", NULL } },
                { "image: empty file", { { F_PKG, "{dir}/img/empty.squashfs" } }, BUILD,
                  { "app_pkg_path", "too small|not a squashfs", NULL } },
                { "image: FIFO", { { F_PKG, "{dir}/img/fifo.squashfs" } }, BUILD,
                  { "app_pkg_path", "not a regular file", NULL } },
                { "image: directory", { { F_PKG, "{dir}/img/dir.squashfs" } }, BUILD,
                  { "app_pkg_path", "not a regular file", NULL } },
                { "image: /dev/null", { { F_PKG, "/dev/null" } }, BUILD,
                  { "app_pkg_path", "not a regular file", NULL } },
                { "image: symlink to a valid image", { { F_PKG, "{dir}/img/link.squashfs" } }, BUILD,
                  { "app_pkg_path", "symlink|not a regular file", NULL } },
                { "image: missing", { { F_PKG, "{dir}/img/no-such.squashfs" } }, BUILD,
                  { "app_pkg_path", "No such file or directory", NULL } },
                { "image: superblock garbage after magic", { { F_PKG, "{dir}/img/bad-super.squashfs" } }, BUILD,
                  { "app_pkg_path", "not a mountable squashfs image", NULL } },
                { "image: metadata tables garbage", { { F_PKG, "{dir}/img/bad-tables.squashfs" } }, BUILD,
                  { "app_pkg_path", "not a mountable squashfs image", NULL } },
        };

        (void) state;
        lib_cases_run(cases, N(cases));
}

/* Inside a rocker built from the crafted image: what can be read. */
static int app_read_image(void *arg) {
        const int *fds = arg;  /* [report fd, unused] */
        char path[600], buf[65536];
        const char *exec = getenv("ROCKER_HOSTILE_EXEC");
        int fd, e = 0;
        ssize_t n;

        snprintf(path, sizeof path, "%s/bin/true", exec ? exec : "");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                e = errno;
        else {
                while ((n = read(fd, buf, sizeof buf)) > 0)
                        ;
                e = n < 0 ? errno : 0;
                close(fd);
        }
        dprintf(fds[0], "read_true=%d\n", e);
        snprintf(path, sizeof path, "%s/README", exec ? exec : "");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        dprintf(fds[0], "read_readme=%d\n", fd < 0 || n < 0 ? errno : 0);
        if (fd >= 0)
                close(fd);
        return 0;
}

static uint64_t le64_at(const char *path, off_t off) {
        unsigned char b[8];
        uint64_t v = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pread(fd, b, 8, off), 8);
        close(fd);
        for (int i = 7; i >= 0; i--)
                v = v << 8 | b[i];
        return v;
}

/* The brief's crafted image: a real one with bytes 96..4096 overwritten.
 * squashfs reads only the superblock and the metadata tables at mount;
 * where those lie beyond byte 4096 (small images: the tables are at the
 * end), the garbage hits file data, which no mount-time check can see. The
 * expectation is therefore decided by the image's own layout: a refusal if
 * the window covers metadata, else a working rocker whose damaged file
 * reads EIO — and, either way, nothing left behind. */
static void test_lib_image_crafted_96_4096(void **state) {
        char buf[1024], image[256];
        RockerRequest req = harness_request("crafted", buf, sizeof buf);
        uint64_t inode_table;
        RockerResult res;
        int p[2], status;

        (void) state;
        snprintf(image, sizeof image, "%s/img/crafted.squashfs", H.dir);
        inode_table = le64_at(H.image, 64);  /* squashfs 4 superblock: inode_table_start */
        req.app_pkg_path = image;
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        setenv("ROCKER_HOSTILE_EXEC", req.app_exec_dir, 1);
        res = ROCKER_enter_rocker(&req, app_read_image, p + 1);
        unsetenv("ROCKER_HOSTILE_EXEC");
        close(p[1]);
        if (inode_table < 4096) {
                close(p[0]);
                if (res.err_no == ROCKER_ERR_success) {
                        waitpid(res.app_pid, NULL, 0);
                        harness_kill_guard(&res);
                }
                assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
                assert_needles("crafted image", ROCKER_last_error(), NEEDLES("app_pkg_path"));
                row_add("image: real one, bytes 96..4096 garbage", "build_rocker_failed", ROCKER_last_error());
        } else {
                char *report, *rt, *readme;
                int status_ok;

                print_message("crafted image: metadata starts at byte %llu, past the garbage (96..4096): the mount "
                              "cannot notice; the damaged file must read EIO inside\n",
                              (unsigned long long) inode_table);
                if (res.err_no != ROCKER_ERR_success) {
                        print_error("crafted image: %s\n", ROCKER_last_error());
                        close(p[0]);
                }
                assert_int_equal(res.err_no, ROCKER_ERR_success);
                /* End the rocker first: a failed assertion must not leave
                 * a claimed rocker running after the suite. */
                status_ok = waitpid(res.app_pid, &status, 0) == res.app_pid && WIFEXITED(status) &&
                            WEXITSTATUS(status) == 0;
                report = read_all(p[0]);
                close(p[0]);
                harness_kill_guard(&res);
                assert_true(status_ok);
                rt = report_get(report, "read_true");
                readme = report_get(report, "read_readme");
                assert_non_null(rt);
                assert_non_null(readme);
                /* Both files' blocks (the README's fragment, bin/true's
                 * block) lie in the garbage: reads fail, nothing crashes. */
                assert_int_equal(atoi(rt), EIO);
                assert_int_equal(atoi(readme), EIO);
                row_add("image: bytes 96..4096 garbage (data only)", "success (by design)",
                        "built; inside, reading the damaged files gives EIO");
                free(rt);
                free(readme);
                free(report);
        }
        case_end();
        assert_daemon_responsive();
}

/* Many cached images (one live rocker on each keeps it mounted): neither the
 * host's mount table nor a new rocker's own grows with them. */
static void test_many_cached_images(void **state) {
        int n = env_int("ROCKER_TEST_IMAGES", 200, 1, 2000);
        RockerResult *res = calloc((size_t) n, sizeof *res), probe1, probe2;
        int mounts0, rocker_mounts_1 = 0, rocker_mounts_n = 0;
        struct libmnt_table *mounts_before;
        char buf[1024], tag[64], path[128], img[256];
        RockerRequest req;
        int status;

        (void) state;
        assert_non_null(res);
        /* n images: copies of one file are distinct images (distinct inodes) */
        for (int i = 0; i < n; i++) {
                snprintf(img, sizeof img, "%s/cached-%d.squashfs", H.dir, i);
                assert_int_equal(harness_sh("cp %s %s", H.image, img), 0);
        }
        mounts0 = harness_count_lines("/proc/self/mountinfo");
        mounts_before = testlib_mounts_read();
        assert_non_null(mounts_before);

        /* one image cached: a rocker's own mount table */
        req = harness_request("cached-probe", buf, sizeof buf);
        probe1 = ROCKER_enter_rocker(&req, app_exit0, NULL);
        assert_int_equal(probe1.err_no, ROCKER_ERR_success);
        assert_int_equal(waitpid(probe1.app_pid, &status, 0), probe1.app_pid);
        snprintf(path, sizeof path, "/proc/%d/mountinfo", probe1.guard_pid);
        rocker_mounts_1 = harness_count_lines(path);
        assert_int_equal(ROCKER_kill_rocker(probe1.guard_pid, probe1.guard_pname, SIGKILL).err_no, ROCKER_ERR_success);

        for (int i = 0; i < n; i++) {
                snprintf(tag, sizeof tag, "cached-%d", i);
                req = harness_request(tag, buf, sizeof buf);
                snprintf(img, sizeof img, "%s/cached-%d.squashfs", H.dir, i);
                req.app_pkg_path = img;
                res[i] = ROCKER_enter_rocker(&req, app_exit0, NULL);
                assert_int_equal(res[i].err_no, ROCKER_ERR_success);
                assert_int_equal(waitpid(res[i].app_pid, &status, 0), res[i].app_pid);
        }
        harness_assert_mounts_as(mounts_before);
        testlib_mounts_free(mounts_before);

        req = harness_request("cached-probe2", buf, sizeof buf);
        probe2 = ROCKER_enter_rocker(&req, app_exit0, NULL);
        assert_int_equal(probe2.err_no, ROCKER_ERR_success);
        assert_int_equal(waitpid(probe2.app_pid, &status, 0), probe2.app_pid);
        snprintf(path, sizeof path, "/proc/%d/mountinfo", probe2.guard_pid);
        rocker_mounts_n = harness_count_lines(path);
        print_message("%d cached images: host mountinfo %d lines (as with none); a new rocker's own mount table "
                      "%d lines with 1 image cached, %d with %d\n", n, mounts0, rocker_mounts_1, rocker_mounts_n, n + 1);
        assert_int_equal(rocker_mounts_n, rocker_mounts_1);
        assert_int_equal(ROCKER_kill_rocker(probe2.guard_pid, probe2.guard_pname, SIGKILL).err_no, ROCKER_ERR_success);
        for (int i = 0; i < n; i++)
                assert_int_equal(ROCKER_kill_rocker(res[i].guard_pid, res[i].guard_pname, SIGKILL).err_no,
                                 ROCKER_ERR_success);
        free(res);
        harness_assert_clean();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_image_upgrade),
                cmocka_unit_test(test_squashfuse_death),
                cmocka_unit_test(test_squashfuse_unprivileged),
                cmocka_unit_test(test_squashfuse_by_absolute_path),
                cmocka_unit_test(test_kernel_mechanisms_logged),
                cmocka_unit_test_setup_teardown(test_lib_bad_images, hostile_case_setup, hostile_case_teardown),
                cmocka_unit_test_setup_teardown(test_lib_image_crafted_96_4096, hostile_case_setup, hostile_case_teardown),
                cmocka_unit_test(test_many_cached_images),
        };
        /* The fault and load cases ran on the kernel backend only (docs/testing.md). */
        static const char *const not_on_squashfuse[] = {
                "test_many_cached_images",
                NULL,
        };

        return harness_run_suite("images", tests, sizeof tests / sizeof tests[0], not_on_squashfuse, hostile_setup, hostile_teardown);
}
