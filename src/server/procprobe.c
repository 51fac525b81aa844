/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>

#include "macro.h"
#include "procfs.h"
#include "procprobe.h"

bool pid_is_dying(pid_t pid) {
        /* A pending SIGKILL, or a signal the guard ends on (SIGHUP, SIGINT,
         * SIGTERM: see guard.c), for the thread or the group. */
        static const char *const pending[] = { "SigPnd", "ShdPnd" };
        const unsigned long long fatal = 1ULL << (SIGKILL - 1) | 1ULL << (SIGHUP - 1) | 1ULL << (SIGINT - 1) |
                                         1ULL << (SIGTERM - 1);
        char buf[4096], stat[1024], value[64], comm[16];
        unsigned long long flags = 0;
        int n;

        n = procfs_read(PROCFS_AT, pid, "status", buf, sizeof buf);
        if (n <= 0)
                return true;
        /* A zombie, or one being torn down. */
        if (procfs_status_field(buf, (size_t) n, "State", value, sizeof value) == 0 &&
            (value[0] == 'Z' || value[0] == 'X'))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(pending); i++) {
                char *end;
                unsigned long long mask;

                if (procfs_status_field(buf, (size_t) n, pending[i], value, sizeof value) < 0)
                        continue;
                mask = strtoull(value, &end, 16);
                if (end != value && (mask & fatal))
                        return true;
        }
        /* Already exiting (PF_EXITING in the flags of /proc/<pid>/stat). */
        n = procfs_read(PROCFS_AT, pid, "stat", stat, sizeof stat);
        if (n <= 0 || proc_stat_parse(stat, (size_t) n, comm, NULL) < 0)
                return true;
        (void) procfs_stat_field(stat, (size_t) n, 9, &flags);
        return flags & 0x4;
}

#ifndef NS_GET_MNTNS_ID
#define NS_GET_MNTNS_ID _IOR(0xb7, 0x5, uint64_t)  /* linux/nsfs.h, Linux 6.10 */
#endif

uint64_t pid_mntns(pid_t pid) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t id = 0;

        fd = procfs_open(PROCFS_AT, pid, "ns/mnt", O_RDONLY);
        if (fd < 0 || ioctl(fd, NS_GET_MNTNS_ID, &id) < 0)
                return 0;
        return id;
}

ino_t pid_mntns_ino(pid_t pid) {
        ino_t ino;

        return procfs_ns_ino(PROCFS_AT, pid, "mnt", &ino) == 0 ? ino : 0;
}

ino_t pid_pidns_ino(pid_t pid) {
        ino_t ino;

        return procfs_ns_ino(PROCFS_AT, pid, "pid", &ino) == 0 ? ino : 0;
}

bool rocker_exited_unreaped(int guard_pidfd, pid_t guard, ino_t pidns_ino, ino_t mntns_ino, uint64_t mntns_id) {
        _cleanup_closedir_ DIR *d = NULL;
        bool busy = false;
        pid_t pid;

        /* The guard waits in zap_pid_ns_processes(): its own exit is done
         * but for the other tasks of its PID namespace being reaped. */
        if (pidns_ino == 0 || !proc_pid_exit_done(guard))
                return false;
        if (procfs_pids_open(PROCFS_AT, &d) < 0)
                return false;
        while (!busy && procfs_pid_next(d, &pid)) {
                char comm[16], state = 0;

                if (pid == guard)
                        continue;
                /* A task of the rocker still exiting, not a zombie yet. */
                if (pid_pidns_ino(pid) == pidns_ino &&
                    proc_get_name(pid, comm, &state) == 0 && state != 'Z' && state != 'X')
                        busy = true;
                /* Any process in its mount namespace (nsenter -m from
                 * outside), where the kernel gives namespaces a unique id.
                 * Without one (before 6.x), an inode number may already be
                 * another namespace's: no match is trusted, and none is
                 * needed, since a process in the old namespace keeps its
                 * overlays mounted, and the data dir stays in use until
                 * their watches say they are gone (overlaywatch.c). */
                else if (mntns_ino != 0 && mntns_id != 0 && pid_mntns_ino(pid) == mntns_ino &&
                         pid_mntns(pid) == mntns_id)
                        busy = true;
        }
        /* ...and the PID looked at was the guard's: its pidfd still names a
         * process, so the PID has not been reused. */
        return !busy && pidfd_send_signal(guard_pidfd, 0, NULL, 0) == 0;
}
