/* SPDX-License-Identifier: MIT */
/*
 * A rocker's private /dev, built by the guard (as root, in the rocker's own
 * mount namespace, before any untrusted code exists there). Like
 * `bwrap --dev`: a small tmpfs holding the harmless nodes every program
 * expects, bind mounts of exactly those host nodes (never created with
 * mknod: the host decides what the numbers mean), a devpts instance of its
 * own, a size-limited /dev/shm of its own, and the host device groups the
 * app's policy names (Devices=). Everything else of the host's /dev — disks,
 * loop devices, /dev/kmsg, /dev/mem, /dev/fuse, GPUs not asked for — is not
 * there at all, whatever groups the app's gid is in.
 *
 * Only mechanisms present since Linux 5.2 are used (fsopen/fsmount,
 * open_tree, move_mount onto an attached target, a bind remount), so it is
 * the same on every supported kernel.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev.h"
#include "macro.h"
#include "mountops.h"
#include "util.h"

/* What every rocker gets: the nodes bwrap --dev gives, bound from the host. */
static const char *const base_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

static const struct {
        const char *link, *target;
} base_links[] = {
        { "fd", "/proc/self/fd" },
        { "stdin", "/proc/self/fd/0" },
        { "stdout", "/proc/self/fd/1" },
        { "stderr", "/proc/self/fd/2" },
        { "ptmx", "pts/ptmx" },
};

/* The device groups an app's Devices= may name, each as the host paths it
 * brings (a trailing '*' matches every name with that prefix directly in
 * /dev). docs/man/rockerd.conf.5 lists what each gives away. */
static const struct {
        const char *name;
        const char *paths[PLAN_DEVICE_GROUP_PATHS_MAX + 1];  /* NULL-terminated */
} device_groups[] = {
        { "dri", { "/dev/dri", NULL } },
        { "snd", { "/dev/snd", NULL } },
        { "video", { "/dev/video*", "/dev/media*", NULL } },
        { "input", { "/dev/input", NULL } },
        { "kvm", { "/dev/kvm", NULL } },
};

#define DEV_CLONES_MAX 128

typedef struct Clone {
        char name[NAME_MAX + 1];  /* relative to /dev, no '/' */
        bool dir;
        int fd;
} Clone;

typedef struct Clones {
        Clone c[DEV_CLONES_MAX];
        size_t n;
} Clones;

static void clones_done(Clones *cl) {
        for (size_t i = 0; i < cl->n; i++)
                safe_close(cl->c[i].fd);
        cl->n = 0;
}

int dev_group_paths(const char *name, const char *const **ret) {
        for (size_t i = 0; i < ELEMENTSOF(device_groups); i++)
                if (strcmp(device_groups[i].name, name) == 0) {
                        *ret = device_groups[i].paths;
                        return 0;
                }
        return -ENOENT;
}

bool dev_path_is_valid(const char *path) {
        const char *name;
        size_t n;

        if (strncmp(path, "/dev/", 5) != 0)
                return false;
        name = path + 5;
        n = strlen(name);
        /* one level below /dev, not a name of the private /dev's own */
        if (n == 0 || n > NAME_MAX || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return false;
        if (!strcmp(name, "pts") || !strcmp(name, "shm") || !strcmp(name, "*"))
                return false;
        /* a '*' only at the end */
        return !strchr(name, '*') || strchr(name, '*') == name + n - 1;
}

/* Clones the host's /dev/<name> (a node or a directory with what is below
 * it), refusing a symlink: the host's /dev is root's, but a link would be
 * followed to anywhere. */
static int clone_one(Clones *cl, const char *name) {
        _cleanup_close_ int fd = -EBADF;
        char path[NAME_MAX + 8];
        struct stat st;

        for (size_t i = 0; i < cl->n; i++)
                if (strcmp(cl->c[i].name, name) == 0)
                        return 0;  /* named twice */
        if (cl->n >= DEV_CLONES_MAX)
                return -E2BIG;
        snprintf(path, sizeof path, "/dev/%s", name);
        if (lstat(path, &st) < 0)
                return negative_errno();
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISDIR(st.st_mode))
                return -EINVAL;
        fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW |
                                           (S_ISDIR(st.st_mode) ? AT_RECURSIVE : 0));
        if (fd < 0)
                return negative_errno();
        snprintf(cl->c[cl->n].name, sizeof cl->c[cl->n].name, "%s", name);
        cl->c[cl->n].dir = S_ISDIR(st.st_mode);
        cl->c[cl->n].fd = TAKE_FD(fd);
        cl->n++;
        return 0;
}

/* One Devices= path: "/dev/x" (missing: skipped, a host without that
 * hardware) or "/dev/x*" (every /dev entry starting with x). */
