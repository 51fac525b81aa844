/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/common/proto.c: encoders and the strict decoders, on
 * buffers only. Every refused input is checked for the exact return value,
 * for an error text that names the field, and for *ret being left untouched.
 * Messages are handed to the decoders in heap blocks without a trailing NUL,
 * so that valgrind or ASan catch a decoder that reads past len.
 *
 * Tests of known bugs are skipped unless ROCKER_UNIT_KNOWN_BUGS=1.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "proto.h"


/* --- helpers ------------------------------------------------------------- */

static char *unterminated(const char *buf, size_t len) {
        char *b = malloc(len ? len : 1);

        assert_non_null(b);
        memcpy(b, buf, len);
        return b;
}

static char *repeat(char c, size_t n) {
        char *s = malloc(n + 1);

        assert_non_null(s);
        memset(s, c, n);
        s[n] = '\0';
        return s;
}

/* A path of n bytes: "/" and n - 1 'p'. */
static char *long_path(size_t n) {
        char *s = repeat('p', n);

        s[0] = '/';
        return s;
}

static char *dump(json_t *root) {
        char *s = json_dumps(root, JSON_COMPACT);

        assert_non_null(s);
        return s;
}

static json_t *parse(const char *text) {
        json_error_t e;
        json_t *v = json_loads(text, JSON_DECODE_ANY, &e);

        if (!v) {
                print_error("test bug: cannot parse %s: %s\n", text, e.text);
                fail();
        }
        return v;
}

static json_t *enter_json(void) {
        json_t *j = json_pack("{s:s, s:i, s:{s:i, s:i, s:i, s:s, s:s, s:s, s:[s,s]}}",
                              "id", "enter",
                              "version", 1,
                              "data",
                              "app_id", 7,
                              "uid", 1000,
                              "gid", 1001,
                              "app_pkg_path", "/apps/a.squashfs",
                              "app_exec_dir", "/opt/a",
                              "app_data_dir", "/var/a/data",
                              "app_overlay_dirs", "/var", "/etc");
        assert_non_null(j);
        return j;
}

static json_t *success_json(void) {
        json_t *j = json_pack("{s:b, s:i, s:{s:i, s:s}}", "success", 1, "version", 1, "data",
                              "guard_pid", 4242, "guard_name", "rk-abcdefghijkl");
        assert_non_null(j);
        return j;
}

static json_t *failure_json(void) {
        json_t *j = json_pack("{s:b, s:i, s:s}", "success", 0, "version", 1, "error", "no such image");
        assert_non_null(j);
        return j;
}

/* Sets (or, with value NULL, deletes) key in root or in root's "data". */
static void mutate(json_t *root, bool in_data, const char *key, const char *value) {
        json_t *obj = in_data ? json_object_get(root, "data") : root;

        assert_non_null(obj);
        if (value)
                assert_int_equal(json_object_set_new(obj, key, parse(value)), 0);
        else
                assert_int_equal(json_object_del(obj, key), 0);
}

/* The two decoders under test, behind one face so that each check is written
 * once: what the message is called in failures, and how to release a
 * successfully decoded one (replies own nothing). */
typedef union DecodedMsg {
        ProtoRequest req;
        ProtoReply rep;
} DecodedMsg;

typedef struct Decoder {
        const char *what;
        size_t size;
        int (*decode)(const char *buf, size_t len, DecodedMsg *ret, RkError *err);
        void (*done)(DecodedMsg *m);
} Decoder;

static int decode_request(const char *buf, size_t len, DecodedMsg *ret, RkError *err) {
        return proto_decode_request(buf, len, &ret->req, err);
}

static void request_done(DecodedMsg *m) {
        proto_request_done(&m->req);
}

static int decode_reply(const char *buf, size_t len, DecodedMsg *ret, RkError *err) {
        return proto_decode_reply(buf, len, &ret->rep, err);
}

static const Decoder REQUEST = {
        .what = "request", .size = sizeof(ProtoRequest), .decode = decode_request, .done = request_done,
};
static const Decoder REPLY = {
        .what = "reply", .size = sizeof(ProtoReply), .decode = decode_reply, .done = NULL,
};

static void check_refused(const Decoder *d, const char *buf, size_t len, int expected, const char *part,
                          const char *file, int line) {
        DecodedMsg m, before;
        RkError err = {};
        char *b = unterminated(buf, len);
        int r;

        memset(&m, 0xa5, sizeof m);
        memcpy(&before, &m, sizeof m);
        r = d->decode(b, len, &m, &err);
        free(b);
        if (r == 0 && d->done)
                d->done(&m);
        if (r != expected) {
                print_error("%s %.*s\n  decoded to %d (\"%s\"), expected %d\n", d->what,
                            (int) (len > 300 ? 300 : len), buf, r, err.msg, expected);
                _fail(file, line);
        }
        if (!strstr(err.msg, part)) {
                print_error("%s %.*s\n  error \"%s\" does not mention \"%s\"\n", d->what,
                            (int) (len > 300 ? 300 : len), buf, err.msg, part);
                _fail(file, line);
        }
        if (memcmp(&m, &before, d->size) != 0) {
                print_error("%s %.*s\n  *ret was changed on failure\n", d->what, (int) (len > 300 ? 300 : len), buf);
                _fail(file, line);
        }
}

#define check_request_refused(buf, len, r, part, file, line) check_refused(&REQUEST, buf, len, r, part, file, line)
#define check_reply_refused(buf, len, r, part, file, line) check_refused(&REPLY, buf, len, r, part, file, line)
#define request_refused(text, r, part) check_refused(&REQUEST, text, strlen(text), r, part, __FILE__, __LINE__)
#define reply_refused(text, r, part) check_refused(&REPLY, text, strlen(text), r, part, __FILE__, __LINE__)

static void check_json_refused(const Decoder *d, json_t *root, int expected, const char *part, const char *file,
                               int line) {
        char *s = dump(root);

        json_decref(root);
        check_refused(d, s, strlen(s), expected, part, file, line);
        free(s);
}

#define check_json_request_refused(root, r, part, file, line) check_json_refused(&REQUEST, root, r, part, file, line)
#define check_json_reply_refused(root, r, part, file, line) check_json_refused(&REPLY, root, r, part, file, line)

/* The valid message (an enter request, a success or a failure reply) with
 * one change, which must be refused. */
static void check_mutation_refused(const Decoder *d, json_t *root, bool in_data, const char *key, const char *value,
                                   int expected, const char *part, const char *file, int line) {
        mutate(root, in_data, key, value);
        check_json_refused(d, root, expected, part, file, line);
}

