/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/server/plan.c: plan_from_request() on requests that
 * point into a fresh temporary tree, and plan_prepare_data_dir() creating
 * the data dir layout there. Runs as root (chown, mkfifo on any owner).
 *
 * Each test gets its own tree under /tmp, removed by the teardown even when
 * the test fails; the request's strings and the plan are freed there too.
 * Tests of known bugs are skipped unless ROCKER_UNIT_KNOWN_BUGS=1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "plan.h"
#include "proto.h"


#define ROOT_TEMPLATE "/tmp/rocker-ut.XXXXXX"

typedef struct Fixture {
        char root[sizeof ROOT_TEMPLATE];
        ProtoRequest req;       /* its enter is the request under test */
        Plan plan;
        mode_t old_umask;
} Fixture;

/* --- helpers ------------------------------------------------------------- */

static char *at(const Fixture *f, const char *rel) {
        char *p;

        if (asprintf(&p, "%s/%s", f->root, rel) < 0)
                return NULL;
        return p;
}

static char *xat(const Fixture *f, const char *rel) {
        char *p = at(f, rel);

        assert_non_null(p);
        return p;
}

static char *xstrdup(const char *s) {
        char *p = strdup(s);

        assert_non_null(p);
        return p;
}

static void set(char **field, char *value) {
        free(*field);
        *field = value;
}

/* Sets the overlay list to n entries, freeing those dropped. */
static void set_overlay_count(Fixture *f, size_t n) {
        ProtoEnter *e = &f->req.enter;

        for (size_t i = n; i < e->n_overlay_dirs; i++) {
                free(e->overlay_dirs[i]);
                e->overlay_dirs[i] = NULL;
        }
        e->n_overlay_dirs = n;
}

static void set_overlay(Fixture *f, size_t i, char *value) {
        ProtoEnter *e = &f->req.enter;

        assert_true(i < PROTO_OVERLAY_MAX);
        set(&e->overlay_dirs[i], value);
        if (e->n_overlay_dirs <= i)
                e->n_overlay_dirs = i + 1;
}

static void mkdir_at(const Fixture *f, const char *rel, mode_t mode) {
        char *p = xat(f, rel);
        int r = mkdir(p, mode);

        free(p);
        assert_int_equal(r, 0);
}

static void write_file_at(const Fixture *f, const char *rel, const void *data, size_t len) {
        char *p = xat(f, rel);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

        free(p);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t) len);
        close(fd);
}

static void symlink_at(const Fixture *f, const char *target, const char *rel) {
        char *p = xat(f, rel);
        int r = symlink(target, p);

        free(p);
        assert_int_equal(r, 0);
}

static bool exists_at(const Fixture *f, const char *rel) {
        struct stat st;
        char *p = xat(f, rel);
        int r = lstat(p, &st);

        free(p);
        return r == 0;
}

static void stat_at(const Fixture *f, const char *rel, struct stat *st) {
        char *p = xat(f, rel);
        int r = lstat(p, st);

        if (r < 0)
                print_error("lstat(%s): %s\n", p, strerror(errno));
        free(p);
        assert_int_equal(r, 0);
}

static void assert_dir_at(const Fixture *f, const char *rel, uid_t uid, gid_t gid, mode_t mode) {
        struct stat st;

        stat_at(f, rel, &st);
        if (!S_ISDIR(st.st_mode) || st.st_uid != uid || st.st_gid != gid || (st.st_mode & 07777) != mode) {
                print_error("%s/%s: %s %u:%u %04o, expected a dir %u:%u %04o\n", f->root, rel,
                            S_ISDIR(st.st_mode) ? "dir" : "not a dir", (unsigned) st.st_uid, (unsigned) st.st_gid,
                            (unsigned) (st.st_mode & 07777), (unsigned) uid, (unsigned) gid, (unsigned) mode);
                fail();
        }
}

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

/* The escaped name of <root>/<rel> for rel of [a-z0-9/], written out by hand
 * rather than with path_escape(): "/tmp/rocker-ut.X/host/var" is
 * "tmp-rocker\x2dut.X-host-var". */
static char *expected_escape(const Fixture *f, const char *rel) {
        char *s, *r;

        if (asprintf(&s, "tmp-rocker\\x2dut.%s-%s", f->root + strlen("/tmp/rocker-ut."), rel) < 0)
                return NULL;
        for (r = s + strlen("tmp-rocker\\x2dut.") + 6; *r; r++)
                if (*r == '/')
                        *r = '-';
        return s;
}

