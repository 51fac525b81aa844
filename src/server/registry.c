/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "registry.h"
#include "util.h"

void registry_add(Registry *reg, Rocker *r) {
        r->prev = NULL;
        r->next = reg->head;
        if (reg->head)
                reg->head->prev = r;
        reg->head = r;
        reg->n++;
}

void registry_remove(Registry *reg, Rocker *r) {
        if (r->prev)
                r->prev->next = r->next;
        else
                reg->head = r->next;
        if (r->next)
                r->next->prev = r->prev;
        r->next = r->prev = NULL;
        reg->n--;
}

Rocker *registry_find_name(const Registry *reg, const char *name) {
        for (Rocker *r = reg->head; r; r = r->next)
                if (strcmp(r->name, name) == 0)
                        return r;
        return NULL;
}

Rocker *registry_find_data_dir(const Registry *reg, const char *data_dir) {
        /* Nested counts: a data dir inside a live one's would put an upper
         * layer inside another live overlay's layers. */
        for (Rocker *r = reg->head; r; r = r->next)
                if (!r->mounts_gone &&
                    (path_contains(r->plan.data_dir, data_dir) || path_contains(data_dir, r->plan.data_dir)))
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

bool mntns_released(pid_t guard, ino_t ino, uint64_t id) {
        struct dirent *de;
        DIR *d;

        if (id == 0 || ino == 0)
                return false;  /* unknown: only the guard's pidfd tells */
        if (pid_mntns_ino(guard) != 0)
                return false;  /* the guard still holds its namespaces */
        d = opendir("/proc");
        if (!d)
                return false;
        /* A cheap stat() of each process's namespace link; inode numbers
         * are reused at once, so a match is checked by the unique id. */
        while ((de = readdir(d))) {
                pid_t pid;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                pid = atoi(de->d_name);
                if (pid_mntns_ino(pid) == ino && pid_mntns(pid) == id) {
                        closedir(d);
                        return false;
                }
        }
        closedir(d);
        return true;
}
