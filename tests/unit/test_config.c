/* SPDX-License-Identifier: MIT */
/* StopTimeoutSec=: systemd's time spans, the daemon's default, an app's
 * override, and the plan that carries it to the guard. */
#include <setjmp.h>
#include <stdarg.h>
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

static void test_timespan(void **state) {
        static const struct { const char *text; uint64_t usec; } good[] = {
                { "10", 10000000 },       { "10s", 10000000 },   { "500ms", 500000 },
                { "1min 30s", 90000000 }, { "1min30s", 90000000 }, { "1.5s", 1500000 },
                { "0", 0 },               { " 2 sec ", 2000000 }, { "1h", 3600000000ULL },
                { "250us", 250 },         { "3 minutes", 180000000 },
        };
        static const char *const bad[] = { "", "s", "10x", "-1", "1h 1s", "ten", "10 parsecs", "1.5.5s" };
        uint64_t v;

        (void) state;
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
                v = 1;
                if (config_parse_timespan(good[i].text, CONFIG_STOP_TIMEOUT_MAX_USEC, &v) != 0 || v != good[i].usec)
                        fail_msg("\"%s\": got %llu", good[i].text, (unsigned long long) v);
        }
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                if (config_parse_timespan(bad[i], CONFIG_STOP_TIMEOUT_MAX_USEC, &v) == 0)
                        fail_msg("\"%s\" accepted as %llu", bad[i], (unsigned long long) v);
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static void test_stop_timeout_policy(void **state) {
        char dir[] = "/tmp/rocker-config-test.XXXXXX", path[512], apps[256], err[512] = "";
        ManagerConfig cfg = MANAGER_CONFIG_DEFAULT;
        AppPolicy app = {};
        Plan plan = {};

        (void) state;
        assert_non_null(mkdtemp(dir));
        snprintf(apps, sizeof apps, "%s/apps.d", dir);
        assert_int_equal(mkdir(apps, 0755), 0);
        assert_int_equal(cfg.stop_timeout_usec, 10000000);  /* the documented default */

        snprintf(path, sizeof path, "%s/rockerd.conf", dir);
        write_file(path, "[Rocker]\nStopTimeoutSec=2s\n");
        assert_int_equal(config_load(path, true, &cfg, err, sizeof err), 0);
        assert_int_equal(cfg.stop_timeout_usec, 2000000);
        cfg.apps_dir = apps;

        /* An app without a file gets the daemon's. */
        assert_int_equal(app_policy_load(&cfg, 5, &app, err, sizeof err), 0);
        assert_int_equal(app.stop_timeout_usec, 2000000);
        app_policy_done(&app);

        /* An app's file overrides it, and the plan carries it. */
        snprintf(path, sizeof path, "%s/7.conf", apps);
        write_file(path, "[Rocker]\nStopTimeoutSec=1min 30s\n");
        assert_int_equal(app_policy_load(&cfg, 7, &app, err, sizeof err), 0);
        assert_int_equal(app.stop_timeout_usec, 90000000);
        app.strict_modes = false;  /* this plan names no paths to check */
        assert_int_equal(plan_apply_policy(&plan, &cfg, &app, err, sizeof err), 0);
        assert_int_equal(plan.stop_timeout_usec, 90000000);
        app_policy_done(&app);

        /* A bad value names the file and line. */
        write_file(path, "[Rocker]\nStopTimeoutSec=2 days\n");
        assert_int_not_equal(app_policy_load(&cfg, 7, &app, err, sizeof err), 0);
        assert_non_null(strstr(err, "7.conf:2"));

        unlink(path);
        rmdir(apps);
        snprintf(path, sizeof path, "%s/rockerd.conf", dir);
        unlink(path);
        rmdir(dir);
        config_done(&cfg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timespan),
                cmocka_unit_test(test_stop_timeout_policy),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
