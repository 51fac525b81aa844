/* SPDX-License-Identifier: MIT */
/*
 * The test library shared by the integration harness and the benchmark:
 * starting and stopping a private rockerd, making squashfs images, and the
 * mount table and loop devices a run must leave as it found them. No cmocka
 * here (the benchmark has none): functions return -errno, never abort.
 *
 * Mount tables are read with libmount (mnt_table, mnt_tabdiff), not with
 * sscanf: mountinfo escapes blanks in paths ("\040"), and "is this mount
 * ours" is a question about path components ("/tmp/a" holds "/tmp/a/b", not
 * "/tmp/ab": path_contains() of src/common answers it).
 */
#ifndef ROCKER_TESTLIB_H
#define ROCKER_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct libmnt_table;

/* ---- paths and processes ---------------------------------------------- */

/* Runs the printf-formatted command through /bin/sh: its exit status, or
 * -1 if it could not run or was killed. */
int testlib_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The number of lines of a file, or -errno. */
int testlib_count_lines(const char *path);

/* The number of entries of a directory but "." and "..", or -errno. */
int testlib_count_dir(const char *path);

/* Loop devices whose backing file lies under dir. */
int testlib_loops_under(const char *dir);

/* The processes whose parent is parent and whose name (/proc/PID/status
 * "Name:") starts with prefix: their number; the first max PIDs go to pids
 * (may be NULL with max 0). A walk of /proc, so that children of any of the
 * parent's threads count. */
int testlib_children_named(pid_t parent, const char *prefix, pid_t *pids, int max);

/* Whether process pid's environment (/proc/PID/environ, as its exec
 * received it) is exactly the NULL-terminated list env, in order: 1 if so;
 * 0 if not, its entries then printed to stderr; or -errno. */
int testlib_environ_is(pid_t pid, char *const env[]);

/* ---- the protocol by hand ------------------------------------------------ */

/* Waits up to timeout_ms for one datagram on sock and receives it as it
 * came, judging nothing (the raw clients watch what rockerd sends): at most
 * size - 1 bytes into buf, NUL-terminated; the fds that came with it
 * (close-on-exec) into fds[0 .. max_fds), any more closed, and all of them
 * counted in *ret_n_fds; the message's msg_flags into *ret_flags (may be
 * NULL). Returns its length (0 on EOF), -ETIME if nothing came in time, or
 * -errno from recvmsg(). *ret_n_fds and *ret_flags are set only when it
 * returns >= 0. */
ssize_t testlib_recv_raw(int sock, int timeout_ms, char *buf, size_t size, int *fds, size_t max_fds,
                         size_t *ret_n_fds, int *ret_flags);

/* ---- the mount table ----------------------------------------------------- */

/* This process's mount table (/proc/self/mountinfo), or NULL with errno
 * set. Free with testlib_mounts_free(). */
struct libmnt_table *testlib_mounts_read(void);
void testlib_mounts_free(struct libmnt_table *tab);

/* The number of mounts in tab. */
int testlib_mounts_count(struct libmnt_table *tab);

/* The number of mounts whose target is dir or lies below it. */
int testlib_mounts_under(struct libmnt_table *tab, const char *dir);

/* What changed from before to after: the number of mounts that appeared
 * (*ret_added) and went (*ret_removed), and a text naming each, one a line,
 * "+ SOURCE on TARGET type FSTYPE" or "- ..." (at most size bytes, cut
 * short with "..." when longer). A mount moved counts as both gone and
 * new; a remount or a propagation change is no change. 0 or -errno. */
int testlib_mounts_diff(struct libmnt_table *before, struct libmnt_table *after, int *ret_added, int *ret_removed,
                        char *text, size_t size);

/* Detaches (MNT_DETACH) every mount whose target lies under dir, the latest
 * first. The number of mounts detached, or -errno. */
int testlib_unmount_under(const char *dir);

/* ---- rockerd and images ----------------------------------------------- */

typedef struct TestDaemon {
        const char *rockerd;    /* the binary */
        const char *socket;     /* --socket */
        const char *state_dir;  /* --state-dir */
        const char *config;     /* --config, or NULL */
        const char *log;        /* its stdout and stderr are appended here */
        const char *notify;     /* a path for the sd_notify socket made here */
        bool debug;             /* --debug */
        int ready_timeout_ms;
} TestDaemon;

/* Starts rockerd and waits, within d->ready_timeout_ms, for its
 * sd_notify("READY=1") (sent after listen()) on a socket made at d->notify.
 * The daemon gets SIGTERM should this process die first. 0 and *ret_pid;
 * -ECHILD if it exited first (reaped), -ETIMEDOUT (still running: *ret_pid
 * is set, stop it), or -errno. */
int testlib_daemon_start(const TestDaemon *d, pid_t *ret_pid);

/* Sends sig to the daemon; if it has not exited within timeout_ms, SIGKILL.
 * Reaps it. Its wait status, or -errno. */
int testlib_daemon_stop(pid_t pid, int sig, int timeout_ms);

/* Makes the squashfs image path with mksquashfs: README holding readme,
 * bin/true (setuid root: what the mount options must neutralise). The
 * source tree is made, and removed, under workdir. 0 or -EIO. */
int testlib_make_image(const char *workdir, const char *path, const char *readme);

#endif
