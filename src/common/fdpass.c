/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "fdpass.h"
#include "macro.h"

/* Room for more fds than we accept, so that a peer that sends several gets
 * them all closed instead of having the kernel truncate the list. */
#define FDPASS_FDS_MAX 16
#define FDPASS_SEND_MAX 4

int fdpass_send(int sock, const void *buf, size_t len, int fd) {
        return fdpass_send_fds(sock, buf, len, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
}

int fdpass_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * FDPASS_SEND_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (n_fds > FDPASS_SEND_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n_fds; i++)
                if (fds[i] < 0)
                        return -EBADF;
        if (n_fds > 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);  /* a datagram is sent whole or not at all */
        if (n < 0)
                return negative_errno();
        if ((size_t) n != len)
                return -EMSGSIZE;
        return 0;
}

ssize_t fdpass_recv(int sock, void *buf, size_t size, int *ret_fd) {
        size_t n_fds = 0;
        int fd = -EBADF;
        ssize_t n;

        n = fdpass_recv_fds(sock, buf, size, ret_fd ? &fd : NULL, ret_fd ? 1 : 0, &n_fds);
        if (n >= 0 && ret_fd)
                *ret_fd = n_fds == 1 ? fd : -EBADF;
        return n;
}

ssize_t fdpass_recv_fds(int sock, void *buf, size_t size, int *ret_fds, size_t max_fds, size_t *ret_n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * FDPASS_FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control.buf,
        };
        int fds[FDPASS_FDS_MAX];
        size_t n_fds = 0;
        int bad = 0;
        ssize_t n;

        memset(&control, 0, sizeof control);
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k; i++) {
                                int fd;
                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                if (n_fds < FDPASS_FDS_MAX)
                                        fds[n_fds++] = fd;
                                else
                                        safe_close(fd);  /* cannot happen: the buffer holds FDS_MAX */
                        }
                } else
                        bad = 1;  /* credentials, security labels…: not ours */
        }

        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
                bad = 1;
        if (n_fds > (ret_fds ? max_fds : 0u))
                bad = 1;
        if (bad) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                return -EBADMSG;
        }
        for (size_t i = 0; i < n_fds; i++)
                ret_fds[i] = fds[i];
        if (ret_n_fds)
                *ret_n_fds = n_fds;
        return n;
}
