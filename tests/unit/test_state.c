/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/server/state.c: records saved and loaded back from a
 * temporary state dir (removed by the teardown).
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto.h"
#include "state.h"

typedef struct Loaded {
        int n;
        StateRecord rec;
} Loaded;

static void on_record(StateRecord *rec, void *userdata) {
        Loaded *l = userdata;

        l->n++;
        state_record_done(&l->rec);
        l->rec = *rec;
        *rec = (StateRecord) {};  /* taken */
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

static int make_dir(void **state) {
        char *dir = strdup("/tmp/rocker-state-ut.XXXXXX");

        if (!dir || !mkdtemp(dir))
                return -1;
        *state = dir;
        return 0;
}

static int remove_dir(void **state) {
        nftw(*state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(*state);
        return 0;
}

/* A path of PROTO_PATH_MAX bytes made of the characters JSON escapes. */
static char *worst_path(char c) {
        char *p = malloc(PROTO_PATH_MAX + 1);

        assert_non_null(p);
        for (size_t i = 0; i < PROTO_PATH_MAX; i++)
                p[i] = i % 2 == 0 ? '/' : c;
        p[PROTO_PATH_MAX - 1] = c;  /* a valid path ends in a name */
        p[PROTO_PATH_MAX] = '\0';
        return p;
}

/* The largest record a request can make is saved and adopted again, not
 * taken for a malformed file and deleted (a rocker would then run on
 * unmanaged, its data dir no longer reserved). */
static void test_longest_record_round_trip(void **state) {
        const char *dir = *state;
        StateRecord rec = {
                .name = "rk-abcdefghijkl",
                .pid = 4242,
                .starttime = 123456789ULL,
                .claimed = true,
                .app_id = -7,
                .uid = 1000,
                .gid = 1001,
        };
        Loaded l = {};

        rec.pkg_path = worst_path('\\');
        rec.exec_dir = worst_path('"');
        rec.data_dir = worst_path('\\');
        assert_int_equal(state_save(dir, &rec), 0);
        assert_int_equal(state_load_all(dir, on_record, &l), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.rec.name, rec.name);
        assert_int_equal(l.rec.pid, rec.pid);
        assert_true(l.rec.starttime == rec.starttime);
        assert_true(l.rec.claimed);
        assert_int_equal(l.rec.app_id, rec.app_id);
        assert_string_equal(l.rec.pkg_path, rec.pkg_path);
        assert_string_equal(l.rec.exec_dir, rec.exec_dir);
        assert_string_equal(l.rec.data_dir, rec.data_dir);
        state_record_done(&l.rec);
        state_record_done(&rec);
}

/* The cgroup of a rocker (docs/cgroups.md) comes back; a record without
 * one (null), and one written before records had the member, load too. */
static void test_cgroup_member(void **state) {
        const char *dir = *state;
        StateRecord rec = {
                .name = "rk-abcdefghijkl", .pid = 4242, .starttime = 1, .app_id = 7, .uid = 1000, .gid = 1000,
                .pkg_path = (char *) "/apps/a.squashfs", .exec_dir = (char *) "/opt/a", .data_dir = (char *) "/d/a",
                .cgroup = (char *) "/rocker.slice/rocker-7-rk-abcdefghijkl.scope",
        };
        static const char old_format[] =
                "{\"version\":1,\"name\":\"rk-mnopqrstuvwx\",\"pid\":4243,\"starttime\":2,\"claimed\":true,"
                "\"app_id\":8,\"uid\":1000,\"gid\":1000,\"pkg_path\":\"/apps/b\",\"exec_dir\":\"/opt/b\","
                "\"data_dir\":\"/d/b\"}";
        char path[256];
        Loaded l = {};
        FILE *f;

        assert_int_equal(state_save(dir, &rec), 0);
        assert_int_equal(state_load_all(dir, on_record, &l), 0);
        assert_int_equal(l.n, 1);
        assert_non_null(l.rec.cgroup);
        assert_string_equal(l.rec.cgroup, rec.cgroup);
        state_remove(dir, rec.name);

        rec.cgroup = NULL;
        l.n = 0;
        assert_int_equal(state_save(dir, &rec), 0);
        assert_int_equal(state_load_all(dir, on_record, &l), 0);
        assert_int_equal(l.n, 1);
        assert_null(l.rec.cgroup);
        state_remove(dir, rec.name);

        snprintf(path, sizeof path, "%s/rk-mnopqrstuvwx", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs(old_format, f);
        fclose(f);
        l.n = 0;
        assert_int_equal(state_load_all(dir, on_record, &l), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.rec.name, "rk-mnopqrstuvwx");
        assert_null(l.rec.cgroup);
        state_record_done(&l.rec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_longest_record_round_trip, make_dir, remove_dir),
                cmocka_unit_test_setup_teardown(test_cgroup_member, make_dir, remove_dir),
        };

        return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
