/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;

void log_set_max_level(int level) {
        max_level = level;
}

static bool under_journal(void) {
        static int journal = -1;

        if (journal < 0)
                journal = getenv("JOURNAL_STREAM") != NULL;
        return journal;
}

static void emit(int level, const LogFields *f, char *line) {
        /* Lines quote client input: no control character may forge a new
         * line (or a "<0>" priority) in the journal. */
        for (char *p = line; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        if (f && under_journal()) {
                char fields[6][PATH_MAX > 512 ? 512 : PATH_MAX];
                struct iovec iov[8];
                int n = 0, k = 0;

                snprintf(fields[k], sizeof fields[k], "MESSAGE=%s", line);
                iov[n++] = (struct iovec) { fields[k], strlen(fields[k]) };
                k++;
                snprintf(fields[k], sizeof fields[k], "PRIORITY=%d", level);
                iov[n++] = (struct iovec) { fields[k], strlen(fields[k]) };
                k++;
                if (f->has_app_id) {
                        snprintf(fields[k], sizeof fields[k], "APP_ID=%d", f->app_id);
                        iov[n++] = (struct iovec) { fields[k], strlen(fields[k]) };
                        k++;
                }
                if (f->guard_name) {
                        snprintf(fields[k], sizeof fields[k], "GUARD_NAME=%s", f->guard_name);
                        iov[n++] = (struct iovec) { fields[k], strlen(fields[k]) };
                        k++;
                }
                if (f->guard_pid >= 0) {
                        snprintf(fields[k], sizeof fields[k], "GUARD_PID=%d", f->guard_pid);
                        iov[n++] = (struct iovec) { fields[k], strlen(fields[k]) };
                        k++;
                }
                if (f->peer_pid >= 0) {
                        snprintf(fields[k], sizeof fields[k], "PEER_PID=%d PEER_UID=%d", f->peer_pid, f->peer_uid);
                        /* two fields: split at the space */
                        char *sp = strchr(fields[k], ' ');
                        *sp = '\0';
                        iov[n++] = (struct iovec) { fields[k], strlen(fields[k]) };
                        iov[n++] = (struct iovec) { sp + 1, strlen(sp + 1) };
                }
                if (sd_journal_sendv(iov, n) >= 0)
                        return;
                /* no journal socket after all: the line still goes out */
        }
        if (under_journal())
                fprintf(stderr, "<%d>%s\n", level, line);
        else
                fprintf(stderr, "rockerd: %s\n", line);
}

int log_full_errno(int level, int error, const char *fmt, ...) {
        char line[2048];
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;
        errno = error;  /* for %m */
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        emit(level, NULL, line);
        return -error;
}

int log_struct(int level, const LogFields *f, const char *fmt, ...) {
        char line[2048];
        va_list ap;

        if (level > max_level)
                return 0;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        emit(level, f, line);
        return 0;
}
