/* SPDX-License-Identifier: MIT */
/* The [Resources] keys: systemd's syntax and units, bad values refused,
 * the app's file over the daemon's defaults; and the cgroup names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "config.h"
#include "util.h"

static uint64_t parse_ok(const char *key, const char *value, CgroupLimitKey k) {
        CgroupLimits lim = {};
        RkError err = {};

        assert_int_equal(cgroup_limit_parse(key, value, &lim, &err), 1);
        assert_true(lim.set & (1U << k));
        return lim.value[k];
}

static void parse_bad(const char *key, const char *value) {
        CgroupLimits lim = {};
        RkError err = {};

        assert_int_equal(cgroup_limit_parse(key, value, &lim, &err), -EINVAL);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(lim.set, 0);
}

static void test_memory(void **state) {
        (void) state;
        assert_int_equal(parse_ok("MemoryMax", "64M", CGROUP_MEMORY_MAX), 64ULL << 20);
        assert_int_equal(parse_ok("MemoryMax", "1G", CGROUP_MEMORY_MAX), 1ULL << 30);
        assert_int_equal(parse_ok("MemoryHigh", "4096", CGROUP_MEMORY_HIGH), 4096);
        assert_int_equal(parse_ok("MemorySwapMax", "0", CGROUP_MEMORY_SWAP_MAX), 0);
        assert_true(parse_ok("MemoryMax", "infinity", CGROUP_MEMORY_MAX) == CGROUP_INFINITY);
        {
                uint64_t all = (uint64_t) sysconf(_SC_PHYS_PAGES) * (uint64_t) sysconf(_SC_PAGESIZE);
                uint64_t half = parse_ok("MemoryMax", "50%", CGROUP_MEMORY_MAX);
                assert_true(half <= all / 2 + 4096 && half + 4096 >= all / 2);
        }
        parse_bad("MemoryMax", "");
        parse_bad("MemoryMax", "64Q");
        parse_bad("MemoryMax", "-1");
        parse_bad("MemoryMax", "64MB");
        parse_bad("MemoryMax", "101%");
        parse_bad("MemoryMax", "99999999999999999999");
        parse_bad("MemoryMax", "20000000T");
        parse_bad("MemoryHigh", " 1M");
}

static void test_tasks_weights_quota(void **state) {
        (void) state;
        assert_int_equal(parse_ok("TasksMax", "64", CGROUP_TASKS_MAX), 64);
        assert_true(parse_ok("TasksMax", "infinity", CGROUP_TASKS_MAX) == CGROUP_INFINITY);
        parse_bad("TasksMax", "0");
        parse_bad("TasksMax", "12x");
        assert_int_equal(parse_ok("CPUWeight", "1", CGROUP_CPU_WEIGHT), 1);
        assert_int_equal(parse_ok("IOWeight", "10000", CGROUP_IO_WEIGHT), 10000);
        parse_bad("CPUWeight", "0");
        parse_bad("IOWeight", "10001");
        /* CPUQuota= becomes systemd's CPUQuotaPerSecUSec: 20% = 200 ms per s */
        assert_int_equal(parse_ok("CPUQuota", "20%", CGROUP_CPU_QUOTA), 200000);
        assert_int_equal(parse_ok("CPUQuota", "150%", CGROUP_CPU_QUOTA), 1500000);
        assert_int_equal(parse_ok("CPUQuota", "0.5%", CGROUP_CPU_QUOTA), 5000);
        parse_bad("CPUQuota", "20");
        parse_bad("CPUQuota", "0%");
        parse_bad("CPUQuota", "%");
        parse_bad("CPUQuota", "1.%");
        assert_int_equal(parse_ok("OOMPolicy", "kill", CGROUP_OOM_POLICY), CGROUP_OOM_KILL);
        assert_int_equal(parse_ok("OOMPolicy", "continue", CGROUP_OOM_POLICY), CGROUP_OOM_CONTINUE);
        parse_bad("OOMPolicy", "stop");
}

static void test_other_keys_and_merge(void **state) {
        CgroupLimits daemon = {}, app = {};
        RkError err = {};

        (void) state;
        assert_int_equal(cgroup_limit_parse("PrivateNetwork", "yes", &daemon, &err), 0);
        assert_false(cgroup_limits_requested(&daemon));
        assert_int_equal(cgroup_limit_parse("MemoryMax", "1G", &daemon, &err), 1);
        assert_int_equal(cgroup_limit_parse("TasksMax", "100", &daemon, &err), 1);
        assert_true(cgroup_limits_requested(&daemon));
        /* an app lifts the defaults with infinity */
        assert_int_equal(cgroup_limit_parse("MemoryMax", "infinity", &app, &err), 1);
        assert_int_equal(cgroup_limit_parse("TasksMax", "infinity", &app, &err), 1);
        assert_false(cgroup_limits_requested(&app));
        cgroup_limits_merge(&daemon, &app);
        assert_false(cgroup_limits_requested(&daemon));
        /* OOMPolicy=continue asks for nothing, kill does */
        app = (CgroupLimits) {};
        assert_int_equal(cgroup_limit_parse("OOMPolicy", "continue", &app, &err), 1);
        assert_false(cgroup_limits_requested(&app));
        assert_int_equal(cgroup_limit_parse("OOMPolicy", "kill", &app, &err), 1);
        assert_true(cgroup_limits_requested(&app));
}

