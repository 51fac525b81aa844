/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "registry.h"
#include "util.h"

void registry_add(Registry *reg, Rocker *r) {
        LIST_PREPEND(rockers, reg->rockers, r);
        reg->n++;
}

void registry_remove(Registry *reg, Rocker *r) {
        LIST_REMOVE(rockers, reg->rockers, r);
        reg->n--;
}

Rocker *registry_find_name(const Registry *reg, const char *name) {
        LIST_FOREACH(rockers, r, reg->rockers)
                if (strcmp(r->name, name) == 0)
                        return r;
        return NULL;
}

Rocker *registry_find_data_dir(const Registry *reg, const char *data_dir) {
        /* Nested counts: a data dir inside a live one's would put an upper
         * layer inside another live overlay's layers. */
        LIST_FOREACH(rockers, r, reg->rockers)
                if (!(r->mounts_gone && r->n_overlays_alive == 0) &&
                    (path_contains(r->plan.data_dir, data_dir) || path_contains(data_dir, r->plan.data_dir)))
                        return r;
        return NULL;
}

Rocker *registry_find_data_dir_holding(const Registry *reg, const char *path) {
        LIST_FOREACH(rockers, r, reg->rockers)
                if (!(r->mounts_gone && r->n_overlays_alive == 0) && path_contains(r->plan.data_dir, path))
                        return r;
        return NULL;
}

int registry_new_name(const Registry *reg, char name[16]) {
        /* 36^12 names: a collision is already unlikely; retrying makes the
         * uniqueness among live guards a guarantee. */
        for (int i = 0; i < 64; i++) {
                int r = guard_name_generate(name);
                if (r < 0)
                        return r;
                if (!registry_find_name(reg, name))
                        return 0;
        }
        return -EEXIST;
}

bool pid_is_dying(pid_t pid) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[4096], *p;
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return true;
        n = read(fd, buf, sizeof buf - 1);
        if (n <= 0)
                return true;
        buf[n] = '\0';
        /* A zombie, or SIGKILL (bit 8) pending for the thread or the group. */
        if ((p = strstr(buf, "\nState:\t")) && (p[8] == 'Z' || p[8] == 'X'))
                return true;
        /* A pending SIGKILL, or a signal the guard ends on (SIGHUP, SIGINT,
         * SIGTERM: see guard.c), for the thread or the group. */
        for (const char *key = "\nSigPnd:\t"; key; key = strcmp(key, "\nSigPnd:\t") == 0 ? "\nShdPnd:\t" : NULL) {
                const unsigned long long fatal = 1ULL << (SIGKILL - 1) | 1ULL << (SIGHUP - 1) |
                                                 1ULL << (SIGINT - 1) | 1ULL << (SIGTERM - 1);
                unsigned long long mask;
                p = strstr(buf, key);
                if (p && sscanf(p + strlen(key), "%llx", &mask) == 1 && (mask & fatal))
                        return true;
        }
        /* Already exiting (PF_EXITING in the flags of /proc/<pid>/stat). */
        {
                char stat[1024], comm[16];
                unsigned long long flags = 0;
                int fd2, field = 2;
                ssize_t k;

                snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
                fd2 = open(path, O_RDONLY | O_CLOEXEC);
                k = fd2 >= 0 ? read(fd2, stat, sizeof stat - 1) : -1;
                safe_close(fd2);
                if (k <= 0 || proc_stat_parse(stat, (size_t) k, comm, NULL) < 0)
                        return true;
                stat[k] = '\0';
                for (char *q = strrchr(stat, ')'); q && *q; q++)
                        if (*q == ' ' && ++field == 9) {
                                flags = strtoull(q + 1, NULL, 10);
                                break;
                        }
                if (flags & 0x4)
                        return true;
        }
        return false;
}

#ifndef NS_GET_MNTNS_ID
#define NS_GET_MNTNS_ID _IOR(0xb7, 0x5, uint64_t)  /* linux/nsfs.h, Linux 6.10 */
#endif

uint64_t pid_mntns(pid_t pid) {
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        uint64_t id = 0;

        snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ioctl(fd, NS_GET_MNTNS_ID, &id) < 0)
                return 0;
        return id;
}

ino_t pid_mntns_ino(pid_t pid) {
        char path[64];
        struct stat st;

        snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int) pid);
        return stat(path, &st) == 0 ? st.st_ino : 0;
}

ino_t pid_pidns_ino(pid_t pid) {
        char path[64];
        struct stat st;

        snprintf(path, sizeof path, "/proc/%d/ns/pid", (int) pid);
        return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* True if pid waits in zap_pid_ns_processes(): a PID 1 whose own exit is
 * done but for the other tasks of its PID namespace being reaped. */
static bool pid_in_zap_wait(pid_t pid) {
        return proc_pid_exit_done(pid);
}

bool rocker_exited_unreaped(int guard_pidfd, pid_t guard, ino_t pidns_ino, ino_t mntns_ino, uint64_t mntns_id) {
        struct dirent *de;
        DIR *d;

        if (pidns_ino == 0 || !pid_in_zap_wait(guard))
                return false;
        d = opendir("/proc");
        if (!d)
                return false;
        while ((de = readdir(d))) {
                char comm[16], state = 0;
                pid_t pid;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                pid = atoi(de->d_name);
                if (pid == guard)
                        continue;
                /* A task of the rocker still exiting, not a zombie yet. */
                if (pid_pidns_ino(pid) == pidns_ino &&
                    proc_get_name(pid, comm, &state) == 0 && state != 'Z' && state != 'X')
                        break;
                /* Any process in its mount namespace (nsenter -m from
                 * outside), where the kernel gives namespaces a unique id.
                 * Without one (before 6.x), an inode number may already be
                 * another namespace's: no match is trusted, and none is
                 * needed, since a process in the old namespace keeps its
                 * overlays mounted, and the data dir stays in use until
                 * their watches say they are gone (overlaywatch.c). */
                if (mntns_ino != 0 && mntns_id != 0 && pid_mntns_ino(pid) == mntns_ino &&
                    pid_mntns(pid) == mntns_id)
                        break;
        }
        closedir(d);
        /* ...and the PID looked at was the guard's: its pidfd still names a
         * process, so the PID has not been reused. */
        return !de && pidfd_send_signal(guard_pidfd, 0, NULL, 0) == 0;
}