#define enter_refused(in_data, key, value, r, part) \
        check_mutation_refused(&REQUEST, enter_json(), in_data, key, value, r, part, __FILE__, __LINE__)
#define success_refused(in_data, key, value, r, part) \
        check_mutation_refused(&REPLY, success_json(), in_data, key, value, r, part, __FILE__, __LINE__)
#define failure_refused(in_data, key, value, r, part) \
        check_mutation_refused(&REPLY, failure_json(), in_data, key, value, r, part, __FILE__, __LINE__)

static void decode_ok(const Decoder *d, json_t *root, DecodedMsg *ret) {
        RkError err = {};
        char *s = dump(root);
        char *b = unterminated(s, strlen(s));
        int r;

        json_decref(root);
        r = d->decode(b, strlen(s), ret, &err);
        free(b);
        if (r != 0) {
                print_error("%s %.300s\n  refused: %d \"%s\"\n", d->what, s, r, err.msg);
                free(s);
                fail();
        }
        free(s);
}

static void decode_request_ok(json_t *root, ProtoRequest *ret) {
        DecodedMsg m;

        decode_ok(&REQUEST, root, &m);
        *ret = m.req;
}

static void decode_reply_ok(json_t *root, ProtoReply *ret) {
        DecodedMsg m;

        decode_ok(&REPLY, root, &m);
        *ret = m.rep;
}

/* "{" + blanks + body, PROTO_MSG_MAX + 1 bytes (not terminated): one byte
 * over the limit, so refused before parsing. */
static char *oversized(const char *body) {
        const size_t n = PROTO_MSG_MAX + 1;
        char *buf = malloc(n);

        assert_non_null(buf);
        buf[0] = '{';
        memset(buf + 1, ' ', n - 1);
        memcpy(buf + n - strlen(body), body, strlen(body));
        return buf;
}

/* Every proper prefix of the valid message root is refused. */
static void check_prefixes_refused(const Decoder *d, json_t *root, const char *file, int line) {
        char *s = dump(root);
        size_t len = strlen(s);

        json_decref(root);
        for (size_t n = 0; n < len; n++)
                check_refused(d, s, n, -EBADMSG, "malformed JSON", file, line);
        free(s);
}

#define prefixes_refused(d, root) check_prefixes_refused(d, root, __FILE__, __LINE__)

/* --- round trips ---------------------------------------------------------- */

static void test_enter_round_trip(void **state) {
        ProtoEnter in = {
                .app_id = INT32_MIN,
                .uid = INT32_MAX - 1,
                .gid = 0,
                .pkg_path = (char *) "/apps/caf\xc3\xa9 \"quoted\" back\\slash.squashfs",
                .exec_dir = (char *) "/opt/\xe6\x97\xa5\xe6\x9c\xac",
                .data_dir = (char *) "/var/a/data\t\x01",
                .overlay_dirs = { (char *) "/var", (char *) "/etc", (char *) "/home/u" },
                .n_overlay_dirs = 3,
        };
        ProtoRequest req;
        RkError err = {};
        char *buf = NULL;
        size_t len = 0;

        (void) state;
        assert_int_equal(proto_encode_enter(&in, &buf, &len), 0);
        assert_non_null(buf);
        assert_int_equal(len, strlen(buf));
        memset(&req, 0xa5, sizeof req);
        assert_int_equal(proto_decode_request(buf, len, &req, &err), 0);
        free(buf);
        assert_int_equal(req.kind, PROTO_ENTER);
        assert_int_equal(req.enter.app_id, INT32_MIN);
        assert_int_equal(req.enter.uid, INT32_MAX - 1);
        assert_int_equal(req.enter.gid, 0);
        assert_string_equal(req.enter.pkg_path, in.pkg_path);
        assert_string_equal(req.enter.exec_dir, in.exec_dir);
        assert_string_equal(req.enter.data_dir, in.data_dir);
        assert_int_equal(req.enter.n_overlay_dirs, 3);
        for (size_t i = 0; i < 3; i++)
                assert_string_equal(req.enter.overlay_dirs[i], in.overlay_dirs[i]);
        for (size_t i = 3; i < PROTO_OVERLAY_MAX; i++)
                assert_null(req.enter.overlay_dirs[i]);
        proto_request_done(&req);
        assert_null(req.enter.pkg_path);
        assert_int_equal(req.enter.n_overlay_dirs, 0);
        proto_request_done(&req);  /* twice: safe on a done one */
}

static void test_enter_round_trip_limits(void **state) {
        char *dirs[PROTO_OVERLAY_MAX];
        ProtoEnter in = { .app_id = INT32_MAX, .uid = 0, .gid = INT32_MAX - 1 };
        ProtoRequest req;
        RkError err = {};
        char *buf = NULL;
        size_t len = 0;

        (void) state;
        /* 16 overlay dirs; the three paths at PROTO_PATH_MAX bytes */
        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++) {
                dirs[i] = malloc(16);
                assert_non_null(dirs[i]);
                snprintf(dirs[i], 16, "/dir%zu", i);
                in.overlay_dirs[i] = dirs[i];
        }
        in.n_overlay_dirs = PROTO_OVERLAY_MAX;
        in.pkg_path = long_path(PROTO_PATH_MAX);
        in.exec_dir = long_path(PROTO_PATH_MAX);
        in.data_dir = long_path(PROTO_PATH_MAX);

        assert_int_equal(proto_encode_enter(&in, &buf, &len), 0);
        assert_int_equal(proto_decode_request(buf, len, &req, &err), 0);
        free(buf);
        assert_int_equal(req.enter.app_id, INT32_MAX);
        assert_int_equal(req.enter.gid, INT32_MAX - 1);
        assert_int_equal(req.enter.n_overlay_dirs, PROTO_OVERLAY_MAX);
        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                assert_string_equal(req.enter.overlay_dirs[i], dirs[i]);
        assert_int_equal(strlen(req.enter.data_dir), PROTO_PATH_MAX);
        proto_request_done(&req);

        /* and none at all */
        in.n_overlay_dirs = 0;
        assert_int_equal(proto_encode_enter(&in, &buf, &len), 0);
        assert_int_equal(proto_decode_request(buf, len, &req, &err), 0);
        free(buf);
        assert_int_equal(req.enter.n_overlay_dirs, 0);
        assert_null(req.enter.overlay_dirs[0]);
        proto_request_done(&req);

        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                free(dirs[i]);
        free(in.pkg_path);
        free(in.exec_dir);
        free(in.data_dir);
}

