/* SPDX-License-Identifier: MIT */
/* rocker kill: signal a rocker's guard, race-free. */
#include <getopt.h>
#include <stdio.h>

#include <rocker/rocker.h>

#include "cli.h"

const char cli_kill_usage[] =
        "Usage: rocker kill [OPTIONS] GUARD\n"
        "\n"
        "Sends a signal to the guard of rocker GUARD (a guard name rk-... or its\n"
        "pid), checking its name through a pidfd so that a reused pid is never\n"
        "signalled. The default SIGKILL ends the rocker and everything in it at\n"
        "once. SIGTERM stops it gracefully, as 'rocker stop' does (and waits for\n"
        "it to be gone).\n"
        "\n"
        "  -s, --signal SIG      the signal, a number or a name (KILL, SIGTERM...)\n"
        "  -h, --help            show this help\n";

int cli_kill(int argc, char **argv) {
        static const struct option opts[] = {
                { "signal", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        RockerResult res;
        int sig = SIGKILL, pid, c, r;
        char name[16];

        while ((c = getopt_long(argc, argv, "+:s:h", opts, NULL)) >= 0)
                switch (c) {
                case 's':
                        if (cli_parse_signal(optarg, &sig) < 0)
                                return cli_usage_error("kill", "--signal \"%s\" is not a signal", optarg);
                        break;
                case 'h':
                        fputs(cli_kill_usage, stdout);
                        return CLI_EXIT_OK;
                default:
                        return cli_getopt_error("kill", c, argv);
                }
        if (optind >= argc)
                return cli_usage_error("kill", "no rocker given");
        if (optind + 1 < argc)
                return cli_usage_error("kill", "one rocker at a time (unexpected \"%s\")", argv[optind + 1]);

        if (sig == SIGTERM)
                return cli_stop_one("kill", argv[optind], -1);
        r = cli_guard_resolve("kill", argv[optind], &pid, name);
        if (r != 0)
                return r;
        res = ROCKER_kill_rocker(pid, name, sig);
        if (res.err_no != ROCKER_ERR_success)
                return cli_lib_error(res.err_no, "kill: %s", name);
        return CLI_EXIT_OK;
}
