/* SPDX-License-Identifier: MIT */
/* Output and command-line parsing helpers of the rocker tool. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <rocker/rocker.h>

#include "cli.h"

/* Everything rocker says about an error fits on one line, whatever the text
 * it quotes (a path, the daemon's reason) holds. */
static void print_line(const char *prefix, const char *text, const char *suffix) {
        fputs("rocker: ", stderr);
        fputs(prefix, stderr);
        for (const unsigned char *p = (const unsigned char *) text; *p; p++)
                fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
        fputs(suffix, stderr);
        fputc('\n', stderr);
}

void cli_error(const char *fmt, ...) {
        char buf[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        print_line("", buf, "");
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
        char buf[1024], prefix[64], suffix[96];
        bool global = strcmp(cmd, "rocker") == 0;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        snprintf(prefix, sizeof prefix, "%s%s", global ? "" : cmd, global ? "" : ": ");
        snprintf(suffix, sizeof suffix, " (see 'rocker%s%s --help')", global ? "" : " ", global ? "" : cmd);
        print_line(prefix, buf, suffix);
        return CLI_EXIT_USAGE;
}

int cli_lib_error(ROCKER_ERR err, const char *fmt, ...) {
        const char *why = ROCKER_last_error();
        char what[1024], line[3072];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (!why || !*why)
                why = ROCKER_strerror(err);
        snprintf(line, sizeof line, "%s: %s", what, why);
        print_line("", line, "");
        return CLI_EXIT_ROCKER;
}

int cli_getopt_error(const char *cmd, int c, char *const argv[]) {
        const char *arg = optind > 0 ? argv[optind - 1] : "";
        bool is_long = strncmp(arg, "--", 2) == 0;

        if (c == ':') {
                if (is_long)
                        return cli_usage_error(cmd, "option '%.*s' needs an argument",
                                               (int) strcspn(arg, "="), arg);
                return cli_usage_error(cmd, "option '-%c' needs an argument", optopt);
        }
        if (optopt && !is_long)
                return cli_usage_error(cmd, "unknown option '-%c'", optopt);
        return cli_usage_error(cmd, "unknown or ambiguous option '%s'", arg);
}

int cli_parse_int(const char *s, long long min, long long max, long long *ret) {
        char *end;
        long long v;

        /* strtoll would take leading blanks and a sign: "- 1", " 7" are typos. */
        if (!s || !*s || !(isdigit((unsigned char) s[0]) || (s[0] == '-' && isdigit((unsigned char) s[1]))))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (*end)
                return -EINVAL;
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int cli_parse_uid(const char *s, int *ret_uid, int *ret_gid) {
        struct passwd *pw;
        long long v;

        if (isdigit((unsigned char) s[0])) {
                if (cli_parse_int(s, 0, INT_MAX, &v) < 0)
                        return -EINVAL;
                *ret_uid = (int) v;
                return 0;
        }
        errno = 0;
        pw = getpwnam(s);
        if (!pw)
                return errno ? -errno : -ENOENT;
        if (pw->pw_uid > INT_MAX || pw->pw_gid > INT_MAX)
                return -ERANGE;
        *ret_uid = (int) pw->pw_uid;
        if (ret_gid)
                *ret_gid = (int) pw->pw_gid;
        return 0;
}

int cli_parse_gid(const char *s, int *ret_gid) {
        struct group *gr;
        long long v;

        if (isdigit((unsigned char) s[0])) {
                if (cli_parse_int(s, 0, INT_MAX, &v) < 0)
                        return -EINVAL;
                *ret_gid = (int) v;
                return 0;
        }
        errno = 0;
        gr = getgrnam(s);
        if (!gr)
                return errno ? -errno : -ENOENT;
        if (gr->gr_gid > INT_MAX)
                return -ERANGE;
        *ret_gid = (int) gr->gr_gid;
        return 0;
}

static int env_id(const char *name) {
        const char *s = getenv(name);
        long long v;

        if (s && cli_parse_int(s, 0, INT_MAX, &v) == 0)
                return (int) v;
        return CLI_NOBODY;
}

void cli_default_ids(int *ret_uid, int *ret_gid) {
        *ret_uid = env_id("SUDO_UID");
        *ret_gid = env_id("SUDO_GID");
}

int cli_parse_signal(const char *s, int *ret_sig) {
        long long v;

        if (isdigit((unsigned char) s[0])) {
                if (cli_parse_int(s, 0, _NSIG - 1, &v) < 0)
                        return -EINVAL;
                *ret_sig = (int) v;
                return 0;
        }
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (int sig = 1; sig < _NSIG; sig++) {
                const char *name = sigabbrev_np(sig);

                if (name && strcasecmp(name, s) == 0) {
                        *ret_sig = sig;
                        return 0;
                }
        }
        return -EINVAL;
}

int cli_path_normalize(const char *s, char **ret) {
        char *full = NULL, *out, *save = NULL;
        size_t len = 0;

        if (!s || !*s)
                return -EINVAL;
        if (s[0] == '/')
                full = strdup(s);
        else {
                char *cwd = getcwd(NULL, 0);

                if (!cwd)
                        return -errno;
                if (asprintf(&full, "%s/%s", cwd, s) < 0)
                        full = NULL;
                free(cwd);
        }
        if (!full)
                return -ENOMEM;
        out = malloc(strlen(full) + 2);
        if (!out) {
                free(full);
                return -ENOMEM;
        }
        /* Components are appended as "/name"; ".." drops the last one. */
        for (char *c = strtok_r(full, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (strcmp(c, ".") == 0)
                        continue;
                if (strcmp(c, "..") == 0) {
                        while (len > 0 && out[len - 1] != '/')
                                len--;
                        if (len > 0)
                                len--;
                        continue;
                }
                out[len++] = '/';
                memcpy(out + len, c, strlen(c));
                len += strlen(c);
        }
        if (len == 0)
                out[len++] = '/';
        out[len] = '\0';
        free(full);
        *ret = out;
        return 0;
}
