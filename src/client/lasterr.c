/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "lasterr.h"
#include "proto.h"

static __thread char last_error[PROTO_ERROR_MAX + 128];

void lasterr_clear(void) {
        last_error[0] = '\0';
}

void lasterr_set(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(last_error, sizeof last_error, fmt, ap);
        va_end(ap);
}

void lasterr_set_error(const RkError *e) {
        lasterr_set("%s", e->msg);
}

const char *lasterr_get(void) {
        return last_error;
}
