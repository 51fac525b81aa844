/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static int normalise(int code) {
        if (code < 0)
                code = -code;
        return code > 0 ? code : EIO;
}

int rk_error(RkError *e, int code, const char *fmt, ...) {
        va_list ap;
        int saved = errno;

        code = normalise(code);
        if (!e)
                return -code;
        e->code = code;
        /* "%m" in fmt is the text of code (glibc reads errno for it) */
        errno = code;
        va_start(ap, fmt);
        if (vsnprintf(e->msg, sizeof e->msg, fmt, ap) < 0)
                e->msg[0] = '\0';
        va_end(ap);
        errno = saved;
        return -code;
}

/* Copies s to buf + n as far as it fits (buf stays NUL-terminated); the
 * new length. */
static size_t append(char *buf, size_t size, size_t n, const char *s) {
        size_t len = strlen(s);

        if (n >= size - 1)
                return n;
        if (len > size - 1 - n)
                len = size - 1 - n;
        memcpy(buf + n, s, len);
        buf[n + len] = '\0';
        return n + len;
}

int rk_error_wrap(RkError *e, const char *fmt, ...) {
        char context[RK_ERROR_MSG_MAX], inner[RK_ERROR_MSG_MAX];
        va_list ap;
        int saved = errno;

        if (!e)
                return -EIO;
        e->code = normalise(e->code);
        errno = e->code;
        va_start(ap, fmt);
        if (vsnprintf(context, sizeof context, fmt, ap) < 0)
                context[0] = '\0';
        va_end(ap);
        errno = saved;

        /* the message is copied first: it is both a source and the target */
        memcpy(inner, e->msg, sizeof inner);
        inner[sizeof inner - 1] = '\0';
        /* a failure without a message is described by its code */
        if (!inner[0])
                snprintf(inner, sizeof inner, "%s", strerror(e->code));
        if (context[0]) {
                size_t n = 0;

                n = append(e->msg, sizeof e->msg, n, context);
                if (inner[0]) {
                        n = append(e->msg, sizeof e->msg, n, ": ");
                        (void) append(e->msg, sizeof e->msg, n, inner);
                }
        }
        return -e->code;
}

void rk_error_clear(RkError *e) {
        if (!e)
                return;
        e->code = 0;
        e->msg[0] = '\0';
}
