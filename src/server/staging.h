/* SPDX-License-Identifier: MIT */
/*
 * The image staging tree, for kernels before Linux 6.15, which cannot clone
 * a detached mount (open_tree(OPEN_TREE_CLONE) of an fsmount() fd answers
 * EINVAL) but can clone an attached one in the caller's mount namespace.
 *
 * rockerd makes one private mount namespace at start whose whole tree is a
 * tmpfs (pivot_root: it holds no host mount), and keeps it by an fd: no
 * process lives in it. Each image mount is attached there; rockerd enters
 * the namespace only for the few syscalls that attach, clone or detach one,
 * and comes straight back. So the host's mount table, rockerd's and every
 * rocker's (a copy of rockerd's, taken by clone3) never show cached images;
 * when rockerd exits, however it exits, the fd and with it the namespace and
 * its mounts go away, and each image lives on only in the rockers using it.
 */
#ifndef ROCKER_STAGING_H
#define ROCKER_STAGING_H

typedef struct Staging Staging;

/* Makes the staging namespace. 0 or -errno. */
int staging_new(Staging **ret);
Staging *staging_free(Staging *s);

/* Attaches the detached mount tree_fd (fsmount() or open_tree() clone) in
 * the staging namespace; tree_fd then refers to the attached mount. Its
 * place (a number) in *ret_slot. 0 or -errno. */
int staging_attach(Staging *s, int tree_fd, unsigned *ret_slot);

/* A detached clone (close-on-exec) of the attached mount tree_fd. fd or
 * -errno. */
int staging_clone(Staging *s, int tree_fd);

/* Detaches the mount in slot; rockers' clones keep their own. */
void staging_detach(Staging *s, unsigned slot);

#endif
