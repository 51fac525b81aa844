/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static int max_level = LOG_INFO;

void log_set_max_level(int level) {
        max_level = level;
}

int log_full_errno(int level, int error, const char *fmt, ...) {
        static int journal = -1;
        char line[2048];
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;
        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;

        errno = error;  /* for %m */
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        /* Lines quote client input: no control character may forge a new
         * line (or a "<0>" priority) in the journal. */
        for (char *p = line; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        if (journal)
                fprintf(stderr, "<%d>%s\n", level, line);
        else
                fprintf(stderr, "rockerd: %s\n", line);
        return -error;
}