static void test_ack_round_trip(void **state) {
        ProtoRequest req;
        RkError err = {};
        char *buf = NULL;
        size_t len = 0;

        (void) state;
        assert_int_equal(proto_encode_ack(&buf, &len), 0);
        assert_int_equal(len, strlen(buf));
        memset(&req, 0xa5, sizeof req);
        assert_int_equal(proto_decode_request(buf, len, &req, &err), 0);
        free(buf);
        assert_int_equal(req.kind, PROTO_ACK);
        assert_null(req.enter.pkg_path);
        assert_int_equal(req.enter.n_overlay_dirs, 0);
        proto_request_done(&req);
}

static void test_reply_round_trip_success(void **state) {
        ProtoReply in = { .success = 1, .guard_pid = 4242 }, out;
        RkError err = {};
        char *buf = NULL;
        size_t len = 0;

        (void) state;
        strcpy(in.guard_name, "rk-abcdefghijkl");
        assert_int_equal(proto_encode_reply(&in, &buf, &len), 0);
        assert_int_equal(len, strlen(buf));
        memset(&out, 0xa5, sizeof out);
        assert_int_equal(proto_decode_reply(buf, len, &out, &err), 0);
        free(buf);
        assert_int_equal(out.success, 1);
        assert_int_equal(out.guard_pid, 4242);
        assert_string_equal(out.guard_name, "rk-abcdefghijkl");
        assert_string_equal(out.error, "");

        in.guard_pid = INT32_MAX;
        assert_int_equal(proto_encode_reply(&in, &buf, &len), 0);
        assert_int_equal(proto_decode_reply(buf, len, &out, &err), 0);
        free(buf);
        assert_int_equal(out.guard_pid, INT32_MAX);
}

static void test_reply_round_trip_failure(void **state) {
        ProtoReply in = { .success = 0 }, out;
        RkError err = {};
        char *buf = NULL;
        size_t len = 0;

        (void) state;
        strcpy(in.error, "app_pkg_path: \"/x\\y\" is\nnot a regular file (caf\xc3\xa9)");
        assert_int_equal(proto_encode_reply(&in, &buf, &len), 0);
        memset(&out, 0xa5, sizeof out);
        assert_int_equal(proto_decode_reply(buf, len, &out, &err), 0);
        free(buf);
        assert_int_equal(out.success, 0);
        assert_string_equal(out.error, in.error);
        assert_int_equal(out.guard_pid, 0);
        assert_string_equal(out.guard_name, "");

        /* the longest error text that fits */
        memset(in.error, 'e', sizeof in.error - 1);
        in.error[sizeof in.error - 1] = '\0';
        assert_int_equal(proto_encode_reply(&in, &buf, &len), 0);
        assert_int_equal(proto_decode_reply(buf, len, &out, &err), 0);
        free(buf);
        assert_int_equal(strlen(out.error), PROTO_ERROR_MAX - 1);
        assert_string_equal(out.error, in.error);
}

/* --- encoders refusing -------------------------------------------------- */

static void test_encode_enter_refuses(void **state) {
        char *sentinel = (char *) "untouched";
        char *buf = sentinel;
        size_t len = 12345;
        ProtoEnter base = {
                .pkg_path = (char *) "/apps/a.squashfs",
                .exec_dir = (char *) "/opt/a",
                .data_dir = (char *) "/var/a",
                .overlay_dirs = { (char *) "/var" },
                .n_overlay_dirs = 1,
        }, e;

        (void) state;
        /* non-UTF-8 bytes in each string */
        e = base, e.pkg_path = (char *) "/apps/\xff.squashfs";
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);
        e = base, e.exec_dir = (char *) "/opt/\xc3";
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);
        e = base, e.data_dir = (char *) "/var/\x80";
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);
        e = base, e.overlay_dirs[0] = (char *) "/v\xfe";
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);
        e = base, e.overlay_dirs[1] = (char *) "/ok", e.overlay_dirs[2] = (char *) "/\xed\xa0\x80", e.n_overlay_dirs = 3;
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);  /* an encoded surrogate */

        /* missing strings, too many or NULL overlay dirs */
        e = base, e.pkg_path = NULL;
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);
        e = base, e.exec_dir = NULL;
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);
        e = base, e.data_dir = NULL;
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);
        e = base, e.n_overlay_dirs = 2;
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);
        e = base, e.n_overlay_dirs = PROTO_OVERLAY_MAX + 1;
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EINVAL);

        assert_ptr_equal(buf, sentinel);
        assert_int_equal(len, 12345);
}

static void test_encode_enter_too_big(void **state) {
        char *sentinel = (char *) "untouched";
        char *buf = sentinel;
        size_t len = 12345;
        ProtoEnter e = { .n_overlay_dirs = PROTO_OVERLAY_MAX };
        char *p = long_path(PROTO_PATH_MAX);

        (void) state;
        e.pkg_path = e.exec_dir = e.data_dir = p;
        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                e.overlay_dirs[i] = p;
        /* 19 strings of 4095 bytes: well over PROTO_MSG_MAX */
        assert_int_equal(proto_encode_enter(&e, &buf, &len), -EMSGSIZE);
        assert_ptr_equal(buf, sentinel);
        assert_int_equal(len, 12345);
        free(p);
}

static void test_encode_reply_failure_not_utf8(void **state) {
        ProtoReply in = { .success = 0 }, out;
        RkError err = {};
        char *buf = NULL;
        size_t len = 0;

        (void) state;
        strcpy(in.error, "app_exec_dir: \"/opt/\xff\xfe\" is not a directory");
        assert_int_equal(proto_encode_reply(&in, &buf, &len), 0);
        assert_non_null(buf);
        memset(&out, 0xa5, sizeof out);
        if (proto_decode_reply(buf, len, &out, &err) != 0) {
                print_error("reply %s refused: %s\n", buf, err.msg);
                free(buf);
                fail();
        }
        free(buf);
        assert_int_equal(out.success, 0);
        assert_true(strlen(out.error) > 0);
}

static void test_encode_reply_failure_empty_error(void **state) {
        ProtoReply in = { .success = 0 }, out;
        RkError err = {};
        char *buf = NULL;
        size_t len = 0;
        int r;

        (void) state;
        /* Either the encoder refuses it or the peer can decode it. */
        r = proto_encode_reply(&in, &buf, &len);
        if (r < 0)
                return;
        r = proto_decode_reply(buf, len, &out, &err);
        if (r != 0)
                print_error("encoded %s, which the decoder refuses: %s\n", buf, err.msg);
        free(buf);
        assert_int_equal(r, 0);
        assert_int_equal(out.success, 0);
}

