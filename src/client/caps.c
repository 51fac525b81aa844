/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "macro.h"

static int fail(const char *step, const char **ret_step) {
        if (ret_step)
                *ret_step = step;
        return negative_errno();
}

int caps_drop(cap_t keep, const CapsUser *user, const char **ret_step) {
        if (!keep) {
                errno = EINVAL;
                return fail("no capability set to keep", ret_step);
        }
        /* 1. EINVAL past the kernel's last capability ends it; on
         * capability 0 it would be a kernel without bounding sets. */
        for (cap_value_t cap = 0;; cap++)
                if (cap_drop_bound(cap) < 0) {
                        if (errno == EINVAL && cap > 0)
                                break;
                        return fail("drop a capability from the bounding set", ret_step);
                }
        /* 2. One prctl(): libcap's cap_reset_ambient() would ask for each
         * capability first, 41 calls more on every app's critical path
         * (docs/performance.md). cap_set_proc() below would clear the set
         * too (the kernel keeps it within permitted and inheritable):
         * explicit all the same. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return fail("clear the ambient capabilities", ret_step);
        /* 3. */
        if (user) {
                if (syscall(SYS_setgroups, 0, NULL) < 0)
                        return fail("clear the supplementary groups", ret_step);
                if (syscall(SYS_setresgid, user->gid, user->gid, user->gid) < 0)
                        return fail("set the gid", ret_step);
                if (syscall(SYS_setresuid, user->uid, user->uid, user->uid) < 0)
                        return fail("set the uid", ret_step);
        }
        /* 4. */
        if (cap_set_proc(keep) < 0)
                return fail("set the capabilities", ret_step);
        /* 5. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return fail("set no_new_privs", ret_step);
        return 0;
}
