/* SPDX-License-Identifier: MIT */
/* rockerd.conf and apps.d/<app_id>.conf: every key's parser with good and
 * bad values (a bad one names the file and line), the daemon's defaults an
 * app inherits and what an app's file overrides; StopTimeoutSec='s time
 * spans and the plan that carries it to the guard. */
#include <errno.h>
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

#include "cgroup.h"
#include "config.h"
#include "image.h"
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
        char dir[] = "/tmp/rocker-config-test.XXXXXX", path[512], apps[256];
        RkError err = {};
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
        assert_int_equal(config_load(path, true, &cfg, &err), 0);
        assert_int_equal(cfg.stop_timeout_usec, 2000000);
        cfg.apps_dir = apps;

        /* An app without a file gets the daemon's. */
        assert_int_equal(app_policy_load(&cfg, 5, &app, &err), 0);
        assert_int_equal(app.stop_timeout_usec, 2000000);
        app_policy_done(&app);

        /* An app's file overrides it, and the plan carries it. */
        snprintf(path, sizeof path, "%s/7.conf", apps);
        write_file(path, "[Rocker]\nStopTimeoutSec=1min 30s\n");
        assert_int_equal(app_policy_load(&cfg, 7, &app, &err), 0);
        assert_int_equal(app.stop_timeout_usec, 90000000);
        app.strict_modes = false;  /* this plan names no paths to check */
        assert_int_equal(plan_apply_policy(&plan, &cfg, &app, &err), 0);
        assert_int_equal(plan.stop_timeout_usec, 90000000);
        app_policy_done(&app);

        /* A bad value names the file and line. */
        write_file(path, "[Rocker]\nStopTimeoutSec=2 days\n");
        assert_int_not_equal(app_policy_load(&cfg, 7, &app, &err), 0);
        assert_non_null(strstr(err.msg, "7.conf:2"));

        unlink(path);
        rmdir(apps);
        snprintf(path, sizeof path, "%s/rockerd.conf", dir);
        unlink(path);
        rmdir(dir);
        config_done(&cfg);
}

/* ---- every key, through a real file --------------------------------------- */

typedef struct Dir {
        char root[64];          /* /tmp/rocker-config-test.XXXXXX */
        char conf[128];         /* <root>/rockerd.conf */
        char apps[128];         /* <root>/apps.d */
} Dir;

static int dir_setup(void **state) {
        Dir *d = calloc(1, sizeof *d);

        if (!d)
                return -1;
        snprintf(d->root, sizeof d->root, "/tmp/rocker-config-test.XXXXXX");
        if (!mkdtemp(d->root))
                return -1;
        snprintf(d->conf, sizeof d->conf, "%s/rockerd.conf", d->root);
        snprintf(d->apps, sizeof d->apps, "%s/apps.d", d->root);
        if (mkdir(d->apps, 0755) < 0)
                return -1;
        *state = d;
        return 0;
}

static int dir_teardown(void **state) {
        Dir *d = *state;
        char cmd[160];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->root);
        if (system(cmd) != 0)
                return -1;
        free(d);
        return 0;
}

/* Loads text as the daemon's file into *cfg (from the defaults). */
static int load_daemon(const Dir *d, const char *text, ManagerConfig *cfg, RkError *err) {
        *cfg = (ManagerConfig) MANAGER_CONFIG_DEFAULT;
        write_file(d->conf, text);
        rk_error_clear(err);
        return config_load(d->conf, true, cfg, err);
}

/* Loads text as app 42's file, on top of cfg. */
static int load_app(const Dir *d, const ManagerConfig *cfg, const char *text, AppPolicy *ret, RkError *err) {
        char path[192];

        snprintf(path, sizeof path, "%s/42.conf", d->apps);
        write_file(path, text);
        rk_error_clear(err);
        return app_policy_load(cfg, 42, ret, err);
}

