/* SPDX-License-Identifier: MIT */
#ifndef ROCKER_ROCKER_H
#define ROCKER_ROCKER_H

/*
 * librocker_client — run a callback inside a fresh rocker built by rockerd.
 *
 * The caller must be root (rockerd serves root peers only, and joining the
 * rocker's namespaces needs CAP_SYS_ADMIN). The library talks to rockerd over
 * AF_UNIX at /run/rocker/rockerd.sock; the environment variable ROCKER_SOCKET
 * overrides the path, ROCKER_TIMEOUT_MS the reply timeout (default 30000).
 *
 * Thread safety: every function may be called from any thread; the error text
 * of ROCKER_last_error() is kept per thread.
 */

#include <rocker/err_no.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ROCKER_PUBLIC __attribute__ ((visibility("default")))

//! 所有接口均返回此结构体
//! NOTE: 返回的是实体数据, 不是指针
//-
//@ err_no: self-descriptive error number
//@ guard_pid: rocker内部的1号进程, 在rocker外部的PID
//@ guard_pname: rocker中的1号进程名称, 此名称随机生成, 服务端确保无重复
//@ app_pid: 用户请求执行的动作(app)所在的进程PID
//
// Every call returns this struct by value.
//   err_no      ROCKER_ERR_success or the reason of the failure
//   app_pid     PID (in the caller's PID namespace) of the process running
//               the callback; it is a child of the caller: waitpid() it
//   guard_pid   PID 1 of the rocker, as seen from outside
//   guard_pname the guard's process name: random, 15 characters, unique
//               among live guards, NUL-terminated
// Fields that do not apply to a call, or to a failure, are 0 / empty.
typedef struct {
    ROCKER_ERR err_no;
    int app_pid;
    int guard_pid;
    char guard_pname[16];
} RockerResult;

//! rocker_client与rocker_server的交互数据结构
//-
//@ app_id: APP uuid
//@ uid: App 进程的 euid
//@ gid: App 进程的 egid
//@ app_pkg_path: App 源文件的路径, 如 /apps/xx.squashfs
//@ app_exec_dir: App 的执行路径, 即 app_pkg_path 的挂载路径
//@ app_data_dir: App 写出的所有数据的存储位置(最上层路径)
//@ app_overlay_dirs[16]: 需要为 App 做 overlay 层的顶层目录, 如 /var 等, 最多 16 个
//
// All paths are absolute and normalised (no "." or ".." components, no
// repeated or trailing slash). Unused overlay slots are NULL; the first NULL
// ends the list. The strings are only read during the call. uid and gid must
// not be 0: without capabilities a root app would still own the host's
// root-owned files and devices. app_id selects the app's policy in rockerd
// (/etc/rocker/apps.d/<app_id>.conf: network, image dirs, shared paths).
//
// app_data_dir serves one live rocker at a time: a request naming the data dir
// of a live rocker (or a dir inside it, or containing it) fails with
// ROCKER_ERR_build_rocker_failed and a reason that names the live guard; use
// ROCKER_join_rocker() to start more processes in that rocker instead. A
// request made right after that rocker's guard was killed waits (bounded,
// 10 s by default) for its mounts to be gone and then succeeds, so a
// launcher may relaunch an app at once, even before it has reaped the old
// app process.
typedef struct {
    int app_id;
    int uid;
    int gid;

    char *app_pkg_path;
    char *app_exec_dir;
    char *app_data_dir;
    char *app_overlay_dirs[16];
} RockerRequest;

//! 请求创建新rocker, 并在其中运行指定函数的API.
//! 返回RockerResult结构体(NOTE: 不是指针)
//-
//@ req[in]: 创建新rocker所需的配置数据
//@ app[in]: rocker创建成功后, 需要在其中执行的函数
//@ app_args[in]: 传递给app函数的参数
//
// Asks rockerd for a new rocker and runs app(app_args) inside it, in a new
// process that is a child of the caller (waitpid(res.app_pid, ...) works and
// its exit status is app's return value). That process runs as req->uid /
// req->gid with no supplementary groups, no capabilities, no_new_privs, a
// system call filter (no new namespaces or mounts; docs/security.md), cwd
// "/", and every fd >= 3 close-on-exec. The caller's own namespaces,
// credentials and fds are unchanged. The rocker lives until its guard is
// killed (kill(res.guard_pid, SIGKILL) or ROCKER_kill_rocker()) or stopped
// (kill(res.guard_pid, SIGTERM) or ROCKER_stop_rocker(): the app gets SIGTERM
// and a grace period). The library never touches the environment: app runs
// with the caller's (HOME, USER... are the caller's, not req->uid's).
// On failure err_no tells the phase and ROCKER_last_error() the reason; the
// rocker built for the request, if any, has been torn down.
RockerResult
ROCKER_enter_rocker(RockerRequest *req, int (*app) (void *), void *app_args)
__attribute__ ((visibility("default")));

