/* SPDX-License-Identifier: MIT */
/* rockerd's log (src/server/log.c): levels, the errno it returns and prints
 * (%m), the two stderr formats ("rockerd: " and the journal's "<N>"),
 * control characters neutralised, long lines cut, and the structured
 * fields sent to the journal. Each case logs in a forked child whose stderr
 * is a pipe: log.c decides "under the journal" once per process. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static char *read_all(int fd) {
        size_t size = 8192, len = 0;
        char *buf = malloc(size);
        ssize_t n;

        assert_non_null(buf);
        while ((n = read(fd, buf + len, size - len - 1)) > 0 || (n < 0 && errno == EINTR))
                if (n > 0 && (len += (size_t) n) + 1 >= size) {
                        size *= 2;
                        buf = realloc(buf, size);
                        assert_non_null(buf);
                }
        buf[len] = '\0';
        return buf;
}

/* Runs fn in a child with stderr on a pipe (and JOURNAL_STREAM set when
 * journal): what it wrote. fn's result is the child's exit status, which
 * must be 0. */
static char *capture(int (*fn)(void), bool journal) {
        int fds[2], status;
        char *out;
        pid_t pid;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int r;

                dup2(fds[1], 2);
                if (journal)
                        setenv("JOURNAL_STREAM", "8:12345", 1);
                else
                        unsetenv("JOURNAL_STREAM");
                r = fn();
                fflush(stderr);
                _exit(r);
        }
        close(fds[1]);
        out = read_all(fds[0]);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("the logging child failed (status 0x%x), it wrote:\n%s", status, out);
        return out;
}

static int log_levels(void) {
        /* the default level is info */
        log_debug("not shown %d", 1);
        log_info("info shown");
        log_set_max_level(LOG_DEBUG);
        log_debug("debug shown");
        log_set_max_level(LOG_WARNING);
        log_notice("notice hidden");
        log_info("info hidden");
        log_warning("warning shown");
        log_error("error shown");
        return 0;
}

static void test_levels(void **state) {
        char *out = capture(log_levels, false);

        (void) state;
        assert_string_equal(out, "rockerd: info shown\n"
                                 "rockerd: debug shown\n"
                                 "rockerd: warning shown\n"
                                 "rockerd: error shown\n");
        free(out);
}

static int log_errnos(void) {
        /* -errno comes back whether the line is logged or filtered out */
        if (log_error_errno(-EACCES, "open %s: %m", "/x") != -EACCES)
                return 10;
        if (log_error_errno(ENOENT, "stat: %m") != -ENOENT)
                return 11;
        if (log_debug_errno(-EBUSY, "hidden: %m") != -EBUSY)
                return 12;
        if (log_info("no error") != 0)
                return 13;
        if (log_struct(LOG_DEBUG, NULL, "hidden") != 0)
                return 14;
        return 0;
}

static void test_errno_returned_and_printed(void **state) {
        char *out = capture(log_errnos, false);
        char want[256];

        (void) state;
        snprintf(want, sizeof want, "rockerd: open /x: %s\nrockerd: stat: %s\nrockerd: no error\n", strerror(EACCES),
                 strerror(ENOENT));
        assert_string_equal(out, want);
        free(out);
}

static int log_journal_stream(void) {
        log_error("an error");
        log_warning("a warning");
        log_info("info");
        return 0;
}

/* Under systemd (JOURNAL_STREAM set) stderr carries the priority as a
 * "<N>" prefix, which the journal reads; no "rockerd: " (the journal has
 * the unit's name). */
static void test_journal_stream_prefix(void **state) {
        char *out = capture(log_journal_stream, true);

        (void) state;
        assert_string_equal(out, "<3>an error\n<4>a warning\n<6>info\n");
        free(out);
}

static int log_hostile(void) {
        log_error("client said \"%s\"", "x\n<0>rockerd: forged\r\x1b[2J\x7f end");
        return 0;
}

/* Text from a client cannot forge a line, a priority or a terminal
 * sequence: every control character becomes '?'. */
