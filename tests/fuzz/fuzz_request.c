/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: proto_decode_request(), the first code in rockerd that
 * reads bytes a client chose (docs/fuzzing.md).
 *
 * Besides the sanitizers' own findings, every input is checked against the
 * decoder's contract in proto.h:
 *  - a refusal returns -EBADMSG, -EPROTO or -ENOMEM, leaves *ret untouched
 *    and (but for -ENOMEM) writes a NUL-terminated reason into err;
 *  - an accepted request respects the limits the decoder promises (paths of
 *    1 … PROTO_PATH_MAX bytes, at most PROTO_OVERLAY_MAX overlay dirs, uid
 *    and gid in [0, INT32_MAX - 1], a list offset >= 0);
 *  - encoding the decoded request and decoding it again gives the same
 *    fields, and encoding that gives the same bytes;
 *  - path_check() agrees with a plain reference of the rules in
 *    docs/protocol.md §3.1, and path_escape() of a path is injective (it
 *    unescapes back to the path), printable, fits exactly when it says so,
 *    and never writes past the size it is given.
 * A broken promise abort()s, which libFuzzer reports as a crash and saves.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "proto.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The largest path_escape() output: every byte as "\xNN". */
#define ESCAPE_MAX (4 * PROTO_PATH_MAX + 1)
/* The size rockerd gives path_escape(): a directory name (NAME_MAX + 1). */
#define ESCAPE_NAME_SIZE 256

/* docs/protocol.md §3.1, written out the plain way. */
static bool path_ok_reference(const char *p, size_t max) {
        size_t len = strlen(p), start;

        if (len == 0 || len > max || p[0] != '/')
                return false;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f)
                        return false;
        if (len == 1)
                return true;
        /* Each component runs from after a '/' to the next '/' or the end. */
        start = 1;
        for (size_t i = 1; i <= len; i++) {
                if (i < len && p[i] != '/')
                        continue;
                size_t n = i - start;
                if (n == 0)
                        return false;  /* "//" or a trailing '/' */
                if ((n == 1 && p[start] == '.') || (n == 2 && p[start] == '.' && p[start + 1] == '.'))
                        return false;
                start = i + 1;
        }
        return true;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* The inverse of path_escape(); -1 on a sequence it never writes. */
static int unescape(const char *esc, char *out, size_t size) {
        size_t o = 0;

        for (const char *s = esc; *s; ) {
                int c;

                if (*s == '-') {
                        c = '/';
                        s++;
                } else if (*s == '\\') {
                        int hi, lo;
                        if (s[1] != 'x' || (hi = hexval(s[2])) < 0 || (lo = hexval(s[3])) < 0)
                                return -1;
                        c = hi * 16 + lo;
                        s += 4;
                } else
                        c = (unsigned char) *s++;
                if (o + 1 >= size)
                        return -1;
                out[o++] = (char) c;
        }
        out[o] = '\0';
        return 0;
}

static void check_path(const char *path) {
        const char *reason = NULL;
        char *big, *small, *back;
        size_t len = strlen(path), esc_len;
        int r;

        /* The decoder's own promise. */
        CHECK(len >= 1 && len <= PROTO_PATH_MAX);

        r = path_check(path, PROTO_PATH_MAX, &reason);
        CHECK(r == 0 || r == -EINVAL);
        CHECK(r == 0 || reason != NULL);
        CHECK((r == 0) == path_ok_reference(path, PROTO_PATH_MAX));
        if (r == 0) {
                /* A normalised path is inside "/" and inside itself. */
                CHECK(path_contains("/", path));
                CHECK(path_contains(path, path));
        }

        /* Heap blocks of the exact size, so that ASan sees a write past it. */
        big = malloc(ESCAPE_MAX);
        small = malloc(ESCAPE_NAME_SIZE);
        back = malloc(PROTO_PATH_MAX + 2);
        CHECK(big && small && back);

        CHECK(path_escape(path, big, ESCAPE_MAX) == 0);
        esc_len = strlen(big);
        for (size_t i = 0; i < esc_len; i++) {
                unsigned char c = (unsigned char) big[i];
                CHECK(c > 0x20 && c < 0x7f && c != '/');
        }
        /* Injective: the name gives the path back (less its leading '/'). */
        CHECK(unescape(big, back, PROTO_PATH_MAX + 2) == 0);
        CHECK(strcmp(back, path[0] == '/' ? path + 1 : path) == 0);
        /* A normalised path never escapes to "." or "..". */
        if (r == 0)
                CHECK(strcmp(big, ".") != 0 && strcmp(big, "..") != 0);

        r = path_escape(path, small, ESCAPE_NAME_SIZE);
        if (esc_len < ESCAPE_NAME_SIZE) {
                CHECK(r == 0);
                CHECK(strcmp(small, big) == 0);
        } else
                CHECK(r == -ENAMETOOLONG);

        free(big);
        free(small);
        free(back);
}

