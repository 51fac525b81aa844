/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/common/fdpass.c over socketpair(AF_UNIX, SOCK_SEQPACKET).
 * Hostile peers are played by hand-built sendmsg() calls. Every test that
 * makes fds arrive checks that the process's fd table is back to where it
 * was, so a received fd that is not closed fails the test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdpass.h"

typedef struct Pair {
        int tx, rx;
} Pair;

static int pair_open(Pair *p, int flags) {
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | flags, 0, sv) < 0)
                return -1;
        p->tx = sv[0];
        p->rx = sv[1];
        return 0;
}

static void pair_close(Pair *p) {
        if (p->tx >= 0)
                close(p->tx);
        if (p->rx >= 0)
                close(p->rx);
        p->tx = p->rx = -1;
}

static int setup_pair(void **state) {
        Pair *p = malloc(sizeof *p);

        if (!p || pair_open(p, 0) < 0) {
                free(p);
                return -1;
        }
        *state = p;
        return 0;
}

static int setup_pair_nonblock(void **state) {
        Pair *p = malloc(sizeof *p);

        if (!p || pair_open(p, SOCK_NONBLOCK) < 0) {
                free(p);
                return -1;
        }
        *state = p;
        return 0;
}

static int teardown_pair(void **state) {
        Pair *p = *state;

        pair_close(p);
        free(p);
        return 0;
}

/* Entries of /proc/self/fd (the directory's own fd counts each time alike). */
static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

/* A file whose identity the receiver can check; deliberately not O_CLOEXEC. */
static int open_marker(void) {
        int fd = memfd_create("fdpass-test", 0);

        assert_true(fd >= 0);
        assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
        return fd;
}

static void assert_same_file(int a, int b) {
        struct stat sa, sb;

        assert_int_equal(fstat(a, &sa), 0);
        assert_int_equal(fstat(b, &sb), 0);
        assert_int_equal(sa.st_dev, sb.st_dev);
        assert_int_equal(sa.st_ino, sb.st_ino);
}

/* Sends a message carrying n fds in one SCM_RIGHTS, as a hostile peer would. */
static void send_fds(int sock, const char *msg, const int *fds, size_t n) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 32)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) msg, .iov_len = strlen(msg) };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n),
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

        assert_true(n <= 32);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
        assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t) strlen(msg));
}

/* --- the good path ------------------------------------------------------- */

static void test_message_and_fd(void **state) {
        Pair *p = *state;
        char buf[64];
        int marker = open_marker(), fd = 4242;
        ssize_t n;

        assert_int_equal(fdpass_send(p->tx, "hello", 5, marker), 0);
        memset(buf, 0, sizeof buf);
        n = fdpass_recv(p->rx, buf, sizeof buf, &fd);
        assert_int_equal(n, 5);
        assert_memory_equal(buf, "hello", 5);
        assert_true(fd >= 0);
        assert_int_not_equal(fd, marker);
        assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        assert_same_file(fd, marker);
        /* the sender keeps its own fd */
        assert_int_equal(fcntl(marker, F_GETFD), 0);
        close(fd);
        close(marker);
}

static void test_message_without_fd(void **state) {
        Pair *p = *state;
        char buf[64];
        int fd = 4242;

        assert_int_equal(fdpass_send(p->tx, "{}", 2, -1), 0);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), 2);
        assert_memory_equal(buf, "{}", 2);
        assert_int_equal(fd, -EBADF);

        /* -EBADF as the "no fd" of fdpass_send, too */
        fd = 4242;
        assert_int_equal(fdpass_send(p->tx, "x", 1, -EBADF), 0);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), 1);
        assert_int_equal(fd, -EBADF);

        /* without an fd, ret_fd may be NULL */
        assert_int_equal(fdpass_send(p->tx, "abc", 3, -1), 0);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, NULL), 3);
        assert_memory_equal(buf, "abc", 3);
}