/* Through the config files: the daemon's [Resources] are every app's
 * defaults; an app's own keys win; a bad one names the file and line. */
static void test_config_files(void **state) {
        char dir[] = "/tmp/rocker-test-cgroup.XXXXXX", path[256];
        RkError err = {};
        ManagerConfig cfg = MANAGER_CONFIG_DEFAULT;
        AppPolicy app = {};
        FILE *f;

        (void) state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/rockerd.conf", dir);
        f = fopen(path, "w");
        fprintf(f, "[Daemon]\nAppsDir=%s\n\n[Resources]\nCgroups=cgroupfs\nLimitsBestEffort=yes\nMemoryMax=1G\n"
                   "CPUQuota=50%%\n", dir);
        fclose(f);
        assert_int_equal(config_load(path, true, &cfg, &err), 0);
        assert_int_equal(cfg.cgroup_mode, CGROUP_MODE_CGROUPFS);
        assert_true(cfg.limits_best_effort);
        snprintf(path, sizeof path, "%s/7.conf", dir);
        f = fopen(path, "w");
        fprintf(f, "[Resources]\nMemoryMax=64M\n");
        fclose(f);
        assert_int_equal(app_policy_load(&cfg, 7, &app, &err), 0);
        assert_int_equal(app.limits.value[CGROUP_MEMORY_MAX], 64ULL << 20);
        assert_int_equal(app.limits.value[CGROUP_CPU_QUOTA], 500000);
        app_policy_done(&app);
        assert_int_equal(app_policy_check_all(&cfg, &err), 0);

        f = fopen(path, "w");
        fprintf(f, "[Rocker]\nPrivateNetwork=no\n[Resources]\nIOWeight=0\n");
        fclose(f);
        assert_int_equal(app_policy_check_all(&cfg, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "/7.conf:4: expected a weight"));
        unlink(path);
        /* a daemon-only key in an app's file */
        f = fopen(path, "w");
        fprintf(f, "[Resources]\nLimitsBestEffort=yes\n");
        fclose(f);
        assert_int_equal(app_policy_load(&cfg, 7, &app, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "/7.conf:2: unknown key LimitsBestEffort in [Resources]"));
        unlink(path);
        snprintf(path, sizeof path, "%s/rockerd.conf", dir);
        unlink(path);
        rmdir(dir);
        config_done(&cfg);
}

static void test_names(void **state) {
        char buf[64];

        (void) state;
        cgroup_rocker_name(7, "rk-abcdefghijkl", buf, sizeof buf);
        assert_string_equal(buf, "rocker-7-rk-abcdefghijkl");
        assert_true(cgroup_path_is_rockers("/rocker-7-rk-abcdefghijkl", "rk-abcdefghijkl"));
        assert_true(cgroup_path_is_rockers("/a/b/rocker-7-rk-abcdefghijkl", "rk-abcdefghijkl"));
        assert_true(cgroup_path_is_rockers("/rocker.slice/rocker--3-rk-abcdefghijkl.scope", "rk-abcdefghijkl"));
        assert_false(cgroup_path_is_rockers("/rocker.slice/rocker-7-rk-abcdefghijkl.scopex", "rk-abcdefghijkl"));
        assert_false(cgroup_path_is_rockers("/rocker-7-rk-abcdefghijkm", "rk-abcdefghijkl"));
        assert_false(cgroup_path_is_rockers("/rocker-x-rk-abcdefghijkl", "rk-abcdefghijkl"));
        assert_false(cgroup_path_is_rockers("/system.slice/rockerd.service", "rk-abcdefghijkl"));
        assert_false(cgroup_path_is_rockers("/", "rk-abcdefghijkl"));
}

static void test_proc_cgroup_parse(void **state) {
        char out[64];

        (void) state;
        assert_int_equal(proc_cgroup_parse("0::/a/b\n", out, sizeof out), 0);
        assert_string_equal(out, "/a/b");
        assert_int_equal(proc_cgroup_parse("4:memory:/x\n1:name=systemd:/\n0::/\n", out, sizeof out), 0);
        assert_string_equal(out, "/");
        assert_int_equal(proc_cgroup_parse("4:memory:/x\n", out, sizeof out), -ENOMEDIUM);
        assert_int_equal(proc_cgroup_parse("0::/gone (deleted)\n", out, sizeof out), -ENOENT);
        assert_int_equal(proc_cgroup_parse("0::/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", out,
                                           sizeof out), -ENAMETOOLONG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_memory),
                cmocka_unit_test(test_tasks_weights_quota),
                cmocka_unit_test(test_other_keys_and_merge),
                cmocka_unit_test(test_config_files),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_proc_cgroup_parse),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