//! 获取指定进程的名称, 取自'/proc/<PID>/stat'
//! 客户端给guard进程发信号之前, 需要与创建rocker时返回的原始名称进行对比,
//! 确认PID没有被重用, 以避免误操作
//-
//@ pid[in]: 目标进程的PID
//
// Fills guard_pname with the name of process pid (from /proc/<pid>/stat, so
// names holding spaces or parentheses are read correctly) and guard_pid with
// pid. ROCKER_ERR_get_guardname_failed if the process does not exist or pid
// is not positive.
RockerResult
ROCKER_get_guardname(int pid)
__attribute__ ((visibility("default")));

//! 返回一个新的 RockerRequest 实例
//
// A blank request: ids 0, every pointer NULL.
RockerRequest
ROCKER_request_new(void)
__attribute__ ((visibility("default")));

/* ---- Extensions beyond the seed API ---------------------------------- */

// Human-readable reason of the last failed ROCKER_* call made by this thread
// (the daemon's own text for ROCKER_ERR_build_rocker_failed), or "" if the
// last call succeeded. The string belongs to the library and stays valid until
// the thread's next ROCKER_* call.
ROCKER_PUBLIC const char *ROCKER_last_error(void);

// Static name of an error number, e.g. "build_rocker_failed".
ROCKER_PUBLIC const char *ROCKER_strerror(ROCKER_ERR err);

// Sends signal sig to the guard guard_pid, but only if that process is still
// the guard named guard_pname: the name is checked through a pidfd, so a
// reused PID is never signalled. ROCKER_ERR_success on delivery,
// ROCKER_ERR_get_guardname_failed if the process is gone or has another name,
// ROCKER_ERR_param_invalid for bad arguments, ROCKER_ERR_sys otherwise.
ROCKER_PUBLIC RockerResult ROCKER_kill_rocker(int guard_pid, const char *guard_pname, int sig);

// Stops the rocker whose guard is guard_pid, named guard_pname (checked
// through a pidfd, as for ROCKER_kill_rocker()), gracefully: the guard sends
// SIGTERM to every process of the rocker, waits until they have all exited or
// the grace period is over, then SIGKILLs what is left and exits. The grace
// is timeout_ms (0 to 3600000), or the rocker's StopTimeoutSec= (rockerd.conf
// or apps.d/<app_id>.conf, default 10 s) if timeout_ms is negative.
// kill(guard_pid, SIGTERM) stops a rocker the same way, with its own grace.
//
// Returns once the rocker is gone: the guard has exited and rockerd no longer
// lists it, so its mounts are down and its data dir may be used again. The
// kernel lets a rocker's PID 1 finish its exit only once every process of
// the rocker has been reaped: if the caller's own app process (its child)
// has exited but is not reaped yet, this returns when every process of the
// rocker has exited, and rockerd lists the rocker until the caller reaps it
// (waitpid(app_pid, ...)). An exited process of the rocker that another
// process has not reaped (the app of another launcher, or a process one
// joined with ROCKER_join_rocker()) holds it the same way: this waits for
// that launcher. Bounded: a guard still there 10 s after the grace is
// SIGKILLed; ROCKER_ERR_sys if even that did not end it, or if only other
// launchers' unreaped processes hold it then (ROCKER_last_error() says so).
// ROCKER_ERR_get_guardname_failed if the rocker is not running (the guard is
// gone or has another name; ROCKER_last_error() says which),
// ROCKER_ERR_param_invalid for bad arguments. Blocks the calling thread.
ROCKER_PUBLIC RockerResult ROCKER_stop_rocker(int guard_pid, const char *guard_pname, int timeout_ms);

// Runs app(app_args) inside the live rocker whose guard is guard_pid, named
// guard_pname (checked through a pidfd, so a reused PID is never joined), as
// uid/gid, in a new child of the caller, exactly as ROCKER_enter_rocker()
// runs its callback (same credentials, capabilities and fd rules). Use it to
// start another process of a running app instead of asking for a second
// rocker on the same data dir. app_pid is set; the rocker is not changed.
// ROCKER_ERR_get_guardname_failed if the guard is gone or has another name,
// enter_rocker_failed / app_exec_failed as for ROCKER_enter_rocker().
ROCKER_PUBLIC RockerResult ROCKER_join_rocker(int guard_pid, const char *guard_pname, int uid, int gid,
                                              int (*app)(void *), void *app_args);

