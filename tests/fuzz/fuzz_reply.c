/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: proto_decode_reply() and proto_decode_list_reply(), what
 * the client library runs on the bytes a server sent (docs/fuzzing.md). The
 * library checks that the server runs as root, but a root server is not
 * necessarily a sane one, and the library runs inside every app's launcher.
 *
 * Besides the sanitizers' own findings, every input is checked against the
 * decoders' contract in proto.h:
 *  - a refusal returns -EBADMSG, -EPROTO or -ENOMEM, leaves every output
 *    untouched and (but for -ENOMEM) writes a NUL-terminated reason;
 *  - an accepted reply respects the documented limits (docs/protocol.md
 *    §3.2, §3.3, §3.5);
 *  - a failure reply reads the same through both decoders;
 *  - encoding what was decoded and decoding it again gives the same fields
 *    (success and failure replies, and list pages), and encoding that gives
 *    the same bytes;
 *  - proto_list_done() leaves an empty list behind.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one decoder made of the input. */
typedef struct Outcome {
        int r;
        ProtoReply reply;
} Outcome;

/* A NUL-terminated string of 1 … max bytes inside a char[size]. */
static void check_text(const char *s, size_t size, size_t max) {
        const char *nul = memchr(s, '\0', size);

        CHECK(nul);
        CHECK(nul > s && (size_t) (nul - s) <= max);
}

static void check_reply_limits(const ProtoReply *rep) {
        if (rep->success) {
                CHECK(rep->guard_pid >= 1);
                check_text(rep->guard_name, sizeof rep->guard_name, PROTO_NAME_LEN);
        } else
                check_text(rep->error, sizeof rep->error, PROTO_ERROR_MAX - 1);
}

static void check_reply_equal(const ProtoReply *a, const ProtoReply *b) {
        CHECK(!!a->success == !!b->success);
        if (a->success) {
                CHECK(a->guard_pid == b->guard_pid);
                CHECK(strcmp(a->guard_name, b->guard_name) == 0);
        } else
                CHECK(strcmp(a->error, b->error) == 0);
}

/* The decoded text is valid UTF-8 without NUL (jansson saw to it), so the
 * encoder's UTF-8 clean-up of an error text must keep it as it is. */
static void reply_round_trip(const ProtoReply *rep) {
        ProtoReply again = {};
        RkError err = {};
        char *buf = NULL, *buf2 = NULL;
        size_t len = 0, len2 = 0;
        int r;

        r = proto_encode_reply(rep, &buf, &len);
        CHECK(r == 0);
        check_encoded(buf, len);
        r = proto_decode_reply(buf, len, &again, &err);
        check_redecoded(r, &err, "reply", buf);
        check_reply_equal(rep, &again);
        CHECK(proto_encode_reply(&again, &buf2, &len2) == 0);
        check_same_bytes(buf, len, buf2, len2);
        free(buf);
        free(buf2);
}

static Outcome fuzz_plain_reply(const char *buf, size_t len) {
        Outcome o;
        ProtoReply before;
        RkError err = {};

        memset(&o.reply, 0xa5, sizeof o.reply);
        before = o.reply;
        memset(&err, 'E', sizeof err);

        o.r = proto_decode_reply(buf, len, &o.reply, &err);
        if (o.r < 0) {
                check_refusal_code(o.r);
                CHECK(memcmp(&o.reply, &before, sizeof o.reply) == 0);
                check_reason(&err, o.r);
                return o;
        }
        CHECK(o.r == 0);
        check_reply_limits(&o.reply);
        reply_round_trip(&o.reply);
        return o;
}

static void check_list_limits(const ProtoList *list) {
        CHECK(list->total >= 0);
        CHECK(list->n_entries <= PROTO_LIST_PAGE);
        CHECK(list->entries || list->n_entries == 0);
        for (size_t i = 0; i < list->n_entries; i++) {
                const ProtoRockerInfo *e = &list->entries[i];

                CHECK(e->guard_pid >= 1);
                check_text(e->guard_name, sizeof e->guard_name, PROTO_NAME_LEN);
                CHECK(e->uid >= 0 && e->gid >= 0);
                CHECK(e->age_ms >= 0);
                CHECK(e->pkg_path && e->exec_dir && e->data_dir);
                CHECK(strlen(e->pkg_path) <= PROTO_PATH_MAX);
                CHECK(strlen(e->exec_dir) <= PROTO_PATH_MAX);
                CHECK(strlen(e->data_dir) <= PROTO_PATH_MAX);
        }
}

