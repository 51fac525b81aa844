/* SPDX-License-Identifier: MIT */
/* The per-thread detail text behind ROCKER_last_error(). */
#ifndef ROCKER_LASTERR_H
#define ROCKER_LASTERR_H

#include "macro.h"

void lasterr_clear(void);
_printf_(1, 2) void lasterr_set(const char *fmt, ...);
const char *lasterr_get(void);

#endif
