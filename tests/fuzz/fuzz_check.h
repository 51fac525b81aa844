/* SPDX-License-Identifier: MIT */
/*
 * What both protocol fuzzers check the same way (docs/fuzzing.md): a broken
 * promise abort()s, which libFuzzer reports as a crash and saves.
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define CHECK(cond)                                                                            \
        do {                                                                                   \
                if (!(cond)) {                                                                 \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                               \
                }                                                                              \
        } while (0)

/* A decoder's refusal returns one of these and nothing else. */
static inline void check_refusal_code(int r) {
        CHECK(r == -EBADMSG || r == -EPROTO || r == -ENOMEM);
}

/* err after a refusal: NUL-terminated inside the buffer, and not empty. */
static inline void check_reason(const RkError *err, int r) {
        CHECK(memchr(err->msg, '\0', sizeof err->msg));
        CHECK(err->code == -r);
        if (r != -ENOMEM)
                CHECK(err->msg[0] != '\0');
}

/* What an encoder returned: a NUL-terminated message within the limit. */
static inline void check_encoded(const char *buf, size_t len) {
        CHECK(buf && len == strlen(buf) && len <= PROTO_MSG_MAX);
}

/* Decoding what was just encoded (a "what": request, reply, list reply)
 * must succeed; the refused message is printed first. */
static inline void check_redecoded(int r, const RkError *err, const char *what, const char *buf) {
        if (r != 0)
                fprintf(stderr, "re-encoded %s refused (%d): %s\n%s\n", what, r, err->msg, buf);
        CHECK(r == 0);
}

/* Encoding is a function of the fields: the second encoding is the first. */
static inline void check_same_bytes(const char *buf, size_t len, const char *buf2, size_t len2) {
        CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
}
