/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "guard.h"
#include "kernel.h"
#include "log.h"
#include "manager.h"

#ifndef ROCKER_VERSION
#define ROCKER_VERSION "0"
#endif

static void help(void) {
        printf("Usage: rockerd [OPTIONS]\n\n"
               "The rocker daemon: builds rockers for librocker_client.\n\n"
               "  -s, --socket PATH   listen on PATH (default /run/rocker/rockerd.sock);\n"
               "                      ignored under socket activation\n"
               "  -c, --config PATH   read PATH (default /etc/rocker/rockerd.conf, if it\n"
               "                      exists; see rockerd.conf(5))\n"
               "      --state-dir DIR where live rockers are recorded, for a restarted\n"
               "                      rockerd to adopt them (default /run/rocker/state)\n"
               "  -d, --debug         log debug messages\n"
               "  -h, --help          show this help\n"
               "      --version       show the version\n");
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' },
                { "state-dir", required_argument, NULL, 'S' },
                { "config", required_argument, NULL, 'c' },
                { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        ManagerConfig cfg = MANAGER_CONFIG_DEFAULT;
        const char *config_path = "/etc/rocker/rockerd.conf", *socket_path = NULL, *state_dir = NULL;
        bool config_required = false;
        RkError err = {};
        Manager *m = NULL;
        KernelFeatures kernel;
        int c, r;

        while ((c = getopt_long(argc, argv, "s:c:dh", opts, NULL)) >= 0)
                switch (c) {
                case 's':
                        socket_path = optarg;
                        break;
                case 'S':
                        state_dir = optarg;
                        break;
                case 'c':
                        config_path = optarg;
                        config_required = true;
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case 'V':
                        printf("rockerd %s\n", ROCKER_VERSION);
                        return EXIT_SUCCESS;
                default:
                        return EXIT_FAILURE;
                }
        if (optind < argc) {
                log_error("unexpected argument \"%s\"", argv[optind]);
                return EXIT_FAILURE;
        }
        if (geteuid() != 0) {
                log_error("rockerd must run as root");
                return EXIT_FAILURE;
        }
        /* rockerd reaps each child by its pidfd, and relies on an unreaped
         * child's PID not being reused (worker.c, spawn.c): a SIGCHLD
         * ignored by whoever started us (SIG_IGN, SA_NOCLDWAIT survive
         * execve()) would let the kernel reap them behind our back. */
        if (sigaction(SIGCHLD, &(struct sigaction) { .sa_handler = SIG_DFL }, NULL) < 0) {
                log_error_errno(errno, "SIGCHLD: %m");
                return EXIT_FAILURE;
        }

        /* argv[0..argc-1] are contiguous: the area /proc/<pid>/cmdline shows */
        guard_cmdline_area = argv[0];
        guard_cmdline_size = (size_t) (argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);

        r = config_load(config_path, config_required, &cfg, &err);
        if (r < 0) {
                log_error_errno(r, "bad configuration: %s", err.msg);
                config_done(&cfg);
                return EXIT_FAILURE;
        }
        /* The command line wins over the file. */
        if (socket_path)
                cfg.socket_path = socket_path;
        if (state_dir)
                cfg.state_dir = state_dir;
        /* An app's file is read again at each request; a bad one present at
         * start stops rockerd, like a bad rockerd.conf. */
        r = app_policy_check_all(&cfg, &err);
        if (r < 0) {
                log_error_errno(r, "bad configuration: %s", err.msg);
                config_done(&cfg);
                return EXIT_FAILURE;
        }

        /* Each live rocker costs rockerd two fds: take what we may. */
        {
                struct rlimit rl;
                if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                        rl.rlim_cur = rl.rlim_max;
                        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                                log_warning_errno(errno, "cannot raise the fd limit: %m");
                }
        }
        /* Once, before anything is built: refuse a kernel below the floor,
         * pick the mechanisms for this one, say which. */
        r = kernel_probe(&kernel, &err);
        if (r < 0) {
                log_error_errno(r, "cannot start: %s", err.msg);
                config_done(&cfg);
                return EXIT_FAILURE;
        }
        kernel_describe(&kernel, err.msg, sizeof err.msg);
        log_info("%s", err.msg);
        r = manager_new(&cfg, &kernel, &m);
        if (r < 0) {
                log_error_errno(r, "cannot start: %m");
                return EXIT_FAILURE;
        }
        r = manager_run(m);
        manager_free(m);
        config_done(&cfg);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
