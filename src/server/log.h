/* SPDX-License-Identifier: MIT */
/* rockerd's log: the journal's stderr protocol ("<N>" prefixes) under
 * systemd, plain "rockerd: " lines otherwise. Programs log, libraries don't. */
#ifndef ROCKER_LOG_H
#define ROCKER_LOG_H

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

void log_set_max_level(int level);

/* Logs at level with errno text of error (if error != 0) available as %m,
 * and returns -abs(error) so that "return log_error_errno(r, ...)" reads as
 * one step. */
_printf_(3, 4) int log_full_errno(int level, int error, const char *fmt, ...);

/* Fields that make a line findable in the journal (journalctl APP_ID=1000,
 * GUARD_NAME=rk-…): a field is sent when set (name non-NULL, numbers >= 0). */
typedef struct LogFields {
        int app_id;             /* sent when has_app_id */
        bool has_app_id;
        const char *guard_name;
        int guard_pid;
        int peer_pid;
        int peer_uid;
} LogFields;

#define LOG_FIELDS_NONE ((LogFields) { .guard_pid = -1, .peer_pid = -1, .peer_uid = -1 })

/* log_full_errno() with structured fields. Under systemd (JOURNAL_STREAM set)
 * the line goes to the journal with them (sd_journal_sendv); on stderr they
 * are left out, the text says it all. */
_printf_(3, 4) int log_struct(int level, const LogFields *f, const char *fmt, ...);

#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)

#endif