/* --- fixture ------------------------------------------------------------- */

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) st;
        (void) type;
        (void) ftw;
        (void) remove(path);
        return 0;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        char image[4096] = "hsqs";
        ProtoEnter *e;

        if (!f)
                return -1;
        f->old_umask = umask(022);
        memcpy(f->root, ROOT_TEMPLATE, sizeof ROOT_TEMPLATE);
        if (!mkdtemp(f->root)) {
                free(f);
                return -1;
        }
        *state = f;

        /* <root>/img.squashfs, <root>/host/{var,var/lib,etc} */
        write_file_at(f, "img.squashfs", image, sizeof image);
        mkdir_at(f, "host", 0755);
        mkdir_at(f, "host/var", 0755);
        mkdir_at(f, "host/var/lib", 0755);
        mkdir_at(f, "host/etc", 0755);

        e = &f->req.enter;
        f->req.kind = PROTO_ENTER;
        e->app_id = 3;
        e->uid = 1000;
        e->gid = 1001;
        e->pkg_path = xat(f, "img.squashfs");
        e->exec_dir = xat(f, "exec");
        e->data_dir = xat(f, "data");
        /* children before parents, so that the sort shows */
        set_overlay(f, 0, xat(f, "host/var/lib"));
        set_overlay(f, 1, xat(f, "host/etc"));
        set_overlay(f, 2, xat(f, "host/var"));
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        proto_request_done(&f->req);
        plan_done(&f->plan);
        if (f->root[0] && strncmp(f->root, "/tmp/rocker-ut.", 15) == 0)
                (void) nftw(f->root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        umask(f->old_umask);
        free(f);
        return 0;
}

/* --- plan_from_request: accepted ------------------------------------------ */

static void plan_ok(Fixture *f) {
        RkError err = {};
        int r = plan_from_request(&f->req.enter, &f->plan, &err);

        if (r != 0) {
                print_error("plan_from_request() = %d: %s\n", r, err.msg);
                fail();
        }
}

static void check_overlay(const Fixture *f, size_t i, const char *rel) {
        const PlanOverlay *o = &f->plan.overlays[i];
        char *dir = xat(f, rel), *esc = expected_escape(f, rel), *upper, *work;
        struct stat st;

        assert_non_null(esc);
        assert_true(asprintf(&upper, "%s/data/overlay/%s/upper", f->root, esc) > 0);
        assert_true(asprintf(&work, "%s/data/overlay/%s/work", f->root, esc) > 0);
        assert_int_equal(lstat(dir, &st), 0);
        assert_string_equal(o->dir, dir);
        assert_string_equal(o->upper, upper);
        assert_string_equal(o->work, work);
        assert_int_equal(o->uid, st.st_uid);
        assert_int_equal(o->gid, st.st_gid);
        assert_int_equal(o->mode, st.st_mode & 07777);
        free(dir);
        free(esc);
        free(upper);
        free(work);
}

static void test_valid(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;
        char *pkg = xstrdup(e->pkg_path), *exec = xstrdup(e->exec_dir), *data = xstrdup(e->data_dir);
        size_t entries = count_entries(f->root);

        e->app_id = -5;
        plan_ok(f);
        assert_int_equal(f->plan.app_id, -5);
        assert_int_equal(f->plan.uid, 1000);
        assert_int_equal(f->plan.gid, 1001);
        assert_string_equal(f->plan.pkg_path, pkg);
        assert_string_equal(f->plan.exec_dir, exec);
        assert_string_equal(f->plan.data_dir, data);
        assert_int_equal(f->plan.n_overlays, 3);
        /* parents before children */
        check_overlay(f, 0, "host/etc");
        check_overlay(f, 1, "host/var");
        check_overlay(f, 2, "host/var/lib");
        /* the strings were taken */
        assert_null(e->pkg_path);
        assert_null(e->exec_dir);
        assert_null(e->data_dir);
        for (size_t i = 0; i < 3; i++)
                assert_null(e->overlay_dirs[i]);
        /* nothing was created */
        assert_int_equal(count_entries(f->root), entries);
        free(pkg);
        free(exec);
        free(data);
}

/* The exec dir's parent is recorded as the check saw it: not when it is
 * missing, nor under an overlaid dir (the guard sees it through the
 * overlay). */
static void test_valid_exec_parent(void **state) {
        Fixture *f = *state;
        RkError err = { 0 };
        struct stat st;

        /* <root>/exec: the parent is <root> */
        plan_ok(f);
        assert_int_equal(stat(f->root, &st), 0);
        assert_true(f->plan.exec_parent_ino == st.st_ino && f->plan.exec_parent_dev == st.st_dev);

        set(&f->plan.exec_dir, xat(f, "missing/exec"));
        assert_int_equal(plan_check_host(&f->plan, false, &err), 0);
        assert_true(f->plan.exec_parent_ino == 0 && f->plan.exec_parent_dev == 0);

        mkdir_at(f, "host/var/app", 0755);
        set(&f->plan.exec_dir, xat(f, "host/var/app/exec"));
        assert_int_equal(plan_check_host(&f->plan, false, &err), 0);
        assert_true(f->plan.exec_parent_ino == 0 && f->plan.exec_parent_dev == 0);
}

