/* SPDX-License-Identifier: MIT */
/* Unit tests for src/common/error.c: the one error type and its wrap. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"

static void test_error_fills_and_returns(void **state) {
        RkError e = {};

        (void) state;
        assert_int_equal(rk_error(&e, EINVAL, "app_id: %d out of range", 7), -EINVAL);
        assert_int_equal(e.code, EINVAL);
        assert_string_equal(e.msg, "app_id: 7 out of range");
        assert_true(rk_error_set(&e));
}

static void test_error_sign_and_zero(void **state) {
        RkError e = {};

        (void) state;
        assert_int_equal(rk_error(&e, -ENOENT, "gone"), -ENOENT);
        assert_int_equal(e.code, ENOENT);
        /* 0 is never a failure code */
        assert_int_equal(rk_error(&e, 0, "odd"), -EIO);
        assert_int_equal(e.code, EIO);
}

static void test_error_percent_m_is_code(void **state) {
        RkError e = {};

        (void) state;
        errno = EAGAIN;
        assert_int_equal(rk_error(&e, ENOENT, "open x: %m"), -ENOENT);
        assert_string_equal(e.msg, "open x: No such file or directory");
        /* errno is left alone */
        assert_int_equal(errno, EAGAIN);
}

static void test_error_null(void **state) {
        (void) state;
        assert_int_equal(rk_error(NULL, EPERM, "x %s", "y"), -EPERM);
        assert_int_equal(rk_error_wrap(NULL, "ctx"), -EIO);
        rk_error_clear(NULL);
        assert_false(rk_error_set(NULL));
}

static void test_wrap_keeps_code(void **state) {
        RkError e = {};

        (void) state;
        (void) rk_error(&e, ELOOP, "a symlink");
        assert_int_equal(rk_error_wrap(&e, "overlay %d", 3), -ELOOP);
        assert_int_equal(e.code, ELOOP);
        assert_string_equal(e.msg, "overlay 3: a symlink");
        assert_int_equal(rk_error_wrap(&e, "guard"), -ELOOP);
        assert_string_equal(e.msg, "guard: overlay 3: a symlink");
}

static void test_wrap_empty(void **state) {
        RkError e = {};

        (void) state;
        /* nothing failed yet: the wrap still reports a failure, and says
         * which */
        assert_int_equal(rk_error_wrap(&e, "ctx"), -EIO);
        assert_string_equal(e.msg, "ctx: Input/output error");
        e.code = ENOENT;
        e.msg[0] = '\0';
        assert_int_equal(rk_error_wrap(&e, "open x"), -ENOENT);
        assert_string_equal(e.msg, "open x: No such file or directory");
        /* an empty context leaves the message as it was */
        (void) rk_error(&e, EBADMSG, "inner");
        assert_int_equal(rk_error_wrap(&e, "%s", ""), -EBADMSG);
        assert_string_equal(e.msg, "inner");
}

static void test_truncation(void **state) {
        RkError e = {};
        char big[2 * RK_ERROR_MSG_MAX];

        (void) state;
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        assert_int_equal(rk_error(&e, E2BIG, "%s", big), -E2BIG);
        assert_int_equal(strlen(e.msg), RK_ERROR_MSG_MAX - 1);
        /* a long context in front of a full message: still terminated, the
         * context first */
        assert_int_equal(rk_error_wrap(&e, "ctx"), -E2BIG);
        assert_int_equal(strlen(e.msg), RK_ERROR_MSG_MAX - 1);
        assert_memory_equal(e.msg, "ctx: xxx", 8);
        assert_int_equal(rk_error_wrap(&e, "%s", big), -E2BIG);
        assert_int_equal(strlen(e.msg), RK_ERROR_MSG_MAX - 1);
}

static void test_clear(void **state) {
        RkError e = {};

        (void) state;
        (void) rk_error(&e, EIO, "x");
        rk_error_clear(&e);
        assert_int_equal(e.code, 0);
        assert_string_equal(e.msg, "");
        assert_false(rk_error_set(&e));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_error_fills_and_returns),
                cmocka_unit_test(test_error_sign_and_zero),
                cmocka_unit_test(test_error_percent_m_is_code),
                cmocka_unit_test(test_error_null),
                cmocka_unit_test(test_wrap_keeps_code),
                cmocka_unit_test(test_wrap_empty),
                cmocka_unit_test(test_truncation),
                cmocka_unit_test(test_clear),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
