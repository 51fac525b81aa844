/* SPDX-License-Identifier: MIT */
/* The public API: ROCKER_* (include/rocker/rocker.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rocker/rocker.h>

#include "fdpass.h"
#include "join.h"
#include "lasterr.h"
#include "macro.h"
#include "proto.h"
#include "transport.h"
#include "util.h"

/* More live rockers than rockerd can hold (MaxRockers= is bounded far
 * below): a list that long is a broken server. */
#define LIST_MAX 65536

static RockerResult result(ROCKER_ERR err) {
        return (RockerResult) { .err_no = err };
}

/* The one way out of a failed call: its public code, and what err says
 * (filled by whichever layer failed, wrapped by those above it) as the
 * thread's ROCKER_last_error(). */
static RockerResult failed(ROCKER_ERR code, const RkError *err) {
        lasterr_set_error(err);
        return result(code);
}

/* A success: the rocker a reply of rockerd names, and app_pid. */
static RockerResult result_from_reply(const ProtoReply *reply, pid_t app_pid) {
        RockerResult res = { .err_no = ROCKER_ERR_success, .app_pid = app_pid, .guard_pid = reply->guard_pid };

        memcpy(res.guard_pname, reply->guard_name, sizeof res.guard_pname);
        return res;
}

/* The client checks the syntax too, so that a bad request fails before any
 * socket is opened; rockerd checks everything again. */
static int check_request_fields(const RockerRequest *req, ProtoEnter *ret, RkError *err);

static int check_request(const RockerRequest *req, int (*app)(void *), ProtoEnter *ret, RkError *err) {
        if (!req)
                return rk_error(err, EINVAL, "req: NULL");
        if (!app)
                return rk_error(err, EINVAL, "app: NULL");
        return check_request_fields(req, ret, err);
}

static int check_request_fields(const RockerRequest *req, ProtoEnter *ret, RkError *err) {
        const char *reason;
        ProtoEnter e = {};

        if (req->uid < 0 || req->gid < 0)
                return rk_error(err, EINVAL, "%s: %d is negative", req->uid < 0 ? "uid" : "gid",
                                req->uid < 0 ? req->uid : req->gid);
#define CHECK(field)                                                                              \
        if (path_check(req->field, PROTO_PATH_MAX, &reason) < 0) {                                \
                if (req->field)                                                                   \
                        return rk_error(err, EINVAL, #field ": \"%.256s\": %s", req->field, reason); \
                return rk_error(err, EINVAL, #field ": %s", reason);                              \
        }
        CHECK(app_pkg_path);
        CHECK(app_exec_dir);
        CHECK(app_data_dir);
#undef CHECK
        for (size_t i = 0; i < ELEMENTSOF(req->app_overlay_dirs) && req->app_overlay_dirs[i]; i++) {
                if (path_check(req->app_overlay_dirs[i], PROTO_PATH_MAX, &reason) < 0)
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\": %s", i,
                                        req->app_overlay_dirs[i], reason);
                e.overlay_dirs[i] = req->app_overlay_dirs[i];
                e.n_overlay_dirs = i + 1;
        }
        e.app_id = req->app_id;
        e.uid = req->uid;
        e.gid = req->gid;
        e.pkg_path = req->app_pkg_path;
        e.exec_dir = req->app_exec_dir;
        e.data_dir = req->app_data_dir;
        *ret = e;
        return 0;
}

RockerResult ROCKER_enter_rocker(RockerRequest *req, int (*app)(void *), void *app_args) {
        _cleanup_close_ int sock = -EBADF, pidfd = -EBADF;
        ProtoReply reply = {};
        ProtoEnter e;
        RockerResult res;
        RkError err = {};
        ROCKER_ERR code;
        pid_t app_pid;

        lasterr_clear();
        if (check_request(req, app, &e, &err) < 0)
                return failed(ROCKER_ERR_param_invalid, &err);

        code = transport_send_enter(&e, &sock, &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);
        code = transport_recv_reply(sock, &reply, &pidfd, &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);  /* closing sock tears down anything built */

        code = join_and_spawn(pidfd, reply.guard_name, (uid_t) req->uid, (gid_t) req->gid, app, app_args, sock,
                              JOIN_AS_GUARD_PID | (reply.user_namespaces ? JOIN_USER_NAMESPACES : 0), &app_pid,
                              &err);
        if (code != ROCKER_ERR_success) {
                /* Nobody will use this rocker: end it now rather than when
                 * rockerd notices the closed connection. */
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                return failed(code, &err);
        }
        /* The rocker is the caller's from here; if the ack is lost, rockerd
         * would kill the rocker when sock closes, so it must go through. */
        code = transport_ack(sock, &reply, &err);
        if (code != ROCKER_ERR_success) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                res = failed(code, &err);
                res.app_pid = app_pid;  /* killed with the rocker; still the caller's to reap */
                return res;
        }

        return result_from_reply(&reply, app_pid);
}

