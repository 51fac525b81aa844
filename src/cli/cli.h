/* SPDX-License-Identifier: MIT */
/*
 * The rocker command-line tool: shared pieces of its commands.
 *
 * Convention: a function that has already told the user what went wrong
 * returns the exit status to use (one of CLI_EXIT_*), 0 meaning "carry on".
 * Only the tool prints; everything it learns from the library comes through
 * RockerResult and ROCKER_last_error().
 */
#ifndef ROCKER_CLI_H
#define ROCKER_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include <rocker/rocker.h>

#define _cli_printf_(a, b) __attribute__((format(printf, a, b)))

/* The documented exit statuses (docs/man/rocker.1, EXIT STATUS). run and enter
 * otherwise exit with CMD's own status, 128+N if it was killed by signal N. */
enum {
        CLI_EXIT_OK = 0,
        CLI_EXIT_USAGE = 2,          /* bad command line */
        CLI_EXIT_ROCKER = 125,       /* rocker (the library or rockerd) failed */
        CLI_EXIT_CANNOT_EXEC = 126,  /* CMD found but could not be executed */
        CLI_EXIT_NOT_FOUND = 127,    /* CMD not found */
};

/* The uid/gid used when none is given: $SUDO_UID/$SUDO_GID, else nobody. */
#define CLI_NOBODY 65534

/* ---- output (args.c) ---------------------------------------------------- */

/* "rocker: <message>" on one line of stderr (control characters, newlines
 * included, are shown as '?'). */
void cli_error(const char *fmt, ...) _cli_printf_(1, 2);

/* A usage error of command cmd ("rocker" for the global level): prints
 * "rocker: <cmd>: <message> (see 'rocker <cmd> --help')" and returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) _cli_printf_(2, 3);

/* A library failure: prints "rocker: <what>: <ROCKER_last_error()>" (the name
 * of err if the library left no text) and returns CLI_EXIT_ROCKER. */
int cli_lib_error(ROCKER_ERR err, const char *fmt, ...) _cli_printf_(2, 3);

/* Reports a getopt_long() failure ('?' or ':') of command cmd; returns
 * CLI_EXIT_USAGE. */
int cli_getopt_error(const char *cmd, int c, char *const argv[]);

/* ---- argument parsing (args.c) ------------------------------------------ */

/* A whole decimal number in [min, max]; -EINVAL / -ERANGE otherwise. */
int cli_parse_int(const char *s, long long min, long long max, long long *ret);

/* --uid: a number or a user name; for a name, *ret_gid (if not NULL) gets the
 * user's primary group. --gid: a number or a group name. */
int cli_parse_uid(const char *s, int *ret_uid, int *ret_gid);
int cli_parse_gid(const char *s, int *ret_gid);

/* The default ids: $SUDO_UID / $SUDO_GID when set and valid, else nobody. */
void cli_default_ids(int *ret_uid, int *ret_gid);

/* A signal as a number ("9") or a name with or without "SIG", any case
 * ("KILL", "sigterm"). */
int cli_parse_signal(const char *s, int *ret_sig);

/* s made absolute (relative to the current directory) and normalised
 * lexically: no ".", "..", repeated or trailing '/'. Symlinks are not
 * resolved. *ret is malloc()ed. -errno on failure. */
int cli_path_normalize(const char *s, char **ret);

/* ---- running a command in a rocker (spawn.c) ---------------------------- */

typedef struct CliCommand {
        char **argv;          /* NULL-terminated, argv[0] is looked up in $PATH */
        sigset_t saved_mask;  /* restored in the app before exec */
        int pty_master;       /* -t: the pty rocker relays, or -1 (pty.c) */
        int pty_slave;        /* ...its other end: CMD's terminal, or -1 */
} CliCommand;

/* -t: a pseudo-terminal for CMD, of its own (its controlling terminal, not
 * rocker's: nothing CMD does reaches rocker's terminal but its output). The
 * size and modes are taken from rocker's stdin if that is a terminal. 0, or
 * an exit status with the error printed. */