static void test_encode_reply_success_not_utf8(void **state) {
        ProtoReply in = { .success = 1, .guard_pid = 1 };
        char *buf = NULL;
        size_t len = 0;

        (void) state;
        strcpy(in.guard_name, "rk-\xff");
        assert_int_equal(proto_encode_reply(&in, &buf, &len), -EINVAL);
        assert_null(buf);
}

/* --- proto_decode_request: malformed envelopes -------------------------- */

static void test_request_not_json(void **state) {
        (void) state;
        request_refused("", -EBADMSG, "malformed JSON");
        request_refused("hello", -EBADMSG, "malformed JSON");
        request_refused("{", -EBADMSG, "malformed JSON");
        request_refused("{\"id\":\"ack\",\"version\":1", -EBADMSG, "malformed JSON");
        request_refused("{\"id\":\"ack\",\"version\":1}}", -EBADMSG, "malformed JSON");
        request_refused("{\"id\":\"ack\",\"version\":1} x", -EBADMSG, "malformed JSON");
        request_refused("{\"id\":\"ack\",\"version\":1}{}", -EBADMSG, "malformed JSON");
        request_refused("{'id':'ack','version':1}", -EBADMSG, "malformed JSON");
        request_refused("{\"id\":\"ack\",\"version\":1,}", -EBADMSG, "malformed JSON");
        request_refused("{\"id\":\"ack\",\"version\":01}", -EBADMSG, "malformed JSON");
        request_refused("{\"id\":\"ack\",\"version\":99999999999999999999}", -EBADMSG, "malformed JSON");
        request_refused("{\"id\":\"a\xffk\",\"version\":1}", -EBADMSG, "malformed JSON");  /* not UTF-8 */
        /* a NUL byte inside len */
        check_request_refused("{\"id\":\"ack\",\0\"version\":1}", 25, -EBADMSG, "malformed JSON", __FILE__,
                              __LINE__);
}

static void test_request_truncated(void **state) {
        (void) state;
        prefixes_refused(&REQUEST, enter_json());
}

static void test_request_not_object(void **state) {
        (void) state;
        request_refused("[]", -EBADMSG, "not a JSON object");
        request_refused("[{\"id\":\"ack\",\"version\":1}]", -EBADMSG, "not a JSON object");
        request_refused("5", -EBADMSG, "malformed JSON");
        request_refused("\"ack\"", -EBADMSG, "malformed JSON");
        request_refused("null", -EBADMSG, "malformed JSON");
        request_refused("true", -EBADMSG, "malformed JSON");
}

static void test_request_missing(void **state) {
        (void) state;
        request_refused("{}", -EBADMSG, "version: missing");  /* the version is checked first */
        request_refused("{\"version\":1}", -EBADMSG, "id: missing");
        request_refused("{\"id\":\"ack\"}", -EBADMSG, "version: missing");
        request_refused("{\"id\":\"enter\",\"version\":1}", -EBADMSG, "data: missing");
        enter_refused(false, "id", NULL, -EBADMSG, "id: missing");
        enter_refused(false, "version", NULL, -EBADMSG, "version: missing");
        enter_refused(false, "data", NULL, -EBADMSG, "data: missing");
        enter_refused(true, "app_id", NULL, -EBADMSG, "app_id: missing");
        enter_refused(true, "uid", NULL, -EBADMSG, "uid: missing");
        enter_refused(true, "gid", NULL, -EBADMSG, "gid: missing");
        enter_refused(true, "app_pkg_path", NULL, -EBADMSG, "app_pkg_path: missing");
        enter_refused(true, "app_exec_dir", NULL, -EBADMSG, "app_exec_dir: missing");
        enter_refused(true, "app_data_dir", NULL, -EBADMSG, "app_data_dir: missing");
        enter_refused(true, "app_overlay_dirs", NULL, -EBADMSG, "app_overlay_dirs: missing");
        request_refused("{\"id\":\"enter\",\"version\":1,\"data\":{}}", -EBADMSG, "missing");
}

static const char *const not_integers[] = { "\"7\"", "7.0", "1e3", "true", "false", "null", "[]", "[7]", "{}" };
static const char *const not_strings[] = { "7", "0", "true", "false", "null", "[]", "[\"/a\"]", "{}", "1.5" };
static const char *const not_arrays[] = { "{}", "\"/var\"", "3", "true", "null", "{\"0\":\"/var\"}" };
static const char *const not_objects[] = { "[]", "\"x\"", "3", "true", "false", "null", "[{}]" };

static void test_request_wrong_types(void **state) {
        static const char *const int_fields[] = { "app_id", "uid", "gid" };
        static const char *const string_fields[] = { "app_pkg_path", "app_exec_dir", "app_data_dir" };
        char part[64];

        (void) state;
        /* envelope */
        for (size_t i = 0; i < sizeof not_strings / sizeof not_strings[0]; i++)
                enter_refused(false, "id", not_strings[i], -EBADMSG, "id: expected a string");
        for (size_t i = 0; i < sizeof not_integers / sizeof not_integers[0]; i++)
                enter_refused(false, "version", not_integers[i], -EBADMSG, "version: expected an integer");
        for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++)
                enter_refused(false, "data", not_objects[i], -EBADMSG, "data: expected an object");

        /* data */
        for (size_t f = 0; f < 3; f++) {
                snprintf(part, sizeof part, "%s: expected an integer", int_fields[f]);
                for (size_t i = 0; i < sizeof not_integers / sizeof not_integers[0]; i++)
                        enter_refused(true, int_fields[f], not_integers[i], -EBADMSG, part);
        }
        for (size_t f = 0; f < 3; f++) {
                snprintf(part, sizeof part, "%s: expected a string", string_fields[f]);
                for (size_t i = 0; i < sizeof not_strings / sizeof not_strings[0]; i++)
                        enter_refused(true, string_fields[f], not_strings[i], -EBADMSG, part);
        }
        for (size_t i = 0; i < sizeof not_arrays / sizeof not_arrays[0]; i++)
                enter_refused(true, "app_overlay_dirs", not_arrays[i], -EBADMSG, "app_overlay_dirs: expected an array");
}

static void test_request_overlay_entry_not_string(void **state) {
        static const char *const entries[] = { "3", "null", "true", "[]", "[\"/var\"]", "{}", "0.5" };
        char value[64];

        (void) state;
        for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
                snprintf(value, sizeof value, "[%s]", entries[i]);
                enter_refused(true, "app_overlay_dirs", value, -EBADMSG, "app_overlay_dirs[0]: expected a string");
                /* after good entries, which must be freed (valgrind checks) */
                snprintf(value, sizeof value, "[\"/var\",\"/etc\",%s]", entries[i]);
                enter_refused(true, "app_overlay_dirs", value, -EBADMSG, "app_overlay_dirs[2]: expected a string");
        }
        enter_refused(true, "app_overlay_dirs", "[\"/var\",\"\"]", -EBADMSG, "app_overlay_dirs[1]: empty");
}