static RockerResult spawn_reply(int sock, int *ret_handle);

RockerResult ROCKER_spawn_rocker(RockerRequest *req, const char *const argv[], const char *const envp[],
                                 const int stdio[3], int *ret_handle) {
        _cleanup_close_ int sock = -EBADF;
        ProtoEnter e;
        RkError err = {};
        ROCKER_ERR code;

        lasterr_clear();
        if (!req)
                (void) rk_error(&err, EINVAL, "req: NULL");
        else if (!argv || !argv[0] || !argv[0][0])
                (void) rk_error(&err, EINVAL, "argv: NULL or empty");
        else if (!stdio || stdio[0] < 0 || stdio[1] < 0 || stdio[2] < 0 || !ret_handle)
                (void) rk_error(&err, EINVAL, "%s", ret_handle ? "stdio: NULL or a negative fd" : "ret_handle: NULL");
        else
                (void) check_request_fields(req, &e, &err);
        if (rk_error_set(&err))
                return failed(ROCKER_ERR_param_invalid, &err);
        code = transport_send_spawn(&e, argv, envp ? envp : (const char *const *) environ, stdio, &sock, &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);
        return spawn_reply(TAKE_FD(sock), ret_handle);
}

/* The reply to a spawn or spawn_in request on sock (taken): on success the
 * result, and sock becomes *ret_handle. */
static RockerResult spawn_reply(int sock_in, int *ret_handle) {
        _cleanup_close_ int sock = sock_in;
        ProtoReply reply = {};
        RockerResult res;
        RkError err = {};
        ROCKER_ERR code;

        /* Bounded like an enter's reply: the build, then the app's start. */
        code = transport_recv_plain_reply(sock, &reply, "malformed reply from rockerd", &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);
        if (!reply.success) {
                (void) rk_error(&err, EIO, "rockerd: %s", reply.error);
                /* The app could not be started in a built rocker. */
                return failed(strncmp(reply.error, "spawn failed:", 13) == 0 ? ROCKER_ERR_app_exec_failed
                                                                            : ROCKER_ERR_build_rocker_failed, &err);
        }
        if (reply.app_pid <= 0 || reply.has_wait_status || !guard_name_valid(reply.guard_name)) {
                (void) rk_error(&err, EBADMSG, "malformed reply from rockerd: no app pid, or not a spawn reply");
                return failed(ROCKER_ERR_recv_resp_failed, &err);
        }
        res = result_from_reply(&reply, reply.app_pid);
        *ret_handle = TAKE_FD(sock);
        return res;
}

