/* SPDX-License-Identifier: MIT */
/* rockerd's log: the journal's stderr protocol ("<N>" prefixes) under
 * systemd, plain "rockerd: " lines otherwise. Programs log, libraries don't. */
#ifndef ROCKER_LOG_H
#define ROCKER_LOG_H

#include <syslog.h>

#include "macro.h"

void log_set_max_level(int level);

/* Logs at level with errno text of error (if error != 0) available as %m,
 * and returns -abs(error) so that "return log_error_errno(r, ...)" reads as
 * one step. */
_printf_(3, 4) int log_full_errno(int level, int error, const char *fmt, ...);

#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)

#endif