static void test_message_boundaries(void **state) {
        Pair *p = *state;
        char buf[64];
        int marker = open_marker(), fd = 4242;

        /* three messages queued: each comes alone, the fd with its own */
        assert_int_equal(fdpass_send(p->tx, "one", 3, -1), 0);
        assert_int_equal(fdpass_send(p->tx, "two!", 4, marker), 0);
        assert_int_equal(fdpass_send(p->tx, "three", 5, -1), 0);
        close(marker);

        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), 3);
        assert_memory_equal(buf, "one", 3);
        assert_int_equal(fd, -EBADF);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), 4);
        assert_memory_equal(buf, "two!", 4);
        assert_true(fd >= 0);
        close(fd);
        fd = 4242;
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), 5);
        assert_memory_equal(buf, "three", 5);
        assert_int_equal(fd, -EBADF);
}

static void test_message_fills_buffer(void **state) {
        Pair *p = *state;
        char out[4096], in[4096];
        int fd = 4242;

        /* exactly the buffer's size is not a truncation */
        for (size_t i = 0; i < sizeof out; i++)
                out[i] = (char) (i * 7);
        assert_int_equal(fdpass_send(p->tx, out, sizeof out, -1), 0);
        assert_int_equal(fdpass_recv(p->rx, in, sizeof in, &fd), (ssize_t) sizeof in);
        assert_memory_equal(in, out, sizeof out);
        assert_int_equal(fd, -EBADF);
}

/* --- refused messages --------------------------------------------------- */

static void test_fd_refused_when_not_wanted(void **state) {
        Pair *p = *state;
        char buf[64];
        int before = count_fds(), marker = open_marker();

        assert_int_equal(fdpass_send(p->tx, "hello", 5, marker), 0);
        close(marker);
        /* the fd is now only in flight */
        assert_int_equal(count_fds(), before);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, NULL), -EBADMSG);
        assert_int_equal(count_fds(), before);

        /* the socket is still usable for the next message */
        assert_int_equal(fdpass_send(p->tx, "next", 4, -1), 0);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, NULL), 4);
}

static void test_two_fds_refused(void **state) {
        Pair *p = *state;
        char buf[64];
        int before = count_fds(), fd = 4242;
        int fds[2] = { open_marker(), open_marker() };

        send_fds(p->tx, "two", fds, 2);
        close(fds[0]);
        close(fds[1]);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), -EBADMSG);
        assert_int_equal(fd, 4242);  /* untouched */
        assert_int_equal(count_fds(), before);

        /* with ret_fd NULL alike */
        fds[0] = open_marker();
        fds[1] = open_marker();
        send_fds(p->tx, "two", fds, 2);
        close(fds[0]);
        close(fds[1]);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, NULL), -EBADMSG);
        assert_int_equal(count_fds(), before);
}

static void test_many_fds_refused(void **state) {
        Pair *p = *state;
        char buf[64];
        int before = count_fds(), fd = 4242;
        int fds[32];
        int marker = open_marker();

        /* more than the receiver's control buffer holds: MSG_CTRUNC, and
         * every fd that did arrive closed */
        for (size_t i = 0; i < 32; i++)
                fds[i] = marker;
        send_fds(p->tx, "many", fds, 32);
        close(marker);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), -EBADMSG);
        assert_int_equal(fd, 4242);
        assert_int_equal(count_fds(), before);
}

static void test_truncated_message_refused(void **state) {
        Pair *p = *state;
        char big[100], buf[10];
        int before = count_fds(), fd = 4242, marker;

        memset(big, 'x', sizeof big);
        assert_int_equal(fdpass_send(p->tx, big, sizeof big, -1), 0);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), -EBADMSG);
        assert_int_equal(fd, 4242);

        /* one byte too many is enough, and an fd riding on it is closed */
        marker = open_marker();
        assert_int_equal(fdpass_send(p->tx, big, sizeof buf + 1, marker), 0);
        close(marker);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), -EBADMSG);
        assert_int_equal(fd, 4242);
        assert_int_equal(count_fds(), before);

        /* the rest of a truncated message does not come back as a message */
        assert_int_equal(fdpass_send(p->tx, "ok", 2, -1), 0);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), 2);
        assert_memory_equal(buf, "ok", 2);
}

