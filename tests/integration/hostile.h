/* SPDX-License-Identifier: MIT */
/*
 * Hostile requests, the checks every one of them ends with, and the table
 * of refusals.
 *
 * After every hostile case (case_end()):
 *  - harness_assert_clean(): no mount, loop device, guard, rockerd fd or own
 *    fd more than at the start;
 *  - rockerd has no child left (a guard not yet named rk-* included);
 *  - a refused request created neither its data dir nor its exec dir
 *    (except a request the guard refuses: docs/data-dir.md §4 keeps the
 *    layout made before it started; such cases say guard_stage);
 *  - an existing data dir it named, and the pre-existing data dir (built by
 *    a real rocker in the group setup), are unchanged, down to modes,
 *    owners, times and file contents (inside the overlays' work dirs: names
 *    only). Library cases run twice: on fresh dirs and on that data dir.
 * Requests the library must refuse by itself (param_invalid) are sent with
 * ROCKER_SOCKET pointing at a decoy listener: no connection may reach it.
 *
 * Every refusal's text must name the field or the reason. The group
 * teardown (hostile_teardown()) prints them all as a table
 * "case | err_no | error text".
 *
 * Cases marked KNOWN DAEMON BUG fail on purpose: they show a bug in rockerd
 * that the suite reports and does not work around.
 *
 * Suites register their hostile cases with hostile_case_setup and
 * hostile_case_teardown, and use hostile_setup / hostile_teardown as the
 * group's.
 */
#ifndef ROCKER_TEST_HOSTILE_H
#define ROCKER_TEST_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rocker/rocker.h>

#include "harness.h"

void row_add(const char *name, const char *err, const char *text);

bool lexists(const char *path);

void assert_needles(const char *what, const char *text, const char *const *needles);

/* Every name, mode, owner, size, time and content under dir. Inside the
 * overlays' work dirs only names, types and link targets: overlayfs resets
 * its work dir at every mount, and it holds nothing between runs
 * (docs/data-dir.md §9). */
char *fingerprint(const char *dir);

/* rockerd still answers at once (no hang left behind by a case). */
void assert_daemon_responsive(void);

/* What every case ends with. */
void case_end(void);

int fd_track(int fd);

void fd_close(int fd);

/* Per hostile case (cmocka_unit_test_setup_teardown()): the library waits
 * 15 s for rockerd, not 30 (a hang shows as a failure in seconds); the
 * teardown closes the fds the case tracked (a failed assertion must not
 * leak them into the next cases' leak checks) and points ROCKER_SOCKET at
 * the harness' rockerd again. */
int hostile_case_setup(void **state);
int hostile_case_teardown(void **state);

#define NEEDLES(...) ((const char *const[]) { __VA_ARGS__, NULL })

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- through the library --------------------------------------------- */

enum { F_END = 0, F_PKG, F_EXEC, F_DATA, F_UID, F_GID, F_APPID, F_OV = 100 };

#define OV(i) (F_OV + (i))

#define NULLSTR ((const char *) -1)  /* sets a pointer field to NULL */

typedef struct Set {
        int field;
        const char *value;  /* tokens: {dir} {tag} {exec} {data} {img} {open} */
} Set;

typedef struct LibCase {
        const char *name;
        Set set[4];
        ROCKER_ERR want;
        const char *needles[4];
        /* Refused by the guard (step 4 of docs/data-dir.md §4): the data dir
         * layout made in step 3 stays, as documented. */
        bool guard_stage;
} LibCase;

extern bool count_data_dir_changes;

extern unsigned data_dir_changes;

void lib_cases_run(const LibCase *cases, size_t n);

#define BUILD ROCKER_ERR_build_rocker_failed

int hostile_setup(void **state);

int hostile_teardown(void **state);

#endif