static void test_valid_owner_and_mode(void **state) {
        Fixture *f = *state;
        char *var = xat(f, "host/var");

        assert_int_equal(chown(var, 1234, 5678), 0);
        assert_int_equal(chmod(var, 0750), 0);
        mkdir_at(f, "host/tmp", 0755);
        free(var);
        var = xat(f, "host/tmp");
        assert_int_equal(chmod(var, 01777), 0);
        free(var);
        set_overlay(f, 1, xat(f, "host/tmp"));

        plan_ok(f);
        assert_int_equal(f->plan.n_overlays, 3);
        check_overlay(f, 0, "host/tmp");
        check_overlay(f, 1, "host/var");
        check_overlay(f, 2, "host/var/lib");
        assert_int_equal(f->plan.overlays[0].mode, 01777);
        assert_int_equal(f->plan.overlays[1].uid, 1234);
        assert_int_equal(f->plan.overlays[1].gid, 5678);
        assert_int_equal(f->plan.overlays[1].mode, 0750);
}

static void test_valid_sorting(void **state) {
        static const char *const dirs[] = {
                "host/var/lib", "host/a-b", "host/a/b", "host/a", "host/a.b", "host/var", "host/a/b/c",
                "host/ab", "host/z", "host/a0", "host/etc", "host/y", "host/x", "host/w", "host/v", "host/u",
        };
        Fixture *f = *state;

        /* create parents first: shorter paths first */
        for (size_t len = 1; len < 32; len++)
                for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                        if (strlen(dirs[i]) == len && !exists_at(f, dirs[i]))
                                mkdir_at(f, dirs[i], 0755);
        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                set_overlay(f, i, xat(f, dirs[i]));
        plan_ok(f);
        assert_int_equal(f->plan.n_overlays, PROTO_OVERLAY_MAX);
        /* every parent comes before its children */
        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                for (size_t j = i + 1; j < PROTO_OVERLAY_MAX; j++) {
                        const char *a = f->plan.overlays[i].dir, *b = f->plan.overlays[j].dir;
                        size_t n = strlen(b);
                        if (strncmp(a, b, n) == 0 && a[n] == '/') {
                                print_error("%s comes before its parent %s\n", a, b);
                                fail();
                        }
                }
        check_overlay(f, 0, "host/a");
        check_overlay(f, 15, "host/z");
        /* "a-b" escapes to "a\x2db", not to the "a-b" of "a/b" */
        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                for (size_t j = i + 1; j < PROTO_OVERLAY_MAX; j++)
                        assert_string_not_equal(f->plan.overlays[i].upper, f->plan.overlays[j].upper);
}

static void test_valid_no_overlays(void **state) {
        Fixture *f = *state;

        set_overlay_count(f, 0);
        plan_ok(f);
        assert_int_equal(f->plan.n_overlays, 0);
        assert_non_null(f->plan.data_dir);
}

/* The seed's own example: data and exec dir under an overlaid dir. */
static void test_valid_seed_layout(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;

        mkdir_at(f, "host/var/app", 0755);
        set(&e->exec_dir, xat(f, "host/var/app/exec"));
        set(&e->data_dir, xat(f, "host/var/app/data"));
        set_overlay_count(f, 1);
        set_overlay(f, 0, xat(f, "host/var"));
        plan_ok(f);
        assert_int_equal(f->plan.n_overlays, 1);
        assert_non_null(strstr(f->plan.overlays[0].upper, "/host/var/app/data/overlay/"));
}

static void test_valid_existing_dirs(void **state) {
        Fixture *f = *state;

        mkdir_at(f, "exec", 0755);
        mkdir_at(f, "data", 0700);
        plan_ok(f);
        assert_int_equal(f->plan.n_overlays, 3);
}

/* --- plan_from_request: refused ------------------------------------------- */

/* plan_from_request() must refuse with -EINVAL and an err.msg naming the field,
 * leave the request's strings to the caller, leave *ret alone and create
 * nothing. */
static void check_refused(Fixture *f, const char *part, const char *file, int line) {
        ProtoEnter *e = &f->req.enter, before = *e;
        Plan zero = {};
        RkError err = {};
        size_t entries = count_entries(f->root);
        int r;

        r = plan_from_request(e, &f->plan, &err);
        if (r != -EINVAL) {
                print_error("plan_from_request() = %d (\"%s\"), expected -EINVAL\n", r, err.msg);
                _fail(file, line);
        }
        if (!strstr(err.msg, part)) {
                print_error("error \"%s\" does not mention \"%s\"\n", err.msg, part);
                _fail(file, line);
        }
        if (memcmp(e, &before, sizeof before) != 0) {
                print_error("the request was changed by a refusal\n");
                _fail(file, line);
        }
        if (memcmp(&f->plan, &zero, sizeof zero) != 0) {
                print_error("*ret was changed by a refusal\n");
                _fail(file, line);
        }
        if (count_entries(f->root) != entries) {
                print_error("a refusal created something in %s\n", f->root);
                _fail(file, line);
        }
}

#define refused(f, part) check_refused(f, part, __FILE__, __LINE__)

/* Replaces *field for one refusal and puts the old value back; the stand-in
 * is on the heap, as a plan that wrongly accepts it would take and free it. */
