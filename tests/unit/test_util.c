/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/common/util.c: path syntax, containment and escaping,
 * guard names, small file reads. The /proc parsers are test_procfs.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/openat2.h>

#include <cmocka.h>

#include "util.h"

/* --- path_check ---------------------------------------------------------- */

static void path_check_accepts(const char *path, size_t max) {
        const char *reason = "untouched";

        if (path_check(path, max, &reason) != 0) {
                print_error("path_check(\"%s\", %zu) refused it: %s\n", path, max, reason);
                fail();
        }
}

static void path_check_refuses(const char *path, size_t max, const char *reason_part) {
        const char *reason = NULL;

        if (path_check(path, max, &reason) != -EINVAL) {
                print_error("path_check(\"%s\") accepted it\n", path ? path : "(null)");
                fail();
        }
        assert_non_null(reason);
        if (!strstr(reason, reason_part)) {
                print_error("path_check(\"%s\"): reason \"%s\" lacks \"%s\"\n", path ? path : "(null)", reason,
                            reason_part);
                fail();
        }
        /* ret_reason is optional. */
        assert_int_equal(path_check(path, max, NULL), -EINVAL);
}

static void test_path_check_accepts(void **state) {
        (void) state;
        path_check_accepts("/", 4095);
        path_check_accepts("/a", 4095);
        path_check_accepts("/a/b.c", 4095);
        path_check_accepts("/a/..b", 4095);
        path_check_accepts("/..a", 4095);
        path_check_accepts("/.a/b..", 4095);
        path_check_accepts("/...", 4095);
        path_check_accepts("/a b/c~d", 4095);
        path_check_accepts("/caf\xc3\xa9", 4095);  /* UTF-8 is not a control character */
        path_check_accepts("/\x80\xff", 4095);
}

static void test_path_check_refuses(void **state) {
        (void) state;
        path_check_refuses(NULL, 4095, "not set");
        path_check_refuses("", 4095, "empty");
        path_check_refuses("a", 4095, "absolute");
        path_check_refuses("a/b", 4095, "absolute");
        path_check_refuses("./a", 4095, "absolute");
        path_check_refuses("/a/", 4095, "ends with");
        path_check_refuses("//", 4095, "ends with");
        path_check_refuses("//a", 4095, "empty component");
        path_check_refuses("/a//b", 4095, "empty component");
        path_check_refuses("/.", 4095, "\".\"");
        path_check_refuses("/..", 4095, "\"..\"");
        path_check_refuses("/./a", 4095, "\".\"");
        path_check_refuses("/a/.", 4095, "\".\"");
        path_check_refuses("/a/..", 4095, "\"..\"");
        path_check_refuses("/a/../b", 4095, "\"..\"");
        path_check_refuses("/a/./b", 4095, "\".\"");
        path_check_refuses("/a\nb", 4095, "control");
        path_check_refuses("/a\x01", 4095, "control");
        path_check_refuses("/\x1f", 4095, "control");
        path_check_refuses("/a\x7f", 4095, "control");
        path_check_refuses("/a\tb", 4095, "control");
}

static void test_path_check_length(void **state) {
        char path[4097];

        (void) state;
        /* exactly max bytes: accepted; max + 1: refused */
        memset(path, 'a', sizeof path);
        path[0] = '/';
        path[4095] = '\0';
        assert_int_equal(strlen(path), 4095);
        path_check_accepts(path, 4095);
        path[4095] = 'a';
        path[4096] = '\0';
        path_check_refuses(path, 4095, "too long");

        path_check_accepts("/abc", 4);
        path_check_refuses("/abcd", 4, "too long");
        path_check_refuses("/", 0, "too long");
        path_check_accepts("/", 1);
}

/* --- path_contains ------------------------------------------------------- */

static void test_path_contains(void **state) {
        (void) state;
        assert_true(path_contains("/var", "/var/lib"));
        assert_true(path_contains("/var", "/var"));
        assert_true(path_contains("/var", "/var/lib/x/y"));
        assert_false(path_contains("/var", "/variable"));
        assert_false(path_contains("/var", "/va"));
        assert_false(path_contains("/var/lib", "/var"));
        assert_false(path_contains("/var/lib", "/var/libx"));
        assert_false(path_contains("/var/lib", "/var/li"));
        assert_false(path_contains("/a", "/b"));
        assert_true(path_contains("/", "/x"));
        assert_true(path_contains("/", "/"));
        assert_true(path_contains("/", "/x/y"));
        assert_false(path_contains("/x", "/"));
}

/* --- path_escape --------------------------------------------------------- */

static void escape_is(const char *path, const char *expected) {
        char out[256];
        int r;

        memset(out, 'Z', sizeof out);
        r = path_escape(path, out, sizeof out);
        if (r != 0 || strcmp(out, expected) != 0) {
                print_error("path_escape(\"%s\") = %d \"%s\", expected \"%s\"\n", path, r, r == 0 ? out : "",
                            expected);
                fail();
        }
}

