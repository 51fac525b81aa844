/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/common/procfs.c, the one /proc reader: the parsers on
 * buffers, then the readers on this test's own /proc/self and on forked
 * children (a live one, a zombie, a reaped one); and the probes rockerd
 * builds on it (src/server/procprobe.c) on the same processes.
 */
#include <dirent.h>
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "procfs.h"
#include "procprobe.h"

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

/* A child that waits (in pause()) until killed, with SIGTERM blocked so
 * that one sent stays pending. */
static pid_t fork_sleeper(void) {
        sigset_t term;
        pid_t pid;

        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void) sigprocmask(SIG_BLOCK, &term, NULL);
                (void) prctl(PR_SET_NAME, "sleeper (kid)");
                for (;;)
                        pause();
        }
        return pid;
}

/* Until pid's /proc shows name (the child has got past its prctl()). */
static void wait_for_name(pid_t pid, const char *name) {
        for (int i = 0; i < 5000; i++) {
                char got[16];

                if (proc_get_name(pid, got, NULL) == 0 && strcmp(got, name) == 0)
                        return;
                usleep(1000);
        }
        fail_msg("pid %d never showed the name \"%s\"", (int) pid, name);
}

/* --- procfs_read ------------------------------------------------------- */

static void test_procfs_read_self(void **state) {
        char buf[8], big[4096], other[4096];
        int n, m;

        (void) state;
        n = procfs_read(PROCFS_AT, PROCFS_SELF, "stat", big, sizeof big);
        assert_true(n > 0 && (size_t) n < sizeof big);
        assert_int_equal(strlen(big), (size_t) n);
        /* cut at size - 1, and still a string */
        assert_int_equal(procfs_read(PROCFS_AT, PROCFS_SELF, "stat", buf, sizeof buf), 7);
        assert_int_equal(strlen(buf), 7);
        assert_int_equal(procfs_read(PROCFS_AT, PROCFS_SELF, "stat", buf, 0), -EINVAL);
        assert_int_equal(procfs_read(PROCFS_AT, PROCFS_SELF, "no-such-file", buf, sizeof buf), -ENOENT);
        /* self and our pid name one process */
        n = procfs_read(PROCFS_AT, PROCFS_SELF, "cmdline", big, sizeof big);
        m = procfs_read(PROCFS_AT, getpid(), "cmdline", other, sizeof other);
        assert_true(n > 0);
        assert_int_equal(n, m);
        assert_memory_equal(big, other, (size_t) n);
        /* a file of /proc itself */
        assert_true(procfs_read(PROCFS_AT, PROCFS_TOP, "sys/kernel/pid_max", big, sizeof big) > 0);
        assert_true(atol(big) > 1);
        /* above PID_MAX_LIMIT (4194304): never a live process */
        assert_int_equal(procfs_read(PROCFS_AT, 4194304 + 1000, "stat", big, sizeof big), -ENOENT);
        /* nor 0 or a negative pid: never ourselves, never /proc/stat */
        assert_int_equal(procfs_read(PROCFS_AT, 0, "status", big, sizeof big), -ENOENT);
        assert_int_equal(procfs_read(PROCFS_AT, -1, "stat", big, sizeof big), -ENOENT);
        assert_int_equal(procfs_read(PROCFS_AT, -12345, "stat", big, sizeof big), -ENOENT);
        assert_int_equal(proc_check_guard(0), -ESRCH);
        assert_int_equal(proc_check_guard(-1), -ESRCH);
        assert_false(proc_pid_exit_done(0));
        assert_true(pid_is_dying(0));
        assert_int_equal(pid_mntns_ino(0), 0);
        assert_int_equal(pid_pidns_ino(-1), 0);
        assert_int_equal(pid_mntns(0), 0);
}