static void check_refused_with(Fixture *f, char **field, const char *value, const char *part, const char *file,
                               int line) {
        char *keep = *field;

        *field = value ? xstrdup(value) : NULL;
        check_refused(f, part, file, line);
        free(*field);
        *field = keep;
}

#define refused_with(f, field, value, part) check_refused_with(f, field, value, part, __FILE__, __LINE__)

static void test_refuse_relative(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;

        refused_with(f, &e->pkg_path, "img.squashfs", "app_pkg_path");
        refused_with(f, &e->exec_dir, "exec", "app_exec_dir");
        refused_with(f, &e->data_dir, "data", "app_data_dir");
        refused_with(f, &e->overlay_dirs[1], "host/etc", "app_overlay_dirs[1]");
        refused_with(f, &e->pkg_path, NULL, "app_pkg_path");
        refused_with(f, &e->exec_dir, NULL, "app_exec_dir");
        refused_with(f, &e->data_dir, "", "app_data_dir");
}

static void test_refuse_unnormalised(void **state) {
        static const char *const forms[] = { "%s/host/../%s", "%s/%s/", "%s/./%s", "%s//%s", "%s/%s/.." };
        static const struct {
                size_t offset;
                const char *rel, *field;
        } fields[] = {
                { offsetof(ProtoEnter, pkg_path), "img.squashfs", "app_pkg_path" },
                { offsetof(ProtoEnter, exec_dir), "exec", "app_exec_dir" },
                { offsetof(ProtoEnter, data_dir), "data", "app_data_dir" },
                { offsetof(ProtoEnter, overlay_dirs[2]), "host/var", "app_overlay_dirs[2]" },
        };
        Fixture *f = *state;
        char *p;

        for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
                for (size_t j = 0; j < sizeof fields / sizeof fields[0]; j++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                        assert_true(asprintf(&p, forms[i], f->root, fields[j].rel) > 0);
#pragma GCC diagnostic pop
                        check_refused_with(f, (char **) ((char *) &f->req.enter + fields[j].offset), p,
                                           fields[j].field, __FILE__, __LINE__);
                        free(p);
                }
}

static void test_refuse_special_overlays(void **state) {
        static const char *const specials[] = { "/", "/proc", "/proc/sys", "/sys", "/sys/x", "/dev", "/dev/shm" };
        Fixture *f = *state;

        for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
                set_overlay(f, 1, xstrdup(specials[i]));
                refused(f, "app_overlay_dirs[1]");
                refused(f, "not allowed");
        }
        /* a sibling of a forbidden root is only a missing dir */
        set_overlay(f, 1, xstrdup("/proc2"));
        refused(f, "app_overlay_dirs[1]");
        refused(f, "No such file");
}

static void test_refuse_special_exec_data(void **state) {
        static const char *const specials[] = { "/", "/proc", "/proc/1", "/sys/fs/x", "/dev", "/dev/shm/x" };
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;

        for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
                refused_with(f, &e->exec_dir, specials[i], "app_exec_dir");
                refused_with(f, &e->data_dir, specials[i], "app_data_dir");
        }
}

static void test_refuse_duplicate_overlay(void **state) {
        Fixture *f = *state;

        set_overlay(f, 3, xat(f, "host/var/lib"));
        refused(f, "app_overlay_dirs[3]");
        refused(f, "listed twice");
}

static void test_refuse_overlay_missing(void **state) {
        Fixture *f = *state;

        set_overlay(f, 2, xat(f, "host/nope"));
        refused(f, "app_overlay_dirs[2]");
        refused(f, "No such file");
}

static void test_refuse_overlay_symlink(void **state) {
        Fixture *f = *state;
        char *target = xat(f, "host/var");

        symlink_at(f, target, "host/link");
        free(target);
        set_overlay(f, 1, xat(f, "host/link"));
        refused(f, "app_overlay_dirs[1]");
        refused(f, "symlink");
        /* a symlink on the way is followed by lstat: that one is the
         * builder's to refuse, not this check's */
}

static void test_refuse_overlay_not_dir(void **state) {
        Fixture *f = *state;
        char *fifo = xat(f, "host/fifo");

        write_file_at(f, "host/file", "x", 1);
        set_overlay(f, 0, xat(f, "host/file"));
        refused(f, "app_overlay_dirs[0]");
        refused(f, "not a directory");

        assert_int_equal(mkfifo(fifo, 0600), 0);
        set_overlay(f, 0, fifo);
        refused(f, "app_overlay_dirs[0]");
        refused(f, "not a directory");
}

static void test_refuse_nested_exec_data(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;

        /* data dir inside the exec dir */
        set(&e->data_dir, xat(f, "exec/data"));
        refused(f, "app_data_dir");
        refused(f, "lies in app_exec_dir");
        /* exec dir inside the data dir */
        set(&e->data_dir, xat(f, "data"));
        set(&e->exec_dir, xat(f, "data/exec"));
        refused(f, "app_exec_dir");
        refused(f, "lies in app_data_dir");
        /* the same dir */
        set(&e->exec_dir, xat(f, "data"));
        refused(f, "lies in");
}

