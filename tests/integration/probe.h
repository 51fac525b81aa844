/* SPDX-License-Identifier: MIT */
/*
 * Apps that report from inside a rocker: a Probe names the pipe they say
 * "key=value" lines on (report_say()); probe_run() runs one and collects
 * its report and wait status. Shared by the suites whose cases came from the
 * end-to-end suite.
 */
#ifndef ROCKER_TEST_PROBE_H
#define ROCKER_TEST_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rocker/rocker.h>

#include "harness.h"

typedef struct Probe {
        int fd;                 /* the report pipe's write end */
        const char *exec_dir;
        const char *open_dir;   /* an overlaid host dir, mode 0777 */
        const char *tag;        /* unique per case: names the files written */
        pid_t host_pid;         /* the test process, as the host sees it */
        int ret;                /* what the callback returns */
} Probe;

int write_file(const char *path, const char *content);

/* Runs fn in a rocker built from req; returns the result, fills *ret_report
 * with what the app said and *ret_status with its wait status. */
RockerResult probe_run(RockerRequest *req, int (*fn)(void *), Probe *probe, char **ret_report, int *ret_status);

bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int probe_exit(void *arg);

long long mono_ns(void);

int probe_counter(void *arg);

int probe_wait_for_close(void *arg);

int probe_nothing(void *arg);

#endif