static void test_daemon_every_key(void **state) {
        const Dir *d = *state;
        ManagerConfig cfg;
        RkError err = {};

        assert_int_equal(load_daemon(d,
                                     "# every key of rockerd.conf(5)\n"
                                     "[Daemon]\n"
                                     "Socket=/run/rocker-test/s.sock\n"
                                     "StateDir=/run/rocker-test/state\n"
                                     "AppsDir=/etc/rocker-test/apps.d\n"
                                     "ImageBackend=squashfuse\n"
                                     "MaxConnections=7\n"
                                     "MaxRockers=1000000\n"
                                     "RequestTimeoutSec=1\n"
                                     "BuildTimeoutSec=3600\n"
                                     "ClaimTimeoutSec=40\n"
                                     "TeardownWaitSec=2\n"
                                     "SquashfusePath=/opt/fuse/bin/squashfuse\n"
                                     "SquashfuseUser=nobody\n"
                                     "[Policy]\n"
                                     "SharedWritablePaths=/tmp /var/tmp /dev /run/user\n"
                                     "AllowUsers=root 1234\n"
                                     "AllowGroups=5678\n"
                                     "MaxRockersPerUser=3\n"
                                     "[Rocker]\n"
                                     "PrivateNetwork=yes\n"
                                     "Devices=dri snd /dev/fuse\n"
                                     "Sockets=wayland x11\n"
                                     "SessionBus=none\n"
                                     "DevShmSize=64M\n"
                                     "AllowUserNamespaces=true\n"
                                     "StrictModes=off\n"
                                     "StopTimeoutSec=500ms\n"
                                     "[Resources]\n"
                                     "Cgroups=cgroupfs\n"
                                     "LimitsBestEffort=1\n"
                                     "MemoryMax=1G\n"
                                     "TasksMax=100\n",
                                     &cfg, &err),
                         0);
        assert_string_equal(cfg.socket_path, "/run/rocker-test/s.sock");
        assert_string_equal(cfg.state_dir, "/run/rocker-test/state");
        assert_string_equal(cfg.apps_dir, "/etc/rocker-test/apps.d");
        assert_int_equal(cfg.image_backend, IMAGE_BACKEND_SQUASHFUSE);
        assert_int_equal(cfg.max_connections, 7);
        assert_int_equal(cfg.max_rockers, 1000000);
        assert_int_equal(cfg.request_timeout_usec, 1000000);
        assert_int_equal(cfg.build_timeout_usec, 3600 * 1000000ULL);
        assert_int_equal(cfg.claim_timeout_usec, 40000000);
        assert_int_equal(cfg.teardown_wait_usec, 2000000);
        assert_string_equal(cfg.squashfuse_path, "/opt/fuse/bin/squashfuse");
        assert_true(cfg.squashfuse_user_set);
        assert_int_equal(cfg.squashfuse_uid, 65534);
        assert_int_equal(cfg.n_allow_uids, 2);
        assert_int_equal(cfg.allow_uids[0], 0);
        assert_int_equal(cfg.allow_uids[1], 1234);
        assert_int_equal(cfg.n_allow_gids, 1);
        assert_int_equal(cfg.allow_gids[0], 5678);
        assert_int_equal(cfg.max_rockers_per_user, 3);
        assert_true(cfg.shared_paths_set);
        assert_int_equal(cfg.n_shared_paths, 4);
        assert_string_equal(cfg.shared_paths[0], "/tmp");
        assert_string_equal(cfg.shared_paths[3], "/run/user");
        assert_true(cfg.private_network);
        assert_int_equal(cfg.n_devices, 3);
        assert_string_equal(cfg.devices[2], "/dev/fuse");
        assert_int_equal(cfg.sockets, PLAN_SOCKET_WAYLAND | PLAN_SOCKET_X11);
        assert_int_equal(cfg.session_bus, PLAN_BUS_NONE);
        assert_int_equal(cfg.dev_shm_size, 64ULL << 20);
        assert_true(cfg.allow_user_namespaces);
        assert_true(cfg.no_strict_modes);
        assert_int_equal(cfg.stop_timeout_usec, 500000);
        assert_int_equal(cfg.cgroup_mode, CGROUP_MODE_CGROUPFS);
        assert_true(cfg.limits_best_effort);
        assert_true(cfg.limits.set & (1u << CGROUP_MEMORY_MAX));
        assert_int_equal(cfg.limits.value[CGROUP_MEMORY_MAX], 1ULL << 30);
        assert_int_equal(cfg.limits.value[CGROUP_TASKS_MAX], 100);
        config_done(&cfg);

        /* A key given twice: the last one counts, and a list is replaced,
         * not appended to (nor leaked: valgrind runs this). */
        assert_int_equal(load_daemon(d, "[Policy]\nSharedWritablePaths=/a /b\nSharedWritablePaths=/c\n"
                                        "[Rocker]\nDevices=dri\nDevices=snd\n",
                                     &cfg, &err),
                         0);
        assert_int_equal(cfg.n_shared_paths, 1);
        assert_string_equal(cfg.shared_paths[0], "/c");
        assert_int_equal(cfg.n_devices, 1);
        assert_string_equal(cfg.devices[0], "snd");
        config_done(&cfg);

        /* An empty file and a missing optional one keep every default. */
        assert_int_equal(load_daemon(d, "", &cfg, &err), 0);
        assert_string_equal(cfg.socket_path, "/run/rocker/rockerd.sock");
        assert_false(cfg.shared_paths_set);
        config_done(&cfg);
        cfg = (ManagerConfig) MANAGER_CONFIG_DEFAULT;
        assert_int_equal(config_load("/nonexistent/rockerd.conf", false, &cfg, &err), 0);
        assert_int_equal(config_load("/nonexistent/rockerd.conf", true, &cfg, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "/nonexistent/rockerd.conf"));
        config_done(&cfg);
}

