/* SPDX-License-Identifier: MIT */
/*
 * The integration harness: a private temporary directory, real squashfs
 * images made with mksquashfs, a real rockerd on a private socket, and a
 * snapshot of what must come back to baseline after every case (mounts, loop
 * devices, guards, rockerd's fds and children, our own fds).
 */
#ifndef ROCKER_TEST_HARNESS_H
#define ROCKER_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <rocker/rocker.h>

#include "testlib.h"

typedef struct Snapshot {
        int mounts;        /* mounts in our mount table (rockerd shares our
                            * mount ns); the leak check compares the tables
                            * themselves too (H.baseline_mounts) */
        int loops;         /* image mounts: bound loop devices of ours, and
                            * squashfuse processes of our rockerd */
        int guards;        /* processes named rk-* */
        int daemon_fds;    /* rockerd's open fds */
        int own_fds;       /* this process's open fds */
} Snapshot;

typedef struct Harness {
        char dir[64];          /* /tmp/rocker-it.XXXXXX */
        char socket[128];
        char image[128];       /* a valid image: README ("image v1"), bin/ */
        char image_v2[128];    /* the same with README "image v2" */
        char bad_image[128];   /* random bytes */
        char open_dir[128];    /* a host dir, mode 0777, to overlay */
        char ro_dir[128];      /* a host dir, mode 0777, neither overlaid nor shared */
        char config[320];      /* passed as --config when set */
        char base_config[320]; /* the suite's own (the image backend), or "" */
        pid_t daemon;
        Snapshot baseline;
        struct libmnt_table *baseline_mounts;  /* the mount table at the start */
        long long clean_bound_ms;  /* the leak check's bound; 0: CLEAN_BOUND_MS */
} Harness;

extern Harness H;

/* Test group setup/teardown (cmocka signatures). */
int harness_setup(void **state);
int harness_teardown(void **state);

/* rockerd: start on H.socket and wait until it accepts; stop by PID. */
int harness_start_daemon(void);
/* Starts rockerd again and re-takes its fd baseline, knowing that
 * live_rockers rockers of the earlier daemon are alive (and adopted). */
int harness_restart_daemon(int live_rockers);
/* Returns rockerd's wait status. */
int harness_stop_daemon(int sig);
/* Stops rockerd (SIGTERM), asserting it exited 0, and starts it again on
 * the config file named by the printf-formatted path (H.base_config to go
 * back to the suite's own), asserting it started. */
