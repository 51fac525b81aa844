/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "lasterr.h"

static __thread char last_error[RK_ERROR_MSG_MAX];

void lasterr_clear(void) {
        last_error[0] = '\0';
}

void lasterr_set_error(const RkError *e) {
        snprintf(last_error, sizeof last_error, "%s", e->msg);
}

const char *lasterr_get(void) {
        return last_error;
}