static void test_refuse_overlay_in_data(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;

        set_overlay(f, 1, xat(f, "data/x"));
        refused(f, "app_overlay_dirs[1]");
        refused(f, "lies in app_data_dir");

        set_overlay(f, 1, xat(f, "data"));
        refused(f, "app_overlay_dirs[1]");
        refused(f, "is the data dir");

        /* an existing data dir changes nothing */
        mkdir_at(f, "data", 0700);
        mkdir_at(f, "data/x", 0700);
        set_overlay(f, 1, xat(f, "data/x"));
        refused(f, "app_overlay_dirs[1]");
        set_overlay(f, 1, xstrdup(e->data_dir));
        refused(f, "app_overlay_dirs[1]");
}

static void test_refuse_overlay_in_exec(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;

        mkdir_at(f, "exec", 0755);
        mkdir_at(f, "exec/x", 0755);
        set_overlay(f, 0, xat(f, "exec/x"));
        refused(f, "app_overlay_dirs[0]");
        refused(f, "lies in app_exec_dir");
        set_overlay(f, 0, xstrdup(e->exec_dir));
        refused(f, "app_overlay_dirs[0]");
        refused(f, "lies in app_exec_dir");
}

static void test_refuse_image(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;
        char *p;

        set(&e->pkg_path, xat(f, "missing.squashfs"));
        refused(f, "app_pkg_path");
        refused(f, "No such file");

        mkdir_at(f, "dir.squashfs", 0755);
        set(&e->pkg_path, xat(f, "dir.squashfs"));
        refused(f, "app_pkg_path");
        refused(f, "not a regular file");

        p = xat(f, "fifo.squashfs");
        assert_int_equal(mkfifo(p, 0600), 0);
        set(&e->pkg_path, p);
        refused(f, "app_pkg_path");
        refused(f, "not a regular file");

        /* lstat(): a symlink to a good image is not taken either */
        p = xat(f, "img.squashfs");
        symlink_at(f, p, "link.squashfs");
        free(p);
        set(&e->pkg_path, xat(f, "link.squashfs"));
        refused(f, "app_pkg_path");
        refused(f, "not a regular file");

        /* the image's parent is a file */
        set(&e->pkg_path, xat(f, "img.squashfs/x"));
        refused(f, "app_pkg_path");
        refused(f, "Not a directory");
}

static void test_refuse_exec_data_not_dirs(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;
        char *p;

        write_file_at(f, "exec", "x", 1);
        refused(f, "app_exec_dir");
        refused(f, "not a directory");
        set(&e->exec_dir, xat(f, "exec2"));

        write_file_at(f, "data", "x", 1);
        refused(f, "app_data_dir");
        refused(f, "not a directory");

        /* a symlink to a dir is not a dir to lstat() */
        mkdir_at(f, "realdata", 0700);
        p = xat(f, "realdata");
        symlink_at(f, p, "datalink");
        free(p);
        set(&e->data_dir, xat(f, "datalink"));
        refused(f, "app_data_dir");
        refused(f, "not a directory");
}

static void test_refuse_ids(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;

        e->uid = -1;
        refused(f, "uid");
        e->uid = INT32_MIN;
        refused(f, "uid");
        e->uid = 1000;
        e->gid = -1;
        refused(f, "gid");
}

static void test_refuse_too_many_overlays(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;

        /* the struct holds 16; a count above it is refused before use */
        for (size_t i = 3; i < PROTO_OVERLAY_MAX; i++)
                set_overlay(f, i, xat(f, "host/etc"));
        e->n_overlay_dirs = PROTO_OVERLAY_MAX + 1;
        refused(f, "app_overlay_dirs");
        e->n_overlay_dirs = PROTO_OVERLAY_MAX;
}

/* An overlay dir whose escaped name is over NAME_MAX bytes. */
static void test_refuse_overlay_name_too_long(void **state) {
        Fixture *f = *state;
        char rel[400] = "host";

        /* about 290 bytes, each component well under NAME_MAX */
        for (size_t i = 0; i < 5; i++) {
                size_t n = strlen(rel);

                rel[n] = '/';
                memset(rel + n + 1, 'n', 50);
                rel[n + 51] = '\0';
                mkdir_at(f, rel, 0755);
        }
        set_overlay(f, 0, xat(f, rel));
        refused(f, "app_overlay_dirs[0]");
        refused(f, "too long");
}

/* A data dir so long that <data>/overlay/<name>/upper would pass PROTO_PATH_MAX. */
static void test_refuse_data_dir_too_long(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;
        char *p;
        size_t n;

        p = malloc(PROTO_PATH_MAX + 1);
        assert_non_null(p);
        /* 4090 bytes in components of at most 200: valid, and lstat() can
         * take it, but "<data>/overlay/<name>/upper" is over 4095 */
        n = (size_t) snprintf(p, PROTO_PATH_MAX + 1, "%s/", f->root);
        while (n + 201 < 4090) {
                memset(p + n, 'd', 200);
                p[n + 200] = '/';
                n += 201;
        }
        memset(p + n, 'e', 4090 - n);
        p[4090] = '\0';
        set(&e->data_dir, p);
        refused(f, "app_data_dir");
        refused(f, "too long");
}