RockerResult ROCKER_spawn_in_rocker(int guard_pid, const char *guard_pname, int uid, int gid,
                                    const char *const argv[], const char *const envp[], const int stdio[3],
                                    int *ret_handle) {
        _cleanup_free_ char *msg = NULL;
        _cleanup_close_ int sock = -EBADF;
        RkError err = {};
        ROCKER_ERR code;
        size_t len;
        int r;

        lasterr_clear();
        if (guard_pid <= 1 || !guard_pname || uid <= 0 || gid <= 0 || !argv || !argv[0] || !argv[0][0] || !stdio ||
            stdio[0] < 0 || stdio[1] < 0 || stdio[2] < 0 || !ret_handle) {
                (void) rk_error(&err, EINVAL, "invalid guard, uid, gid (0 is not allowed), argv, stdio or ret_handle");
                return failed(ROCKER_ERR_param_invalid, &err);
        }
        r = proto_encode_spawn_in(guard_pid, guard_pname, uid, gid, argv,
                                  envp ? envp : (const char *const *) environ, &msg, &len);
        if (r < 0) {
                (void) rk_error(&err, r, "cannot encode the request: %s",
                                r == -EMSGSIZE ? "too large" : "argv or envp invalid");
                return failed(ROCKER_ERR_param_invalid, &err);
        }
        code = transport_connect(&sock, &err);
        if (code == ROCKER_ERR_success)
                code = transport_send_fds(sock, msg, len, stdio, 3, &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);
        return spawn_reply(TAKE_FD(sock), ret_handle);
}

RockerResult ROCKER_wait_rocker(int handle, int *ret_wstatus) {
        _cleanup_free_ char *buf = NULL;
        ProtoReply reply = {};
        struct pollfd p = { .fd = handle, .events = POLLIN };
        RkError err = {};
        ROCKER_ERR code;
        ssize_t n;

        lasterr_clear();
        if (handle < 0 || !ret_wstatus) {
                (void) rk_error(&err, EINVAL, "invalid handle or ret_wstatus NULL");
                return failed(ROCKER_ERR_param_invalid, &err);
        }
        buf = malloc(PROTO_MSG_MAX + 1);
        if (!buf) {
                (void) rk_error(&err, ENOMEM, "out of memory");
                return failed(ROCKER_ERR_sys, &err);
        }
        /* As long as the app runs: like waitpid(), no deadline. */
        while (poll(&p, 1, -1) < 0)
                if (errno != EINTR) {
                        (void) rk_error(&err, errno, "poll: %m");
                        return failed(ROCKER_ERR_sys, &err);
                }
        do
                n = fdpass_recv(handle, buf, PROTO_MSG_MAX + 1, NULL);
        while (n == -EINTR);
        if (n <= 0) {
                (void) rk_error(&err, n < 0 ? (int) -n : ECONNRESET,
                                "rockerd closed the connection without the app's exit status%s%s",
                                n < 0 ? ": " : " (rockerd restarted?)", n < 0 ? strerror((int) -n) : "");
                return failed(ROCKER_ERR_recv_resp_failed, &err);
        }
        code = transport_decode_reply(buf, (size_t) n, &reply, "malformed message from rockerd", &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);
        if (!reply.success) {
                (void) rk_error(&err, EIO, "rockerd: %s", reply.error);
                return failed(ROCKER_ERR_recv_resp_failed, &err);
        }
        if (!reply.has_wait_status) {
                (void) rk_error(&err, ESRCH, "the rocker %.15s ended before rockerd could reap its app",
                                reply.guard_name);
                return failed(ROCKER_ERR_recv_resp_failed, &err);
        }
        *ret_wstatus = reply.wait_status;
        return result_from_reply(&reply, reply.app_pid);
}

RockerResult ROCKER_get_guardname(int pid) {
        RockerResult res = {};
        RkError err = {};
        int r;

        lasterr_clear();
        r = proc_get_name(pid, res.guard_pname, NULL);
        if (r < 0) {
                (void) rk_error(&err, r, "cannot read the name of pid %d: %m", pid);
                return failed(ROCKER_ERR_get_guardname_failed, &err);
        }
        res.err_no = ROCKER_ERR_success;
        res.guard_pid = pid;
        return res;
}

RockerRequest ROCKER_request_new(void) {
        return (RockerRequest) {};
}

const char *ROCKER_last_error(void) {
        return lasterr_get();
}

