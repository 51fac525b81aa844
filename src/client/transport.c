/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"
#include "macro.h"
#include "procfs.h"
#include "transport.h"
#include "util.h"

#define DEFAULT_SOCKET "/run/rocker/rockerd.sock"
#define DEFAULT_TIMEOUT_MS 30000
/* Replies are read into the heap: 64 KiB on the stack of a launcher's
 * thread (some have small stacks) is too much to ask. */
#define REPLY_MAX (PROTO_MSG_MAX + 1)

static int timeout_ms(void) {
        const char *e = secure_getenv("ROCKER_TIMEOUT_MS");
        char *end;
        long v;

        if (!e || !*e)
                return DEFAULT_TIMEOUT_MS;
        errno = 0;
        v = strtol(e, &end, 10);
        if (errno || *end || v <= 0 || v > 3600 * 1000)
                return DEFAULT_TIMEOUT_MS;
        return (int) v;
}

ROCKER_ERR transport_connect(int *ret_sock, RkError *err) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        /* secure_getenv: a setuid launcher is not steered by its caller. */
        const char *path = secure_getenv("ROCKER_SOCKET");
        struct ucred peer;
        socklen_t peer_len = sizeof peer;
        int ms = timeout_ms();
        struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

        if (!path || !*path)
                path = DEFAULT_SOCKET;
        if (strlen(path) >= sizeof sa.sun_path) {
                (void) rk_error(err, ENAMETOOLONG, "socket path \"%.256s\" is too long", path);
                return ROCKER_ERR_server_unaddr_invalid;
        }
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                (void) rk_error(err, errno, "socket(AF_UNIX, SOCK_SEQPACKET): %m");
                return ROCKER_ERR_gen_local_addr_failed;
        }
        /* Bounds connect() (a full backlog) and send() alike. */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
                (void) rk_error(err, errno, "SO_SNDTIMEO: %m");
                return ROCKER_ERR_gen_local_addr_failed;
        }
        /* A signal handler of the caller may interrupt the wait for a
         * backlog slot; the socket is then still unconnected, or connected
         * already (EISCONN). */
        while (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EISCONN) {
                if (errno == EINTR)
                        continue;
                (void) rk_error(err, errno, "cannot connect to rockerd at %s: %m", path);
                return ROCKER_ERR_server_unaddr_invalid;
        }
        /* We will setns() into whatever the server hands us: it must be root's. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) < 0 || peer.uid != 0) {
                (void) rk_error(err, EPERM, "the server at %s is not run by root", path);
                return ROCKER_ERR_server_unaddr_invalid;
        }
        *ret_sock = TAKE_FD(fd);
        return ROCKER_ERR_success;
}

ROCKER_ERR transport_send(int sock, const char *buf, size_t len, RkError *err) {
        return transport_send_fds(sock, buf, len, NULL, 0, err);
}

ROCKER_ERR transport_send_fds(int sock, const char *buf, size_t len, const int *fds, size_t n_fds, RkError *err) {
        int r = fdpass_send_fds(sock, buf, len, fds, n_fds);

        if (r < 0) {
                /* rockerd refuses some peers (not root, too many connections)
                 * at once and closes: its reason may be waiting to be read. */
                _cleanup_free_ char *reply_buf = malloc(REPLY_MAX);
                RkError why = {};
                struct pollfd pfd = { .fd = sock, .events = POLLIN };
                ProtoReply reply = {};
                ssize_t n;

                if (reply_buf && poll(&pfd, 1, 0) == 1 && (n = fdpass_recv(sock, reply_buf, REPLY_MAX, NULL)) > 0 &&
                    proto_decode_reply(reply_buf, (size_t) n, &reply, &why) == 0 && !reply.success) {
                        (void) rk_error(err, EPERM, "rockerd: %s", reply.error);
                        return ROCKER_ERR_build_rocker_failed;
                }
                (void) rk_error(err, r, "cannot send the request to rockerd: %m");
                return ROCKER_ERR_send_req_failed;
        }
        return ROCKER_ERR_success;
}

