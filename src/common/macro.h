/* SPDX-License-Identifier: MIT */
/* Cleanup helpers and small macros shared by the daemon and the library. */
#ifndef ROCKER_MACRO_H
#define ROCKER_MACRO_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Close an fd without retrying on EINTR (the fd is gone either way on Linux)
 * and keep errno, so that cleanup never hides the error being returned. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) { safe_close(*fd); }
static inline void freep(void *p) {
        int saved = errno;
        free(*(void **) p);
        errno = saved;
}

static inline void closedirp(DIR **d) {
        if (*d) {
                int saved = errno;
                (void) closedir(*d);
                errno = saved;
        }
}
static inline void fclosep(FILE **f) {
        if (*f) {
                int saved = errno;
                (void) fclose(*f);
                errno = saved;
        }
}

/* A forked child of ours, SIGKILLed and reaped on the way out unless its
 * pid was taken (TAKE_PID) by whoever waits for it. */
static inline void sigkill_waitp(pid_t *pid) {
        if (*pid > 0) {
                int saved = errno;
                (void) kill(*pid, SIGKILL);
                while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                errno = saved;
        }
}

#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership over: return the value and leave the variable empty. */
#define TAKE_FD(fd) ({ int _fd_ = (fd); (fd) = -EBADF; _fd_; })
#define TAKE_PTR(p) ({ __typeof__(p) _p_ = (p); (p) = NULL; _p_; })
#define TAKE_PID(pid) ({ pid_t _pid_ = (pid); (pid) = 0; _pid_; })

/* -errno of the last failed libc call, never 0. */
static inline int negative_errno(void) { return errno > 0 ? -errno : -EIO; }

#endif
