/* SPDX-License-Identifier: MIT */
/* GUARD arguments: a guard name or a guard's pid. */
#include <limits.h>
#include <string.h>

#include <rocker/rocker.h>

#include "cli.h"

#define GUARD_PREFIX "rk-"

static int resolve_pid(const char *cmd, const char *arg, int *ret_pid, char ret_name[16]) {
        RockerResult res;
        long long pid;

        if (cli_parse_int(arg, 1, INT_MAX, &pid) < 0)
                return cli_usage_error(cmd, "\"%s\" is not a valid pid", arg);
        res = ROCKER_get_guardname((int) pid);
        if (res.err_no != ROCKER_ERR_success)
                return cli_lib_error(res.err_no, "%s", cmd);  /* the text names the pid */
        /* Only a name check is possible without rockerd; the library checks
         * the name again, through a pidfd, when it signals or joins. */
        if (strncmp(res.guard_pname, GUARD_PREFIX, strlen(GUARD_PREFIX)) != 0) {
                cli_error("%s: pid %lld: not a rocker guard (its name is \"%.15s\")", cmd, pid, res.guard_pname);
                return CLI_EXIT_ROCKER;
        }
        *ret_pid = (int) pid;
        memcpy(ret_name, res.guard_pname, 16);
        ret_name[15] = '\0';
        return 0;
}

static int resolve_name(const char *cmd, const char *arg, int *ret_pid, char ret_name[16]) {
        RockerInfo *list = NULL;
        RockerResult res;
        int n = 0, found = -1;

        res = ROCKER_list_rockers(&list, &n);
        if (res.err_no != ROCKER_ERR_success)
                return cli_lib_error(res.err_no, "%s: cannot list the rockers", cmd);
        for (int i = 0; i < n && found < 0; i++)
                if (strlen(arg) < sizeof list[i].guard_pname &&
                    strncmp(list[i].guard_pname, arg, sizeof list[i].guard_pname) == 0)
                        found = i;
        if (found < 0) {
                ROCKER_free_rockers(list, n);
                cli_error("%s: %s: no such rocker", cmd, arg);
                return CLI_EXIT_ROCKER;
        }
        *ret_pid = list[found].guard_pid;
        memcpy(ret_name, list[found].guard_pname, 16);
        ret_name[15] = '\0';
        ROCKER_free_rockers(list, n);
        return 0;
}

int cli_guard_resolve(const char *cmd, const char *arg, int *ret_pid, char ret_name[16]) {
        if (arg[0] >= '0' && arg[0] <= '9')
                return resolve_pid(cmd, arg, ret_pid, ret_name);
        if (strncmp(arg, GUARD_PREFIX, strlen(GUARD_PREFIX)) == 0)
                return resolve_name(cmd, arg, ret_pid, ret_name);
        return cli_usage_error(cmd, "\"%s\" is neither a guard name (" GUARD_PREFIX "...) nor a pid", arg);
}