static void test_path_escape_values(void **state) {
        (void) state;
        escape_is("/usr", "usr");
        escape_is("/var/lib", "var-lib");
        escape_is("/a-b", "a\\x2db");
        escape_is("/a\\b", "a\\x5cb");
        escape_is("/a b", "a\\x20b");
        escape_is("/a/b/c", "a-b-c");
        escape_is("/caf\xc3\xa9", "caf\\xc3\\xa9");
        escape_is("/x\x7f", "x\\x7f");
        escape_is("/x\x01", "x\\x01");
        escape_is("/~._+:", "~._+:");     /* other printable ASCII stays */
        escape_is("/A.Z", "A.Z");
        escape_is("/", "");
}

/* Inverse of the documented mapping, for absolute paths: '-' is '/', "\xNN"
 * is a byte. If decode(escape(p)) == p for every p, escape is injective. */
static bool unescape(const char *esc, char *ret, size_t size) {
        size_t o = 0;

        ret[o++] = '/';
        for (const char *p = esc; *p; p++) {
                if (o + 1 >= size)
                        return false;
                if (*p == '-')
                        ret[o++] = '/';
                else if (*p == '\\') {
                        unsigned v;

                        if (p[1] != 'x' || sscanf(p + 2, "%2x", &v) != 1 || !p[2] || !p[3])
                                return false;
                        ret[o++] = (char) v;
                        p += 3;
                } else
                        ret[o++] = *p;
        }
        ret[o] = '\0';
        return true;
}

static void test_path_escape_injective(void **state) {
        static const char alphabet[] = { 'a', '-', '/', '\\', 'x', '2', ' ', '\xff' };
        const size_t k = sizeof alphabet;
        char path[16], esc[256], back[256];
        size_t count = 0;

        (void) state;
        /* spot checks */
        {
                char a[64], b[64];
                static const char *const pairs[][2] = {
                        { "/a-b", "/a/b" }, { "/a\\x2db", "/a-b" }, { "/a b", "/a\\x20b" },
                        { "/a\\b", "/a\\x5cb" }, { "/ab", "/a/b" },
                };
                for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
                        assert_int_equal(path_escape(pairs[i][0], a, sizeof a), 0);
                        assert_int_equal(path_escape(pairs[i][1], b, sizeof b), 0);
                        if (strcmp(a, b) == 0) {
                                print_error("\"%s\" and \"%s\" both escape to \"%s\"\n", pairs[i][0], pairs[i][1], a);
                                fail();
                        }
                }
        }
        /* exhaustive over "/" + every string of up to 5 letters of the alphabet */
        for (size_t len = 0; len <= 5; len++) {
                size_t total = 1;
                for (size_t i = 0; i < len; i++)
                        total *= k;
                for (size_t n = 0; n < total; n++) {
                        size_t v = n;
                        path[0] = '/';
                        for (size_t i = 0; i < len; i++, v /= k)
                                path[1 + i] = alphabet[v % k];
                        path[1 + len] = '\0';
                        assert_int_equal(path_escape(path, esc, sizeof esc), 0);
                        if (!unescape(esc, back, sizeof back) || strcmp(back, path) != 0) {
                                print_error("escape of \"%s\" is \"%s\", which does not decode back\n", path, esc);
                                fail();
                        }
                        for (const char *p = esc; *p; p++)
                                if (*p == '/' || (unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f) {
                                        print_error("escape of \"%s\" holds byte 0x%02x\n", path, (unsigned char) *p);
                                        fail();
                                }
                        count++;
                }
        }
        assert_int_equal(count, 1 + 8 + 64 + 512 + 4096 + 32768);
}

static void test_path_escape_too_long(void **state) {
        char out[16];

        (void) state;
        /* "usr" needs 4 bytes with the NUL */
        assert_int_equal(path_escape("/usr", out, 4), 0);
        assert_string_equal(out, "usr");
        assert_int_equal(path_escape("/usr", out, 3), -ENAMETOOLONG);
        assert_int_equal(path_escape("/usr", out, 1), -ENAMETOOLONG);
        assert_int_equal(path_escape("/usr", out, 0), -ENAMETOOLONG);
        /* an escape is never cut in half: "a\x2db" needs 7 bytes */
        assert_int_equal(path_escape("/a-b", out, 7), 0);
        assert_string_equal(out, "a\\x2db");
        assert_int_equal(path_escape("/a-b", out, 6), -ENAMETOOLONG);
        assert_int_equal(path_escape("/a-b", out, 3), -ENAMETOOLONG);
        assert_int_equal(path_escape("/", out, 1), 0);
        assert_string_equal(out, "");
        assert_int_equal(path_escape("/", out, 0), -ENAMETOOLONG);
}

/* --- guard names --------------------------------------------------------- */

static int cmp_name(const void *a, const void *b) {
        return strcmp(a, b);
}

