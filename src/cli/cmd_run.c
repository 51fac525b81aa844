/* SPDX-License-Identifier: MIT */
/* rocker run: a new rocker for one command. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rocker/rocker.h>

#include "cli.h"

#define MAX_OVERLAYS ((int) (sizeof ((RockerRequest *) 0)->app_overlay_dirs / sizeof(char *)))

const char cli_run_usage[] =
        "Usage: rocker run [OPTIONS] --image PKG --exec-dir DIR --data-dir DIR [--] CMD [ARGS...]\n"
        "\n"
        "Runs CMD in a new rocker, waits for it and exits with its status.\n"
        "\n"
        "  -i, --image PKG       the app's squashfs image\n"
        "  -e, --exec-dir DIR    where the image is mounted inside the rocker\n"
        "  -d, --data-dir DIR    where everything the app writes is kept\n"
        "  -o, --overlay DIR     cover host directory DIR with an overlay whose\n"
        "                        writes land in the data dir (up to 16 times)\n"
        "  -a, --app-id N        the app's id (default 0)\n"
        "  -u, --uid USER        run CMD as USER, a uid or a name (default $SUDO_UID,\n"
        "                        else 65534)\n"
        "  -g, --gid GROUP       run CMD as GROUP, a gid or a name (default $SUDO_GID,\n"
        "                        USER's group if USER is a name, else 65534)\n"
        "  -E, --setenv NAME=VALUE  set NAME in CMD's environment (repeatable)\n"
        "      --keep-env        keep HOME, USER, LOGNAME and SHELL as they are\n"
        "                        (by default they are USER's, from its passwd entry)\n"
        "  -t, --tty             give CMD a terminal of its own (a pty rocker relays;\n"
        "                        window size and Ctrl-C are passed on)\n"
        "  -k, --keep            leave the rocker running when CMD ends and print\n"
        "                        its guard's name and pid\n"
        "  -h, --help            show this help\n";

/* The request's strings, owned here. */
typedef struct RunPaths {
        char *image, *exec_dir, *data_dir;
        char *overlays[16];
        int n_overlays;
} RunPaths;

static void run_paths_done(RunPaths *p) {
        free(p->image);
        free(p->exec_dir);
        free(p->data_dir);
        for (int i = 0; i < p->n_overlays; i++)
                free(p->overlays[i]);
}

static int set_path(char **slot, const char *opt, const char *arg) {
        char *p;
        int r;

        r = cli_path_normalize(arg, &p);
        if (r < 0)
                return cli_usage_error("run", "%s \"%s\": %s", opt, arg, strerror(-r));
        free(*slot);
        *slot = p;
        return 0;
}

static int parse(int argc, char **argv, RockerRequest *req, RunPaths *paths, CliEnv *env, bool *ret_keep,
                 bool *ret_tty, char ***ret_cmd) {
        static const struct option opts[] = {
                { "image", required_argument, NULL, 'i' },
                { "exec-dir", required_argument, NULL, 'e' },
                { "data-dir", required_argument, NULL, 'd' },
                { "overlay", required_argument, NULL, 'o' },
                { "app-id", required_argument, NULL, 'a' },
                { "uid", required_argument, NULL, 'u' },
                { "gid", required_argument, NULL, 'g' },
                { "keep", no_argument, NULL, 'k' },
                { "tty", no_argument, NULL, 't' },
                { "setenv", required_argument, NULL, 'E' },
                { "keep-env", no_argument, NULL, 'K' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        bool gid_set = false;
        long long v;
        int c, r;

        cli_default_ids(&req->uid, &req->gid);
        if (geteuid() != 0) {  /* a non-root caller may only ask for its own */
                req->uid = (int) getuid();
                req->gid = (int) getgid();
        }
        while ((c = getopt_long(argc, argv, "+:i:e:d:o:a:u:g:ktE:h", opts, NULL)) >= 0) {
                r = 0;
                switch (c) {
                case 'i':
                        r = set_path(&paths->image, "--image", optarg);
                        break;
                case 'e':
                        r = set_path(&paths->exec_dir, "--exec-dir", optarg);
                        break;
                case 'd':
                        r = set_path(&paths->data_dir, "--data-dir", optarg);
                        break;
                case 'o':
                        if (paths->n_overlays >= MAX_OVERLAYS)
                                return cli_usage_error("run", "at most %d --overlay", MAX_OVERLAYS);
                        r = set_path(&paths->overlays[paths->n_overlays], "--overlay", optarg);
                        if (r == 0)
                                paths->n_overlays++;
                        break;
                case 'a':
                        if (cli_parse_int(optarg, INT_MIN, INT_MAX, &v) < 0)
                                return cli_usage_error("run", "--app-id \"%s\" is not a number", optarg);
                        req->app_id = (int) v;
                        break;
                case 'u':
                        if (cli_parse_uid(optarg, &req->uid, gid_set ? NULL : &req->gid) < 0)
                                return cli_usage_error("run", "--uid \"%s\" is neither a uid nor a user", optarg);
                        break;
                case 'g':
                        if (cli_parse_gid(optarg, &req->gid) < 0)
                                return cli_usage_error("run", "--gid \"%s\" is neither a gid nor a group", optarg);
                        gid_set = true;
                        break;
                case 'k':
                        *ret_keep = true;
                        break;
                case 't':
                        *ret_tty = true;
                        break;
                case 'E':
                        r = cli_env_add(env, "run", optarg);
                        break;
                case 'K':
                        env->keep = true;
                        break;
                case 'h':
                        fputs(cli_run_usage, stdout);
                        return -1;
                default:
                        return cli_getopt_error("run", c, argv);
                }
                if (r)
                        return r;
        }
        if (!paths->image)
                return cli_usage_error("run", "--image is required");
        if (!paths->exec_dir)
                return cli_usage_error("run", "--exec-dir is required");
        if (!paths->data_dir)
                return cli_usage_error("run", "--data-dir is required");
        if (optind >= argc)
                return cli_usage_error("run", "no command given");
        req->app_pkg_path = paths->image;
        req->app_exec_dir = paths->exec_dir;
        req->app_data_dir = paths->data_dir;
        for (int i = 0; i < paths->n_overlays; i++)
                req->app_overlay_dirs[i] = paths->overlays[i];
        *ret_cmd = argv + optind;
        return 0;
}

/* A non-root caller cannot join a rocker: rockerd creates CMD in it
 * (ROCKER_spawn_rocker(), issue 17) with our stdio, and the rocker ends with
 * CMD (spawned.c). */
static int run_spawned(RockerRequest *req, char **cmd) {
        static const char *argv[4096 + 4];
        const int stdio[3] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };
        int handle = -1;
        sigset_t old;
        RockerResult res;

        if (cli_spawned_argv(cmd, argv, sizeof argv / sizeof argv[0]) < 0)
                return cli_usage_error("run", "too many arguments");
        cli_spawned_block(&old);
        res = ROCKER_spawn_rocker(req, argv, NULL, stdio, &handle);
        if (res.err_no != ROCKER_ERR_success) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                return cli_lib_error(res.err_no, "run: cannot run %s in a rocker", cmd[0]);
        }
        return cli_spawned_wait(handle, res.app_pid, &old);
}