static void check_enter_limits(const ProtoEnter *e) {
        CHECK(e->uid >= 0 && e->uid <= INT32_MAX - 1);
        CHECK(e->gid >= 0 && e->gid <= INT32_MAX - 1);
        CHECK(e->pkg_path && e->exec_dir && e->data_dir);
        CHECK(e->n_overlay_dirs <= PROTO_OVERLAY_MAX);
        for (size_t i = 0; i < e->n_overlay_dirs; i++)
                CHECK(e->overlay_dirs[i]);
}

static void check_enter_equal(const ProtoEnter *a, const ProtoEnter *b) {
        CHECK(a->app_id == b->app_id);
        CHECK(a->uid == b->uid);
        CHECK(a->gid == b->gid);
        CHECK(strcmp(a->pkg_path, b->pkg_path) == 0);
        CHECK(strcmp(a->exec_dir, b->exec_dir) == 0);
        CHECK(strcmp(a->data_dir, b->data_dir) == 0);
        CHECK(a->n_overlay_dirs == b->n_overlay_dirs);
        for (size_t i = 0; i < a->n_overlay_dirs; i++)
                CHECK(strcmp(a->overlay_dirs[i], b->overlay_dirs[i]) == 0);
}

/* Encodes req, decodes the message again and checks that it is req. */
static void round_trip(const ProtoRequest *req) {
        ProtoRequest again = {};
        RkError err = {};
        char *buf = NULL, *buf2 = NULL;
        size_t len = 0, len2 = 0;
        int r;

        switch (req->kind) {
        case PROTO_ENTER:
                r = proto_encode_enter(&req->enter, &buf, &len);
                break;
        case PROTO_LIST:
                r = proto_encode_list(req->offset, &buf, &len);
                break;
        case PROTO_ACK:
                r = proto_encode_ack(&buf, &len);
                break;
        default:
                CHECK(!"unknown request kind");
                return;
        }
        /* The decoded strings came out of jansson: valid UTF-8, no NUL, so
         * nothing but the size limit may stop the encoder. */
        if (r == -EMSGSIZE)
                return;
        CHECK(r == 0);
        check_encoded(buf, len);

        r = proto_decode_request(buf, len, &again, &err);
        check_redecoded(r, &err, "request", buf);
        CHECK(again.kind == req->kind);
        if (req->kind == PROTO_ENTER) {
                check_enter_equal(&req->enter, &again.enter);
                /* The encoding of a request is a function of its fields. */
                CHECK(proto_encode_enter(&again.enter, &buf2, &len2) == 0);
                check_same_bytes(buf, len, buf2, len2);
        } else if (req->kind == PROTO_LIST)
                CHECK(again.offset == req->offset);

        proto_request_done(&again);
        free(buf);
        free(buf2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProtoRequest req, before;
        RkError err = {};
        int r;

        /* A pattern in *ret and err shows what a refusal wrote. libFuzzer's
         * data is a heap block of exactly size bytes with no NUL after it:
         * a read past len is an ASan report. */
        memset(&req, 0xa5, sizeof req);
        before = req;
        memset(&err, 'E', sizeof err);

        r = proto_decode_request((const char *) data, size, &req, &err);
        if (r < 0) {
                check_refusal_code(r);
                CHECK(memcmp(&req, &before, sizeof req) == 0);
                check_reason(&err, r);
                return 0;
        }
        CHECK(r == 0);

        switch (req.kind) {
        case PROTO_ENTER:
                check_enter_limits(&req.enter);
                check_path(req.enter.pkg_path);
                check_path(req.enter.exec_dir);
                check_path(req.enter.data_dir);
                for (size_t i = 0; i < req.enter.n_overlay_dirs; i++)
                        check_path(req.enter.overlay_dirs[i]);
                break;
        case PROTO_LIST:
                CHECK(req.offset >= 0);
                break;
        case PROTO_ACK:
                break;
        default:
                CHECK(!"unknown request kind");
        }
        round_trip(&req);

        /* Only an enter request owns strings; the others' enter part is
         * whatever the decoder left there, and must be safe to release. */
        proto_request_done(&req);
        CHECK(!req.enter.pkg_path && !req.enter.exec_dir && !req.enter.data_dir && req.enter.n_overlay_dirs == 0);
        return 0;
}