const char *ROCKER_strerror(ROCKER_ERR err) {
        switch (err) {
        case ROCKER_ERR_unknown:               return "unknown";
        case ROCKER_ERR_success:               return "success";
        case ROCKER_ERR_sys:                   return "sys";
        case ROCKER_ERR_param_invalid:         return "param_invalid";
        case ROCKER_ERR_server_unaddr_invalid: return "server_unaddr_invalid";
        case ROCKER_ERR_gen_local_addr_failed: return "gen_local_addr_failed";
        case ROCKER_ERR_send_req_failed:       return "send_req_failed";
        case ROCKER_ERR_recv_resp_failed:      return "recv_resp_failed";
        case ROCKER_ERR_build_rocker_failed:   return "build_rocker_failed";
        case ROCKER_ERR_enter_rocker_failed:   return "enter_rocker_failed";
        case ROCKER_ERR_app_exec_failed:       return "app_exec_failed";
        case ROCKER_ERR_get_guardname_failed:  return "get_guardname_failed";
        }
        return "unknown";
}

/* A pidfd of guard_pid, whatever process it names: ROCKER_ERR_success,
 * get_guardname_failed if there is no such process, or sys, with err
 * filled. */
static ROCKER_ERR guard_pidfd_open(int guard_pid, const char *guard_pname, int *ret_pidfd, RkError *err) {
        int pidfd = pidfd_open(guard_pid, 0), r;

        if (pidfd >= 0) {
                *ret_pidfd = pidfd;
                return ROCKER_ERR_success;
        }
        r = errno;
        /* EINVAL (or, on newer kernels, ENOENT) for a positive pid: the
         * number names no process but a thread, or a process being reaped at
         * this moment (rockerd reaping a guard that has just exited): not a
         * guard, not a failure of the system. */
        if (r == ESRCH || r == EINVAL || r == ENOENT) {
                (void) rk_error(err, ESRCH, "pid %d is not the guard \"%.15s\" (%s)", guard_pid, guard_pname,
                                r == ESRCH ? "no such process" : "not a process, or one being reaped");
                return ROCKER_ERR_get_guardname_failed;
        }
        (void) rk_error(err, r, "guard pid %d: pidfd_open: %m", guard_pid);
        return ROCKER_ERR_sys;
}

/* A pidfd of guard_pid, if that process is alive and named guard_pname.
 * The pidfd is taken first and the name read after it: a live process keeps
 * its PID, so once the pidfd is used successfully, the name read was its
 * own. ROCKER_ERR_success, or get_guardname_failed or sys with err filled. */
static ROCKER_ERR guard_open(int guard_pid, const char *guard_pname, int *ret_pidfd, char ret_name[16],
                             RkError *err) {
        _cleanup_close_ int pidfd = -EBADF;
        ROCKER_ERR code;
        char st = 0;
        int r;

        code = guard_pidfd_open(guard_pid, guard_pname, &pidfd, err);
        if (code != ROCKER_ERR_success)
                return code;
        r = proc_get_name(guard_pid, ret_name, &st);
        if (r < 0 || strncmp(ret_name, guard_pname, 16) != 0) {
                (void) rk_error(err, r < 0 ? r : ESRCH, "pid %d is not the guard \"%.15s\" (%s)", guard_pid,
                                guard_pname, r < 0 ? strerror(-r) : ret_name);
                return ROCKER_ERR_get_guardname_failed;
        }
        if (st == 'Z' || st == 'X') {
                (void) rk_error(err, ESRCH, "guard %.15s (pid %d) has exited", guard_pname, guard_pid);
                return ROCKER_ERR_get_guardname_failed;
        }
        /* Anyone may name a process "rk-...": a guard is also root and PID 1
         * of a PID namespace below ours, which nobody else can fake. */
        r = proc_check_guard(guard_pid);
        if (r < 0) {
                (void) rk_error(err, r, "pid %d is named \"%.15s\" but is not a guard (%s)", guard_pid, guard_pname,
                                r == -EPERM ? "not root, or not PID 1 of its own PID namespace" : strerror(-r));
                return ROCKER_ERR_get_guardname_failed;
        }
        /* The pidfd still names a live process: what was read was its. */
        if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0) {
                (void) rk_error(err, errno, "guard %.15s (pid %d) has exited", guard_pname, guard_pid);
                return ROCKER_ERR_get_guardname_failed;
        }
        *ret_pidfd = TAKE_FD(pidfd);
        return ROCKER_ERR_success;
}