static void test_procfs_read_at_fd(void **state) {
        _cleanup_close_ int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char a[4096], b[4096];
        int n, m;

        (void) state;
        assert_true(proc_fd >= 0);
        /* "comm", not "cmdline": valgrind answers an open() of
         * /proc/self/cmdline with the client's, not an openat() at a fd */
        n = procfs_read(proc_fd, PROCFS_SELF, "comm", a, sizeof a);
        m = procfs_read(PROCFS_AT, PROCFS_SELF, "comm", b, sizeof b);
        assert_true(n > 0);
        assert_int_equal(n, m);
        assert_memory_equal(a, b, (size_t) n);
        assert_true(procfs_read(proc_fd, PROCFS_TOP, "sys/kernel/pid_max", a, sizeof a) > 0);
        assert_int_equal(procfs_read(proc_fd, 4194304 + 1000, "stat", a, sizeof a), -ENOENT);
}

static void test_procfs_read_child(void **state) {
        char buf[64];
        pid_t pid;
        int n;

        (void) state;
        pid = fork_sleeper();
        wait_for_name(pid, "sleeper (kid)");
        n = procfs_read(PROCFS_AT, pid, "comm", buf, sizeof buf);
        assert_int_equal(n, (int) strlen("sleeper (kid)\n"));
        assert_string_equal(buf, "sleeper (kid)\n");
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_int_equal(procfs_read(PROCFS_AT, pid, "comm", buf, sizeof buf), -ENOENT);
}

static void test_procfs_read_all(void **state) {
        _cleanup_free_ char *text = NULL;
        char small[64];
        size_t len = 0;

        (void) state;
        assert_int_equal(procfs_read_all(PROCFS_AT, PROCFS_SELF, "mountinfo", 64 << 20, &text, &len), 0);
        assert_true(len > 0);
        assert_non_null(memchr(text, '\n', len));
        free(TAKE_PTR(text));
        /* the whole of a file, past what one small read gives */
        assert_int_equal(procfs_read_all(PROCFS_AT, PROCFS_SELF, "stat", 1 << 20, &text, &len), 0);
        assert_true(len > sizeof small);
        free(TAKE_PTR(text));
        /* the bound */
        assert_int_equal(procfs_read_all(PROCFS_AT, PROCFS_SELF, "mountinfo", 0, &text, &len), -EFBIG);
        assert_null(text);
        assert_int_equal(procfs_read_all(PROCFS_AT, PROCFS_SELF, "no-such-file", 1 << 20, &text, &len), -ENOENT);
}

/* --- namespaces and links ------------------------------------------------ */

static void test_procfs_ns(void **state) {
        struct stat st;
        ino_t ino = 0, child_ino = 0;
        char link[64];
        pid_t pid;

        (void) state;
        assert_int_equal(stat("/proc/self/ns/mnt", &st), 0);
        assert_int_equal(procfs_ns_ino(PROCFS_AT, PROCFS_SELF, "mnt", &ino), 0);
        assert_int_equal(ino, st.st_ino);
        assert_int_equal(procfs_ns_ino(PROCFS_AT, PROCFS_SELF, "no-such-ns", &ino), -ENOENT);
        assert_int_equal(ino, st.st_ino);  /* untouched on failure */
        assert_true(procfs_readlink(PROCFS_AT, PROCFS_SELF, "ns/mnt", link, sizeof link) > 0);
        assert_int_equal(strncmp(link, "mnt:[", 5), 0);
        assert_int_equal(strtoull(link + 5, NULL, 10), (unsigned long long) st.st_ino);
        assert_int_equal(procfs_readlink(PROCFS_AT, PROCFS_SELF, "ns/mnt", link, 4), 3);
        assert_string_equal(link, "mnt");

        /* a child shares them; the probes say the same */
        pid = fork_sleeper();
        assert_int_equal(procfs_ns_ino(PROCFS_AT, pid, "mnt", &child_ino), 0);
        assert_int_equal(child_ino, st.st_ino);
        assert_int_equal(pid_mntns_ino(pid), st.st_ino);
        assert_int_equal(pid_mntns(pid), pid_mntns(getpid()));
        assert_int_equal(procfs_ns_ino(PROCFS_AT, PROCFS_SELF, "pid", &ino), 0);
        assert_int_equal(pid_pidns_ino(pid), ino);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_int_equal(pid_mntns_ino(pid), 0);
        assert_int_equal(pid_pidns_ino(pid), 0);
        assert_int_equal(pid_mntns(pid), 0);
}

/* --- procfs_pid_next --------------------------------------------------- */

