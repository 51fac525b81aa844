/* SPDX-License-Identifier: MIT */
/*
 * The per-thread detail text behind ROCKER_last_error(). Only the public
 * functions (rocker.c) set it, once, from the RkError that the layer which
 * failed filled and the layers above it wrapped (error.h).
 */
#ifndef ROCKER_LASTERR_H
#define ROCKER_LASTERR_H

#include "error.h"

void lasterr_clear(void);
void lasterr_set_error(const RkError *e);
const char *lasterr_get(void);

#endif
