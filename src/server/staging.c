/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "staging.h"

struct Staging {
        int ns_fd;      /* the staging mount namespace */
        int home_ns_fd; /* rockerd's own */
        int root_fd;    /* rockerd's root and cwd, restored on the way back */
        int cwd_fd;
        unsigned next_slot;
};

static int enter(Staging *s) {
        return setns(s->ns_fd, CLONE_NEWNS) < 0 ? negative_errno() : 0;
}

/* Back to rockerd's namespace, root and cwd (setns() reset both to the
 * namespace's root). Failing half-way would leave rockerd resolving client
 * paths in the wrong tree: that is not a state to go on from. */
static void leave(Staging *s) {
        if (setns(s->home_ns_fd, CLONE_NEWNS) < 0 || fchdir(s->root_fd) < 0 || chroot(".") < 0 ||
            fchdir(s->cwd_fd) < 0) {
                log_error_errno(errno, "cannot leave the image staging namespace: %m");
                abort();
        }
}

int staging_new(Staging **ret) {
        Staging *s = calloc(1, sizeof *s);
        int r = 0;

        if (!s)
                return -ENOMEM;
        s->ns_fd = s->home_ns_fd = s->root_fd = s->cwd_fd = -EBADF;
        s->home_ns_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        s->root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        s->cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->home_ns_fd < 0 || s->root_fd < 0 || s->cwd_fd < 0) {
                r = negative_errno();
                staging_free(s);
                return r;
        }
        if (unshare(CLONE_NEWNS) < 0) {
                r = negative_errno();
                staging_free(s);
                return r;
        }
        /* From here on rockerd stands in the new namespace: whatever
         * happens, it goes back before returning. Its fd first (while
         * /proc is there). Private, so that nothing below reaches the host;
         * then a tmpfs becomes the whole tree (/proc only serves as a mount
         * point every system has), so that this namespace keeps no host
         * mount busy. */
        s->ns_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        if (s->ns_fd < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("rocker-images", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0 ||
            chdir("/proc") < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
            chdir("/") < 0)
                r = negative_errno();
        leave(s);
        if (r < 0) {
                staging_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

Staging *staging_free(Staging *s) {
        if (!s)
                return NULL;
        safe_close(s->ns_fd);
        safe_close(s->home_ns_fd);
        safe_close(s->root_fd);
        safe_close(s->cwd_fd);
        free(s);
        return NULL;
}

int staging_attach(Staging *s, int tree_fd, unsigned *ret_slot) {
        unsigned slot = s->next_slot++;
        char path[32];
        int r;

        snprintf(path, sizeof path, "/%u", slot);
        r = enter(s);
        if (r < 0)
                return r;
        /* The staging tmpfs is ours alone: no other process can see it,
         * let alone put a symlink in it. */
        if (mkdir(path, 0700) < 0 ||
            move_mount(tree_fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
                r = negative_errno();
                (void) rmdir(path);
        }
        leave(s);
        if (r >= 0)
                *ret_slot = slot;
        return r;
}

int staging_clone(Staging *s, int tree_fd) {
        int fd, r = enter(s);

        if (r < 0)
                return r;
        fd = open_tree(tree_fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);
        r = fd < 0 ? negative_errno() : fd;
        leave(s);
        return r;
}

void staging_detach(Staging *s, unsigned slot) {
        char path[32];

        snprintf(path, sizeof path, "/%u", slot);
        if (enter(s) < 0)
                return;
        if (umount2(path, MNT_DETACH) < 0 || rmdir(path) < 0)
                log_warning_errno(errno, "image staging: cannot remove %s: %m", path);
        leave(s);
}