// Builds a new rocker exactly as ROCKER_enter_rocker() does, but rockerd,
// not the caller, creates the app process inside it: the way for callers
// that cannot join a rocker (any non-root launcher allowed by rockerd.conf's
// AllowUsers=/AllowGroups=; root may use it too). The app execs argv[0] (a
// path inside the rocker, no PATH search) with argv and envp (NULL: the
// caller's environ), as req->uid/req->gid with the credentials, capability,
// no_new_privs, seccomp, session and fd rules of ROCKER_enter_rocker()'s
// app, with stdio[0], stdio[1], stdio[2] (the caller's fds, passed to
// rockerd with SCM_RIGHTS; the caller keeps its own) as its stdin, stdout
// and stderr. Every signal is unblocked and at its default in the app.
//
// The rocker ends when its app exits (rockerd kills the guard, so the app's
// own children go too); killing or stopping the guard ends it earlier.
//
// On success: app_pid is the app's PID (in rockerd's PID namespace; it is
// not the caller's child), guard_pid and guard_pname as for an enter, and
// *ret_handle is a close-on-exec fd owned by the caller: it becomes readable
// (poll) once the app has exited and the rocker is gone; pass it to
// ROCKER_wait_rocker() for the exit status, then close() it. Closing it
// earlier leaves the app running. Errors: param_invalid, the transport
// phases as for ROCKER_enter_rocker(), build_rocker_failed (rockerd refused
// or could not build; ROCKER_last_error() says why), app_exec_failed (the
// app process could not be created in the rocker; an exec failure is not
// one: the app then exits with status 127). *ret_handle is untouched on
// failure.
ROCKER_PUBLIC RockerResult ROCKER_spawn_rocker(RockerRequest *req, const char *const argv[],
                                               const char *const envp[], const int stdio[3], int *ret_handle);

// Like ROCKER_spawn_rocker(), but starts argv in the live rocker whose guard
// is guard_pid, named guard_pname (checked by rockerd against its list), as
// uid/gid (never 0; a non-root caller: its own only, and only in its own
// rockers), the way ROCKER_join_rocker() runs a callback: for callers that
// cannot join (rocker enter as a normal user). The rocker lives on when the
// process exits; *ret_handle and ROCKER_wait_rocker() give its wait status.
// Errors: param_invalid, the transport phases, build_rocker_failed (rockerd
// refused: not its rocker, not live, other ids), app_exec_failed.
ROCKER_PUBLIC RockerResult ROCKER_spawn_in_rocker(int guard_pid, const char *guard_pname, int uid, int gid,
                                                  const char *const argv[], const char *const envp[],
                                                  const int stdio[3], int *ret_handle);

// Waits, without a deadline (poll the handle for one), until the app of a
// spawned rocker has exited and its rocker is gone (for a handle of
// ROCKER_spawn_in_rocker(): until that process has exited), and stores its
// wait status in *ret_wstatus (as waitpid() gives it: WIFEXITED/WEXITSTATUS,
// WIFSIGNALED/WTERMSIG). app_pid, guard_pid and guard_pname are set. handle
// stays the caller's to close. recv_resp_failed if rockerd went away first
// (it was restarted: the rocker lives on, its status is lost),
// param_invalid for a negative handle or a NULL ret_wstatus.
ROCKER_PUBLIC RockerResult ROCKER_wait_rocker(int handle, int *ret_wstatus);

// One live rocker, as rockerd knows it.
typedef struct RockerInfo {
    int guard_pid;
    char guard_pname[16];
    int app_id;
    int uid;
    int gid;
    long long age_ms;          // since rockerd built (or adopted) it
    char *app_pkg_path;        // owned by the list
    char *app_exec_dir;
    char *app_data_dir;
    // Resource control (docs/cgroups.md). Added in 0.1 before any release.
    long long memory_bytes;    // memory its processes use now (memory.current), -1 if unknown
    long long cpu_usec;        // CPU time its processes used, in microseconds, -1 if unknown
    char *cgroup;              // its own cgroup, from the cgroup v2 root (e.g.
                               // "/rocker.slice/rocker-7-rk-….scope"); NULL if it has none
    char *cgroup_note;         // why cgroup is NULL or memory_bytes -1 (e.g. "no cgroup
                               // v2 hierarchy is mounted"); NULL otherwise
} RockerInfo;

// Asks rockerd for its live rockers. On success *ret_list is an array of
// *ret_count entries to release with ROCKER_free_rockers() (NULL and 0 if
// there is none). Errors as for ROCKER_enter_rocker's transport phases, and
// ROCKER_ERR_build_rocker_failed if rockerd refused.
ROCKER_PUBLIC RockerResult ROCKER_list_rockers(RockerInfo **ret_list, int *ret_count);

ROCKER_PUBLIC void ROCKER_free_rockers(RockerInfo *list, int count);

#ifdef __cplusplus
}
#endif

#endif /* ROCKER_ROCKER_H */
