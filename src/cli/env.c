/* SPDX-License-Identifier: MIT */
/*
 * CMD's environment. The library leaves the environment alone (the app
 * inherits its caller's); rocker, like runuser -u or systemd-run --uid,
 * gives CMD the HOME, USER, LOGNAME and SHELL of the uid it runs as, from
 * the host's passwd database, read here before the rocker is entered.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_env_add(CliEnv *env, const char *cmd, const char *arg) {
        const char *eq = strchr(arg, '=');

        if (!eq || eq == arg)
                return cli_usage_error(cmd, "--setenv \"%s\" is not NAME=VALUE", arg);
        if (env->n_set >= CLI_SETENV_MAX)
                return cli_usage_error(cmd, "at most %d --setenv", CLI_SETENV_MAX);
        env->set[env->n_set++] = arg;
        return 0;
}

int cli_env_apply(const CliEnv *env, int uid) {
        if (!env->keep) {
                char num[16];
                struct passwd *pw;

                errno = 0;
                pw = getpwuid((uid_t) uid);
                snprintf(num, sizeof num, "%d", uid);
                /* No passwd entry: what systemd gives such a uid. */
                if (setenv("HOME", pw && pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : "/", 1) < 0 ||
                    setenv("USER", pw ? pw->pw_name : num, 1) < 0 ||
                    setenv("LOGNAME", pw ? pw->pw_name : num, 1) < 0 ||
                    setenv("SHELL", pw && pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh", 1) < 0) {
                        cli_error("cannot set the environment: %s", strerror(errno));
                        return CLI_EXIT_ROCKER;
                }
        }
        for (size_t i = 0; i < env->n_set; i++) {
                const char *eq = strchr(env->set[i], '=');
                char name[256];

                if ((size_t) (eq - env->set[i]) >= sizeof name) {
                        cli_error("--setenv \"%.32s...\": name too long", env->set[i]);
                        return CLI_EXIT_USAGE;
                }
                snprintf(name, sizeof name, "%.*s", (int) (eq - env->set[i]), env->set[i]);
                if (setenv(name, eq + 1, 1) < 0) {
                        cli_error("--setenv %s: %s", name, strerror(errno));
                        return CLI_EXIT_USAGE;
                }
        }
        return 0;
}
