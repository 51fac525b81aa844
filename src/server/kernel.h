/* SPDX-License-Identifier: MIT */
/*
 * What the running kernel offers, probed once when rockerd starts (never per
 * request), and the mechanism rockerd picks for each thing that differs
 * between Linux 5.10 and the newest kernels. docs/kernels.md has the table.
 *
 * Every fallback can be forced on a newer kernel with the environment
 * variable ROCKER_FORCE_FALLBACK: "all", or a comma list of the names below,
 * so that the ordinary test suite runs through the fallbacks too.
 */
#ifndef ROCKER_KERNEL_H
#define ROCKER_KERNEL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "mountops.h"

typedef struct KernelFeatures {
        /* "image-staging": image mounts stay attached in a staging mount
         * namespace of rockerd's and are cloned there. Needed before Linux
         * 6.15, which cannot clone a detached mount (EINVAL). */
        bool image_staging;
        /* "bind-remount": mount flags are changed with bind remounts, one
         * mount at a time. Needed before Linux 5.12 (no mount_setattr). */
        bool bind_remount;
        char release[65];  /* uname -r */
} KernelFeatures;

#define KERNEL_FALLBACK_ENV "ROCKER_FORCE_FALLBACK"

/* Parses a ROCKER_FORCE_FALLBACK value into the fallbacks it forces (sets
 * the fields it names, leaves the others). NULL or "" forces none. 0, or
 * -EINVAL with the unknown name in *ret_bad (a pointer into value, up to the
 * next ',') and its length in *ret_bad_len. */
int kernel_parse_forced(const char *value, KernelFeatures *f, const char **ret_bad, size_t *ret_bad_len);

/* Probes the kernel: every feature rocker cannot run without (the floor:
 * Linux 5.10), then what picks each mechanism; applies
 * ROCKER_FORCE_FALLBACK. 0, or -errno with one line naming what is missing
 * (and from which Linux on it exists) or what is wrong in err. */
int kernel_probe(KernelFeatures *ret, RkError *err);

/* How mount flags are changed on this kernel. */
const MountOps *kernel_mount_ops(const KernelFeatures *f);

/* One line saying which mechanism was picked for each thing. */
void kernel_describe(const KernelFeatures *f, char *buf, size_t size);

#endif