static void test_request_unknown_fields(void **state) {
        (void) state;
        enter_refused(false, "extra", "1", -EBADMSG, "unknown field \"extra\"");
        enter_refused(false, "ID", "\"enter\"", -EBADMSG, "unknown field \"ID\"");
        enter_refused(false, "error", "\"x\"", -EBADMSG, "unknown field \"error\"");
        enter_refused(true, "app_name", "\"x\"", -EBADMSG, "unknown field \"app_name\"");
        enter_refused(true, "Uid", "1", -EBADMSG, "unknown field \"Uid\"");
        enter_refused(true, "app_overlay_dir", "[]", -EBADMSG, "unknown field \"app_overlay_dir\"");
        request_refused("{\"id\":\"ack\",\"version\":1,\"x\":null}", -EBADMSG, "unknown field \"x\"");
        /* the key is named, but a hostile one is cut short */
        {
                char *key = repeat('k', 1000);
                json_t *root = enter_json();
                char *s;
                ProtoRequest req;
                RkError err = {};

                assert_int_equal(json_object_set_new(json_object_get(root, "data"), key, json_integer(1)), 0);
                s = dump(root);
                json_decref(root);
                assert_int_equal(proto_decode_request(s, strlen(s), &req, &err), -EBADMSG);
                assert_non_null(strstr(err.msg, "unknown field"));
                assert_true(strlen(err.msg) < 200);
                free(s);
                free(key);
        }
}

static void test_request_duplicate_keys(void **state) {
        (void) state;
        request_refused("{\"id\":\"ack\",\"id\":\"ack\",\"version\":1}", -EBADMSG, "id");
        request_refused("{\"id\":\"ack\",\"version\":1,\"version\":1}", -EBADMSG, "version");
        request_refused("{\"id\":\"enter\",\"version\":1,\"data\":{\"app_id\":1,\"uid\":1,\"uid\":2,\"gid\":1,"
                        "\"app_pkg_path\":\"/a\",\"app_exec_dir\":\"/b\",\"app_data_dir\":\"/c\","
                        "\"app_overlay_dirs\":[]}}",
                        -EBADMSG, "duplicate object key near '\"uid\"'");
        request_refused("{\"id\":\"enter\",\"version\":1,\"data\":{\"app_id\":1,\"uid\":1,\"gid\":1,"
                        "\"app_pkg_path\":\"/a\",\"app_exec_dir\":\"/b\",\"app_data_dir\":\"/c\","
                        "\"app_overlay_dirs\":[],\"app_overlay_dirs\":[\"/x\"]}}",
                        -EBADMSG, "app_overlay_dirs");
}

static void test_request_unknown_id(void **state) {
        (void) state;
        request_refused("{\"id\":\"exit\",\"version\":1}", -EBADMSG, "id: unknown request \"exit\"");
        request_refused("{\"id\":\"Enter\",\"version\":1,\"data\":{}}", -EBADMSG, "id: unknown request \"Enter\"");
        request_refused("{\"id\":\"ACK\",\"version\":1}", -EBADMSG, "id: unknown request");
        request_refused("{\"id\":\"\",\"version\":1}", -EBADMSG, "id: unknown request");
        request_refused("{\"id\":\"ack \",\"version\":1}", -EBADMSG, "id: unknown request");
        request_refused("{\"id\":\"ack\",\"version\":1,\"data\":{}}", -EBADMSG, "data: not expected");
        request_refused("{\"id\":\"ack\",\"version\":1,\"data\":null}", -EBADMSG, "data: not expected");
}

static void test_request_version(void **state) {
        (void) state;
        request_refused("{\"id\":\"ack\",\"version\":2}", -EPROTO, "version");
        request_refused("{\"id\":\"ack\",\"version\":0}", -EPROTO, "version");
        request_refused("{\"id\":\"ack\",\"version\":-1}", -EPROTO, "version");
        request_refused("{\"id\":\"ack\",\"version\":2147483647}", -EPROTO, "version");
        enter_refused(false, "version", "2", -EPROTO, "version");
        /* a newer peer's data is not judged by this side's schema */
        request_refused("{\"id\":\"enter\",\"version\":2,\"data\":{\"new\":1}}", -EPROTO, "version");
        request_refused("{\"id\":\"enter\",\"version\":2}", -EPROTO, "version");
        /* out of int32 range: a range error that still names the field */
        request_refused("{\"id\":\"ack\",\"version\":4294967297}", -EBADMSG, "version");
}

static void test_request_int_ranges(void **state) {
        static const struct {
                const char *key, *value;
        } refused[] = {
                { "uid", "-1" }, { "uid", "-2147483648" }, { "uid", "2147483647" }, { "uid", "4294967295" },
                { "uid", "4294967296" }, { "uid", "9223372036854775807" },
                { "gid", "-1" }, { "gid", "2147483647" }, { "gid", "4294967295" }, { "gid", "-9223372036854775807" },
                { "app_id", "2147483648" }, { "app_id", "-2147483649" }, { "app_id", "4294967296" },
                { "app_id", "9223372036854775807" },
        };
        ProtoRequest req;
        json_t *root;
        char part[64];

        (void) state;
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
                snprintf(part, sizeof part, "%s: %s out of range", refused[i].key, refused[i].value);
                enter_refused(true, refused[i].key, refused[i].value, -EBADMSG, part);
        }

        /* the edges that are accepted, exactly as sent */
        root = enter_json();
        mutate(root, true, "uid", "2147483646");
        mutate(root, true, "gid", "0");
        mutate(root, true, "app_id", "-2147483648");
        decode_request_ok(root, &req);
        assert_int_equal(req.enter.uid, INT32_MAX - 1);
        assert_int_equal(req.enter.gid, 0);
        assert_int_equal(req.enter.app_id, INT32_MIN);
        proto_request_done(&req);

        root = enter_json();
        mutate(root, true, "uid", "0");
        mutate(root, true, "gid", "2147483646");
        mutate(root, true, "app_id", "2147483647");
        decode_request_ok(root, &req);
        assert_int_equal(req.enter.uid, 0);
        assert_int_equal(req.enter.gid, INT32_MAX - 1);
        assert_int_equal(req.enter.app_id, INT32_MAX);
        proto_request_done(&req);
}