static void test_procfs_pid_next(void **state) {
        bool self = false, child = false;
        pid_t pid, p;

        (void) state;
        pid = fork_sleeper();
        {
                _cleanup_close_ int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                _cleanup_closedir_ DIR *d = NULL, *at = NULL;

                assert_int_equal(procfs_pids_open(PROCFS_AT, &d), 0);
                assert_true(proc_fd >= 0);
                assert_int_equal(procfs_pids_open(proc_fd, &at), 0);
                /* a DIR of its own: proc_fd stays the caller's */
                assert_true(dirfd(at) != proc_fd);
                assert_true(procfs_pid_next(at, &p) && p > 0);
                while (procfs_pid_next(d, &p)) {
                        assert_true(p > 0);
                        self = self || p == getpid();
                        child = child || p == pid;
                }
                assert_false(procfs_pid_next(d, &p));  /* and stays at the end */
        }
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_true(self);
        assert_true(child);
}

/* --- procfs_status_field ------------------------------------------------- */

static void status_field_is(const char *text, const char *key, int want, const char *value) {
        char got[20] = "untouched";
        size_t len;
        char *b = unterminated(text, &len);
        int r;

        r = procfs_status_field(b, len, key, got, sizeof got);
        free(b);
        if (r != want || (r == 0 && strcmp(got, value) != 0)) {
                print_error("procfs_status_field(\"%s\", \"%s\") = %d \"%s\", expected %d \"%s\"\n", text, key, r,
                            got, want, value ? value : "");
                fail();
        }
}

static void test_procfs_status_field(void **state) {
        (void) state;
        status_field_is("Name:\tbash\nState:\tS (sleeping)\n", "State", 0, "S (sleeping)");
        status_field_is("Name:\tbash\nState:\tS (sleeping)\n", "Name", 0, "bash");  /* the first line */
        status_field_is("Name:\tbash\nUid:\t0\t0\t0\t0", "Uid", 0, "0\t0\t0\t0");     /* no final newline */
        status_field_is("Name:\tbash\nThreads:\t1\n", "Threads", 0, "1");
        status_field_is("SigQ:\t0/1\nSigPnd:\t0000000000000100\n", "SigPnd", 0, "0000000000000100");
        status_field_is("Empty:\t\nx:\t1\n", "Empty", 0, "");
        status_field_is("Empty:", "Empty", 0, "");
        status_field_is("Pid:   7\n", "Pid", 0, "   7");  /* one tab skipped, nothing else */
        /* a key matches a whole key at the start of a line only */
        status_field_is("Name:\tx Uid:\t0\n", "Uid", -ENOENT, NULL);
        status_field_is("Name:\tUid:\t0\n", "Uid", -ENOENT, NULL);
        status_field_is("SigPnd:\t1\n", "Sig", -ENOENT, NULL);
        status_field_is("XUid:\t0\n", "Uid", -ENOENT, NULL);
        status_field_is("Uid\t0\n", "Uid", -ENOENT, NULL);
        status_field_is("Uid", "Uid", -ENOENT, NULL);
        status_field_is("", "Uid", -ENOENT, NULL);
        /* a value that does not fit is refused, not cut */
        status_field_is("Uid:\t0123456789abcdefghij\n", "Uid", -ENOBUFS, NULL);
        status_field_is("Uid:\t0123456789abcdefghi\n", "Uid", 0, "0123456789abcdefghi");
}