static void check_list_equal(const ProtoList *a, const ProtoList *b) {
        CHECK(a->total == b->total);
        CHECK(a->n_entries == b->n_entries);
        for (size_t i = 0; i < a->n_entries; i++) {
                const ProtoRockerInfo *x = &a->entries[i], *y = &b->entries[i];

                CHECK(x->guard_pid == y->guard_pid);
                CHECK(strcmp(x->guard_name, y->guard_name) == 0);
                CHECK(x->app_id == y->app_id);
                CHECK(x->uid == y->uid);
                CHECK(x->gid == y->gid);
                CHECK(x->age_ms == y->age_ms);
                CHECK(strcmp(x->pkg_path, y->pkg_path) == 0);
                CHECK(strcmp(x->exec_dir, y->exec_dir) == 0);
                CHECK(strcmp(x->data_dir, y->data_dir) == 0);
        }
}

static void list_done_and_check(ProtoList *list) {
        proto_list_done(list);
        CHECK(!list->entries && list->n_entries == 0 && list->total == 0);
}

static void list_round_trip(const ProtoList *list) {
        ProtoReply rep = {};
        ProtoList again = {};
        RkError err = {};
        char *buf = NULL, *buf2 = NULL;
        size_t len = 0, len2 = 0;
        int r;

        r = proto_encode_list_reply(list, &buf, &len);
        if (r == -EMSGSIZE)
                return;
        CHECK(r == 0);
        check_encoded(buf, len);
        r = proto_decode_list_reply(buf, len, &rep, &again, &err);
        check_redecoded(r, &err, "list reply", buf);
        CHECK(rep.success);
        check_list_equal(list, &again);
        CHECK(proto_encode_list_reply(&again, &buf2, &len2) == 0);
        check_same_bytes(buf, len, buf2, len2);
        list_done_and_check(&again);
        free(buf);
        free(buf2);
}

static Outcome fuzz_list_reply(const char *buf, size_t len) {
        Outcome o;
        ProtoReply before_reply;
        ProtoList list, before_list;
        RkError err = {};

        memset(&o.reply, 0xa5, sizeof o.reply);
        before_reply = o.reply;
        memset(&list, 0xa5, sizeof list);
        before_list = list;
        memset(&err, 'E', sizeof err);

        o.r = proto_decode_list_reply(buf, len, &o.reply, &list, &err);
        if (o.r < 0) {
                check_refusal_code(o.r);
                CHECK(memcmp(&o.reply, &before_reply, sizeof o.reply) == 0);
                CHECK(memcmp(&list, &before_list, sizeof list) == 0);
                check_reason(&err, o.r);
                return o;
        }
        CHECK(o.r == 0);
        if (!o.reply.success) {
                /* A failure fills the reply alone. */
                CHECK(memcmp(&list, &before_list, sizeof list) == 0);
                check_reply_limits(&o.reply);
                return o;
        }
        CHECK(o.reply.success == 1);
        check_list_limits(&list);
        list_round_trip(&list);
        list_done_and_check(&list);
        return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* libFuzzer's data is a heap block of exactly size bytes with no NUL
         * after it: a read past len is an ASan report. */
        Outcome plain = fuzz_plain_reply((const char *) data, size);
        Outcome list = fuzz_list_reply((const char *) data, size);

        /* A failure reply is the same answer to either request. */
        if (plain.r == 0 && !plain.reply.success) {
                CHECK(list.r == 0 && !list.reply.success);
                CHECK(strcmp(plain.reply.error, list.reply.error) == 0);
        }
        if (list.r == 0 && !list.reply.success) {
                CHECK(plain.r == 0 && !plain.reply.success);
                CHECK(strcmp(plain.reply.error, list.reply.error) == 0);
        }
        return 0;
}
