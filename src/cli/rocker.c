/* SPDX-License-Identifier: MIT */
/*
 * rocker — run, enter, list and kill rockers from a shell.
 *
 * A thin client of librocker_client: it parses the command line, makes one
 * or two library calls and turns their results into output and an exit
 * status (see cli.h and the EXIT STATUS section of rocker(1)).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <rocker/rocker.h>

#include "cli.h"

#ifndef ROCKER_VERSION
#define ROCKER_VERSION "0"
#endif

typedef struct CliVerb {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *usage;
} CliVerb;

static const CliVerb verbs[] = {
        { "run", cli_run, cli_run_usage },
        { "enter", cli_enter, cli_enter_usage },
        { "ps", cli_ps, cli_ps_usage },
        { "kill", cli_kill, cli_kill_usage },
        { "stop", cli_stop, cli_stop_usage },
};

static void help(void) {
        fputs("Usage: rocker [--help] [--version] COMMAND [ARGS...]\n"
              "\n"
              "Runs commands in rockers: sandboxes built by rockerd around an app's\n"
              "squashfs image, whose writes all land in the app's data dir.\n"
              "\n"
              "Commands:\n"
              "  run     run a command in a new rocker\n"
              "  enter   run a command in a live rocker\n"
              "  ps      list the live rockers\n"
              "  kill    signal (by default: end) a rocker\n"
              "  stop    end rockers gracefully (SIGTERM, then SIGKILL after a grace)\n"
              "  help    show the help of a command\n"
              "\n"
              "  -h, --help            show this help\n"
              "      --version         show the version\n"
              "\n"
              "Environment: ROCKER_SOCKET (rockerd's socket, default\n"
              "/run/rocker/rockerd.sock), ROCKER_TIMEOUT_MS (how long to wait for rockerd).\n"
              "Exit status: CMD's own for run and enter, 0 on success, 2 on a usage\n"
              "error, 125 if rocker failed, 126 if CMD cannot be executed, 127 if CMD is\n"
              "not found. See rocker(1).\n",
              stdout);
}

static const CliVerb *find_verb(const char *name) {
        for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

static int help_verb(int argc, char **argv) {
        const CliVerb *v;

        if (argc < 2) {
                help();
                return CLI_EXIT_OK;
        }
        v = find_verb(argv[1]);
        if (!v)
                return cli_usage_error("help", "unknown command \"%s\"", argv[1]);
        fputs(v->usage, stdout);
        return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        const CliVerb *v;
        int c;

        /* rocker words its own errors: one line each. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return CLI_EXIT_OK;
                case 'V':
                        printf("rocker %s\n", ROCKER_VERSION);
                        return CLI_EXIT_OK;
                default:
                        return cli_getopt_error("rocker", c, argv);
                }
        if (optind >= argc)
                return cli_usage_error("rocker", "no command given");

        argc -= optind;
        argv += optind;
        optind = 0;  /* a full restart of getopt for the command's own options */
        if (strcmp(argv[0], "help") == 0)
                return help_verb(argc, argv);
        v = find_verb(argv[0]);
        if (!v)
                return cli_usage_error("rocker", "unknown command \"%s\"", argv[0]);
        return v->run(argc, argv);
}
