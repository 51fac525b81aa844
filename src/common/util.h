/* SPDX-License-Identifier: MIT */
/* Pure helpers: paths, guard names, /proc/<pid>/stat. No I/O but where said. */
#ifndef ROCKER_UTIL_H
#define ROCKER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* 0 if path is absolute and normalised: starts with '/', no empty, "." or ".."
 * component, no trailing '/' (but "/" itself), no control character, at most
 * max bytes. Otherwise -EINVAL and a static reason in *ret_reason. */
int path_check(const char *path, size_t max, const char **ret_reason);

/* True if path equals prefix or lies below it, component-wise
 * ("/var" contains "/var/lib" but not "/variable"). Both must be normalised. */
bool path_contains(const char *prefix, const char *path);

/* The directory name an overlaid host dir gets in the data dir: the path
 * without its leading '/', each '/' written as '-', and '-', '\\' and bytes
 * outside the printable ASCII range as "\xNN" (so the mapping is injective),
 * e.g. "/usr" → "usr", "/var/lib" → "var-lib", "/a-b" → "a\x2db".
 * 0, or -ENAMETOOLONG if it would not fit in size bytes (NUL included). */
int path_escape(const char *path, char *ret, size_t size);

/* Fills name[16] with a fresh random guard name: "rk-" and 12 characters of
 * [a-z0-9], NUL-terminated. Reads getrandom(). 0 or -errno. */
int guard_name_generate(char name[16]);

/* True if name looks like one guard_name_generate() makes. */
bool guard_name_valid(const char *name);

/* Parses the content of /proc/<pid>/stat: the name between the first '(' and
 * the last ')' (it may hold spaces and parentheses) into name[16], and the
 * state letter after it into *ret_state (may be NULL). 0 or -EBADMSG. */
int proc_stat_parse(const char *buf, size_t len, char name[16], char *ret_state);

/* Reads /proc/<pid>/stat and parses it as above. 0, -ESRCH or -errno. */
int proc_get_name(pid_t pid, char name[16], char *ret_state);

/* True if the content of a /proc/<pid>/status file (len bytes) is a
 * guard's as far as no unprivileged process can fake it: every uid is 0
 * (real, effective, saved, fs, as the reader's user namespace sees them)
 * and the process is PID 1 of a PID namespace below the reader's (its
 * "NSpid:" line has two numbers or more, the last being 1). A name can be
 * set by anyone (PR_SET_NAME); these cannot. */
bool proc_status_is_guard(const char *buf, size_t len);

/* Reads /proc/<pid>/status and applies proc_status_is_guard(). 0, -EPERM
 * when it is not a guard, -ESRCH or -errno. */
int proc_check_guard(pid_t pid);

/* The start time of the process (field 22 of /proc/<pid>/stat, clock ticks
 * after boot) from the content of that file: with the PID, it names one
 * process for the whole uptime. 0 or -EBADMSG. */
int proc_stat_starttime(const char *buf, size_t len, unsigned long long *ret);

/* Name and start time of a live process in one read. 0, -ESRCH or -errno. */
int proc_get_identity(pid_t pid, char name[16], unsigned long long *ret_starttime);

/* The cgroup v2 path (the "0::" line) in the content of a /proc/<pid>/cgroup
 * file, into ret (size bytes). 0, -ENOMEDIUM without a cgroup v2 line,
 * -ENOENT for a removed cgroup, -ENAMETOOLONG. */
int proc_cgroup_parse(const char *buf, char *ret, size_t size);

/* True if the last component of the cgroup path is the stable name of the
 * cgroup of the rocker whose guard is guard_name: "rocker-<app_id>-<name>",
 * or that with ".scope" (docs/cgroups.md). */
bool cgroup_path_is_rockers(const char *path, const char *guard_name);

/* Reads the message log of an fs context fd (fsopen) into buf: its first
 * line, without the kernel's level prefix ("e ", "w ", "i "). "" if none. */
void fs_context_log(int fs_fd, char *buf, size_t size);

/* True if pid (a PID namespace's init) has finished its exit but for the
 * other tasks of its namespace being reaped: it waits in
 * zap_pid_ns_processes() (/proc/<pid>/wchan), or, where the kernel names no
 * wait channel (Debian's 5.10 on x86_64: "0"), it is exiting (PF_EXITING)
 * and has released its namespaces (/proc/<pid>/ns/mnt is gone). */
bool proc_pid_exit_done(pid_t pid);

/* Reads a small file (a /proc or /sys entry) in one read(): at most size - 1
 * bytes into buf, NUL-terminated. The number of bytes, or -errno (-ENOENT
 * for a file, or a process, that is not there). */
int read_file_small(const char *path, char *buf, size_t size);

/* The PID, in our PID namespace, of the process behind pidfd (the "Pid:"
 * line of /proc/self/fdinfo/<pidfd>). The PID, -ESRCH once the process has
 * been reaped or lies outside our PID namespace, or -errno. */
int pidfd_get_pid(int pidfd);

#endif