static void test_guard_name_generate(void **state) {
        enum { N = 1000 };
        char (*names)[16] = calloc(N, 16);

        (void) state;
        assert_non_null(names);
        for (size_t i = 0; i < N; i++) {
                memset(names[i], 'Z', 16);
                assert_int_equal(guard_name_generate(names[i]), 0);
                assert_int_equal(strnlen(names[i], 16), 15);
                assert_memory_equal(names[i], "rk-", 3);
                if (!guard_name_valid(names[i])) {
                        print_error("generated name \"%s\" is not valid\n", names[i]);
                        free(names);
                        fail();
                }
        }
        qsort(names, N, 16, cmp_name);
        for (size_t i = 1; i < N; i++)
                if (strcmp(names[i - 1], names[i]) == 0) {
                        print_error("name \"%s\" generated twice\n", names[i]);
                        free(names);
                        fail();
                }
        free(names);
}

static void test_guard_name_valid(void **state) {
        (void) state;
        assert_true(guard_name_valid("rk-000000000000"));
        assert_true(guard_name_valid("rk-zzzzzzzzzzzz"));
        assert_true(guard_name_valid("rk-a1b2c3d4e5f6"));

        assert_false(guard_name_valid(""));
        assert_false(guard_name_valid("rk-"));
        assert_false(guard_name_valid("rk-00000000000"));      /* 14 */
        assert_false(guard_name_valid("rk-0000000000000"));    /* 16 */
        assert_false(guard_name_valid("RK-000000000000"));
        assert_false(guard_name_valid("rk_000000000000"));
        assert_false(guard_name_valid("xk-000000000000"));
        assert_false(guard_name_valid("rk-00000000000A"));
        assert_false(guard_name_valid("rk-00000-000000"));
        assert_false(guard_name_valid("rk-00000 000000"));
        assert_false(guard_name_valid("rk-00000.000000"));
        assert_false(guard_name_valid("rk-00000\xc3\xa9""00000"));
        assert_false(guard_name_valid("rk-0000000000\n0"));
}

static void test_read_file_small(void **state) {
        char buf[8], big[4096];
        int n;

        (void) state;
        n = read_file_small("/proc/self/stat", big, sizeof big);
        assert_true(n > 0 && (size_t) n < sizeof big);
        assert_int_equal(strlen(big), (size_t) n);
        /* cut at size - 1, and still a string */
        assert_int_equal(read_file_small("/proc/self/stat", buf, sizeof buf), 7);
        assert_int_equal(strlen(buf), 7);
        assert_int_equal(read_file_small("/nonexistent/rocker", buf, sizeof buf), -ENOENT);
        assert_int_equal(read_file_small("/proc/self/stat", buf, 0), -EINVAL);
}

/* The one openat2() call: close-on-exec always, the resolve flags obeyed,
 * -errno (not -1) on failure. */
static void test_openat2_fd(void **state) {
        char dir[] = "/tmp/rocker-test-openat2-XXXXXX", sub[64], link[64];
        int dfd, fd;

        (void) state;
        assert_non_null(mkdtemp(dir));
        snprintf(sub, sizeof sub, "%s/sub", dir);
        snprintf(link, sizeof link, "%s/link", dir);
        assert_int_equal(mkdir(sub, 0700), 0);
        assert_int_equal(symlink("sub", link), 0);

        fd = openat2_fd(AT_FDCWD, sub, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
        if (fd == -ENOSYS) {  /* valgrind 3.19 does not know openat2(2): ASan covers this one */
                assert_int_equal(unlink(link), 0);
                assert_int_equal(rmdir(sub), 0);
                assert_int_equal(rmdir(dir), 0);
                skip();
        }
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        /* a symlink on the way is refused, and only when asked */
        assert_int_equal(openat2_fd(AT_FDCWD, link, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS), -ELOOP);
        fd = openat2_fd(AT_FDCWD, link, O_PATH | O_DIRECTORY, 0);
        assert_true(fd >= 0);
        close(fd);
        /* relative to a dir fd, never above it with RESOLVE_BENEATH */
        dfd = openat2_fd(AT_FDCWD, dir, O_PATH | O_DIRECTORY, 0);
        assert_true(dfd >= 0);
        fd = openat2_fd(dfd, "sub", O_PATH, RESOLVE_BENEATH);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(openat2_fd(dfd, "../", O_PATH, RESOLVE_BENEATH), -EXDEV);
        assert_int_equal(openat2_fd(dfd, "missing", O_RDONLY, 0), -ENOENT);
        close(dfd);

        assert_int_equal(unlink(link), 0);
        assert_int_equal(rmdir(sub), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_path_check_accepts),
                cmocka_unit_test(test_path_check_refuses),
                cmocka_unit_test(test_path_check_length),
                cmocka_unit_test(test_path_contains),
                cmocka_unit_test(test_path_escape_values),
                cmocka_unit_test(test_path_escape_injective),
                cmocka_unit_test(test_path_escape_too_long),
                cmocka_unit_test(test_guard_name_generate),
                cmocka_unit_test(test_guard_name_valid),
                cmocka_unit_test(test_read_file_small),
                cmocka_unit_test(test_openat2_fd),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