/* A non-root caller cannot signal the root guard: rockerd does it, for the
 * caller's own rockers only (grace_ms: a stop's, or -1). */
static ROCKER_ERR rockerd_signal(int guard_pid, const char *guard_pname, int sig, int grace_ms, RkError *err) {
        _cleanup_close_ int sock = -EBADF;
        _cleanup_free_ char *msg = NULL;
        ProtoReply reply = {};
        ROCKER_ERR code;
        size_t len;
        int r;

        r = proto_encode_signal(guard_pid, guard_pname, sig, grace_ms, &msg, &len);
        if (r < 0) {
                (void) rk_error(err, r, "cannot encode the signal request: %m");
                return ROCKER_ERR_param_invalid;
        }
        code = transport_connect(&sock, err);
        if (code == ROCKER_ERR_success)
                code = transport_send(sock, msg, len, err);
        if (code == ROCKER_ERR_success)
                code = transport_recv_plain_reply(sock, &reply, "malformed reply from rockerd", err);
        if (code != ROCKER_ERR_success)
                return code;
        if (!reply.success) {
                bool gone = strstr(reply.error, "no live rocker");

                (void) rk_error(err, gone ? ESRCH : EIO, "rockerd: %s", reply.error);
                return gone ? ROCKER_ERR_get_guardname_failed : ROCKER_ERR_sys;
        }
        return ROCKER_ERR_success;
}

RockerResult ROCKER_kill_rocker(int guard_pid, const char *guard_pname, int sig) {
        _cleanup_close_ int pidfd = -EBADF;
        char name[16];
        RkError err = {};
        ROCKER_ERR code;
        int r;

        lasterr_clear();
        if (guard_pid <= 0 || !guard_pname || sig < 0 || sig >= _NSIG) {
                (void) rk_error(&err, EINVAL, "invalid guard pid, name or signal");
                return failed(ROCKER_ERR_param_invalid, &err);
        }
        if (geteuid() != 0) {
                if (sig == 0) {
                        (void) rk_error(&err, EPERM, "signal 0: not for a non-root caller");
                        return failed(ROCKER_ERR_param_invalid, &err);
                }
                code = rockerd_signal(guard_pid, guard_pname, sig, -1, &err);
                return code == ROCKER_ERR_success ? (RockerResult) { .err_no = code, .guard_pid = guard_pid }
                                                  : failed(code, &err);
        }
        code = guard_open(guard_pid, guard_pname, &pidfd, name, &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);
        if (pidfd_send_signal(pidfd, sig, NULL, 0) < 0) {
                r = errno;
                (void) rk_error(&err, r, "signal guard pid %d: %m", guard_pid);
                return failed(r == ESRCH ? ROCKER_ERR_get_guardname_failed : ROCKER_ERR_sys, &err);
        }
        return (RockerResult) { .err_no = ROCKER_ERR_success, .guard_pid = guard_pid };
}

/* Beyond the grace, how long the guard gets to finish its exit before it is
 * SIGKILLed, and then before giving up: its own teardown (unmounts) only. */
#define STOP_SLACK_MS 10000
/* A queued grace above this is ignored by the guard (StopTimeoutSec= max). */
#define STOP_GRACE_MAX_MS (3600 * 1000)
/* How often a stop looks whether the guard waits only for zombies the caller
 * has not reaped: the kernel gives no event for that state (the guard's
 * pidfd fires once they are reaped, which may be the caller's next step). */
#define STOP_ZOMBIE_CHECK_MS 20

/* True if the guard has finished its exit but for the other processes of its
 * PID namespace being reaped: it has SIGKILLed them all (and they have
 * exited, or are about to); what is left are zombies of their parents, such
 * as the caller's own app process. */
static bool guard_waits_for_reaping(int guard_pid) {
        return proc_pid_exit_done((pid_t) guard_pid);
}

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000ULL + (uint64_t) ts.tv_nsec / 1000000;
}

/* True if the caller has a child that has exited and is not reaped yet
 * (left so: WNOWAIT). */
static bool caller_has_zombie(void) {
        siginfo_t si = {};

        return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 && si.si_pid > 0;
}