static void test_request_strings(void **state) {
        static const char *const fields[] = { "app_pkg_path", "app_exec_dir", "app_data_dir" };
        char part[64];
        ProtoRequest req;

        (void) state;
        for (size_t f = 0; f < 3; f++) {
                char *p = long_path(PROTO_PATH_MAX + 1), *v;
                json_t *root;

                snprintf(part, sizeof part, "%s: empty", fields[f]);
                enter_refused(true, fields[f], "\"\"", -EBADMSG, part);

                snprintf(part, sizeof part, "%s: longer than %d bytes", fields[f], PROTO_PATH_MAX);
                root = enter_json();
                assert_int_equal(json_object_set_new(json_object_get(root, "data"), fields[f], json_string(p)), 0);
                check_json_request_refused(root, -EBADMSG, part, __FILE__, __LINE__);

                /* exactly PROTO_PATH_MAX: accepted */
                p[PROTO_PATH_MAX] = '\0';
                root = enter_json();
                assert_int_equal(json_object_set_new(json_object_get(root, "data"), fields[f], json_string(p)), 0);
                decode_request_ok(root, &req);
                v = f == 0 ? req.enter.pkg_path : f == 1 ? req.enter.exec_dir : req.enter.data_dir;
                assert_string_equal(v, p);
                proto_request_done(&req);

                /* an escaped multi-byte string is measured in bytes: 2048 × "é" is 4096 */
                root = enter_json();
                {
                        char *u = malloc(4097);
                        assert_non_null(u);
                        for (size_t i = 0; i < 2048; i++)
                                u[2 * i] = '\xc3', u[2 * i + 1] = '\xa9';
                        u[4096] = '\0';
                        assert_int_equal(json_object_set_new(json_object_get(root, "data"), fields[f], json_string(u)),
                                         0);
                        free(u);
                }
                check_json_request_refused(root, -EBADMSG, part, __FILE__, __LINE__);
                free(p);
        }

        /* the overlay entries have the same limits */
        {
                char *p = long_path(PROTO_PATH_MAX + 1);
                json_t *root = enter_json(), *dirs = json_pack("[s,s]", "/var", p);

                assert_non_null(dirs);
                assert_int_equal(json_object_set_new(json_object_get(root, "data"), "app_overlay_dirs", dirs), 0);
                check_json_request_refused(root, -EBADMSG, "app_overlay_dirs[1]: longer than", __FILE__, __LINE__);
                free(p);
        }
        enter_refused(true, "app_overlay_dirs", "[\"\"]", -EBADMSG, "app_overlay_dirs[0]: empty");
}

/* \u0000 is never let through (jansson refuses it), wherever it is. */
static void test_request_embedded_nul(void **state) {
        (void) state;
        request_refused("{\"id\":\"enter\",\"version\":1,\"data\":{\"app_id\":1,\"uid\":1,\"gid\":1,"
                        "\"app_pkg_path\":\"/a\\u0000b\",\"app_exec_dir\":\"/b\",\"app_data_dir\":\"/c\","
                        "\"app_overlay_dirs\":[]}}",
                        -EBADMSG, "\\u0000");
        request_refused("{\"id\":\"enter\",\"version\":1,\"data\":{\"app_id\":1,\"uid\":1,\"gid\":1,"
                        "\"app_pkg_path\":\"/a\",\"app_exec_dir\":\"/b\",\"app_data_dir\":\"/c\","
                        "\"app_overlay_dirs\":[\"/var\\u0000/x\"]}}",
                        -EBADMSG, "\\u0000");
        request_refused("{\"id\":\"ack\\u0000x\",\"version\":1}", -EBADMSG, "\\u0000");
        request_refused("{\"id\\u0000\":\"ack\",\"version\":1}", -EBADMSG, "\\u0000");
}

static void test_request_overlay_count(void **state) {
        json_t *root, *dirs;
        ProtoRequest req;
        char d[32];

        (void) state;
        for (size_t n = PROTO_OVERLAY_MAX; n <= PROTO_OVERLAY_MAX + 1; n++) {
                root = enter_json();
                dirs = json_array();
                for (size_t i = 0; i < n; i++) {
                        snprintf(d, sizeof d, "/d%zu", i);
                        assert_int_equal(json_array_append_new(dirs, json_string(d)), 0);
                }
                assert_int_equal(json_object_set_new(json_object_get(root, "data"), "app_overlay_dirs", dirs), 0);
                if (n == PROTO_OVERLAY_MAX) {
                        decode_request_ok(root, &req);
                        assert_int_equal(req.enter.n_overlay_dirs, PROTO_OVERLAY_MAX);
                        assert_string_equal(req.enter.overlay_dirs[0], "/d0");
                        assert_string_equal(req.enter.overlay_dirs[15], "/d15");
                        proto_request_done(&req);
                } else
                        check_json_request_refused(root, -EBADMSG, "app_overlay_dirs: 17 entries, at most 16",
                                                   __FILE__, __LINE__);
        }

        /* an empty list is a request without overlays */
        root = enter_json();
        mutate(root, true, "app_overlay_dirs", "[]");
        decode_request_ok(root, &req);
        assert_int_equal(req.enter.n_overlay_dirs, 0);
        proto_request_done(&req);
}

static void test_request_size_limit(void **state) {
        const size_t n = PROTO_MSG_MAX + 1;
        char *buf = oversized("\"id\":\"ack\",\"version\":1}");
        ProtoRequest req;
        RkError err = {};

        (void) state;
        check_request_refused(buf, n, -EBADMSG, "exceeds", __FILE__, __LINE__);
        check_request_refused(buf, n, -EBADMSG, "65536", __FILE__, __LINE__);

        /* one blank less: PROTO_MSG_MAX bytes, accepted */
        memmove(buf + 1, buf + 2, n - 2);
        assert_int_equal(proto_decode_request(buf, n - 1, &req, &err), 0);
        assert_int_equal(req.kind, PROTO_ACK);
        free(buf);
}

static void test_request_err_buffer(void **state) {
        static const char msg[] = "{\"id\":\"ack\",\"version\":1,\"x\":1}";
        ProtoRequest req;
        RkError err;

        (void) state;
        /* no room for a reason at all */
        assert_int_equal(proto_decode_request(msg, strlen(msg), &req, NULL), -EBADMSG);
        assert_int_equal(proto_decode_request("[", 1, &req, NULL), -EBADMSG);
        /* whatever the error held before, the reason is terminated and the
         * code is the one returned */
        memset(&err, 'Z', sizeof err.msg);
        assert_int_equal(proto_decode_request(msg, strlen(msg), &req, &err), -EBADMSG);
        assert_int_equal(err.code, EBADMSG);
        assert_true(strlen(err.msg) < sizeof err.msg);
        assert_memory_equal(err.msg, "request", 7);
}

