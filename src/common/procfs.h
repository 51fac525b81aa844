/* SPDX-License-Identifier: MIT */
/* The one /proc reader: a file of a process (or of /proc itself) read into a
 * buffer with a bound, the PIDs /proc lists, and the parsers of the few
 * formats rocker reads there (stat, status, fdinfo, cgroup). Every file is
 * opened relative to proc_fd, a caller's own /proc dir fd, or to "/proc"
 * where proc_fd is negative (PROCFS_AT). Only open/read/close: no
 * allocation but in procfs_read_all(). */
#ifndef ROCKER_PROCFS_H
#define ROCKER_PROCFS_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* proc_fd for "the /proc of our mount namespace, by path". */
#define PROCFS_AT (-EBADF)
/* pid for /proc/self/<name>, and for a /proc-wide file (/proc/<name>).
 * Not 0 or -1: a PID that came from elsewhere and is not a process must
 * never name ourselves or /proc itself. */
#define PROCFS_SELF ((pid_t) INT_MIN)
#define PROCFS_TOP ((pid_t) (INT_MIN + 1))

/* Opens /proc/<pid>/<name> (see PROCFS_SELF, PROCFS_TOP) with flags
 * (O_CLOEXEC is added). The fd or -errno (-ENOENT: no such file, or no such
 * process, as the kernel says; also for any other pid <= 0, as for
 * "/proc/0/<name>"). */
int procfs_open(int proc_fd, pid_t pid, const char *name, int flags);

/* Reads /proc/<pid>/<name> in one read() (retried on EINTR): at most
 * size - 1 bytes into buf, NUL-terminated. The number of bytes, or -errno
 * as procfs_open() or read() gave it. */
int procfs_read(int proc_fd, pid_t pid, const char *name, char *buf, size_t size);

/* Reads all of /proc/<pid>/<name>, a buffer from 16 KiB doubling up to max
 * bytes, into a malloc()ed *ret (not NUL-terminated) of *ret_len bytes.
 * 0, -EFBIG past max, -ENOMEM or -errno. */
int procfs_read_all(int proc_fd, pid_t pid, const char *name, size_t max, char **ret, size_t *ret_len);

/* The readlink() of /proc/<pid>/<name> into buf (NUL-terminated, cut to
 * size - 1 bytes). Its length or -errno. */
int procfs_readlink(int proc_fd, pid_t pid, const char *name, char *buf, size_t size);

/* The nsfs inode number of /proc/<pid>/ns/<ns> ("mnt", "pid", ...), by
 * stat(). 0 or -errno. */
int procfs_ns_ino(int proc_fd, pid_t pid, const char *ns, ino_t *ret);

/* Opens the /proc dir (proc_fd's, or "/proc") to list its PIDs with
 * procfs_pid_next(). 0 and the DIR in *ret (closedir() it), or -errno. */
int procfs_pids_open(int proc_fd, DIR **ret);

/* The next PID that the /proc directory d lists (entries whose name is a
 * positive decimal number), into *ret; false at the end. */
bool procfs_pid_next(DIR *d, pid_t *ret);

/* The value of the line "<key>:\t<value>" of a status or fdinfo text (len
 * bytes) into ret (size bytes, NUL-terminated): the rest of the line after
 * the colon and one tab. A key matches at the start of a line only.
 * 0, -ENOENT if absent, -ENOBUFS if the value does not fit. */
int procfs_status_field(const char *buf, size_t len, const char *key, char *ret, size_t size);

/* Field number field (1-based, as proc(5) counts them; >= 3, after the
 * name) of a /proc/<pid>/stat text, as an unsigned decimal number. The
 * name (field 2) ends at the last ')', whatever it holds. 0 or -EBADMSG. */
int procfs_stat_field(const char *buf, size_t len, unsigned field, unsigned long long *ret);

/* Parses the content of /proc/<pid>/stat: the name between the first '(' and
 * the last ')' (it may hold spaces and parentheses) into name[16], and the
 * state letter after it into *ret_state (may be NULL). 0 or -EBADMSG. */
int proc_stat_parse(const char *buf, size_t len, char name[16], char *ret_state);

/* The start time of the process (field 22 of /proc/<pid>/stat, clock ticks
 * after boot) from the content of that file: with the PID, it names one
 * process for the whole uptime. 0 or -EBADMSG. */
int proc_stat_starttime(const char *buf, size_t len, unsigned long long *ret);

/* Reads /proc/<pid>/stat and parses it as above. 0, -ESRCH or -errno. */
int proc_get_name(pid_t pid, char name[16], char *ret_state);

/* Name and start time of a live process in one read. 0, -ESRCH or -errno. */
int proc_get_identity(pid_t pid, char name[16], unsigned long long *ret_starttime);

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

/* The cgroup v2 path (the "0::" line) in the content of a /proc/<pid>/cgroup
 * file, into ret (size bytes). 0, -ENOMEDIUM without a cgroup v2 line,
 * -ENOENT for a removed cgroup, -ENAMETOOLONG. */
int proc_cgroup_parse(const char *buf, char *ret, size_t size);

/* True if pid (a PID namespace's init) has finished its exit but for the
 * other tasks of its namespace being reaped: it waits in
 * zap_pid_ns_processes() (/proc/<pid>/wchan), or, where the kernel names no
 * wait channel (Debian's 5.10 on x86_64: "0"), it is exiting (PF_EXITING)
 * and has released its namespaces (/proc/<pid>/ns/mnt is gone). */
bool proc_pid_exit_done(pid_t pid);

/* The PID, in our PID namespace, of the process behind pidfd (the "Pid:"
 * line of /proc/self/fdinfo/<pidfd>). The PID, -ESRCH once the process has
 * been reaped or lies outside our PID namespace, or -errno. */
int pidfd_get_pid(int pidfd);

#endif