typedef struct Bad {
        const char *section;
        const char *line;       /* key=value */
        const char *reason;     /* a part of the error text */
} Bad;

/* Each bad line stands on line 3 (after a comment and the section): the
 * error must be "<file>:3: <reason>". */
static void expect_bad(const Dir *d, const ManagerConfig *base, const Bad *bad, size_t n, bool app) {
        char text[512], where[160];
        RkError err = {};

        for (size_t i = 0; i < n; i++) {
                ManagerConfig cfg;
                AppPolicy pol = {};
                int r;

                snprintf(text, sizeof text, "# a bad value\n[%s]\n%s\nPrivateNetwork=no\n", bad[i].section, bad[i].line);
                if (app) {
                        r = load_app(d, base, text, &pol, &err);
                        snprintf(where, sizeof where, "%s/42.conf:3: ", d->apps);
                } else {
                        r = load_daemon(d, text, &cfg, &err);
                        config_done(&cfg);
                        snprintf(where, sizeof where, "%s:3: ", d->conf);
                }
                if (r != -EINVAL || strncmp(err.msg, where, strlen(where)) != 0 || !strstr(err.msg, bad[i].reason))
                        fail_msg("[%s] %s (%s file): got %d \"%s\", want -EINVAL \"%s...%s...\"", bad[i].section,
                                 bad[i].line, app ? "app" : "daemon", r, err.msg, where, bad[i].reason);
                if (r == 0)
                        app_policy_done(&pol);
        }
}

