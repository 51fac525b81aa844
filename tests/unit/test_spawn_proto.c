/* SPDX-License-Identifier: MIT */
/*
 * The spawn request and the spawn replies (src/common/proto.c, issue 17),
 * and several fds in one message (src/common/fdpass.c), on buffers and a
 * socketpair.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdpass.h"
#include "proto.h"

static const ProtoEnter ENTER = {
        .app_id = 7, .uid = 1000, .gid = 1000,
        .pkg_path = "/apps/a.squashfs", .exec_dir = "/opt/a", .data_dir = "/var/lib/a",
        .overlay_dirs = { "/var" }, .n_overlay_dirs = 1,
};

static void test_spawn_roundtrip(void **state) {
        const char *const argv[] = { "/bin/sh", "-c", "", NULL };
        const char *const envp[] = { "A=1", "B=", NULL };
        char *buf = NULL;
        RkError err = {};
        ProtoRequest req = {};
        size_t len;

        (void) state;
        assert_int_equal(proto_encode_spawn(&ENTER, argv, envp, &buf, &len), 0);
        assert_int_equal(proto_decode_request(buf, len, &req, &err), 0);
        free(buf);
        assert_int_equal(req.kind, PROTO_SPAWN);
        assert_int_equal(req.enter.app_id, 7);
        assert_string_equal(req.enter.pkg_path, "/apps/a.squashfs");
        assert_int_equal(req.enter.n_overlay_dirs, 1);
        assert_int_equal(req.n_argv, 3);
        assert_string_equal(req.argv[0], "/bin/sh");
        assert_string_equal(req.argv[2], "");  /* an empty argument is an argument */
        assert_null(req.argv[3]);
        assert_int_equal(req.n_envp, 2);
        assert_string_equal(req.envp[1], "B=");
        assert_null(req.envp[2]);
        proto_request_done(&req);
}

static void test_spawn_encode_refuses(void **state) {
        const char *const empty[] = { NULL };
        const char *const blank[] = { "", NULL };
        const char *const argv[] = { "/bin/true", NULL };
        const char *const bad_env[] = { "NOEQUALS", NULL };
        char *buf = NULL;
        size_t len;

        (void) state;
        assert_int_equal(proto_encode_spawn(&ENTER, empty, empty, &buf, &len), -EINVAL);
        assert_int_equal(proto_encode_spawn(&ENTER, blank, empty, &buf, &len), -EINVAL);
        assert_int_equal(proto_encode_spawn(&ENTER, argv, bad_env, &buf, &len), -EINVAL);
        assert_int_equal(proto_encode_spawn(&ENTER, NULL, empty, &buf, &len), -EINVAL);
        assert_null(buf);
}

static void expect_refused(const char *msg, const char *needle) {
        RkError err = {};
        ProtoRequest req = { .kind = PROTO_LIST, .offset = 42 };

        assert_int_equal(proto_decode_request(msg, strlen(msg), &req, &err), -EBADMSG);
        if (!strstr(err.msg, needle)) {
                print_error("%s: want \"%s\" in \"%s\"\n", msg, needle, err.msg);
                fail();
        }
        assert_int_equal(req.offset, 42);  /* untouched */
}

#define ENTER_FIELDS "\"app_id\":1,\"uid\":1000,\"gid\":1000,\"app_pkg_path\":\"/a\",\"app_exec_dir\":\"/e\"," \
                     "\"app_data_dir\":\"/d\",\"app_overlay_dirs\":[]"

static void test_spawn_decode_refuses(void **state) {
        (void) state;
        expect_refused("{\"id\":\"spawn\",\"version\":1,\"data\":{" ENTER_FIELDS ",\"envp\":[]}}", "argv: missing");
        expect_refused("{\"id\":\"spawn\",\"version\":1,\"data\":{" ENTER_FIELDS ",\"argv\":[\"/x\"]}}",
                       "envp: missing");
        expect_refused("{\"id\":\"spawn\",\"version\":1,\"data\":{" ENTER_FIELDS ",\"argv\":[],\"envp\":[]}}",
                       "argv: empty");
        expect_refused("{\"id\":\"spawn\",\"version\":1,\"data\":{" ENTER_FIELDS ",\"argv\":[\"\"],\"envp\":[]}}",
                       "argv[0]: empty");
        expect_refused("{\"id\":\"spawn\",\"version\":1,\"data\":{" ENTER_FIELDS ",\"argv\":[1],\"envp\":[]}}",
                       "argv[0]: expected a string");
        expect_refused("{\"id\":\"spawn\",\"version\":1,\"data\":{" ENTER_FIELDS ",\"argv\":[\"/x\"],\"envp\":[\"X\"]}}",
                       "envp[0]: not NAME=value");
        expect_refused("{\"id\":\"spawn\",\"version\":1,\"data\":{\"app_id\":1,\"argv\":[\"/x\"],\"envp\":[]}}",
                       "uid: missing");
        expect_refused("{\"id\":\"spawn\",\"version\":1,\"data\":{" ENTER_FIELDS ",\"argv\":[\"/x\"],\"envp\":[],"
                       "\"extra\":1}}", "unknown field \"extra\"");
        /* argv and envp belong to a spawn only */
        expect_refused("{\"id\":\"enter\",\"version\":1,\"data\":{" ENTER_FIELDS ",\"argv\":[\"/x\"]}}",
                       "unknown field \"argv\"");
}

