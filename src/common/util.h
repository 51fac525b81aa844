/* SPDX-License-Identifier: MIT */
/* Pure helpers: paths, guard names, cgroup names. No I/O but where said. */
#ifndef ROCKER_UTIL_H
#define ROCKER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The /proc readers and parsers that lived here (proc_get_identity(), ...). */
#include "procfs.h"

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

/* True if the last component of the cgroup path is the stable name of the
 * cgroup of the rocker whose guard is guard_name: "rocker-<app_id>-<name>",
 * or that with ".scope" (docs/cgroups.md). */
bool cgroup_path_is_rockers(const char *path, const char *guard_name);

/* Reads the message log of an fs context fd (fsopen) into buf: its first
 * line, without the kernel's level prefix ("e ", "w ", "i "). "" if none. */
void fs_context_log(int fs_fd, char *buf, size_t size);

/* Reads a small file (a /proc or /sys entry) in one read(): at most size - 1
 * bytes into buf, NUL-terminated. The number of bytes, or -errno (-ENOENT
 * for a file, or a process, that is not there). */
int read_file_small(const char *path, char *buf, size_t size);
/* The same for an open fd, from its current offset. */
int read_fd_small(int fd, char *buf, size_t size);

/* openat2(2) (which glibc 2.36 does not wrap), the one call site of it:
 * path relative to dir_fd (AT_FDCWD: the cwd), opened with flags (|
 * O_CLOEXEC) and resolved under resolve (RESOLVE_NO_SYMLINKS, ...). fd or
 * -errno (-ELOOP: a symlink where resolve refuses one). */
int openat2_fd(int dir_fd, const char *path, int flags, uint64_t resolve);

#endif