static void test_daemon_bad_values(void **state) {
        static const Bad bad[] = {
                { "Daemon", "Socket=relative.sock", "not an absolute, normalised path" },
                { "Daemon", "StateDir=/run/../state", "not an absolute, normalised path" },
                { "Daemon", "AppsDir=", "not an absolute, normalised path" },
                { "Daemon", "ImageBackend=fuse", "expected auto, kernel or squashfuse" },
                { "Daemon", "MaxConnections=0", "expected a number from 1 to 1000000" },
                { "Daemon", "MaxRockers=1000001", "expected a number from 1 to 1000000" },
                { "Daemon", "MaxRockers=-5", "expected a number from 1 to 1000000" },
                { "Daemon", "RequestTimeoutSec=0", "expected seconds from 1 to 3600" },
                { "Daemon", "BuildTimeoutSec=3601", "expected seconds from 1 to 3600" },
                { "Daemon", "ClaimTimeoutSec=10s", "expected seconds from 1 to 3600" },
                { "Daemon", "TeardownWaitSec=ten", "expected seconds from 1 to 3600" },
                { "Daemon", "Sockets=wayland", "unknown key Sockets in [Daemon]" },
                { "Policy", "SharedWritablePaths=/", "\"/\" is not allowed" },
                { "Policy", "SharedWritablePaths=/tmp /proc/sys", "\"/proc/sys\" is not allowed" },
                { "Policy", "SharedWritablePaths=/sys", "\"/sys\" is not allowed" },
                { "Policy", "SharedWritablePaths=tmp", "\"tmp\": " },
                { "Policy", "SharedWritablePaths=/dev/dri", "name host devices with Devices=" },
                { "Policy", "SharedWritablePaths=/run/user/1000", "name the user's sockets with Sockets=" },
                { "Policy", "SharedWritablePaths=/1 /2 /3 /4 /5 /6 /7 /8 /9 /10 /11 /12 /13 /14 /15 /16 /17",
                  "more than 16 paths" },
                { "Policy", "AllowUsers=no-such-user-rocker", "unknown user \"no-such-user-rocker\"" },
                { "Policy", "AllowGroups=no-such-group-rocker", "unknown group" },
                { "Policy", "MaxRockersPerUser=0", "expected a number from 1 to 1000000" },
                { "Daemon", "SquashfusePath=squashfuse", "not an absolute, normalised path" },
                { "Daemon", "SquashfuseUser=no-such-user-rocker", "no such user" },
                { "Daemon", "SquashfuseUser=root", "squashfuse must not run as root" },
                { "Policy", "MaxRockers=5", "unknown key MaxRockers in [Policy]" },
                { "Rocker", "PrivateNetwork=maybe", "expected yes or no" },
                { "Rocker", "Devices=floppy", "expected dri, snd, video, input, kvm, all, /dev/NAME or /dev/PREFIX*" },
                { "Rocker", "Devices=/dev/shm", "expected dri, snd" },
                { "Rocker", "Sockets=wayland ssh-agent", "\"ssh-agent\": expected wayland, pulseaudio, pipewire or x11" },
                { "Rocker", "SessionBus=system", "expected filtered, none or host" },
                { "Rocker", "DevShmSize=512K", "expected a size from 1M to 1024G" },
                { "Rocker", "DevShmSize=1025G", "expected a size from 1M to 1024G" },
                { "Rocker", "DevShmSize=64MB", "expected a size from 1M to 1024G" },
                { "Rocker", "AllowUserNamespaces=2", "expected yes or no" },
                { "Rocker", "StrictModes=", "expected yes or no" },
                { "Rocker", "StopTimeoutSec=2h", "expected a time span from 0 to 1h" },
                { "Rocker", "DBusTalk=org.example.Name", "unknown key DBusTalk in [Rocker]" },
                { "Resources", "Cgroups=v1", "expected auto, systemd, cgroupfs or no" },
                { "Resources", "LimitsBestEffort=sometimes", "expected yes or no" },
                { "Resources", "MemoryMax=lots", "expected bytes (with K, M, G or T)" },
                { "Resources", "CPUShares=100", "unknown key CPUShares in [Resources]" },
                { "Network", "Private=yes", "unknown section [Network]" },
        };
        const Dir *d = *state;
        ManagerConfig base = MANAGER_CONFIG_DEFAULT;

        expect_bad(d, &base, bad, sizeof bad / sizeof bad[0], false);
}

static void test_syntax_error_names_line(void **state) {
        const Dir *d = *state;
        ManagerConfig cfg;
        char want[160];
        RkError err = {};

        assert_int_equal(load_daemon(d, "[Daemon]\nMaxRockers=5\nthis line has no equals sign\n", &cfg, &err),
                         -EINVAL);
        snprintf(want, sizeof want, "%s:3: ", d->conf);
        assert_memory_equal(err.msg, want, strlen(want));
        config_done(&cfg);
}