/* Waits until the guard behind pidfd has exited (1), or waits only for the
 * caller's zombies (0), or deadline_ms passed (-ETIMEDOUT). Only the
 * caller's: the guard's exit looks the same while another launcher's
 * zombie holds it, and, where /proc gives no wait channel, while it still
 * unmounts the rocker's file systems; in both cases the rocker is not gone
 * yet and this goes on waiting. */
static int guard_wait_gone(int pidfd, int guard_pid, uint64_t deadline_ms) {
        for (;;) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                uint64_t now = now_ms();
                int r;

                if (now >= deadline_ms)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) (deadline_ms - now < STOP_ZOMBIE_CHECK_MS ? deadline_ms - now
                                                                                 : STOP_ZOMBIE_CHECK_MS));
                if (r < 0 && errno != EINTR)
                        return negative_errno();
                if (r > 0)
                        return 1;
                if (guard_waits_for_reaping(guard_pid) && caller_has_zombie())
                        return 0;
        }
}

/* True if rockerd lists guard name (pid); a rockerd that cannot be asked
 * lists nothing. */
static bool rockerd_lists(int guard_pid, const char *name) {
        RockerInfo *list = NULL;
        int n = 0;
        bool found = false;

        if (ROCKER_list_rockers(&list, &n).err_no != ROCKER_ERR_success)
                return false;
        for (int i = 0; i < n && !found; i++)
                found = list[i].guard_pid == guard_pid && strncmp(list[i].guard_pname, name, 16) == 0;
        ROCKER_free_rockers(list, n);
        return found;
}