/* --- plan_prepare_data_dir ------------------------------------------------ */

static void prepare_ok(Fixture *f) {
        RkError err = {};
        int r = plan_prepare_data_dir(&f->plan, &err);

        if (r != 0) {
                print_error("plan_prepare_data_dir() = %d: %s\n", r, err.msg);
                fail();
        }
}

static char *layer(const Fixture *f, const char *data_rel, const char *overlay_rel, const char *sub) {
        char *esc = expected_escape(f, overlay_rel), *p;

        assert_non_null(esc);
        assert_true(asprintf(&p, "%s/overlay/%s%s%s", data_rel, esc, sub ? "/" : "", sub ? sub : "") > 0);
        free(esc);
        return p;
}

static void check_layout(const Fixture *f, const char *data_rel, const char *overlay_rel, uid_t uid, gid_t gid,
                         mode_t mode) {
        char *p;

        p = layer(f, data_rel, overlay_rel, NULL);
        assert_dir_at(f, p, 0, 0, 0700);
        free(p);
        p = layer(f, data_rel, overlay_rel, "work");
        assert_dir_at(f, p, 0, 0, 0700);
        free(p);
        p = layer(f, data_rel, overlay_rel, "upper");
        assert_dir_at(f, p, uid, gid, mode);
        free(p);
}

static void test_prepare_creates(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;
        char *var = xat(f, "host/var");

        assert_int_equal(chown(var, 1234, 5678), 0);
        assert_int_equal(chmod(var, 0750), 0);
        free(var);
        set(&e->data_dir, xat(f, "a/b/data"));
        plan_ok(f);
        prepare_ok(f);

        assert_dir_at(f, "a", 0, 0, 0755);
        assert_dir_at(f, "a/b", 0, 0, 0755);
        assert_dir_at(f, "a/b/data", 0, 0, 0700);
        assert_dir_at(f, "a/b/data/overlay", 0, 0, 0700);
        assert_int_equal(count_entries(f->plan.data_dir), 1);  /* only "overlay" */
        check_layout(f, "a/b/data", "host/etc", 0, 0, 0755);
        check_layout(f, "a/b/data", "host/var", 1234, 5678, 0750);
        check_layout(f, "a/b/data", "host/var/lib", 0, 0, 0755);
        /* exactly what the plan says, whose identities are those dirs' */
        for (size_t i = 0; i < f->plan.n_overlays; i++) {
                const PlanOverlay *o = &f->plan.overlays[i];
                struct stat st;
                assert_int_equal(lstat(o->upper, &st), 0);
                assert_true(o->upper_ino != 0 && o->upper_dev == st.st_dev && o->upper_ino == st.st_ino);
                assert_int_equal(lstat(o->work, &st), 0);
                assert_true(o->work_ino != 0 && o->work_dev == st.st_dev && o->work_ino == st.st_ino);
        }

        /* again: nothing changes */
        prepare_ok(f);
        check_layout(f, "a/b/data", "host/var", 1234, 5678, 0750);
        assert_dir_at(f, "a/b/data", 0, 0, 0700);
        /* the exec dir is not the data dir's business */
        assert_false(exists_at(f, "exec"));
}

static void test_prepare_special_modes(void **state) {
        Fixture *f = *state;
        char *p;

        /* set-id and sticky bits are carried to the upper dir too */
        mkdir_at(f, "host/tmp", 0755);
        p = xat(f, "host/tmp");
        assert_int_equal(chmod(p, 01777), 0);
        free(p);
        p = xat(f, "host/etc");
        assert_int_equal(chown(p, 0, 5678), 0);
        assert_int_equal(chmod(p, 02710), 0);
        free(p);
        set_overlay(f, 0, xat(f, "host/tmp"));
        plan_ok(f);
        prepare_ok(f);
        check_layout(f, "data", "host/tmp", 0, 0, 01777);
        check_layout(f, "data", "host/etc", 0, 5678, 02710);
}

static void test_prepare_fixes_upper(void **state) {
        Fixture *f = *state;
        char *var = xat(f, "host/var"), *p;

        assert_int_equal(chown(var, 1234, 5678), 0);
        assert_int_equal(chmod(var, 0750), 0);
        free(var);
        set_overlay_count(f, 0);
        set_overlay(f, 0, xat(f, "host/var"));
        plan_ok(f);

        /* a layout left with a wrong owner and mode on the upper dir */
        mkdir_at(f, "data", 0700);
        mkdir_at(f, "data/overlay", 0700);
        p = layer(f, "data", "host/var", NULL);
        mkdir_at(f, p, 0700);
        free(p);
        p = layer(f, "data", "host/var", "upper");
        mkdir_at(f, p, 0777);
        free(p);
        prepare_ok(f);
        check_layout(f, "data", "host/var", 1234, 5678, 0750);
}