static void test_app_every_key(void **state) {
        const Dir *d = *state;
        ManagerConfig cfg;
        AppPolicy app;
        RkError err = {};

        assert_int_equal(load_daemon(d, "[Rocker]\nSockets=x11\nDevShmSize=32M\n[Resources]\nMemoryMax=1G\nTasksMax=50\n",
                                     &cfg, &err),
                         0);
        cfg.apps_dir = d->apps;
        assert_int_equal(load_app(d, &cfg,
                                  "[Rocker]\n"
                                  "PrivateNetwork=yes\n"
                                  "Devices=kvm /dev/tty*\n"
                                  "Sockets=pipewire\n"
                                  "SessionBus=host\n"
                                  "DBusTalk=org.example.A org.example.B.*\n"
                                  "DBusOwn=org.example.Mine\n"
                                  "DBusSee=org.example.Seen\n"
                                  "DevShmSize=1G\n"
                                  "AllowUserNamespaces=yes\n"
                                  "StrictModes=no\n"
                                  "StopTimeoutSec=1min 30s\n"
                                  "ImageDirs=/apps /opt/apps\n"
                                  "ImageBackend=kernel\n"
                                  "SharedWritablePaths=/srv/data\n"
                                  "[Resources]\n"
                                  "MemoryMax=2G\n",
                                  &app, &err),
                         0);
        assert_true(app.private_network);
        assert_int_equal(app.n_devices, 2);
        assert_string_equal(app.devices[0], "kvm");
        assert_string_equal(app.devices[1], "/dev/tty*");
        /* Sockets= adds to the daemon's */
        assert_int_equal(app.sockets, PLAN_SOCKET_X11 | PLAN_SOCKET_PIPEWIRE);
        assert_int_equal(app.session_bus, PLAN_BUS_HOST);
        assert_int_equal(app.n_dbus_talk, 2);
        assert_string_equal(app.dbus_talk[1], "org.example.B.*");
        assert_int_equal(app.n_dbus_own, 1);
        assert_int_equal(app.n_dbus_see, 1);
        assert_int_equal(app.dev_shm_size, 1ULL << 30);
        assert_true(app.allow_user_namespaces);
        assert_false(app.strict_modes);
        assert_int_equal(app.stop_timeout_usec, 90000000);
        assert_int_equal(app.n_image_dirs, 2);
        assert_string_equal(app.image_dirs[1], "/opt/apps");
        assert_int_equal(app.image_backend, IMAGE_BACKEND_KERNEL);
        assert_int_equal(app.n_shared_paths, 1);
        assert_string_equal(app.shared_paths[0], "/srv/data");
        /* [Resources]: the app's key overrides, the daemon's others stay */
        assert_int_equal(app.limits.value[CGROUP_MEMORY_MAX], 2ULL << 30);
        assert_true(app.limits.set & (1u << CGROUP_TASKS_MAX));
        assert_int_equal(app.limits.value[CGROUP_TASKS_MAX], 50);
        app_policy_done(&app);
        config_done(&cfg);
}

