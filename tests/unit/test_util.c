/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/common/util.c: path syntax, containment and escaping,
 * guard names, and /proc/<pid>/stat parsing (on buffers, then on live
 * processes of this test).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

/* Copies s into a heap block of exactly strlen(s) bytes, without a NUL, so
 * that valgrind or ASan catch a parser that reads past len. */
static char *unterminated(const char *s, size_t *ret_len) {
        size_t n = strlen(s);
        char *b = malloc(n ? n : 1);

        assert_non_null(b);
        memcpy(b, s, n);
        *ret_len = n;
        return b;
}

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

/* --- proc_stat_parse ----------------------------------------------------- */

static void stat_parses(const char *buf, const char *name, char state) {
        char got[16], st = '?';
        size_t len;
        char *b = unterminated(buf, &len);
        int r;

        memset(got, 'Z', sizeof got);
        r = proc_stat_parse(b, len, got, &st);
        free(b);
        if (r != 0 || strcmp(got, name) != 0 || st != state) {
                print_error("proc_stat_parse(\"%s\") = %d name \"%.16s\" state '%c', expected \"%s\" '%c'\n", buf, r,
                            r == 0 ? got : "", st, name, state);
                fail();
        }
}

static void stat_refused(const char *buf) {
        char got[16], st = '?';
        size_t len;
        char *b = unterminated(buf, &len);
        int r;

        r = proc_stat_parse(b, len, got, &st);
        free(b);
        if (r != -EBADMSG) {
                print_error("proc_stat_parse(\"%s\") = %d, expected -EBADMSG\n", buf, r);
                fail();
        }
        assert_int_equal(st, '?');  /* untouched on failure */
}

static void test_proc_stat_parse(void **state) {
        char name[16];

        (void) state;
        stat_parses("123 (bash) S 1 123 123 0 -1 4194560", "bash", 'S');
        stat_parses("7 (a b) R 1 2 3", "a b", 'R');
        stat_parses("7 (x) (y) Z 1", "x) (y", 'Z');
        stat_parses("7 (a)b) D 1", "a)b", 'D');
        stat_parses("7 ((() T 1", "((", 'T');
        stat_parses("7 () S 1", "", 'S');
        stat_parses("7 (abcdefghijklmno) I 1", "abcdefghijklmno", 'I');
        stat_parses("7 (x) S", "x", 'S');  /* nothing after the state */

        stat_refused("7 (abcdefghijklmnop) S 1");  /* 16 bytes: more than TASK_COMM_LEN - 1 */
        stat_refused("7 bash) S 1");
        stat_refused("7 (bash S 1");
        stat_refused("7 )bash( S 1");
        stat_refused("");
        stat_refused("7 (x)");
        stat_refused("7 (x) ");
        stat_refused("7 (x)S 1");

        /* the state may be NULL */
        assert_int_equal(proc_stat_parse("1 (init) S 0", 12, name, NULL), 0);
        assert_string_equal(name, "init");

        /* len is honoured: a ')' past it is not seen */
        assert_int_equal(proc_stat_parse("1 (abc) S 0", 6, name, NULL), -EBADMSG);
        assert_int_equal(proc_stat_parse("1 (ab) (c) S 0", 9, name, NULL), 0);
        assert_string_equal(name, "ab");
}

/* --- proc_get_name --------------------------------------------------------- */

static char saved_comm[17];

static int save_comm(void **state) {
        (void) state;
        memset(saved_comm, 0, sizeof saved_comm);
        return prctl(PR_GET_NAME, saved_comm) < 0 ? -1 : 0;
}

static int restore_comm(void **state) {
        (void) state;
        return prctl(PR_SET_NAME, saved_comm) < 0 ? -1 : 0;
}

static void test_proc_get_name_self(void **state) {
        char name[16], st = '?';

        (void) state;
        assert_int_equal(prctl(PR_SET_NAME, "a b) (c"), 0);
        memset(name, 'Z', sizeof name);
        assert_int_equal(proc_get_name(getpid(), name, &st), 0);
        assert_string_equal(name, "a b) (c");
        assert_int_equal(st, 'R');

        /* a name of the full 15 bytes */
        assert_int_equal(prctl(PR_SET_NAME, ")))))))(((((((("), 0);
        assert_int_equal(proc_get_name(getpid(), name, NULL), 0);
        assert_string_equal(name, ")))))))((((((((");
}

static void test_proc_get_name_zombie(void **state) {
        char name[16], st = '?';
        siginfo_t si = {};
        pid_t pid;

        (void) state;
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void) prctl(PR_SET_NAME, "zombie (kid)");
                _exit(0);
        }
        /* wait for the exit but leave the zombie in place */
        assert_int_equal(waitid(P_PID, (id_t) pid, &si, WEXITED | WNOWAIT), 0);
        assert_int_equal(proc_get_name(pid, name, &st), 0);
        (void) waitpid(pid, NULL, 0);
        assert_string_equal(name, "zombie (kid)");
        assert_int_equal(st, 'Z');

        /* reaped: gone */
        assert_int_equal(proc_get_name(pid, name, &st), -ESRCH);
}

