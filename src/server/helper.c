/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "helper.h"

char *const helper_environ[] = { (char *) "PATH=/usr/bin:/bin", NULL };

int helper_drop(uid_t uid, gid_t gid, const int *keep, size_t n_keep) {
        sigset_t none;
        int null_fd;

        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                return -errno;
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0)
                return -errno;
        /* dup2() clears close-on-exec on 0 and 1; null_fd itself keeps it */
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0)
                return -errno;
        for (size_t i = 0; i < n_keep; i++)
                if (fcntl(keep[i], F_SETFD, 0) < 0)
                        return -errno;
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0 ||
            prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return 0;
}