static void test_app_inherits_daemon_defaults(void **state) {
        const Dir *d = *state;
        ManagerConfig cfg;
        AppPolicy app;
        RkError err = {};
        char path[192];

        assert_int_equal(load_daemon(d,
                                     "[Daemon]\nImageBackend=squashfuse\n"
                                     "[Rocker]\nPrivateNetwork=yes\nStrictModes=no\nAllowUserNamespaces=yes\n"
                                     "DevShmSize=16M\nSockets=wayland\nSessionBus=none\nStopTimeoutSec=3s\n"
                                     "[Resources]\nCPUWeight=50\n",
                                     &cfg, &err),
                         0);
        cfg.apps_dir = d->apps;
        /* no file for app 9: the daemon's values */
        assert_int_equal(app_policy_load(&cfg, 9, &app, &err), 0);
        assert_true(app.private_network);
        assert_false(app.strict_modes);
        assert_true(app.allow_user_namespaces);
        assert_int_equal(app.dev_shm_size, 16ULL << 20);
        assert_int_equal(app.sockets, PLAN_SOCKET_WAYLAND);
        assert_int_equal(app.session_bus, PLAN_BUS_NONE);
        assert_int_equal(app.stop_timeout_usec, 3000000);
        assert_int_equal(app.image_backend, IMAGE_BACKEND_SQUASHFUSE);
        assert_int_equal(app.limits.value[CGROUP_CPU_WEIGHT], 50);
        assert_int_equal(app.n_image_dirs, 0);
        app_policy_done(&app);

        /* a file that sets one key changes that key only */
        assert_int_equal(load_app(d, &cfg, "[Rocker]\nPrivateNetwork=no\n", &app, &err), 0);
        assert_false(app.private_network);
        assert_false(app.strict_modes);
        assert_int_equal(app.stop_timeout_usec, 3000000);
        app_policy_done(&app);

        /* app_policy_check_all(): reads every <id>.conf, skips other names */
        snprintf(path, sizeof path, "%s/README.conf", d->apps);
        write_file(path, "not an ini file at all\n");
        snprintf(path, sizeof path, "%s/7.conf.bak", d->apps);
        write_file(path, "[Nonsense]\n");
        assert_int_equal(app_policy_check_all(&cfg, &err), 0);
        snprintf(path, sizeof path, "%s/-3.conf", d->apps);
        write_file(path, "[Rocker]\n\nSessionBus=all\n");
        assert_int_equal(app_policy_check_all(&cfg, &err), -EINVAL);
        snprintf(path, sizeof path, "%s/-3.conf:3: ", d->apps);
        assert_memory_equal(err.msg, path, strlen(path));
        config_done(&cfg);
}

static void test_app_bad_values(void **state) {
        static const Bad bad[] = {
                { "Rocker", "PrivateNetwork=perhaps", "expected yes or no" },
                { "Rocker", "Devices=all floppy", "\"floppy\": expected dri" },
                { "Rocker", "Sockets=X11", "\"X11\": expected wayland" },
                { "Rocker", "SessionBus=filtered,host", "expected filtered, none or host" },
                { "Rocker", "DBusTalk=org..example", "\"org..example\" is not a D-Bus name" },
                { "Rocker", "DBusOwn=noDot", "is not a D-Bus name" },
                { "Rocker", "DBusSee=.org.x", "is not a D-Bus name" },
                { "Rocker", "DBusTalk=a.b a.c a.d a.e a.f a.g a.h a.i a.j a.k a.l a.m a.n a.o a.p a.q a.r",
                  "more than 16 names" },
                { "Rocker", "DevShmSize=0", "expected a size from 1M to 1024G" },
                { "Rocker", "AllowUserNamespaces=nah", "expected yes or no" },
                { "Rocker", "StrictModes=2", "expected yes or no" },
                { "Rocker", "StopTimeoutSec=forever", "expected a time span" },
                { "Rocker", "ImageDirs=/apps/", "\"/apps/\": " },
                { "Rocker", "ImageDirs=/", "\"/\" is not allowed" },
                { "Rocker", "ImageBackend=erofs", "expected auto, kernel or squashfuse" },
                { "Rocker", "SharedWritablePaths=/sys/fs", "is not allowed" },
                { "Rocker", "MaxRockers=3", "unknown key MaxRockers in [Rocker]" },
                { "Resources", "Cgroups=no", "unknown key Cgroups in [Resources]" },
                { "Resources", "TasksMax=-1", "expected a number of tasks from 1" },
                { "Daemon", "ImageBackend=kernel", "unknown section [Daemon]" },
                { "Policy", "AllowUsers=root", "unknown section [Policy]" },
        };
        const Dir *d = *state;
        ManagerConfig base = MANAGER_CONFIG_DEFAULT;

        base.apps_dir = d->apps;
        expect_bad(d, &base, bad, sizeof bad / sizeof bad[0], true);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timespan),
                cmocka_unit_test(test_stop_timeout_policy),
                cmocka_unit_test_setup_teardown(test_daemon_every_key, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_daemon_bad_values, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_syntax_error_names_line, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_app_every_key, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_app_inherits_daemon_defaults, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_app_bad_values, dir_setup, dir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