ROCKER_ERR transport_send_enter(const ProtoEnter *enter, int *ret_sock, RkError *err) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        ROCKER_ERR e;
        size_t len;
        int r;

        r = proto_encode_enter(enter, &buf, &len);
        if (r < 0) {
                (void) rk_error(err, r, "cannot encode the request: %s", r == -EMSGSIZE ? "too large" :
                                r == -EINVAL ? "a string is not valid UTF-8" : strerror(-r));
                return ROCKER_ERR_param_invalid;
        }
        e = transport_connect(&fd, err);
        if (e == ROCKER_ERR_success)
                e = transport_send(fd, buf, len, err);
        if (e == ROCKER_ERR_success)
                *ret_sock = TAKE_FD(fd);
        return e;
}

ROCKER_ERR transport_send_spawn(const ProtoEnter *enter, const char *const *argv, const char *const *envp,
                                const int stdio[3], int *ret_sock, RkError *err) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        ROCKER_ERR e;
        size_t len;
        int r;

        r = proto_encode_spawn(enter, argv, envp, &buf, &len);
        if (r < 0) {
                (void) rk_error(err, r, "cannot encode the request: %s", r == -EMSGSIZE ? "too large" :
                                r == -EINVAL ? "argv empty, more than 1024 entries in argv or envp, an envp entry "
                                               "without '=', or a string that is not valid UTF-8" : strerror(-r));
                return ROCKER_ERR_param_invalid;
        }
        e = transport_connect(&fd, err);
        if (e == ROCKER_ERR_success)
                e = transport_send_fds(fd, buf, len, stdio, 3, err);
        if (e == ROCKER_ERR_success)
                *ret_sock = TAKE_FD(fd);
        return e;
}

static long long now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);  /* cannot fail for this clock */
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ROCKER_ERR transport_recv(int sock, char *buf, size_t size, int *ret_fd, size_t *ret_n, RkError *err) {
        struct pollfd pfd = { .fd = sock, .events = POLLIN };
        int ms = timeout_ms(), r;
        long long deadline = now_ms() + ms;
        ssize_t n;

        /* A caller's periodic signal (EINTR) must not make the wait endless:
         * each retry waits only for what is left. */
        for (;;) {
                long long left = deadline - now_ms();

                r = poll(&pfd, 1, left > 0 ? (int) left : 0);
                if (r >= 0 || errno != EINTR)
                        break;
        }
        if (r < 0) {
                (void) rk_error(err, errno, "waiting for rockerd's reply: %m");
                return ROCKER_ERR_recv_resp_failed;
        }
        if (r == 0) {
                (void) rk_error(err, ETIMEDOUT, "no reply from rockerd within %d ms", ms);
                return ROCKER_ERR_recv_resp_failed;
        }
        n = fdpass_recv(sock, buf, size, ret_fd);
        if (n == -ECONNRESET)
                /* rockerd closed with our request unread (it refused us at
                 * accept): the kernel reports the reset before the reply it
                 * had queued for us, which the next read returns. */
                n = fdpass_recv(sock, buf, size, ret_fd);
        if (n <= 0) {
                (void) rk_error(err, n == 0 ? ECONNRESET : (int) -n, "receiving rockerd's reply: %s",
                                n == 0 ? "connection closed" :
                                n == -EBADMSG ? "truncated or malformed message" : strerror((int) -n));
                return ROCKER_ERR_recv_resp_failed;
        }
        *ret_n = (size_t) n;
        return ROCKER_ERR_success;
}

/* A received fd must be a pidfd of the very process the reply names. */
static int check_pidfd(int fd, pid_t pid) {
        int r = pidfd_get_pid(fd);

        if (r < 0)
                return r;
        return r == (int) pid ? 0 : -EBADMSG;
}

ROCKER_ERR transport_decode_reply(const char *buf, size_t n, ProtoReply *ret, const char *what, RkError *err) {
        if (proto_decode_reply(buf, n, ret, err) < 0) {
                (void) rk_error_wrap(err, "%s", what);
                return ROCKER_ERR_recv_resp_failed;
        }
        return ROCKER_ERR_success;
}

/* One reply (and, with ret_fd, the fd that came with it), received into a
 * buffer of the heap, off the caller's stack, and decoded. */
