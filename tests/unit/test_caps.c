/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/client/caps.c: each drop runs in a forked child (the
 * drop cannot be undone), which then reads what the kernel says of it in
 * /proc/self/status and answers by its exit status: 0 when every set is
 * what the caller asked for. Needs root with CAP_SETPCAP (the bounding
 * set); skipped otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"

/* A field of /proc/self/status, as the text after "<name>:\t". */
static bool status_field(const char *name, char *buf, size_t size) {
        char line[512];
        size_t n = strlen(name);
        bool found = false;
        FILE *f = fopen("/proc/self/status", "re");

        if (!f)
                return false;
        while (!found && fgets(line, sizeof line, f))
                if (strncmp(line, name, n) == 0 && line[n] == ':') {
                        const char *v = line + n + 1;

                        v += strspn(v, " \t");
                        snprintf(buf, size, "%.*s", (int) strcspn(v, "\n"), v);
                        found = true;
                }
        fclose(f);
        return found;
}

static bool status_hex(const char *name, uint64_t *ret) {
        char buf[64];

        if (!status_field(name, buf, sizeof buf))
                return false;
        *ret = strtoull(buf, NULL, 16);
        return true;
}

/* Exit statuses of the child: which check failed. */
enum {
        CHILD_OK,
        CHILD_DROP,
        CHILD_STATUS,
        CHILD_EFFECTIVE,
        CHILD_PERMITTED,
        CHILD_INHERITABLE,
        CHILD_BOUNDING,
        CHILD_AMBIENT,
        CHILD_NO_NEW_PRIVS,
        CHILD_UID,
        CHILD_GID,
        CHILD_GROUPS,
};

/* In the child: drop, then check every set against want (effective and
 * permitted), and the ids if user is given. Never returns. */
_Noreturn static void drop_and_check(cap_t keep, const CapsUser *user, uint64_t want) {
        uint64_t eff, prm, inh, bnd, amb;
        char buf[256], ids[64];
        const char *step = NULL;
        int r = caps_drop(keep, user, &step);

        /* this process's copy of the parent's cap_t, freed before any
         * _exit() (valgrind reported it "possibly lost" in every child) */
        cap_free(keep);
        if (r < 0) {
                fprintf(stderr, "caps_drop: %s: %s\n", step ? step : "?", strerror(-r));
                _exit(CHILD_DROP);
        }
        if (!status_hex("CapEff", &eff) || !status_hex("CapPrm", &prm) || !status_hex("CapInh", &inh) ||
            !status_hex("CapBnd", &bnd) || !status_hex("CapAmb", &amb) || !status_field("NoNewPrivs", buf, sizeof buf))
                _exit(CHILD_STATUS);
        if (eff != want)
                _exit(CHILD_EFFECTIVE);
        if (prm != want)
                _exit(CHILD_PERMITTED);
        if (inh != 0)
                _exit(CHILD_INHERITABLE);
        if (bnd != 0)
                _exit(CHILD_BOUNDING);
        if (amb != 0)
                _exit(CHILD_AMBIENT);
        if (strcmp(buf, "1") != 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
                _exit(CHILD_NO_NEW_PRIVS);
        if (user) {
                /* "real effective saved fs" */
                snprintf(ids, sizeof ids, "%u\t%u\t%u\t%u", (unsigned) user->uid, (unsigned) user->uid,
                         (unsigned) user->uid, (unsigned) user->uid);
                if (!status_field("Uid", buf, sizeof buf) || strcmp(buf, ids) != 0)
                        _exit(CHILD_UID);
                snprintf(ids, sizeof ids, "%u\t%u\t%u\t%u", (unsigned) user->gid, (unsigned) user->gid,
                         (unsigned) user->gid, (unsigned) user->gid);
                if (!status_field("Gid", buf, sizeof buf) || strcmp(buf, ids) != 0)
                        _exit(CHILD_GID);
                if (!status_field("Groups", buf, sizeof buf) || buf[strspn(buf, " ")] != '\0')
                        _exit(CHILD_GROUPS);
        }
        _exit(CHILD_OK);
}

static int run_child(cap_t keep, const CapsUser *user, uint64_t want, bool ambient_first) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                /* Something in the ambient set to clear: CAP_KILL must be
                 * permitted and inheritable to be raised. */
                if (ambient_first) {
                        cap_t c = cap_get_proc();
                        const cap_value_t v[] = { CAP_KILL };

                        bool raised = c && cap_set_flag(c, CAP_INHERITABLE, 1, v, CAP_SET) == 0 &&
                                      cap_set_proc(c) == 0 && cap_set_ambient(CAP_KILL, CAP_SET) == 0 &&
                                      cap_get_ambient(CAP_KILL) == 1;

                        cap_free(c);
                        if (!raised)
                                _exit(CHILD_STATUS);
                }
                drop_and_check(keep, user, want);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* What an app process gets: nothing, as root. */
static void drop_all_as_root(void **state) {
        cap_t empty = cap_init();

        (void) state;
        assert_non_null(empty);
        assert_int_equal(run_child(empty, NULL, 0, false), CHILD_OK);
        /* an ambient set with something in it is cleared too */
        assert_int_equal(run_child(empty, NULL, 0, true), CHILD_OK);
        cap_free(empty);
}

/* What the guard keeps: CAP_KILL, effective and permitted. */
static void keep_kill_only(void **state) {
        const cap_value_t v[] = { CAP_KILL };
        cap_t keep = cap_init();

        (void) state;
        assert_non_null(keep);
        assert_int_equal(cap_set_flag(keep, CAP_EFFECTIVE, 1, v, CAP_SET), 0);
        assert_int_equal(cap_set_flag(keep, CAP_PERMITTED, 1, v, CAP_SET), 0);
        assert_int_equal(run_child(keep, NULL, UINT64_C(1) << CAP_KILL, true), CHILD_OK);
        cap_free(keep);
}

/* An app process: the app's user, no groups, nothing else. */
static void drop_all_to_user(void **state) {
        const CapsUser nobody = { .uid = 65534, .gid = 65534 };
        cap_t empty = cap_init();

        (void) state;
        assert_non_null(empty);
        assert_int_equal(run_child(empty, &nobody, 0, true), CHILD_OK);
        /* keep-caps set by the caller changes nothing */
        assert_int_equal(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0), 0);
        assert_int_equal(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), 0);
        assert_int_equal(run_child(empty, &nobody, 0, false), CHILD_OK);
        assert_int_equal(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), 0);
        cap_free(empty);
}

/* A failure names its step and leaves errno's value in the result. */
static void failure_names_step(void **state) {
        const char *step = NULL;

        (void) state;
        assert_int_equal(caps_drop(NULL, NULL, &step), -EINVAL);
        assert_non_null(step);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(failure_names_step),
                cmocka_unit_test(drop_all_as_root),
                cmocka_unit_test(keep_kill_only),
                cmocka_unit_test(drop_all_to_user),
        };
        cap_t self;
        cap_flag_value_t v = CAP_CLEAR;

        self = cap_get_proc();
        if (!self || cap_get_flag(self, CAP_SETPCAP, CAP_EFFECTIVE, &v) < 0 || v != CAP_SET || geteuid() != 0) {
                fprintf(stderr, "skipped: needs root with CAP_SETPCAP\n");
                cap_free(self);
                return 77;
        }
        cap_free(self);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