static void test_proc_get_name_bad_pid(void **state) {
        char name[16] = "untouched", st = '?';

        (void) state;
        assert_int_equal(proc_get_name(0, name, &st), -EINVAL);
        assert_int_equal(proc_get_name(-1, name, &st), -EINVAL);
        assert_int_equal(proc_get_name(-12345, name, &st), -EINVAL);
        /* above PID_MAX_LIMIT (4194304): never a live process */
        assert_int_equal(proc_get_name(4194304 + 1000, name, &st), -ESRCH);
        assert_int_equal(proc_get_name(INT32_MAX, name, &st), -ESRCH);
        assert_string_equal(name, "untouched");
        assert_int_equal(st, '?');
}

static void test_proc_stat_starttime(void **state) {
        static const char line[] = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        unsigned long long t = 0, self = 0;
        char name[16];

        (void) state;
        assert_int_equal(proc_stat_starttime(line, sizeof line - 1, &t), 0);
        assert_int_equal(t, 987654ULL);
        assert_int_equal(proc_stat_starttime("42 (x", 5, &t), -EBADMSG);
        assert_int_equal(proc_stat_starttime("42 (x) S 1 2", 12, &t), -EBADMSG);
        assert_int_equal(proc_get_identity(getpid(), name, &self), 0);
        assert_true(self > 0);
        assert_int_equal(proc_get_identity(-1, name, &self), -EINVAL);
}

/* What only a guard's status file shows: uid 0 everywhere, PID 1 of a PID
 * namespace below ours. A name anyone can set plays no part. */
static void test_proc_status_is_guard(void **state) {
        static const char guard[] = "Name:\trk-abcdefghijkl\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t4242\n"
                                    "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t4242\t1\nNSpgid:\t4242\t1\n";
        static const char nested[] = "Name:\trk-x\nUid:\t0\t0\t0\t0\nNSpid:\t4242\t17\t1\n";
        static const char *const not_guards[] = {
                "Name:\trk-abcdefghijkl\nUid:\t1000\t1000\t1000\t1000\nNSpid:\t4242\t1\n",  /* a user's pid ns */
                "Name:\trk-abcdefghijkl\nUid:\t0\t0\t0\t0\nNSpid:\t4242\n",                 /* the host's */
                "Name:\trk-abcdefghijkl\nUid:\t0\t0\t0\t0\nNSpid:\t4242\t2\n",              /* not PID 1 */
                "Name:\trk-abcdefghijkl\nUid:\t0\t1000\t0\t0\nNSpid:\t4242\t1\n",           /* one uid not 0 */
                "Name:\trk-abcdefghijkl\nUid:\t0\t0\t0\t0\n",                               /* no NSpid line */
                "Name:\trk-abcdefghijkl\nNSpid:\t4242\t1\n",                                /* no Uid line */
                "Name:\trk-abcdefghijkl\nUid:\t0\t0\t0\t0\nNSpid:\t4242\t10\n",             /* 10, not 1 */
                "Name:\trk-abcdefghijkl\nUid:\t0\t0\t0\t0\nNSpid:\t4242\t1x\n",
                "Name:\tNSpid:\t1\t1\nUid:\t0\t0\t0\t0\n",                                  /* the name is no line */
                "",
        };
        char status[4096];
        int fd;
        ssize_t n;

        (void) state;
        assert_true(proc_status_is_guard(guard, sizeof guard - 1));
        assert_true(proc_status_is_guard(nested, sizeof nested - 1));
        for (size_t i = 0; i < sizeof not_guards / sizeof not_guards[0]; i++)
                assert_false(proc_status_is_guard(not_guards[i], strlen(not_guards[i])));
        /* this process: in the PID namespace it runs in, not PID 1 of one below */
        fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, status, sizeof status);
        close(fd);
        assert_true(n > 0);
        assert_false(proc_status_is_guard(status, (size_t) n));
        assert_int_equal(proc_check_guard(getpid()), -EPERM);
        assert_int_equal(proc_check_guard(0x7ffffff0), -ESRCH);
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

static void test_pidfd_get_pid(void **state) {
        int pidfd, status, fd;
        pid_t child;

        (void) state;
        pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
        if (pidfd < 0 && errno == ENOSYS)
                skip();  /* valgrind 3.19 does not know pidfd_open(2) */
        assert_true(pidfd >= 0);
        assert_int_equal(pidfd_get_pid(pidfd), getpid());
        close(pidfd);

        child = fork();
        assert_true(child >= 0);
        if (child == 0)
                _exit(0);
        pidfd = (int) syscall(SYS_pidfd_open, child, 0);
        assert_true(pidfd >= 0);
        assert_int_equal(pidfd_get_pid(pidfd), child);
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_int_equal(pidfd_get_pid(pidfd), -ESRCH);  /* reaped */
        close(pidfd);

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pidfd_get_pid(fd), -EBADF);  /* not a pidfd */
        close(fd);
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
                cmocka_unit_test(test_proc_stat_parse),
                cmocka_unit_test_setup_teardown(test_proc_get_name_self, save_comm, restore_comm),
                cmocka_unit_test(test_proc_get_name_zombie),
                cmocka_unit_test(test_proc_get_name_bad_pid),
                cmocka_unit_test(test_proc_stat_starttime),
                cmocka_unit_test(test_proc_status_is_guard),
                cmocka_unit_test(test_read_file_small),
                cmocka_unit_test(test_pidfd_get_pid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
