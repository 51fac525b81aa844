/* SPDX-License-Identifier: MIT */
/*
 * The compatibility suite's launcher: what an app launcher linking
 * librocker_client does, in the fewest lines. It asks for a rocker, its
 * callback execs the program given on the command line, it waits for the app
 * (its own child), forwards SIGINT/SIGTERM/SIGHUP to it meanwhile, and kills
 * the rocker by its guard's checked name when the app has ended.
 *
 *   compat_launcher --image PKG --exec-dir DIR --data-dir DIR [--overlay DIR]...
 *                   [--app-id N] [--uid U] [--gid G] -- CMD [ARG]...
 *
 * Exit status: CMD's, 128+N if a signal N ended it, 125 if the rocker could
 * not be had, 127 if CMD could not be executed.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rocker/rocker.h>

static volatile sig_atomic_t app_pid_for_signals;

static void forward(int sig) {
        if (app_pid_for_signals > 0)
                kill(app_pid_for_signals, sig);
}

/* Runs in the rocker as the request's uid/gid: becomes the program. */
static int exec_app(void *arg) {
        char **argv = arg;

        execvp(argv[0], argv);
        fprintf(stderr, "compat_launcher: %s: %s\n", argv[0], strerror(errno));
        return errno == ENOENT ? 127 : 126;
}

static int parse_int(const char *s, int *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < -2147483647L || v > 2147483647L)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "image", required_argument, NULL, 'i' },
                { "exec-dir", required_argument, NULL, 'e' },
                { "data-dir", required_argument, NULL, 'd' },
                { "overlay", required_argument, NULL, 'o' },
                { "app-id", required_argument, NULL, 'a' },
                { "uid", required_argument, NULL, 'u' },
                { "gid", required_argument, NULL, 'g' },
                { NULL, 0, NULL, 0 },
        };
        RockerRequest req = ROCKER_request_new();
        struct sigaction sa = { .sa_handler = forward };
        int n_overlays = 0, c, status;
        pid_t r;

        req.uid = req.gid = 65534;
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                switch (c) {
                case 'i': req.app_pkg_path = optarg; break;
                case 'e': req.app_exec_dir = optarg; break;
                case 'd': req.app_data_dir = optarg; break;
                case 'o':
                        if (n_overlays == 16) {
                                fprintf(stderr, "compat_launcher: at most 16 --overlay\n");
                                return 2;
                        }
                        req.app_overlay_dirs[n_overlays++] = optarg;
                        break;
                case 'a':
                case 'u':
                case 'g':
                        if (parse_int(optarg, c == 'a' ? &req.app_id : c == 'u' ? &req.uid : &req.gid) < 0) {
                                fprintf(stderr, "compat_launcher: bad number %s\n", optarg);
                                return 2;
                        }
                        break;
                default:
                        return 2;
                }
        }
        if (!req.app_pkg_path || !req.app_exec_dir || !req.app_data_dir || optind >= argc) {
                fprintf(stderr, "usage: compat_launcher --image PKG --exec-dir DIR --data-dir DIR "
                                "[--overlay DIR]... [--app-id N] [--uid U] [--gid G] -- CMD [ARG]...\n");
                return 2;
        }

        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);

        RockerResult res = ROCKER_enter_rocker(&req, exec_app, argv + optind);
        if (res.err_no != ROCKER_ERR_success) {
                fprintf(stderr, "compat_launcher: %s: %s\n", ROCKER_strerror(res.err_no), ROCKER_last_error());
                return 125;
        }
        app_pid_for_signals = res.app_pid;

        do
                r = waitpid(res.app_pid, &status, 0);
        while (r < 0 && errno == EINTR);
        app_pid_for_signals = 0;

        /* The app is gone; whatever it left running (a daemon) goes with its guard. */
        RockerResult k = ROCKER_kill_rocker(res.guard_pid, res.guard_pname, SIGKILL);
        if (k.err_no != ROCKER_ERR_success) {
                fprintf(stderr, "compat_launcher: kill %s: %s\n", res.guard_pname, ROCKER_last_error());
                return 125;
        }
        if (r < 0) {
                perror("compat_launcher: waitpid");
                return 125;
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
