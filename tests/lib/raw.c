/* SPDX-License-Identifier: MIT */
/* One datagram from rockerd as it came, for the clients that speak the
 * protocol by hand. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testlib.h"

ssize_t testlib_recv_raw(int sock, int timeout_ms, char *buf, size_t size, int *fds, size_t max_fds,
                         size_t *ret_n_fds, int *ret_flags) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control = {};
        struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof control.buf };
        struct pollfd p = { .fd = sock, .events = POLLIN };
        size_t n_fds = 0;
        ssize_t n;

        if (poll(&p, 1, timeout_ms) == 0)
                return -ETIME;
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
                                int fd;

                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                                if (n_fds < max_fds)
                                        fds[n_fds] = fd;
                                else
                                        close(fd);
                                n_fds++;
                        }
        buf[n] = '\0';
        *ret_n_fds = n_fds;
        if (ret_flags)
                *ret_flags = mh.msg_flags;
        return n;
}