static void test_credentials_refused(void **state) {
        Pair *p = *state;
        char buf[64];
        int one = 1, before, fd = 4242, marker;

        assert_int_equal(setsockopt(p->rx, SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
        before = count_fds();
        assert_int_equal(fdpass_send(p->tx, "creds", 5, -1), 0);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), -EBADMSG);
        assert_int_equal(fd, 4242);

        /* with an fd beside the credentials: the fd is closed */
        marker = open_marker();
        assert_int_equal(fdpass_send(p->tx, "creds", 5, marker), 0);
        close(marker);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), -EBADMSG);
        assert_int_equal(fd, 4242);
        assert_int_equal(count_fds(), before);
}

/* --- the end of a connection --------------------------------------------- */

static void test_eof(void **state) {
        Pair *p = *state;
        char buf[64];
        int fd = 4242;

        assert_int_equal(fdpass_send(p->tx, "last", 4, -1), 0);
        close(p->tx);
        p->tx = -1;
        /* what was queued first, then EOF, again and again */
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), 4);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), 0);
        assert_int_equal(fd, -EBADF);
        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, NULL), 0);
}

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig) {
        (void) sig;
        sigpipes++;
}

static void test_send_to_closed_peer(void **state) {
        Pair *p = *state;
        struct sigaction old, count = { .sa_handler = on_sigpipe };
        sigset_t pipe_set, old_mask;
        int stream[2], marker = open_marker(), r1, r2, r3;

        /* SIGPIPE caught (and unblocked), so that one raised is seen */
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigpipes = 0;
        assert_int_equal(sigaction(SIGPIPE, &count, &old), 0);
        assert_int_equal(sigprocmask(SIG_UNBLOCK, &pipe_set, &old_mask), 0);

        close(p->rx);
        p->rx = -1;
        r1 = fdpass_send(p->tx, "hello", 5, -1);
        r2 = fdpass_send(p->tx, "hello", 5, marker);
        /* SOCK_SEQPACKET does not raise SIGPIPE on Linux; a stream socket
         * does, unless the sender says MSG_NOSIGNAL */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream), 0);
        close(stream[1]);
        r3 = fdpass_send(stream[0], "hello", 5, -1);
        close(stream[0]);

        assert_int_equal(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
        assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
        close(marker);
        assert_int_equal(r1, -EPIPE);
        assert_int_equal(r2, -EPIPE);
        assert_int_equal(r3, -EPIPE);
        assert_int_equal(sigpipes, 0);
}

static void test_send_errors(void **state) {
        Pair *p = *state;
        char buf[64];
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

        /* an fd that is not open */
        assert_int_equal(fdpass_send(p->tx, "x", 1, 999), -EBADF);
        /* not a socket */
        assert_true(devnull >= 0);
        assert_int_equal(fdpass_send(devnull, "x", 1, -1), -ENOTSOCK);
        assert_int_equal(fdpass_recv(devnull, buf, sizeof buf, NULL), -ENOTSOCK);
        close(devnull);
        assert_int_equal(fdpass_send(-1, "x", 1, -1), -EBADF);
        assert_int_equal(fdpass_recv(-1, buf, sizeof buf, NULL), -EBADF);
}

static void test_recv_would_block(void **state) {
        Pair *p = *state;
        char buf[64];
        int fd = 4242;

        assert_int_equal(fdpass_recv(p->rx, buf, sizeof buf, &fd), -EAGAIN);
        assert_int_equal(fd, 4242);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_message_and_fd, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_message_without_fd, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_message_boundaries, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_message_fills_buffer, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_fd_refused_when_not_wanted, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_two_fds_refused, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_many_fds_refused, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_truncated_message_refused, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_credentials_refused, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_eof, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_send_to_closed_peer, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_send_errors, setup_pair, teardown_pair),
                cmocka_unit_test_setup_teardown(test_recv_would_block, setup_pair_nonblock, teardown_pair),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