static void test_prepare_keeps_existing(void **state) {
        Fixture *f = *state;
        char *p, *upper_file, buf[32];
        struct stat st;
        int fd;
        ssize_t n;

        plan_ok(f);
        mkdir_at(f, "data", 0711);
        write_file_at(f, "data/keep.txt", "kept", 4);
        mkdir_at(f, "data/overlay", 0700);
        p = layer(f, "data", "host/etc", NULL);
        mkdir_at(f, p, 0700);
        free(p);
        p = layer(f, "data", "host/etc", "upper");
        mkdir_at(f, p, 0755);
        assert_true(asprintf(&upper_file, "%s/passwd", p) > 0);
        free(p);
        write_file_at(f, upper_file, "written by the app", 18);

        prepare_ok(f);

        fd = open(f->plan.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        close(fd);
        stat_at(f, "data", &st);
        assert_int_equal(st.st_mode & 07777, 0711);  /* an existing data dir is kept as it is */
        p = xat(f, "data/keep.txt");
        fd = open(p, O_RDONLY | O_CLOEXEC);
        free(p);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof buf);
        close(fd);
        assert_int_equal(n, 4);
        assert_memory_equal(buf, "kept", 4);
        p = xat(f, upper_file);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        free(p);
        free(upper_file);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof buf);
        close(fd);
        assert_int_equal(n, 18);
        assert_memory_equal(buf, "written by the app", 18);
        check_layout(f, "data", "host/var", 0, 0, 0755);
}

static void test_prepare_symlink_component(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;
        RkError err = {};
        char *target = xat(f, "target");

        mkdir_at(f, "target", 0755);
        symlink_at(f, target, "link");
        free(target);
        set(&e->data_dir, xat(f, "link/data"));
        plan_ok(f);  /* lstat() of a missing path under a symlink: not its to see */

        assert_true(plan_prepare_data_dir(&f->plan, &err) < 0);
        assert_non_null(strstr(err.msg, "app_data_dir"));
        assert_non_null(strstr(err.msg, "link"));
        assert_int_equal(count_entries(target = xat(f, "target")), 0);
        free(target);
}

static void test_prepare_symlink_last(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;
        RkError err = {};
        char *target = xat(f, "target");

        /* plan_from_request() refuses a data dir that is a symlink ... */
        mkdir_at(f, "target", 0700);
        symlink_at(f, target, "link");
        set(&e->data_dir, xat(f, "link"));
        refused(f, "app_data_dir");

        /* ... and the executor re-checks on its own: a plan made by hand */
        f->plan.data_dir = xat(f, "link");
        f->plan.overlays[0].dir = xat(f, "host/var");
        f->plan.overlays[0].upper = xat(f, "link/overlay/x/upper");
        f->plan.overlays[0].work = xat(f, "link/overlay/x/work");
        f->plan.overlays[0].mode = 0755;
        f->plan.n_overlays = 1;
        assert_true(plan_prepare_data_dir(&f->plan, &err) < 0);
        assert_non_null(strstr(err.msg, "app_data_dir"));
        assert_int_equal(count_entries(target), 0);
        free(target);
}

static void test_prepare_file_component(void **state) {
        Fixture *f = *state;
        ProtoEnter *e = &f->req.enter;
        RkError err = {};

        write_file_at(f, "file", "x", 1);
        set(&e->data_dir, xat(f, "file/data"));
        plan_ok(f);
        assert_int_equal(plan_prepare_data_dir(&f->plan, &err), -ENOTDIR);
        assert_non_null(strstr(err.msg, "app_data_dir"));
}

