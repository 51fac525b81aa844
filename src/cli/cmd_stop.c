/* SPDX-License-Identifier: MIT */
/* rocker stop: end rockers gracefully (SIGTERM, a grace period, SIGKILL). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <rocker/rocker.h>

#include "cli.h"

const char cli_stop_usage[] =
        "Usage: rocker stop [OPTIONS] GUARD...\n"
        "\n"
        "Stops each rocker GUARD (a guard name rk-... or its pid) gracefully: every\n"
        "process in it gets SIGTERM; what is still running after the grace period\n"
        "is killed. Returns once each rocker is gone (its guard has exited and\n"
        "rockerd no longer lists it).\n"
        "\n"
        "  -t, --timeout S       the grace period in seconds (0 to 3600, decimals\n"
        "                        allowed); default: the app's StopTimeoutSec= in\n"
        "                        rockerd.conf(5), 10 s unless configured\n"
        "  -h, --help            show this help\n";

int cli_stop_one(const char *cmd, const char *arg, int timeout_ms) {
        RockerResult res;
        char name[16];
        int pid, r;

        r = cli_guard_resolve(cmd, arg, &pid, name);
        if (r != 0)
                return r;
        res = ROCKER_stop_rocker(pid, name, timeout_ms);
        if (res.err_no != ROCKER_ERR_success)
                return cli_lib_error(res.err_no, "%s: %s", cmd, name);
        return CLI_EXIT_OK;
}

int cli_stop(int argc, char **argv) {
        static const struct option opts[] = {
                { "timeout", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int timeout_ms = -1, c, status = CLI_EXIT_OK;

        while ((c = getopt_long(argc, argv, "+:t:h", opts, NULL)) >= 0)
                switch (c) {
                case 't': {
                        char *end;
                        double s = strtod(optarg, &end);

                        if (end == optarg || *end || !(s >= 0 && s <= 3600))
                                return cli_usage_error("stop", "--timeout \"%s\" is not a number of seconds from 0 to 3600",
                                                       optarg);
                        timeout_ms = (int) (s * 1000 + 0.5);
                        break;
                }
                case 'h':
                        fputs(cli_stop_usage, stdout);
                        return CLI_EXIT_OK;
                default:
                        return cli_getopt_error("stop", c, argv);
                }
        if (optind >= argc)
                return cli_usage_error("stop", "no rocker given");
        /* One after the other; each failure is told, the others still stopped. */
        for (int i = optind; i < argc; i++) {
                int r = cli_stop_one("stop", argv[i], timeout_ms);
                if (r != CLI_EXIT_OK)
                        status = r;
        }
        return status;
}