static void test_spawn_replies(void **state) {
        ProtoReply r = { .success = 1, .guard_pid = 12, .guard_name = "rk-abcdefghijkl", .app_pid = 13 }, back;
        char *buf = NULL;
        RkError err = {};
        size_t len;

        (void) state;
        assert_int_equal(proto_encode_reply(&r, &buf, &len), 0);
        memset(&back, 0, sizeof back);
        assert_int_equal(proto_decode_reply(buf, len, &back, &err), 0);
        free(buf);
        assert_int_equal(back.app_pid, 13);
        assert_false(back.has_wait_status);

        r.has_wait_status = 1;
        r.wait_status = 7 << 8;
        assert_int_equal(proto_encode_reply(&r, &buf, &len), 0);
        assert_int_equal(proto_decode_reply(buf, len, &back, &err), 0);
        free(buf);
        assert_true(back.has_wait_status);
        assert_int_equal(back.wait_status, 7 << 8);

        /* an enter reply has neither */
        r = (ProtoReply) { .success = 1, .guard_pid = 12, .guard_name = "rk-abcdefghijkl" };
        assert_int_equal(proto_encode_reply(&r, &buf, &len), 0);
        assert_null(strstr(buf, "app_pid"));
        assert_null(strstr(buf, "wait_status"));
        free(buf);
}

static void test_fdpass_three_fds(void **state) {
        int sv[2], fds[3], got[3] = { -1, -1, -1 };
        size_t n_fds = 0;
        char buf[16];
        struct stat a, b;

        (void) state;
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        for (int i = 0; i < 3; i++) {
                fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                assert_true(fds[i] >= 0);
        }
        assert_int_equal(fdpass_send_fds(sv[0], "x", 1, fds, 3), 0);
        assert_int_equal(fdpass_recv_fds(sv[1], buf, sizeof buf, got, 3, &n_fds), 1);
        assert_int_equal(n_fds, 3);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(fstat(fds[i], &a), 0);
                assert_int_equal(fstat(got[i], &b), 0);
                assert_true(a.st_rdev == b.st_rdev);
                assert_true(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
                close(got[i]);
        }
        /* more than the receiver takes: refused, none kept */
        assert_int_equal(fdpass_send_fds(sv[0], "x", 1, fds, 3), 0);
        assert_int_equal(fdpass_recv_fds(sv[1], buf, sizeof buf, got, 2, &n_fds), -EBADMSG);
        assert_int_equal(fdpass_send_fds(sv[0], "x", 1, fds, 1), 0);
        assert_int_equal(fdpass_recv(sv[1], buf, sizeof buf, NULL), -EBADMSG);
        assert_int_equal(fdpass_send_fds(sv[0], "x", 1, (int[]) { 0, -1 }, 2), -EBADF);
        for (int i = 0; i < 3; i++)
                close(fds[i]);
        close(sv[0]);
        close(sv[1]);
}

static void test_signal_and_spawn_in(void **state) {
        const char *const argv[] = { "/bin/sh", NULL };
        const char *const envp[] = { NULL };
        char *buf = NULL;
        RkError err = {};
        ProtoRequest req = {};
        size_t len;

        (void) state;
        assert_int_equal(proto_encode_signal(42, "rk-abcdefghijkl", 15, 2000, &buf, &len), 0);
        assert_int_equal(proto_decode_request(buf, len, &req, &err), 0);
        free(buf);
        assert_int_equal(req.kind, PROTO_SIGNAL);
        assert_int_equal(req.guard_pid, 42);
        assert_string_equal(req.guard_name, "rk-abcdefghijkl");
        assert_int_equal(req.signal, 15);
        assert_int_equal(req.grace_ms, 2000);
        expect_refused("{\"id\":\"signal\",\"version\":1,\"data\":{\"guard_pid\":42,\"guard_name\":\"rk-a\","
                       "\"signal\":65,\"grace_ms\":-1}}", "signal: 65 out of range");
        expect_refused("{\"id\":\"signal\",\"version\":1,\"data\":{\"guard_pid\":42,\"signal\":9,"
                       "\"grace_ms\":-1}}", "guard_name: missing");

        memset(&req, 0, sizeof req);
        assert_int_equal(proto_encode_spawn_in(42, "rk-abcdefghijkl", 1000, 1001, argv, envp, &buf, &len), 0);
        assert_int_equal(proto_decode_request(buf, len, &req, &err), 0);
        free(buf);
        assert_int_equal(req.kind, PROTO_SPAWN_IN);
        assert_int_equal(req.guard_pid, 42);
        assert_int_equal(req.enter.uid, 1000);
        assert_int_equal(req.enter.gid, 1001);
        assert_int_equal(req.n_argv, 1);
        assert_int_equal(req.n_envp, 0);
        assert_null(req.enter.pkg_path);
        proto_request_done(&req);
        expect_refused("{\"id\":\"spawn_in\",\"version\":1,\"data\":{\"guard_pid\":42,\"guard_name\":\"rk-a\","
                       "\"uid\":1,\"gid\":1,\"argv\":[],\"envp\":[]}}", "argv: empty");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spawn_roundtrip),
                cmocka_unit_test(test_spawn_encode_refuses),
                cmocka_unit_test(test_spawn_decode_refuses),
                cmocka_unit_test(test_spawn_replies),
                cmocka_unit_test(test_fdpass_three_fds),
                cmocka_unit_test(test_signal_and_spawn_in),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