/* --- proto_decode_reply ---------------------------------------------------- */

static void test_reply_malformed(void **state) {
        (void) state;
        reply_refused("", -EBADMSG, "malformed JSON");
        reply_refused("ok", -EBADMSG, "malformed JSON");
        reply_refused("{\"success\":true", -EBADMSG, "malformed JSON");
        reply_refused("[]", -EBADMSG, "not a JSON object");
        reply_refused("[true]", -EBADMSG, "not a JSON object");
        reply_refused("true", -EBADMSG, "malformed JSON");
        prefixes_refused(&REPLY, success_json());
        reply_refused("{\"success\":false,\"version\":1,\"error\":\"a\\u0000b\"}", -EBADMSG, "\\u0000");
        reply_refused("{\"success\":false,\"success\":false,\"version\":1,\"error\":\"x\"}", -EBADMSG, "success");
        reply_refused("{\"success\":false,\"version\":1,\"error\":\"x\",\"error\":\"y\"}", -EBADMSG, "error");
        reply_refused("{\"success\":true,\"version\":1,\"data\":{\"guard_pid\":1,\"guard_pid\":2,"
                      "\"guard_name\":\"rk-abcdefghijkl\"}}",
                      -EBADMSG, "guard_pid");
}

static void test_reply_missing(void **state) {
        (void) state;
        success_refused(false, "success", NULL, -EBADMSG, "success: missing");
        success_refused(false, "version", NULL, -EBADMSG, "version: missing");
        success_refused(false, "data", NULL, -EBADMSG, "data: missing in a success reply");
        success_refused(true, "guard_pid", NULL, -EBADMSG, "guard_pid: missing");
        success_refused(true, "guard_name", NULL, -EBADMSG, "guard_name: missing");
        failure_refused(false, "success", NULL, -EBADMSG, "success: missing");
        failure_refused(false, "version", NULL, -EBADMSG, "version: missing");
        failure_refused(false, "error", NULL, -EBADMSG, "error: missing in a failure reply");
        reply_refused("{}", -EBADMSG, "version: missing");  /* the version is checked first */
}

static void test_reply_wrong_types(void **state) {
        static const char *const not_booleans[] = { "1", "0", "\"true\"", "null", "[]", "{}", "\"\"" };

        (void) state;
        for (size_t i = 0; i < sizeof not_booleans / sizeof not_booleans[0]; i++) {
                success_refused(false, "success", not_booleans[i], -EBADMSG, "success: expected a boolean");
                failure_refused(false, "success", not_booleans[i], -EBADMSG, "success: expected a boolean");
        }
        for (size_t i = 0; i < sizeof not_integers / sizeof not_integers[0]; i++) {
                success_refused(false, "version", not_integers[i], -EBADMSG, "version: expected an integer");
                success_refused(true, "guard_pid", not_integers[i], -EBADMSG, "guard_pid: expected an integer");
        }
        for (size_t i = 0; i < sizeof not_strings / sizeof not_strings[0]; i++) {
                success_refused(true, "guard_name", not_strings[i], -EBADMSG, "guard_name: expected a string");
                failure_refused(false, "error", not_strings[i], -EBADMSG, "error: expected a string");
        }
        for (size_t i = 0; i < sizeof not_objects / sizeof not_objects[0]; i++)
                success_refused(false, "data", not_objects[i], -EBADMSG, "data: expected an object");
}

static void test_reply_unknown_fields(void **state) {
        (void) state;
        success_refused(false, "extra", "1", -EBADMSG, "unknown field \"extra\"");
        success_refused(false, "id", "\"enter\"", -EBADMSG, "unknown field \"id\"");
        success_refused(true, "guard_pidfd", "3", -EBADMSG, "unknown field \"guard_pidfd\"");
        success_refused(true, "error", "\"x\"", -EBADMSG, "unknown field \"error\"");
        failure_refused(false, "Error", "\"x\"", -EBADMSG, "unknown field \"Error\"");
}

static void test_reply_success_failure_shape(void **state) {
        (void) state;
        /* success: data required, error refused */
        success_refused(false, "error", "\"boom\"", -EBADMSG, "error: not expected in a success reply");
        success_refused(false, "error", "\"\"", -EBADMSG, "error: not expected");
        success_refused(false, "error", "null", -EBADMSG, "error: not expected");
        /* failure: data refused, even empty or null */
        failure_refused(false, "data", "{\"guard_pid\":1,\"guard_name\":\"rk-abcdefghijkl\"}", -EBADMSG,
                        "data: not expected in a failure reply");
        failure_refused(false, "data", "{}", -EBADMSG, "data: not expected");
        failure_refused(false, "data", "null", -EBADMSG, "data: not expected");
        failure_refused(false, "error", "\"\"", -EBADMSG, "error: empty");
}

static void test_reply_version(void **state) {
        (void) state;
        success_refused(false, "version", "2", -EPROTO, "version");
        success_refused(false, "version", "0", -EPROTO, "version");
        failure_refused(false, "version", "2", -EPROTO, "version");
        reply_refused("{\"success\":true,\"version\":2}", -EPROTO, "version");
        reply_refused("{\"success\":true,\"version\":2,\"data\":{\"guard_fd\":1}}", -EPROTO, "version");
}

static void test_reply_ranges(void **state) {
        ProtoReply rep;
        json_t *root;
        char *name;

        (void) state;
        success_refused(true, "guard_pid", "0", -EBADMSG, "guard_pid: 0 out of range");
        success_refused(true, "guard_pid", "-1", -EBADMSG, "guard_pid: -1 out of range");
        success_refused(true, "guard_pid", "2147483648", -EBADMSG, "guard_pid: 2147483648 out of range");
        success_refused(true, "guard_name", "\"\"", -EBADMSG, "guard_name: empty");
        success_refused(true, "guard_name", "\"rk-abcdefghijklm\"", -EBADMSG, "guard_name: longer than 15 bytes");
        success_refused(true, "guard_name", "\"rk-abcdefghijk\\u00e9\"", -EBADMSG, "guard_name: longer than 15");

        root = success_json();
        mutate(root, true, "guard_pid", "1");
        mutate(root, true, "guard_name", "\"x\"");
        decode_reply_ok(root, &rep);
        assert_int_equal(rep.guard_pid, 1);
        assert_string_equal(rep.guard_name, "x");

        /* error texts: PROTO_ERROR_MAX - 1 bytes fit, one more does not */
        name = repeat('e', PROTO_ERROR_MAX);
        root = failure_json();
        assert_int_equal(json_object_set_new(root, "error", json_string(name)), 0);
        check_json_reply_refused(root, -EBADMSG, "error: longer than 1023 bytes", __FILE__, __LINE__);
        name[PROTO_ERROR_MAX - 1] = '\0';
        root = failure_json();
        assert_int_equal(json_object_set_new(root, "error", json_string(name)), 0);
        decode_reply_ok(root, &rep);
        assert_int_equal(rep.success, 0);
        assert_string_equal(rep.error, name);
        free(name);
}