static void test_prepare_upper_symlink(void **state) {
        Fixture *f = *state;
        RkError err = {};
        char *p, *victim;
        struct stat st;

        set_overlay_count(f, 0);
        set_overlay(f, 0, xat(f, "host/var"));
        plan_ok(f);
        f->plan.overlays[0].uid = 1234;  /* so that a followed symlink would show */
        f->plan.overlays[0].mode = 0777;

        mkdir_at(f, "victim", 0700);
        mkdir_at(f, "data", 0700);
        mkdir_at(f, "data/overlay", 0700);
        p = layer(f, "data", "host/var", NULL);
        mkdir_at(f, p, 0700);
        free(p);
        victim = xat(f, "victim");
        p = layer(f, "data", "host/var", "upper");
        symlink_at(f, victim, p);
        free(p);
        free(victim);

        assert_true(plan_prepare_data_dir(&f->plan, &err) < 0);
        assert_non_null(strstr(err.msg, "app_data_dir"));
        stat_at(f, "victim", &st);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_prepare_overlay_symlink(void **state) {
        Fixture *f = *state;
        RkError err = {};
        char *victim;
        size_t n;
        int r;

        set_overlay_count(f, 0);
        set_overlay(f, 0, xat(f, "host/var"));
        plan_ok(f);
        f->plan.overlays[0].uid = 1234;
        mkdir_at(f, "victim", 0700);
        mkdir_at(f, "data", 0700);
        victim = xat(f, "victim");
        symlink_at(f, victim, "data/overlay");

        r = plan_prepare_data_dir(&f->plan, &err);
        n = count_entries(victim);
        if (n != 0)
                print_error("plan_prepare_data_dir() = %d created layers in %s through data/overlay\n", r, victim);
        free(victim);
        assert_int_equal(n, 0);
        assert_true(r < 0);
        assert_non_null(strstr(err.msg, "app_data_dir"));
}

/* --- plan_apply_policy: StrictModes ----------------------------------------- */

static int apply_strict(Fixture *f, bool strict, RkError *err) {
        ManagerConfig cfg = MANAGER_CONFIG_DEFAULT;
        AppPolicy app = { .strict_modes = strict };
        int r;

        r = plan_apply_policy(&f->plan, &cfg, &app, err);
        if (r < 0)
                return r;
        /* StrictModes= is a host check, done by rockerd's worker */
        return plan_check_host(&f->plan, strict, err);
}

static void test_strict_modes(void **state) {
        Fixture *f = *state;
        RkError err = {};
        char *data = xat(f, "data"), *img = xat(f, "img.squashfs");

        plan_ok(f);
        /* root's 0700 tree under the sticky, root-owned /tmp: accepted */
        assert_int_equal(apply_strict(f, true, &err), 0);
        /* a data dir owned by a user: that user could swap its layers */
        assert_int_equal(mkdir(data, 0755), 0);
        assert_int_equal(chown(data, 1000, 1000), 0);
        assert_int_equal(apply_strict(f, true, &err), -EPERM);
        assert_non_null(strstr(err.msg, "app_data_dir"));
        assert_non_null(strstr(err.msg, "uid 1000"));
        assert_non_null(strstr(err.msg, data));
        assert_int_equal(apply_strict(f, false, &err), 0);
        /* root's but writable by others, not sticky */
        assert_int_equal(chown(data, 0, 0), 0);
        assert_int_equal(chmod(data, 0777), 0);
        assert_int_equal(apply_strict(f, true, &err), -EPERM);
        assert_non_null(strstr(err.msg, "mode 0777"));
        /* sticky and root's, like /tmp: accepted; group root may write */
        assert_int_equal(chmod(data, 01777), 0);
        assert_int_equal(apply_strict(f, true, &err), 0);
        assert_int_equal(chmod(data, 0775), 0);
        assert_int_equal(apply_strict(f, true, &err), 0);
        /* group-writable by another group: refused */
        assert_int_equal(chown(data, 0, 1000), 0);
        assert_int_equal(apply_strict(f, true, &err), -EPERM);
        assert_int_equal(chown(data, 0, 0), 0);
        /* an image a user owns or may write */
        assert_int_equal(chown(img, 1000, 0), 0);
        assert_int_equal(apply_strict(f, true, &err), -EPERM);
        assert_non_null(strstr(err.msg, "app_pkg_path"));
        assert_int_equal(chown(img, 0, 0), 0);
        assert_int_equal(chmod(img, 0666), 0);
        assert_int_equal(apply_strict(f, true, &err), -EPERM);
        assert_int_equal(chmod(img, 0644), 0);
        /* the image's parent dir is a user's */
        assert_int_equal(chown(f->root, 1000, 1000), 0);
        assert_int_equal(apply_strict(f, true, &err), -EPERM);
        assert_non_null(strstr(err.msg, f->root));
        assert_int_equal(chown(f->root, 0, 0), 0);
        assert_int_equal(apply_strict(f, true, &err), 0);
        free(data);
        free(img);
}

int main(void) {
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_valid),
                T(test_valid_exec_parent),
                T(test_valid_owner_and_mode),
                T(test_valid_sorting),
                T(test_valid_no_overlays),
                T(test_valid_seed_layout),
                T(test_valid_existing_dirs),
                T(test_refuse_relative),
                T(test_refuse_unnormalised),
                T(test_refuse_special_overlays),
                T(test_refuse_special_exec_data),
                T(test_refuse_duplicate_overlay),
                T(test_refuse_overlay_missing),
                T(test_refuse_overlay_symlink),
                T(test_refuse_overlay_not_dir),
                T(test_refuse_nested_exec_data),
                T(test_refuse_overlay_in_data),
                T(test_refuse_overlay_in_exec),
                T(test_refuse_image),
                T(test_refuse_exec_data_not_dirs),
                T(test_refuse_ids),
                T(test_refuse_too_many_overlays),
                T(test_refuse_overlay_name_too_long),
                T(test_refuse_data_dir_too_long),
                T(test_prepare_creates),
                T(test_prepare_special_modes),
                T(test_prepare_fixes_upper),
                T(test_prepare_keeps_existing),
                T(test_prepare_symlink_component),
                T(test_prepare_symlink_last),
                T(test_prepare_file_component),
                T(test_prepare_upper_symlink),
                T(test_prepare_overlay_symlink),
                T(test_strict_modes),
        };
#undef T

        if (geteuid() != 0) {
                print_message("test_plan needs root (chown, owners of created dirs)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