static void test_procfs_status_self(void **state) {
        char buf[4096], value[64];
        int n;

        (void) state;
        n = procfs_read(PROCFS_AT, PROCFS_SELF, "status", buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(procfs_status_field(buf, (size_t) n, "Pid", value, sizeof value), 0);
        assert_int_equal(atoi(value), getpid());
        assert_int_equal(procfs_status_field(buf, (size_t) n, "State", value, sizeof value), 0);
        assert_int_equal(value[0], 'R');
        assert_int_equal(procfs_status_field(buf, (size_t) n, "Threads", value, sizeof value), 0);
        assert_string_equal(value, "1");
}

/* --- stat fields --------------------------------------------------------- */

static void test_procfs_stat_field(void **state) {
        static const char line[] = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        unsigned long long v = 7;
        char buf[1024];
        int n;

        (void) state;
        assert_int_equal(procfs_stat_field(line, sizeof line - 1, 4, &v), 0);
        assert_int_equal(v, 1);
        assert_int_equal(procfs_stat_field(line, sizeof line - 1, 9, &v), 0);
        assert_int_equal(v, 4194560ULL);
        assert_int_equal(procfs_stat_field(line, sizeof line - 1, 22, &v), 0);
        assert_int_equal(v, 987654ULL);
        assert_int_equal(procfs_stat_field(line, sizeof line - 1, 24, &v), 0);
        assert_int_equal(v, 10);
        v = 7;
        assert_int_equal(procfs_stat_field(line, sizeof line - 1, 25, &v), -EBADMSG);  /* past the end */
        assert_int_equal(procfs_stat_field(line, sizeof line - 1, 3, &v), -EBADMSG);   /* the state: no number */
        assert_int_equal(procfs_stat_field(line, sizeof line - 1, 8, &v), -EBADMSG);   /* -1: not unsigned */
        assert_int_equal(procfs_stat_field(line, sizeof line - 1, 2, &v), -EBADMSG);   /* the name */
        assert_int_equal(procfs_stat_field(line, 12, 9, &v), -EBADMSG);                /* len is honoured */
        assert_int_equal(procfs_stat_field("42 (x", 5, 4, &v), -EBADMSG);
        assert_int_equal(v, 7);  /* untouched on failure */

        /* ours: field 4 is our parent, 22 the start time proc_get_identity() sees */
        n = procfs_read(PROCFS_AT, PROCFS_SELF, "stat", buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(procfs_stat_field(buf, (size_t) n, 4, &v), 0);
        assert_int_equal(v, (unsigned long long) getppid());
        {
                unsigned long long t = 0;
                char name[16];

                assert_int_equal(procfs_stat_field(buf, (size_t) n, 22, &v), 0);
                assert_int_equal(proc_get_identity(getpid(), name, &t), 0);
                assert_int_equal(t, v);
        }
}

/* --- the probes (procprobe.c) ------------------------------------------- */

static void test_pid_is_dying(void **state) {
        siginfo_t si = {};
        pid_t pid;

        (void) state;
        assert_false(pid_is_dying(getpid()));
        assert_false(proc_pid_exit_done(getpid()));

        /* alive, then with a SIGTERM pending (blocked): the guard would end on it */
        pid = fork_sleeper();
        wait_for_name(pid, "sleeper (kid)");
        assert_false(pid_is_dying(pid));
        assert_false(proc_pid_exit_done(pid));
        assert_int_equal(kill(pid, SIGTERM), 0);
        assert_true(pid_is_dying(pid));
        /* a zombie */
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitid(P_PID, (id_t) pid, &si, WEXITED | WNOWAIT), 0);
        assert_true(pid_is_dying(pid));
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        /* gone */
        assert_true(pid_is_dying(pid));
        /* not an init waiting for its namespace: never "exited unreaped" */
        assert_false(rocker_exited_unreaped(-EBADF, getpid(), pid_pidns_ino(getpid()), 0, 0));
        assert_false(rocker_exited_unreaped(-EBADF, getpid(), 0, 0, 0));
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
                cmocka_unit_test(test_procfs_read_self),
                cmocka_unit_test(test_procfs_read_at_fd),
                cmocka_unit_test(test_procfs_read_child),
                cmocka_unit_test(test_procfs_read_all),
                cmocka_unit_test(test_procfs_ns),
                cmocka_unit_test(test_procfs_pid_next),
                cmocka_unit_test(test_procfs_status_field),
                cmocka_unit_test(test_procfs_status_self),
                cmocka_unit_test(test_procfs_stat_field),
                cmocka_unit_test(test_pid_is_dying),
                cmocka_unit_test(test_proc_stat_parse),
                cmocka_unit_test_setup_teardown(test_proc_get_name_self, save_comm, restore_comm),
                cmocka_unit_test(test_proc_get_name_zombie),
                cmocka_unit_test(test_proc_get_name_bad_pid),
                cmocka_unit_test(test_proc_stat_starttime),
                cmocka_unit_test(test_proc_status_is_guard),
                cmocka_unit_test(test_pidfd_get_pid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
