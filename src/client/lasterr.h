/* SPDX-License-Identifier: MIT */
/* The per-thread detail text behind ROCKER_last_error(). */
#ifndef ROCKER_LASTERR_H
#define ROCKER_LASTERR_H

#include "error.h"
#include "macro.h"

void lasterr_clear(void);
_printf_(1, 2) void lasterr_set(const char *fmt, ...);
/* The text of e, which its producer and each layer above it filled and
 * wrapped with their context (error.h). */
void lasterr_set_error(const RkError *e);
const char *lasterr_get(void);

#endif
