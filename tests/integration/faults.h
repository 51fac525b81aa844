/* SPDX-License-Identifier: MIT */
/*
 * What the fault and load cases watch rockerd with (its log, its state
 * dir, its live rockers, its children) and a raw launcher that speaks the
 * protocol (docs/protocol.md) by hand, to misbehave.
 */
#ifndef ROCKER_TEST_FAULTS_H
#define ROCKER_TEST_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rocker/rocker.h>

#include "harness.h"

int env_int(const char *name, int def, int min, int max);

/* rockerd's log (stderr of the harness' rockerd): a mark is its size now;
 * log_since() counts the lines written after the mark that hold needle, and
 * prints them when show is set. */
long log_mark(void);

int log_since(long mark, const char *needle, bool show);

/* rockerd's count of live rockers: rockers end on events of rockerd's own
 * (a guard reaped, an unclaimed rocker's deadline); the test sees none of
 * them, so it looks at a fixed interval, within timeout_ms. */
void wait_rockers(int want, int timeout_ms);

/* Waits (bounded) until process pid, whose name was name, is gone. A pid
 * that is gone or has another name counts as gone. */
bool wait_gone(int pid, const char *name, int timeout_ms);

void assert_state_dir_empty(void);

/* harness_assert_clean(), and no record left in rockerd's state dir. */
void assert_all_clean(void);

/* Runs a rocker for req whose app exits at once, reaps the app, kills the
 * rocker and waits for its guard to go. */
void run_once(RockerRequest *req);

/* The enter request the library would send for req (docs/protocol.md §3.1). */
void enter_json(const RockerRequest *req, char *out, size_t size);

/* These run in forked children too: no cmocka asserts, -errno on failure. */
int launcher_connect(void);

int launcher_send(int sock, const char *msg);

typedef enum { RAW_REPLY, RAW_EOF, RAW_TIMEOUT, RAW_ERROR } RawGot;

typedef struct RawReply {
        RawGot got;
        bool success;
        int pidfd;             /* the one fd that came with it, or -1 */
        int n_fds;
        int guard_pid;
        char guard_name[16];
        char body[1024];
} RawReply;

void launcher_recv(int sock, int timeout_ms, RawReply *r);

/* Reads "key=value" lines from fd until EOF into a malloc'ed text. */
char *child_report(int fd);

/* An app that waits until it is killed. */
int app_pause(void *arg);

#endif
