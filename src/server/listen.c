/* SPDX-License-Identifier: MIT */
/*
 * rockerd's listening socket: bound (or taken from socket activation),
 * accepting without ever blocking the loop, and the peer policy at the
 * door: SO_PEERCRED (filled in by the kernel) decides, root and the users of
 * AllowUsers= / AllowGroups= get a connection (conn.c), anyone else is told
 * no and dropped without holding a slot; so is everyone past
 * MaxConnections=.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "fdpass.h"
#include "log.h"
#include "macro.h"
#include "manager-internal.h"
#include "policy.h"
#include "proto.h"
#include "spawn.h"

/* Tells a peer no and closes, without giving it a connection slot. */
static void refuse_peer(int fd, const char *text) {
        ProtoReply reply = { .success = 0 };
        _cleanup_free_ char *buf = NULL;
        size_t len;

        snprintf(reply.error, sizeof reply.error, "%s", text);
        if (proto_encode_reply(&reply, &buf, &len) >= 0)
                (void) fdpass_send(fd, buf, len, -EBADF);
}

int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        socklen_t len = sizeof(struct ucred);
        _cleanup_close_ int cfd = -EBADF;
        _cleanup_free_ gid_t *groups = NULL;
        int k, n_groups = 0;
        struct ucred peer;
        _cleanup_(conn_freep) Conn *c = NULL;

        (void) revents;
        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
                if (errno == EMFILE || errno == ENFILE) {
                        /* The pending connection keeps the socket readable:
                         * pause instead of spinning until an fd is freed. */
                        log_warning_errno(errno, "accept: %m; pausing until a connection or rocker ends");
                        if (sd_event_source_set_enabled(s, SD_EVENT_OFF) >= 0)
                                m->accept_paused = true;
                } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning_errno(errno, "accept: %m");
                return 0;
        }
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
                log_warning_errno(errno, "SO_PEERCRED: %m");
                return 0;
        }
        if (peer.uid != 0) {
                k = policy_peer_groups(cfd, &groups, &n_groups);
                if (k < 0) {
                        log_warning_errno(k, "pid %d uid %u: SO_PEERGROUPS: %m", (int) peer.pid, (unsigned) peer.uid);
                        return 0;
                }
        }
        if (!policy_peer_allowed(&m->cfg, &peer, groups, n_groups)) {
                /* Root, and the users of AllowUsers=/AllowGroups= (policy.c,
                 * docs/security.md): anyone else is told at once and
                 * dropped, never holding a slot. */
                char text[192];
                snprintf(text, sizeof text, "permission denied: uid %u may not use rockerd (root only, and the "
                         "users and groups of AllowUsers= and AllowGroups= in rockerd.conf)", (unsigned) peer.uid);
                refuse_peer(cfd, text);
                log_info("pid %d uid %u refused: not root, not in AllowUsers= or AllowGroups=", (int) peer.pid,
                         (unsigned) peer.uid);
                return 0;
        }
        if (m->n_conns >= m->cfg.max_connections) {
                refuse_peer(cfd, "too many connections to rockerd; try again");
                log_warning("too many connections (%u): one refused", m->n_conns);
                return 0;
        }
        c = calloc(1, sizeof *c);
        if (!c)
                return 0;
        c->m = m;
        spawn_request_init(&c->spawn);
        c->image_fd = c->joined_pidfd = -EBADF;
        c->fd = TAKE_FD(cfd);
        c->image_fd = -EBADF;
        c->peer = peer;
        c->peer_groups = TAKE_PTR(groups);
        c->n_peer_groups = n_groups;
        LIST_PREPEND(conns, m->conns, c);
        m->n_conns++;

        k = sd_event_add_io(m->event, &c->io, c->fd, EPOLLIN | EPOLLRDHUP, on_conn_io, c);
        if (k < 0) {
                log_warning_errno(k, "cannot watch a connection: %m");
                return 0;
        }
        if (conn_set_deadline(c, m->cfg.request_timeout_usec) < 0)
                return 0;
        TAKE_PTR(c);  /* the loop's now */
        return 0;
}

int listen_socket(const ManagerConfig *cfg) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[sizeof sa.sun_path];
        struct stat st;
        char *slash;
        int n;

        n = sd_listen_fds(1);
        if (n < 0)
                return log_error_errno(n, "sd_listen_fds: %m");
        if (n > 1)
                return log_error_errno(EINVAL, "expected one socket from systemd, got %d", n);
        if (n == 1) {
                if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
                        return log_error_errno(EINVAL, "the socket passed by systemd is not a listening AF_UNIX SOCK_SEQPACKET socket");
                /* systemd hands it over blocking unless told otherwise;
                 * the loop must never block on it. */
                if (fcntl(SD_LISTEN_FDS_START, F_SETFL, fcntl(SD_LISTEN_FDS_START, F_GETFL) | O_NONBLOCK) < 0 ||
                    fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC) < 0)
                        return log_error_errno(errno, "cannot set up the socket passed by systemd: %m");
                log_info("using the socket passed by systemd");
                return SD_LISTEN_FDS_START;
        }

        if (strlen(cfg->socket_path) >= sizeof sa.sun_path || cfg->socket_path[0] != '/')
                return log_error_errno(EINVAL, "socket path \"%s\" is not an absolute path shorter than %zu bytes",
                                       cfg->socket_path, sizeof sa.sun_path);
        strcpy(sa.sun_path, cfg->socket_path);
        strcpy(dir, cfg->socket_path);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "cannot create %s: %m", dir);
        }
        /* A stale socket of an earlier rockerd is replaced; anything else is not. */
        if (lstat(sa.sun_path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return log_error_errno(EEXIST, "%s exists and is not a socket", sa.sun_path);
                if (unlink(sa.sun_path) < 0)
                        return log_error_errno(errno, "cannot remove the stale socket %s: %m", sa.sun_path);
        }
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "socket: %m");
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return log_error_errno(errno, "cannot bind %s: %m", sa.sun_path);
        /* Anyone may connect and be told no; root and AllowUsers= /
         * AllowGroups= are served (on_accept()). */
        if (chmod(sa.sun_path, 0666) < 0)
                return log_error_errno(errno, "chmod %s: %m", sa.sun_path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "listen: %m");
        log_info("listening on %s", sa.sun_path);
        return TAKE_FD(fd);
}