int cli_run(int argc, char **argv) {
        RockerRequest req = ROCKER_request_new();
        RunPaths paths = {};
        CliCommand cmd = { .pty_master = -1, .pty_slave = -1 };
        CliEnv env = {};
        RockerResult res, k;
        bool keep = false, tty = false;
        int r, status;

        r = parse(argc, argv, &req, &paths, &env, &keep, &tty, &cmd.argv);
        if (r == 0)
                r = cli_env_apply(&env, req.uid);
        if (r == 0 && tty)
                r = cli_pty_open(&cmd);
        if (r != 0) {
                run_paths_done(&paths);
                return r < 0 ? CLI_EXIT_OK : r;
        }

        if (geteuid() != 0) {
                if (tty || keep) {
                        run_paths_done(&paths);
                        return cli_usage_error("run", "%s is for root only: a non-root caller's rocker ends "
                                               "with CMD, and gets rocker's own terminal", tty ? "--tty" : "--keep");
                }
                r = run_spawned(&req, cmd.argv);
                run_paths_done(&paths);
                return r;
        }
        cli_spawn_prepare(&cmd);
        res = ROCKER_enter_rocker(&req, cli_spawn_exec, &cmd);
        run_paths_done(&paths);
        if (res.err_no != ROCKER_ERR_success) {
                /* With send_req_failed the app may exist (killed with its
                 * rocker): reap it, its status means nothing. */
                if (res.app_pid > 0)
                        (void) cli_spawn_wait(res.app_pid);
                if (tty) {
                        close(cmd.pty_master);
                        close(cmd.pty_slave);
                }
                return cli_lib_error(res.err_no, "run: cannot run %s in a rocker", cmd.argv[0]);
        }

        status = tty ? cli_pty_wait(&cmd, res.app_pid) : cli_spawn_wait(res.app_pid);

        if (keep) {
                printf("%s %d\n", res.guard_pname, res.guard_pid);
                fflush(stdout);
                return status;
        }
        /* CMD has ended: the rest of the rocker (what CMD left running) is
         * stopped gracefully, and rocker run returns once the rocker is gone,
         * so that a "rocker ps" right after it does not list it. The guard's
         * name is checked through a pidfd: a guard that is already gone
         * (someone killed it) is fine, anything else leaves a rocker behind. */
        k = ROCKER_stop_rocker(res.guard_pid, res.guard_pname, -1);
        if (k.err_no != ROCKER_ERR_success && k.err_no != ROCKER_ERR_get_guardname_failed)
                return cli_lib_error(k.err_no, "run: cannot stop the rocker %s (pid %d)", res.guard_pname,
                                     res.guard_pid);
        return status;
}
