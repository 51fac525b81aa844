/* SPDX-License-Identifier: MIT */
/* rocker enter: one more command in a live rocker. */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rocker/rocker.h>

#include "cli.h"

const char cli_enter_usage[] =
        "Usage: rocker enter [OPTIONS] GUARD [OPTIONS] [--] CMD [ARGS...]\n"
        "\n"
        "Runs CMD inside the live rocker GUARD (a guard name rk-... or its pid),\n"
        "waits for it and exits with its status. The rocker keeps running.\n"
        "\n"
        "  -u, --uid USER        run CMD as USER, a uid or a name (default $SUDO_UID,\n"
        "                        else 65534)\n"
        "  -g, --gid GROUP       run CMD as GROUP, a gid or a name (default $SUDO_GID,\n"
        "                        USER's group if USER is a name, else 65534)\n"
        "  -E, --setenv NAME=VALUE  set NAME in CMD's environment (repeatable)\n"
        "      --keep-env        keep HOME, USER, LOGNAME and SHELL as they are\n"
        "                        (by default they are USER's, from its passwd entry)\n"
        "  -t, --tty             give CMD a terminal of its own (a pty rocker relays;\n"
        "                        window size and Ctrl-C are passed on)\n"
        "  -h, --help            show this help\n";

int cli_enter(int argc, char **argv) {
        static const struct option opts[] = {
                { "uid", required_argument, NULL, 'u' },
                { "gid", required_argument, NULL, 'g' },
                { "setenv", required_argument, NULL, 'E' },
                { "keep-env", no_argument, NULL, 'K' },
                { "tty", no_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        CliCommand cmd = { .pty_master = -1, .pty_slave = -1 };
        bool tty = false;
        CliEnv env = {};
        RockerResult res;
        bool gid_set = false;
        const char *guard = NULL;
        char name[16];
        int uid, gid, pid, c, r;

        cli_default_ids(&uid, &gid);
        if (geteuid() != 0) {  /* a non-root caller may only ask for its own */
                uid = (int) getuid();
                gid = (int) getgid();
        }
        /* Options may come before and after GUARD: "enter [OPTIONS] GUARD
         * [OPTIONS] [--] CMD". getopt stops at GUARD, which is taken, then
         * goes on up to CMD or "--". */
        for (;;) {
                while ((c = getopt_long(argc, argv, "+:u:g:tE:h", opts, NULL)) >= 0)
                        switch (c) {
                        case 'u':
                                if (cli_parse_uid(optarg, &uid, gid_set ? NULL : &gid) < 0)
                                        return cli_usage_error("enter", "--uid \"%s\" is neither a uid nor a user",
                                                               optarg);
                                break;
                        case 'g':
                                if (cli_parse_gid(optarg, &gid) < 0)
                                        return cli_usage_error("enter", "--gid \"%s\" is neither a gid nor a group",
                                                               optarg);
                                gid_set = true;
                                break;
                        case 'E':
                                r = cli_env_add(&env, "enter", optarg);
                                if (r != 0)
                                        return r;
                                break;
                        case 'K':
                                env.keep = true;
                                break;
                        case 't':
                                tty = true;
                                break;
                        case 'h':
                                fputs(cli_enter_usage, stdout);
                                return CLI_EXIT_OK;
                        default:
                                return cli_getopt_error("enter", c, argv);
                        }
                if (guard || optind >= argc || strcmp(argv[optind - 1], "--") == 0)
                        break;
                guard = argv[optind++];
        }
        if (!guard) {
                if (optind >= argc)
                        return cli_usage_error("enter", "no rocker given");
                guard = argv[optind++];  /* "enter -- GUARD CMD" */
        }
        cmd.argv = argv + optind;
        if (!cmd.argv[0])
                return cli_usage_error("enter", "no command given");

        r = cli_guard_resolve("enter", guard, &pid, name);
        if (r == 0)
                r = cli_env_apply(&env, uid);
        if (r == 0 && tty)
                r = cli_pty_open(&cmd);
        if (r != 0)
                return r;

        if (geteuid() != 0) {
                /* It cannot join: rockerd starts CMD in its rocker (spawned.c). */
                static const char *args[4096 + 4];
                const int stdio[3] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };
                int handle = -1;
                sigset_t old;

                if (tty)
                        return cli_usage_error("enter", "--tty is for root only");
                if (cli_spawned_argv(cmd.argv, args, sizeof args / sizeof args[0]) < 0)
                        return cli_usage_error("enter", "too many arguments");
                cli_spawned_block(&old);
                res = ROCKER_spawn_in_rocker(pid, name, uid, gid, args, NULL, stdio, &handle);
                if (res.err_no != ROCKER_ERR_success) {
                        sigprocmask(SIG_SETMASK, &old, NULL);
                        return cli_lib_error(res.err_no, "enter: cannot run %s in %s", cmd.argv[0], name);
                }
                return cli_spawned_wait(handle, res.app_pid, &old);
        }
        cli_spawn_prepare(&cmd);
        res = ROCKER_join_rocker(pid, name, uid, gid, cli_spawn_exec, &cmd);
        if (res.err_no != ROCKER_ERR_success) {
                if (tty) {
                        close(cmd.pty_master);
                        close(cmd.pty_slave);
                }
                return cli_lib_error(res.err_no, "enter: cannot run %s in %s", cmd.argv[0], name);
        }
        return tty ? cli_pty_wait(&cmd, res.app_pid) : cli_spawn_wait(res.app_pid);
}