static int clone_path(Clones *cl, const char *path) {
        const char *name = path + 5;
        size_t n = strlen(name);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        if (name[n - 1] != '*') {
                r = clone_one(cl, name);
                return r == -ENOENT ? 0 : r;
        }
        d = opendir("/dev");
        if (!d)
                return negative_errno();
        while (r >= 0 && (de = readdir(d)))
                if (strncmp(de->d_name, name, n - 1) == 0 && de->d_name[0] != '.' &&
                    (de->d_type == DT_CHR || de->d_type == DT_DIR || de->d_type == DT_BLK))
                        r = clone_one(cl, de->d_name);
        return r;
}

int dev_make_private(const Plan *p, const char **ret_step) {
        static const char *const dev_opts[] = { "mode", "0755", "size", "1m", "nr_inodes", "1024", NULL };
        static const char *const pts_opts[] = { "ptmxmode", "0666", "mode", "0620", NULL };
        _cleanup_close_ int dev = -EBADF, pts = -EBADF, shm = -EBADF, dev_dir = -EBADF, target = -EBADF;
        char shm_size[32];
        const char *shm_opts[] = { "mode", "1777", "size", shm_size, NULL };
        Clones cl = { .n = 0 };
        int r;

#define STEP(s) (*ret_step = (s))
        /* 1. While /dev is still the host's: a clone of every node kept. */
        STEP("clone the host's device nodes");
        for (size_t i = 0; i < ELEMENTSOF(base_nodes); i++) {
                r = clone_one(&cl, base_nodes[i]);
                if (r < 0)
                        goto out;
        }
        STEP("clone the app's devices (Devices=)");
        for (size_t i = 0; i < p->n_devices; i++) {
                r = clone_path(&cl, p->devices[i]);
                if (r < 0)
                        goto out;
        }

        /* 2. The new /dev, built detached: nodes' mount points, links. */
        STEP("make the /dev tmpfs");
        dev = mount_new_fs("tmpfs", dev_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (dev < 0) {
                r = dev;
                goto out;
        }
        STEP("populate /dev");
        for (size_t i = 0; i < cl.n; i++) {
                if (cl.c[i].dir)
                        r = mkdirat(dev, cl.c[i].name, 0755) < 0 ? negative_errno() : 0;
                else {
                        int fd = openat(dev, cl.c[i].name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
                        r = fd < 0 ? negative_errno() : 0;
                        safe_close(fd);
                }
                if (r < 0)
                        goto out;
        }
        if (mkdirat(dev, "pts", 0755) < 0 || mkdirat(dev, "shm", 01777) < 0) {
                r = negative_errno();
                goto out;
        }
        for (size_t i = 0; i < ELEMENTSOF(base_links); i++)
                if (symlinkat(base_links[i].target, dev, base_links[i].link) < 0) {
                        r = negative_errno();
                        goto out;
                }

        /* 3. Attached over the host's /dev: nothing of it is reachable
         * any more but through the clones. */
        STEP("detach the host's /dev");
        /* Its submounts (the host's pts, shm, mqueue) leave this namespace's
         * table too; the clones above are copies of their own. */
        if (umount2("/dev", MNT_DETACH) < 0 && errno != EINVAL) {
                r = negative_errno();
                goto out;
        }
        STEP("attach the private /dev");
        target = open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0 ||
            move_mount(dev, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
                r = negative_errno();
                goto out;
        }
        dev_dir = open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dev_dir < 0) {
                r = negative_errno();
                goto out;
        }
        STEP("bind the device nodes into /dev");
        for (size_t i = 0; i < cl.n; i++) {
                r = mount_attach_at(cl.c[i].fd, dev_dir, cl.c[i].name);
                if (r < 0)
                        goto out;
        }

        /* 4. A devpts of its own: the app's ptys are invisible to the host's
         * and to other rockers', and the host's are not here. */
        STEP("mount /dev/pts");
        pts = mount_new_fs("devpts", pts_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
        if (pts < 0) {
                r = pts;
                goto out;
        }
        r = mount_attach_at(pts, dev_dir, "pts");
        if (r < 0)
                goto out;

        /* 5. /dev/shm of its own: POSIX shared memory is not shared with
         * the host or another rocker, and is bounded. */
        STEP("mount /dev/shm");
        snprintf(shm_size, sizeof shm_size, "%" PRIu64, p->dev_shm_size);
        shm = mount_new_fs("tmpfs", shm_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (shm < 0) {
                r = shm;
                goto out;
        }
        r = mount_attach_at(shm, dev_dir, "shm");
        if (r < 0)
                goto out;

        /* 6. The tmpfs itself read-only (its own flags only: a bind
         * remount, on every kernel); the nodes, pts and shm are mounts of
         * their own and keep theirs. */
        STEP("make /dev read-only");
        if (mount(NULL, "/dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
            0) {
                r = negative_errno();
                goto out;
        }
        r = 0;
#undef STEP
out:
        clones_done(&cl);
        return r;
}