static void test_control_characters(void **state) {
        char *out = capture(log_hostile, false);

        (void) state;
        assert_string_equal(out, "rockerd: client said \"x?<0>rockerd: forged??[2J? end\"\n");
        free(out);
}

static int log_long(void) {
        char big[5000];

        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        log_error("%s", big);
        log_struct(LOG_ERR, NULL, "%s", big);
        return 0;
}

/* A message longer than the line buffer is cut (2047 bytes), never
 * overflows, and still ends its line. */
static void test_long_message_cut(void **state) {
        char *out = capture(log_long, false), *second;
        size_t first_len;

        (void) state;
        first_len = strcspn(out, "\n");
        assert_int_equal(first_len, strlen("rockerd: ") + 2047);
        assert_memory_equal(out, "rockerd: aaaa", 13);
        second = out + first_len + 1;
        assert_int_equal(strcspn(second, "\n"), strlen("rockerd: ") + 2047);
        assert_string_equal(second + strlen(second) - 2, "a\n");
        free(out);
}

static int log_fields_on_stderr(void) {
        LogFields f = LOG_FIELDS_NONE;

        f.app_id = 1000;
        f.has_app_id = true;
        f.guard_name = "rk-abcdefghijkl";
        log_struct(LOG_NOTICE, &f, "rocker built");
        return 0;
}

/* Without the journal the fields are left out: the text says it all. */
static void test_fields_left_out_on_stderr(void **state) {
        char *out = capture(log_fields_on_stderr, false);

        (void) state;
        assert_string_equal(out, "rockerd: rocker built\n");
        free(out);
}

static bool starts_with(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Plays journald in a private mount namespace (a tmpfs on /run): the
 * native protocol's datagram must carry the message, the priority and each
 * field that is set, and nothing goes to stderr. */
static int log_to_journal(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        LogFields f = LOG_FIELDS_NONE;
        char buf[4096];
        ssize_t n;
        int fd;

        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0 ||
            mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/journal", 0755) < 0)
                return 20;
        snprintf(sa.sun_path, sizeof sa.sun_path, "/run/systemd/journal/socket");
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return 21;

        f.app_id = 1000;
        f.has_app_id = true;
        f.guard_name = "rk-abcdefghijkl";
        f.guard_pid = 4242;
        f.peer_pid = 77;
        f.peer_uid = 0;
        log_struct(LOG_WARNING, &f, "built\nfor you");
        n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n <= 0)
                return 22;
        buf[n] = '\0';
        /* sd-journal adds CODE_FILE=, CODE_LINE=, CODE_FUNC=,
         * SYSLOG_IDENTIFIER= after ours */
        if (!starts_with(buf, "MESSAGE=built?for you\nPRIORITY=4\nAPP_ID=1000\nGUARD_NAME=rk-abcdefghijkl\n"
                              "GUARD_PID=4242\nPEER_PID=77\nPEER_UID=0\nCODE_FILE=")) {
                fprintf(stderr, "datagram: %s", buf);
                return 23;
        }

        /* only what is set */
        f = LOG_FIELDS_NONE;
        f.guard_name = "rk-000000000000";
        log_struct(LOG_INFO, &f, "gone");
        n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n <= 0)
                return 24;
        buf[n] = '\0';
        if (!starts_with(buf, "MESSAGE=gone\nPRIORITY=6\nGUARD_NAME=rk-000000000000\nCODE_FILE=")) {
                fprintf(stderr, "datagram: %s", buf);
                return 25;
        }
        close(fd);
        return 0;
}

static void test_journal_fields(void **state) {
        char *out;

        (void) state;
        if (geteuid() != 0)
                skip();  /* a private mount namespace needs root */
        out = capture(log_to_journal, true);
        assert_string_equal(out, "");
        free(out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_levels),
                cmocka_unit_test(test_errno_returned_and_printed),
                cmocka_unit_test(test_journal_stream_prefix),
                cmocka_unit_test(test_control_characters),
                cmocka_unit_test(test_long_message_cut),
                cmocka_unit_test(test_fields_left_out_on_stderr),
                cmocka_unit_test(test_journal_fields),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