static ROCKER_ERR recv_decoded(int sock, ProtoReply *ret, int *ret_fd, const char *what, RkError *err) {
        _cleanup_free_ char *buf = malloc(REPLY_MAX);
        ROCKER_ERR e;
        size_t n;

        if (!buf) {
                (void) rk_error(err, ENOMEM, "out of memory");
                return ROCKER_ERR_sys;
        }
        e = transport_recv(sock, buf, REPLY_MAX, ret_fd, &n, err);
        if (e != ROCKER_ERR_success)
                return e;
        return transport_decode_reply(buf, n, ret, what, err);
}

ROCKER_ERR transport_recv_plain_reply(int sock, ProtoReply *ret, const char *what, RkError *err) {
        return recv_decoded(sock, ret, NULL, what, err);
}

ROCKER_ERR transport_recv_reply(int sock, ProtoReply *reply, int *ret_pidfd, RkError *err) {
        _cleanup_close_ int pidfd = -EBADF;
        ROCKER_ERR e;

        e = recv_decoded(sock, reply, &pidfd, "malformed reply from rockerd", err);
        if (e != ROCKER_ERR_success)
                return e;
        if (!reply->success) {
                if (pidfd >= 0) {
                        (void) rk_error(err, EBADMSG, "malformed reply from rockerd: a failure carrying a file descriptor");
                        return ROCKER_ERR_recv_resp_failed;
                }
                (void) rk_error(err, EIO, "rockerd: %s", reply->error);
                return ROCKER_ERR_build_rocker_failed;
        }
        if (pidfd < 0) {
                (void) rk_error(err, EBADMSG, "malformed reply from rockerd: no pidfd came with it");
                return ROCKER_ERR_recv_resp_failed;
        }
        if (check_pidfd(pidfd, reply->guard_pid) < 0) {
                (void) rk_error(err, EBADMSG, "malformed reply from rockerd: the fd is not a pidfd of guard pid %d",
                                (int) reply->guard_pid);
                return ROCKER_ERR_recv_resp_failed;
        }
        /* The library will setns() into this process: it must be a guard,
         * whoever the server is (docs/security.md §4.1). */
        if (!guard_name_valid(reply->guard_name) || proc_check_guard(reply->guard_pid) < 0 ||
            pidfd_send_signal(pidfd, 0, NULL, 0) < 0) {
                (void) rk_error(err, EBADMSG, "malformed reply from rockerd: pid %d is not a live guard named \"%s\"",
                                (int) reply->guard_pid, reply->guard_name);
                return ROCKER_ERR_recv_resp_failed;
        }
        *ret_pidfd = TAKE_FD(pidfd);
        return ROCKER_ERR_success;
}

ROCKER_ERR transport_ack(int sock, const ProtoReply *rocker, RkError *err) {
        _cleanup_free_ char *buf = NULL;
        ProtoReply reply = {};
        ROCKER_ERR e;
        size_t len;
        int r;

        r = proto_encode_ack(&buf, &len);
        if (r < 0) {
                (void) rk_error(err, r, "cannot encode the ack: %m");
                return ROCKER_ERR_sys;
        }
        r = fdpass_send(sock, buf, len, -EBADF);
        if (r < 0) {
                (void) rk_error(err, r, "cannot confirm the join to rockerd: %m");
                return ROCKER_ERR_send_req_failed;
        }
        e = transport_recv_plain_reply(sock, &reply, "malformed ack reply from rockerd", err);
        if (e != ROCKER_ERR_success)
                return e;
        if (!reply.success) {
                (void) rk_error(err, EIO, "rockerd: %s", reply.error);
                return ROCKER_ERR_build_rocker_failed;
        }
        if (reply.guard_pid != rocker->guard_pid || strcmp(reply.guard_name, rocker->guard_name) != 0) {
                (void) rk_error(err, EBADMSG, "rockerd confirmed another rocker (%s, pid %d)", reply.guard_name,
                                (int) reply.guard_pid);
                return ROCKER_ERR_recv_resp_failed;
        }
        return ROCKER_ERR_success;
}
