/* SPDX-License-Identifier: MIT */
/*
 * The one error convention inside rocker (docs/errors.md): a function that
 * can fail returns an int, >= 0 on success and -errno on failure, and fills
 * the RkError its caller passed with the same errno and a message. Each
 * layer adds its context with rk_error_wrap() instead of re-formatting:
 *
 *         r = image_open(path, &id, e);
 *         if (r < 0)
 *                 return rk_error_wrap(e, "app_pkg_path");
 *
 * gives "app_pkg_path: <what image_open said>" and keeps image_open's errno.
 * The code is never re-read from errno later. Models: crun's
 * libcrun_error_t + crun_error_wrap(), systemd's log_error_errno().
 */
#ifndef ROCKER_ERROR_H
#define ROCKER_ERROR_H

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define RK_ERROR_MSG_MAX 1024  /* as long as an error text in the protocol */

/* Fixed size, no pointers: it may cross a process boundary as it is (a
 * worker's or the guard's report to rockerd). */
typedef struct RkError {
        int32_t code;                /* positive errno; 0 while nothing failed */
        char msg[RK_ERROR_MSG_MAX];  /* NUL-terminated, truncated to fit */
} RkError;

/* Fills e (which may be NULL) with code and the formatted message and
 * returns -code, so that `return rk_error(e, EINVAL, "...")` fails in one
 * step. code may be given as errno or -errno (the same code either way);
 * 0 becomes EIO, so a failure never reads as success. In fmt, "%m" is the
 * text of code (strerror(code)), not of whatever errno holds; errno is
 * left as it was. */
_printf_(3, 4)
int rk_error(RkError *e, int code, const char *fmt, ...);

/* Puts "context: " in front of e's message, keeps e's code and returns
 * -code. Call it after a callee filled e; if e holds no failure it becomes
 * EIO, and a failure without a message is described by its code's text
 * ("context: Input/output error"). NULL gives -EIO. */
_printf_(2, 3)
int rk_error_wrap(RkError *e, const char *fmt, ...);

/* Empties e (code 0, message ""). NULL is fine. */
void rk_error_clear(RkError *e);

/* True if e holds a failure. */
static inline bool rk_error_set(const RkError *e) { return e && e->code > 0; }

#endif