void harness_restart_with_config(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The ImageBackend= a config written by a case names: the suite's
 * ROCKER_TEST_BACKEND, or "auto". */
const char *harness_backend(void);

void snapshot_take(Snapshot *s);
bool snapshot_equal(const Snapshot *a, const Snapshot *b);
/* Waits (bounded) until the snapshot equals the baseline and the mount
 * table is the baseline's (libmount's tabdiff: the same mounts, not only as
 * many); fails the test with the difference if it does not, naming every
 * mount that appeared or went (source, target, file system type). */
void harness_assert_clean(void);
/* The same, with extra_mounts mounts more than the baseline allowed (a file
 * system the case mounted itself). */
void harness_assert_clean_but(int extra_mounts);
/* Fails the test, naming every mount that appeared or went, unless our
 * mount table now holds the same mounts as before (taken with
 * testlib_mounts_read()). Looks once: for a state the case has waited for. */
void harness_assert_mounts_as(struct libmnt_table *before);

/* A request on the harness' paths: image, exec dir <dir>/exec/<tag>, data
 * dir <dir>/data/<tag>, overlays: the seed's five and H.open_dir. */
RockerRequest harness_request(const char *tag, char *buf, size_t size);

/* Kills a guard by pidfd (name checked) and waits until it is gone. */
void harness_kill_guard(const RockerResult *res);

/* The squashfuse processes rockerd runs: their number; the first max PIDs
 * go to pids. */
int harness_squashfuse_pids(pid_t *pids, int max);

/* The test library's, under the names the suites use (testlib.h). */
#define harness_count_lines testlib_count_lines
#define harness_sh testlib_sh

/* Two live overlays on one upper dir make the kernel warn "overlayfs:
 * upperdir is in-use". harness_kmsg_mark() writes a unique mark into the
 * kernel log (mark: 64 bytes); harness_overlay_warnings_since() counts those
 * warnings after it, or returns -1 when the mark has rotated out of the
 * ring buffer or the log cannot be read. A count from a mark, not a
 * difference of totals: the ring buffer drops old lines. */
void harness_kmsg_mark(char *mark);
int harness_overlay_warnings_since(const char *mark);

/* Reads all of fd into a malloc'ed NUL-terminated string. */
char *read_all(int fd);

/* A report: what a probe inside a rocker tells the test, one "key=value"
 * line each, written to a pipe and read with read_all(). */
/* Writes one printf-formatted line (cut at 1 KiB) to fd. */
void report_say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The value following "key=" on its own line in text, or NULL (malloc'ed). */
char *report_get(const char *text, const char *key);
/* The value of key as an int, or def when it is missing. */
int report_int(const char *text, const char *key, int def);
/* Fails the test, printing the whole report, unless key's value is want
 * (report_expect) / is there and is not unwanted (report_expect_not). */
void report_expect(const char *report, const char *key, const char *want);
void report_expect_not(const char *report, const char *key, const char *unwanted);

/* docs/protocol.md §2 and src/common/proto.h: one datagram, at most 64 KiB */
#define MSG_MAX (64 * 1024)

/* CLOCK_MONOTONIC in milliseconds. */
long long mono_ms(void);

/* How long the leak checks look for what goes away with no event to wait
 * on (a loop device released after its last unmount, a state file): a bound
 * of time, so that a slow machine gets as long as a fast one. */
#define CLEAN_BOUND_MS 30000

/* rockerd's count of live rockers (ROCKER_list_rockers()); fails the test
 * if it cannot list them. */
int count_rockers(void);

/* An app that exits 0 at once. */
int app_exit0(void *arg);

/* ROCKER_spawn_rocker() with the app's stdout and stderr into one pipe and
 * its stdin from stdin_fd (-1: /dev/null): the pipe's read end goes to
 * *ret_out (-1 on failure), the wait handle to *ret_handle. Our copies of
 * the app's ends are closed, so the output reaches EOF when the app is
 * gone. No cmocka assertion: forked children (another user's) call it too;
 * a pipe that cannot be made is ROCKER_ERR_sys. */
RockerResult harness_spawn_piped(RockerRequest *req, const char *const argv[], const char *const envp[],
                                 int stdin_fd, int *ret_out, int *ret_handle);
/* Collects a spawned rocker: waits (ROCKER_wait_rocker()) for its status
 * into *ret_status, closes the handle, reads the app's output to EOF into
 * *ret_output (malloc'ed) and closes out. Returns the wait's result. */
RockerResult harness_spawn_collect(int handle, int out, int *ret_status, char **ret_output);

/* The integration suites' main(): runs tests[0..n) as the cmocka group
 * name with setup and teardown. ROCKER_TEST_FILTER picks cases by name
 * (a cmocka pattern, * wildcards). In the registered squashfuse variant
 * (ctest's integration/<suite>-squashfuse sets ROCKER_TEST_VARIANT=squashfuse)
 * the cases named in not_on_squashfuse (NULL-terminated, or NULL) are left
 * out; ROCKER_TEST_BACKEND=squashfuse by hand runs them all. Returns 77 (skipped) unless
 * root, else cmocka's result. */
struct CMUnitTest;
int harness_run_suite(const char *name, const struct CMUnitTest *tests, size_t n,
                      const char *const *not_on_squashfuse, int (*setup)(void **state),
                      int (*teardown)(void **state));

#endif