RockerResult ROCKER_stop_rocker(int guard_pid, const char *guard_pname, int timeout_ms) {
        _cleanup_close_ int pidfd = -EBADF;
        uint64_t grace_ms, deadline;
        char name[16];
        RkError err = {};
        ROCKER_ERR code;
        siginfo_t si = {};
        bool via_rockerd = geteuid() != 0;  /* once: both steps must agree */
        int grace, r;

        lasterr_clear();
        if (guard_pid <= 0 || !guard_pname) {
                (void) rk_error(&err, EINVAL, "invalid guard pid or name");
                return failed(ROCKER_ERR_param_invalid, &err);
        }
        /* Not root: the stop goes through rockerd (the guard is root's),
         * with the pidfd taken first, so that what rockerd checked is what
         * we wait for. */
        code = via_rockerd ? guard_pidfd_open(guard_pid, guard_pname, &pidfd, &err)
                           : guard_open(guard_pid, guard_pname, &pidfd, name, &err);
        if (code != ROCKER_ERR_success) {
                (void) rk_error_wrap(&err, code == ROCKER_ERR_sys ? "stop rocker %.15s (guard pid %d)"
                                                                  : "rocker %.15s (guard pid %d) is not running",
                                     guard_pname, guard_pid);
                return failed(code, &err);
        }
        /* The grace, when the caller gives one (else the rocker's own
         * StopTimeoutSec=, which is at most STOP_GRACE_MAX_MS). */
        grace = timeout_ms >= 0 && timeout_ms <= STOP_GRACE_MAX_MS ? timeout_ms : -1;
        grace_ms = grace >= 0 ? (uint64_t) grace : STOP_GRACE_MAX_MS;
        if (via_rockerd) {
                snprintf(name, sizeof name, "%.15s", guard_pname);
                code = rockerd_signal(guard_pid, guard_pname, SIGTERM, grace, &err);
                if (code != ROCKER_ERR_success)
                        return failed(code, &err);
        } else {
                /* SIGTERM, with the grace queued: the guard forwards it to
                 * every process of the rocker and SIGKILLs what is left
                 * after the grace. */
                si.si_signo = SIGTERM;
                si.si_code = SI_QUEUE;
                si.si_pid = getpid();
                si.si_uid = getuid();
                si.si_value.sival_int = grace;
                if (pidfd_send_signal(pidfd, SIGTERM, &si, 0) < 0) {
                        r = errno;
                        (void) rk_error(&err, r, "signal guard pid %d: %m", guard_pid);
                        return failed(r == ESRCH ? ROCKER_ERR_get_guardname_failed : ROCKER_ERR_sys, &err);
                }
        }
        deadline = now_ms() + grace_ms + STOP_SLACK_MS;
        r = guard_wait_gone(pidfd, guard_pid, deadline);
        if (r == -ETIMEDOUT && guard_waits_for_reaping(guard_pid)) {
                /* Every process has exited; what holds the guard are zombies
                 * of other launchers that joined the rocker: a SIGKILL
                 * would change nothing. */
                (void) rk_error(&err, EBUSY, "rocker %.15s (guard pid %d): every process of it has exited, but the "
                                "launchers that joined it have not reaped theirs; rockerd lists it until they do",
                                name, guard_pid);
                return failed(ROCKER_ERR_sys, &err);
        }
        if (r == -ETIMEDOUT) {
                /* The guard should have ended by itself: end it. */
                if (via_rockerd)
                        (void) rockerd_signal(guard_pid, name, SIGKILL, -1, &(RkError) {});
                else
                        (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                r = guard_wait_gone(pidfd, guard_pid, now_ms() + STOP_SLACK_MS);
        }
        if (r < 0) {
                (void) rk_error(&err, r, "rocker %.15s (guard pid %d) did not end: %m", name, guard_pid);
                return failed(ROCKER_ERR_sys, &err);
        }
        /* Exited: rockerd handles an exited guard before it answers a list,
         * so this is its last word. (r == 0: every process has exited, but
         * the guard cannot until the caller reaps its app process; rockerd
         * lists it until then.) */
        if (r > 0 && rockerd_lists(guard_pid, name)) {
                (void) rk_error(&err, EBUSY, "rocker %.15s (guard pid %d) has exited but rockerd still lists it", name,
                                guard_pid);
                return failed(ROCKER_ERR_sys, &err);
        }
        lasterr_clear();
        return (RockerResult) { .err_no = ROCKER_ERR_success, .guard_pid = guard_pid };
}

RockerResult ROCKER_join_rocker(int guard_pid, const char *guard_pname, int uid, int gid, int (*app)(void *),
                                void *app_args) {
        _cleanup_close_ int pidfd = -EBADF;
        RockerResult res = {};
        char name[16];
        RkError err = {};
        ROCKER_ERR code;
        pid_t app_pid;

        lasterr_clear();
        if (guard_pid <= 0 || !guard_pname || uid < 0 || gid < 0 || !app) {
                (void) rk_error(&err, EINVAL, "invalid guard pid, name, uid, gid or app");
                return failed(ROCKER_ERR_param_invalid, &err);
        }
        if (uid == 0 || gid == 0) {
                /* as rockerd refuses for ROCKER_enter_rocker() */
                (void) rk_error(&err, EINVAL, "%s: 0 is not allowed for an app", uid == 0 ? "uid" : "gid");
                return failed(ROCKER_ERR_param_invalid, &err);
        }
        code = guard_open(guard_pid, guard_pname, &pidfd, name, &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);
        /* a joined process gets the strict filter: rockerd is not asked
         * for the app's policy here */
        code = join_and_spawn(pidfd, name, (uid_t) uid, (gid_t) gid, app, app_args, -1, 0, &app_pid, &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);
        res.err_no = ROCKER_ERR_success;
        res.app_pid = app_pid;
        res.guard_pid = guard_pid;
        memcpy(res.guard_pname, name, sizeof res.guard_pname);
        return res;
}

void ROCKER_free_rockers(RockerInfo *list, int count) {
        if (!list)
                return;
        for (int i = 0; i < count; i++) {
                free(list[i].app_pkg_path);
                free(list[i].app_exec_dir);
                free(list[i].app_data_dir);
                free(list[i].cgroup);
                free(list[i].cgroup_note);
        }
        free(list);
}

RockerResult ROCKER_list_rockers(RockerInfo **ret_list, int *ret_count) {
        _cleanup_close_ int sock = -EBADF;
        RockerInfo *out = NULL;
        int n = 0, cap = 0;
        RkError err = {};
        ROCKER_ERR code;

        lasterr_clear();
        if (!ret_list || !ret_count) {
                (void) rk_error(&err, EINVAL, "ret_list and ret_count must not be NULL");
                return failed(ROCKER_ERR_param_invalid, &err);
        }
        code = transport_connect(&sock, &err);
        if (code != ROCKER_ERR_success)
                return failed(code, &err);
        for (;;) {
                _cleanup_free_ char *req = NULL, *buf = malloc(PROTO_MSG_MAX + 1);  /* off the caller's stack */
                ProtoReply reply = {};
                ProtoList page = {};
                size_t len, k;
                int r;

                if (!buf) {
                        (void) rk_error(&err, ENOMEM, "out of memory");
                        code = ROCKER_ERR_sys;
                        goto fail;
                }
                r = proto_encode_list(n, &req, &len);
                if (r < 0) {
                        (void) rk_error(&err, r, "cannot encode the list request");
                        code = ROCKER_ERR_sys;
                        goto fail;
                }
                code = transport_send(sock, req, len, &err);
                if (code == ROCKER_ERR_success)
                        code = transport_recv(sock, buf, PROTO_MSG_MAX + 1, NULL, &k, &err);
                if (code != ROCKER_ERR_success)
                        goto fail;
                r = proto_decode_list_reply(buf, k, &reply, &page, &err);
                if (r == -ENOMEM) {
                        (void) rk_error(&err, ENOMEM, "out of memory");
                        code = ROCKER_ERR_sys;
                        goto fail;
                }
                if (r < 0) {
                        (void) rk_error_wrap(&err, "malformed reply from rockerd");
                        code = ROCKER_ERR_recv_resp_failed;
                        goto fail;
                }
                if (!reply.success) {
                        (void) rk_error(&err, EIO, "rockerd: %s", reply.error);
                        code = ROCKER_ERR_build_rocker_failed;
                        goto fail;
                }
                /* A server that keeps sending full pages must not make the
                 * caller allocate without end. */
                if ((size_t) n + page.n_entries > LIST_MAX) {
                        proto_list_done(&page);
                        (void) rk_error(&err, E2BIG, "rockerd lists more than %d rockers", LIST_MAX);
                        code = ROCKER_ERR_recv_resp_failed;
                        goto fail;
                }
                for (size_t i = 0; i < page.n_entries; i++) {
                        ProtoRockerInfo *e = &page.entries[i];
                        if (n == cap) {
                                RockerInfo *bigger;

                                cap = cap ? cap * 2 : 16;  /* at most 2 * LIST_MAX: no overflow */
                                bigger = realloc(out, sizeof *out * (size_t) cap);
                                if (!bigger) {
                                        proto_list_done(&page);
                                        (void) rk_error(&err, ENOMEM, "out of memory");
                                        code = ROCKER_ERR_sys;
                                        goto fail;
                                }
                                out = bigger;
                        }
                        out[n] = (RockerInfo) {
                                .guard_pid = e->guard_pid,
                                .app_id = e->app_id,
                                .uid = e->uid,
                                .gid = e->gid,
                                .age_ms = e->age_ms,
                                .app_pkg_path = TAKE_PTR(e->pkg_path),
                                .app_exec_dir = TAKE_PTR(e->exec_dir),
                                .app_data_dir = TAKE_PTR(e->data_dir),
                                .memory_bytes = e->memory_bytes,
                                .cpu_usec = e->cpu_usec,
                                .cgroup = TAKE_PTR(e->cgroup),
                                .cgroup_note = TAKE_PTR(e->cgroup_note),
                        };
                        memcpy(out[n].guard_pname, e->guard_name, sizeof out[n].guard_pname);
                        n++;
                }
                /* Pages shrink for long paths; rockers come and go between
                 * pages: stop at an empty page or once "total" is reached. */
                if (page.n_entries == 0 || n >= page.total) {
                        proto_list_done(&page);
                        break;
                }
                proto_list_done(&page);
        }
        *ret_list = out;
        *ret_count = n;
        return (RockerResult) { .err_no = ROCKER_ERR_success };
fail:
        ROCKER_free_rockers(out, n);
        return failed(code, &err);
}