int cli_pty_open(CliCommand *cmd);

/* In the app process, before exec: the pty becomes its stdin, stdout,
 * stderr and controlling terminal. -errno. */
int cli_pty_attach(const CliCommand *cmd);

/* Like cli_spawn_wait(), relaying rocker's stdin to the pty and the pty to
 * rocker's stdout, with rocker's terminal in raw mode meanwhile (so Ctrl-C
 * is CMD's), and window-size changes passed on. */
int cli_pty_wait(CliCommand *cmd, pid_t app_pid);

/* Blocks the signals rocker forwards to CMD (and SIGCHLD, to wait for it),
 * before the rocker is built, so none is lost or acts on rocker itself
 * meanwhile. The previous mask goes to cmd->saved_mask. */
void cli_spawn_prepare(CliCommand *cmd);

/* The callback for ROCKER_enter_rocker()/ROCKER_join_rocker(): runs in the
 * app process; execs cmd->argv, or prints why not and returns 127 (not found)
 * or 126 (not executable). */
int cli_spawn_exec(void *cmd);

/* Waits for app_pid, forwarding the blocked signals to it (to its process
 * group). Returns CMD's exit status, 128+N for a death by signal N, or
 * CLI_EXIT_ROCKER after printing why the wait failed. */
int cli_spawn_wait(pid_t app_pid);

/* ---- CMD made by rockerd, for a non-root caller (spawned.c) ---------------- */

/* argv (size entries) for CMD as rockerd runs it: through sh -c 'exec' when
 * CMD has no slash, so that the rocker's PATH finds it. 0 or -E2BIG. */
int cli_spawned_argv(char **cmd, const char **argv, size_t size);
/* Blocks the forwarded signals (before the spawn: none is lost). */
void cli_spawned_block(sigset_t *ret_old);
/* Forwards them to app_pid's group until handle says CMD has ended,
 * restores old, closes handle; CMD's status as cli_spawn_wait(). */
int cli_spawned_wait(int handle, pid_t app_pid, const sigset_t *old);

/* ---- CMD's environment (env.c) ------------------------------------------ */

#define CLI_SETENV_MAX 64

typedef struct CliEnv {
        bool keep;                         /* --keep-env: HOME... stay the caller's */
        const char *set[CLI_SETENV_MAX];   /* --setenv NAME=VALUE, in order */
        size_t n_set;
} CliEnv;

/* Records a --setenv argument; 0 or the usage error's exit status. */
int cli_env_add(CliEnv *env, const char *cmd, const char *arg);

/* Sets rocker's own environment, which CMD inherits: HOME, USER, LOGNAME
 * and SHELL from uid's passwd entry (HOME=/, USER=LOGNAME=<uid>,
 * SHELL=/bin/sh without one) unless env->keep, then each --setenv. 0 or the
 * exit status after printing why not. */
int cli_env_apply(const CliEnv *env, int uid);

/* ---- guards (guard.c) --------------------------------------------------- */

/* Resolves a GUARD argument of command cmd: a guard name (looked up with
 * ROCKER_list_rockers()) or a pid (name read with ROCKER_get_guardname(),
 * must start with "rk-"). Returns 0 and fills ret_pid/ret_name, or the exit
 * status after printing why not. */
int cli_guard_resolve(const char *cmd, const char *arg, int *ret_pid, char ret_name[16]);

/* ---- the commands --------------------------------------------------------- */

int cli_run(int argc, char **argv);
int cli_enter(int argc, char **argv);
int cli_ps(int argc, char **argv);
int cli_kill(int argc, char **argv);
int cli_stop(int argc, char **argv);

/* Resolves GUARD argument arg and stops that rocker with
 * ROCKER_stop_rocker() (timeout_ms < 0: its own grace). 0 or the exit
 * status after printing why not. */
int cli_stop_one(const char *cmd, const char *arg, int timeout_ms);

extern const char cli_run_usage[];
extern const char cli_enter_usage[];
extern const char cli_ps_usage[];
extern const char cli_kill_usage[];
extern const char cli_stop_usage[];

#endif