static void test_reply_size_limit(void **state) {
        const size_t n = PROTO_MSG_MAX + 1;
        char *buf = oversized("\"success\":false,\"version\":1,\"error\":\"x\"}");
        ProtoReply rep;
        RkError err = {};

        (void) state;
        check_reply_refused(buf, n, -EBADMSG, "exceeds", __FILE__, __LINE__);
        memmove(buf + 1, buf + 2, n - 2);
        assert_int_equal(proto_decode_reply(buf, n - 1, &rep, &err), 0);
        assert_string_equal(rep.error, "x");
        free(buf);
}

static void test_list_round_trip(void **state) {
        ProtoRockerInfo e[2] = {
                { .guard_pid = 10, .guard_name = "rk-aaaaaaaaaaaa", .app_id = -3, .uid = 1000, .gid = 1001,
                  .age_ms = 5000000000LL, .pkg_path = "/i.sqfs", .exec_dir = "/e", .data_dir = "/d" },
                { .guard_pid = 11, .guard_name = "rk-bbbbbbbbbbbb" },
        };
        ProtoList in = { .total = 7, .entries = e, .n_entries = 2 }, out = {};
        ProtoRequest req = {};
        ProtoReply reply = {};
        char *buf = NULL;
        RkError err = {};
        size_t len;

        (void) state;
        assert_int_equal(proto_encode_list(128, &buf, &len), 0);
        assert_int_equal(proto_decode_request(buf, len, &req, &err), 0);
        assert_int_equal(req.kind, PROTO_LIST);
        assert_int_equal(req.offset, 128);
        free(buf);
        assert_int_equal(proto_encode_list_reply(&in, &buf, &len), 0);
        assert_int_equal(proto_decode_list_reply(buf, len, &reply, &out, &err), 0);
        free(buf);
        assert_true(reply.success);
        assert_int_equal(out.total, 7);
        assert_int_equal(out.n_entries, 2);
        assert_string_equal(out.entries[0].guard_name, "rk-aaaaaaaaaaaa");
        assert_int_equal(out.entries[0].app_id, -3);
        assert_int_equal(out.entries[0].age_ms, 5000000000LL);
        assert_string_equal(out.entries[0].data_dir, "/d");
        assert_string_equal(out.entries[1].pkg_path, "");
        proto_list_done(&out);
}

static void test_list_malformed(void **state) {
        static const char *const bad[] = {
                "{\"id\":\"list\",\"version\":1}",
                "{\"id\":\"list\",\"version\":1,\"data\":{\"offset\":-1}}",
                "{\"id\":\"list\",\"version\":1,\"data\":{\"offset\":0,\"x\":1}}",
        };
        static const char *const bad_replies[] = {
                "{\"success\":true,\"version\":1,\"data\":{\"total\":1}}",
                "{\"success\":true,\"version\":1,\"data\":{\"total\":1,\"rockers\":[3]}}",
                "{\"success\":true,\"version\":1,\"data\":{\"total\":1,\"rockers\":[{\"guard_pid\":1}]}}",
                "{\"success\":true,\"version\":2,\"data\":{\"total\":0,\"rockers\":[]}}",
        };
        ProtoRequest req = {};
        ProtoReply reply = {};
        ProtoList list = {};
        RkError err = {};

        (void) state;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                assert_true(proto_decode_request(bad[i], strlen(bad[i]), &req, &err) < 0);
        for (size_t i = 0; i < sizeof bad_replies / sizeof bad_replies[0]; i++)
                assert_true(proto_decode_list_reply(bad_replies[i], strlen(bad_replies[i]), &reply, &list, &err) < 0);
        /* a failure reply decodes as such */
        {
                static const char failure[] = "{\"success\":false,\"version\":1,\"error\":\"no\"}";
                assert_int_equal(proto_decode_list_reply(failure, strlen(failure), &reply, &list, &err), 0);
        }
        assert_false(reply.success);
        assert_string_equal(reply.error, "no");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_enter_round_trip),
                cmocka_unit_test(test_enter_round_trip_limits),
                cmocka_unit_test(test_ack_round_trip),
                cmocka_unit_test(test_reply_round_trip_success),
                cmocka_unit_test(test_reply_round_trip_failure),
                cmocka_unit_test(test_encode_enter_refuses),
                cmocka_unit_test(test_encode_enter_too_big),
                cmocka_unit_test(test_encode_reply_failure_not_utf8),
                cmocka_unit_test(test_list_round_trip),
                cmocka_unit_test(test_list_malformed),
                cmocka_unit_test(test_encode_reply_failure_empty_error),
                cmocka_unit_test(test_encode_reply_success_not_utf8),
                cmocka_unit_test(test_request_not_json),
                cmocka_unit_test(test_request_truncated),
                cmocka_unit_test(test_request_not_object),
                cmocka_unit_test(test_request_missing),
                cmocka_unit_test(test_request_wrong_types),
                cmocka_unit_test(test_request_overlay_entry_not_string),
                cmocka_unit_test(test_request_unknown_fields),
                cmocka_unit_test(test_request_duplicate_keys),
                cmocka_unit_test(test_request_unknown_id),
                cmocka_unit_test(test_request_version),
                cmocka_unit_test(test_request_int_ranges),
                cmocka_unit_test(test_request_strings),
                cmocka_unit_test(test_request_embedded_nul),
                cmocka_unit_test(test_request_overlay_count),
                cmocka_unit_test(test_request_size_limit),
                cmocka_unit_test(test_request_err_buffer),
                cmocka_unit_test(test_reply_malformed),
                cmocka_unit_test(test_reply_missing),
                cmocka_unit_test(test_reply_wrong_types),
                cmocka_unit_test(test_reply_unknown_fields),
                cmocka_unit_test(test_reply_success_failure_shape),
                cmocka_unit_test(test_reply_version),
                cmocka_unit_test(test_reply_ranges),
                cmocka_unit_test(test_reply_size_limit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
