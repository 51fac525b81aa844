/* SPDX-License-Identifier: MIT */
/* Hostile requests and their checks: see hostile.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rocker/rocker.h>

#include "harness.h"
#include "hostile.h"

/* A refusal is a few ms of work; anything near this is a hang. */
#define REFUSAL_MAX_MS 3000

/* ---- the table of refusals ----------------------------------------- */

typedef struct Row {
        char name[72];
        char err[32];
        char *text;
} Row;

static Row rows[512];

static size_t n_rows;

/* The temp dir changes per run: "$DIR" keeps the table pasteable. Control
 * characters are escaped so that one row stays one line. */
static char *sanitize(const char *text) {
        size_t dl = strlen(H.dir), size = strlen(text) * 4 + 1, o = 0;
        char *out = malloc(size);

        assert_non_null(out);
        for (const char *p = text; *p;) {
                if (dl > 0 && strncmp(p, H.dir, dl) == 0) {
                        o += (size_t) snprintf(out + o, size - o, "$DIR");
                        p += dl;
                } else if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                        o += (size_t) snprintf(out + o, size - o, *p == '\n' ? "\\n" : "\\x%02x",
                                               (unsigned char) *p);
                        p++;
                } else
                        out[o++] = *p++;
        }
        out[o] = '\0';
        return out;
}

void row_add(const char *name, const char *err, const char *text) {
        Row *r;

        if (n_rows >= sizeof rows / sizeof rows[0])
                return;
        r = &rows[n_rows++];
        snprintf(r->name, sizeof r->name, "%s", name);
        snprintf(r->err, sizeof r->err, "%s", err);
        r->text = sanitize(text);
}

static void rows_print(void) {
        int w = 4;

        for (size_t i = 0; i < n_rows; i++)
                if ((int) strlen(rows[i].name) > w)
                        w = (int) strlen(rows[i].name);
        print_message("\nrefused cases (%zu), $DIR = the harness' temp dir:\n", n_rows);
        print_message("%-*s | %-24s | %s\n", w, "case", "err_no", "error text");
        for (size_t i = 0; i < n_rows; i++) {
                print_message("%-*s | %-24s | %s\n", w, rows[i].name, rows[i].err, rows[i].text);
                free(rows[i].text);
        }
        n_rows = 0;
}

bool lexists(const char *path) {
        struct stat st;

        return lstat(path, &st) == 0;
}

/* Every needle must occur in text; "a|b" means a or b. */
static bool needles_match(const char *text, const char *const *needles) {
        for (size_t i = 0; needles[i]; i++) {
                char alt[512], *save = NULL;
                bool any = false;

                snprintf(alt, sizeof alt, "%s", needles[i]);
                for (char *a = strtok_r(alt, "|", &save); a && !any; a = strtok_r(NULL, "|", &save))
                        any = strstr(text, a) != NULL;
                if (!any)
                        return false;
        }
        return true;
}

void assert_needles(const char *what, const char *text, const char *const *needles) {
        if (!needles_match(text, needles)) {
                print_error("%s: the error does not name the field/reason\n  got: \"%s\"\n  want all of:", what,
                            text);
                for (size_t i = 0; needles[i]; i++)
                        print_error(" \"%s\"", needles[i]);
                print_error("\n");
                fail();
        }
}

char *fingerprint(const char *dir) {
        char cmd[1024];
        FILE *f;
        char *s;

        snprintf(cmd, sizeof cmd,
                 "cd '%s' 2>/dev/null && find . \\( -path './overlay/*/work' -o -path './overlay/*/work/*' \\) "
                 "-printf '%%p|%%y|%%l\\n' -o -printf '%%p|%%y|%%m|%%U|%%G|%%s|%%T@|%%C@|%%l\\n' | LC_ALL=C sort && "
                 "find . -type f -exec sha256sum {} + | LC_ALL=C sort",
                 dir);
        f = popen(cmd, "re");
        if (!f)
                return NULL;
        s = read_all(fileno(f));
        pclose(f);
        return s;
}

/* The pre-existing data dir: a real layout, written by a real rocker. */
static char pre_dir[256];

static char *pre_fp;

void assert_daemon_responsive(void) {
        RockerInfo *list = NULL;
        int n = 0;
        long long t0 = mono_ms();
        RockerResult r = ROCKER_list_rockers(&list, &n);

        if (r.err_no != ROCKER_ERR_success)
                print_error("list: %s\n", ROCKER_last_error());
        assert_int_equal(r.err_no, ROCKER_ERR_success);
        ROCKER_free_rockers(list, n);
        assert_true(mono_ms() - t0 < 1000);
}

/* rockerd's children: guards, even those not yet named rk-*. */
static int daemon_children(void) {
        char p[96], buf[4096];
        int fd, n = 0;
        ssize_t k;

        snprintf(p, sizeof p, "/proc/%d/task/%d/children", (int) H.daemon, (int) H.daemon);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;  /* kernel without CONFIG_PROC_CHILDREN: the guard count must do */
        k = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t i = 0; i < k; i++)
                n += buf[i] == ' ';
        return n;
}

void case_end(void) {
        char *fp;
        int children = 0;

        /* rockerd reaps its guards after the events the case waited for; no
         * event tells the test: a fixed-interval look within a 5 s bound. */
        for (int i = 0; i < 500 && (children = daemon_children()) != 0; i++)
                usleep(10 * 1000);
        if (children != 0) {
                print_error("rockerd still has %d children (guards) after the case\n", children);
                fail();
        }
        fp = fingerprint(pre_dir);

        assert_non_null(fp);
        if (strcmp(fp, pre_fp) != 0) {
                print_error("the pre-existing data dir %s changed:\n--- before\n%s\n--- after\n%s\n", pre_dir, pre_fp,
                            fp);
                free(fp);
                fail();
        }
        free(fp);
        harness_assert_clean();
}

/* Fds a case opens: a failed assertion must not leak them into the next
 * cases (whose leak checks count our fds), so the per-test teardown closes
 * what is left. Closing a raw connection also ends its unclaimed rocker. */
static int tracked[64];

static size_t n_tracked;

int fd_track(int fd) {
        assert_true(fd >= 0);
        assert_true(n_tracked < sizeof tracked / sizeof tracked[0]);
        tracked[n_tracked++] = fd;
        return fd;
}

void fd_close(int fd) {
        for (size_t i = 0; i < n_tracked; i++)
                if (tracked[i] == fd) {
                        tracked[i] = tracked[--n_tracked];
                        break;
                }
        close(fd);
}

/* A hang shows as a failure in seconds, not the library's 30 s. */
#define HOSTILE_TIMEOUT_MS "15000"

int hostile_case_setup(void **state) {
        (void) state;
        return setenv("ROCKER_TIMEOUT_MS", HOSTILE_TIMEOUT_MS, 1);
}

int hostile_case_teardown(void **state) {
        (void) state;
        unsetenv("ROCKER_TIMEOUT_MS");
        while (n_tracked > 0)
                close(tracked[--n_tracked]);
        setenv("ROCKER_SOCKET", H.socket, 1);
        return 0;
}

/* Set while a test wants changes to an existing data dir counted rather
 * than failed at once (to run every case before reporting). */
bool count_data_dir_changes;

unsigned data_dir_changes;

/* Lines only in a, prefixed with mark. */
static void print_lines_not_in(const char *a, const char *b, char mark) {
        for (const char *p = a; p && *p;) {
                const char *e = strchr(p, '\n');
                size_t n = e ? (size_t) (e - p) : strlen(p);
                char line[1024];
                bool found = false;

                snprintf(line, sizeof line, "%.*s", (int) n, p);
                for (const char *q = b; q && *q && !found;) {
                        const char *f = strchr(q, '\n');
                        size_t m = f ? (size_t) (f - q) : strlen(q);
                        found = m == n && strncmp(p, q, n) == 0;
                        q = f ? f + 1 : NULL;
                }
                if (!found)
                        print_error("  %c %s\n", mark, line);
                p = e ? e + 1 : NULL;
        }
}

static void expand_value(const char *tmpl, const char *tag, const char *exec, const char *data, char *out,
                         size_t size) {
        size_t o = 0;

        for (const char *p = tmpl; *p && o + 1 < size;) {
                const char *rep = NULL;
                size_t skip = 0;

                if (strncmp(p, "{dir}", 5) == 0)
                        rep = H.dir, skip = 5;
                else if (strncmp(p, "{tag}", 5) == 0)
                        rep = tag, skip = 5;
                else if (strncmp(p, "{exec}", 6) == 0)
                        rep = exec, skip = 6;
                else if (strncmp(p, "{data}", 6) == 0)
                        rep = data, skip = 6;
                else if (strncmp(p, "{img}", 5) == 0)
                        rep = H.image, skip = 5;
                else if (strncmp(p, "{open}", 6) == 0)
                        rep = H.open_dir, skip = 6;
                if (rep) {
                        o += (size_t) snprintf(out + o, size - o, "%s", rep);
                        p += skip;
                } else
                        out[o++] = *p++;
        }
        out[o < size ? o : size - 1] = '\0';
}

static int app_never(void *arg) {
        (void) arg;
        return 99;
}

/* A listener nobody else knows: a request the library must refuse by
 * itself may not reach it. */
static int decoy_open(char *path, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        snprintf(path, size, "%s/decoy.sock", H.dir);
        unlink(path);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(listen(fd, 16), 0);
        setenv("ROCKER_SOCKET", path, 1);
        return fd;
}

static void decoy_close(int fd, const char *path) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

        setenv("ROCKER_SOCKET", H.socket, 1);
        if (c >= 0) {
                close(c);
                print_error("the library connected to send a request it must refuse by itself\n");
        }
        close(fd);
        unlink(path);
        assert_true(c < 0 && errno == EAGAIN);
}

static unsigned lib_counter;

/* Runs one case on fresh dirs (pre = false) or on the pre-existing data
 * dir; returns nothing, fails the test on any broken promise. */
static void lib_run(const LibCase *c, bool pre) {
        char buf[1024], tag[48], exec[512], data[512], vals[4][8192], decoy[256];
        bool exec_existed, data_existed;
        const char *err_text;
        RockerRequest req;
        RockerResult res;
        long long t0, dt;
        int decoy_fd = -1;
        char *data_fp = NULL;

        snprintf(tag, sizeof tag, "lib%u%s", lib_counter, pre ? "-pre" : "");
        req = harness_request(tag, buf, sizeof buf);
        snprintf(exec, sizeof exec, "%s", req.app_exec_dir);
        snprintf(data, sizeof data, "%s", pre ? pre_dir : req.app_data_dir);
        req.app_exec_dir = exec;
        req.app_data_dir = data;
        for (size_t i = 0; i < 4 && c->set[i].field != F_END; i++) {
                const Set *s = &c->set[i];
                char *v = vals[i];

                if (s->value == NULLSTR)
                        v = NULL;
                else
                        expand_value(s->value, tag, exec, data, vals[i], sizeof vals[i]);
                switch (s->field) {
                case F_PKG: req.app_pkg_path = v; break;
                case F_EXEC: req.app_exec_dir = v; break;
                case F_DATA: req.app_data_dir = v; break;
                case F_UID: req.uid = (int) strtol(v, NULL, 0); break;
                case F_GID: req.gid = (int) strtol(v, NULL, 0); break;
                case F_APPID: req.app_id = (int) strtol(v, NULL, 0); break;
                default:
                        assert_true(s->field >= F_OV && s->field < F_OV + 16);
                        req.app_overlay_dirs[s->field - F_OV] = v;
                }
        }
        exec_existed = req.app_exec_dir && req.app_exec_dir[0] == '/' && lexists(req.app_exec_dir);
        data_existed = req.app_data_dir && req.app_data_dir[0] == '/' && lexists(req.app_data_dir);
        /* An existing data dir of ours must come out unchanged (never
         * fingerprint "/" or /sys). */
        if (data_existed && strncmp(req.app_data_dir, H.dir, strlen(H.dir)) == 0)
                data_fp = fingerprint(req.app_data_dir);

        if (c->want == ROCKER_ERR_param_invalid)
                decoy_fd = decoy_open(decoy, sizeof decoy);
        t0 = mono_ms();
        res = ROCKER_enter_rocker(&req, app_never, NULL);
        dt = mono_ms() - t0;
        err_text = ROCKER_last_error();
        if (decoy_fd >= 0)
                decoy_close(decoy_fd, decoy);

        if (res.err_no == ROCKER_ERR_success) {
                /* Built: end it before failing, so the next cases start clean. */
                print_error("%s%s: built a rocker (guard %s) instead of being refused\n", c->name,
                            pre ? " (pre-existing data dir)" : "", res.guard_pname);
                waitpid(res.app_pid, NULL, 0);
                harness_kill_guard(&res);
                fail();
        }
        if (res.err_no != c->want) {
                print_error("%s%s: err_no %s, want %s (%s)\n", c->name, pre ? " (pre-existing data dir)" : "",
                            ROCKER_strerror(res.err_no), ROCKER_strerror(c->want), err_text);
                fail();
        }
        assert_needles(c->name, err_text, c->needles);
        if (!pre)
                row_add(c->name, ROCKER_strerror(res.err_no), err_text);
        if (dt > REFUSAL_MAX_MS) {
                print_error("%s: the refusal took %lld ms\n", c->name, dt);
                fail();
        }
        if (!exec_existed && req.app_exec_dir && req.app_exec_dir[0] == '/' && lexists(req.app_exec_dir)) {
                print_error("%s: the refused request created its exec dir %s\n", c->name, req.app_exec_dir);
                fail();
        }
        if (!data_existed && !c->guard_stage && req.app_data_dir && req.app_data_dir[0] == '/' &&
            lexists(req.app_data_dir)) {
                print_error("%s: the refused request created its data dir %s\n", c->name, req.app_data_dir);
                fail();
        }
        if (data_fp) {
                char *after = fingerprint(req.app_data_dir);

                assert_non_null(after);
                if (strcmp(after, data_fp) != 0) {
                        print_error("%s%s: the refused request changed the existing data dir %s "
                                    "(name|type|mode|uid|gid|size|mtime|ctime|link):\n",
                                    c->name, pre ? " (pre-existing data dir)" : "", req.app_data_dir);
                        print_lines_not_in(data_fp, after, '-');
                        print_lines_not_in(after, data_fp, '+');
                        free(after);
                        free(data_fp);
                        if (!count_data_dir_changes)
                                fail();
                        data_dir_changes++;
                        return;
                }
                free(after);
                free(data_fp);
        }
}

void lib_cases_run(const LibCase *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool sets_data = false;

                for (size_t k = 0; k < 4 && cases[i].set[k].field != F_END; k++)
                        sets_data |= cases[i].set[k].field == F_DATA;
                lib_counter++;
                lib_run(&cases[i], false);
                if (!sets_data)
                        lib_run(&cases[i], true);
                case_end();
        }
        assert_daemon_responsive();
}

/* ---- group setup ------------------------------------------------------ */

static int write_bytes(const char *path, off_t off, size_t len, const char *pattern) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t pl = strlen(pattern);
        int r = 0;

        if (fd < 0)
                return -1;
        for (size_t i = 0; i < len && r == 0; i += pl) {
                size_t k = len - i < pl ? len - i : pl;
                if (pwrite(fd, pattern, k, off + (off_t) i) != (ssize_t) k)
                        r = -1;
        }
        close(fd);
        return r;
}

static int app_write_pre(void *arg) {
        int fd = open("/var/tmp/rocker-hostile-pre", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        (void) arg;
        if (fd < 0)
                return 1;
        (void) !write(fd, "app data\n", 9);
        fsync(fd);
        close(fd);
        return 0;
}

static int make_pre_data_dir(void) {
        char buf[1024];
        RockerRequest req = harness_request("pre", buf, sizeof buf);
        RockerResult res;
        struct pollfd p;
        int status, pidfd;
        Snapshot now;

        snprintf(pre_dir, sizeof pre_dir, "%s", req.app_data_dir);
        res = ROCKER_enter_rocker(&req, app_write_pre, NULL);
        if (res.err_no != ROCKER_ERR_success) {
                fprintf(stderr, "cannot build the pre-existing data dir: %s\n", ROCKER_last_error());
                return -1;
        }
        if (waitpid(res.app_pid, &status, 0) != res.app_pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -1;
        pidfd = pidfd_open(res.guard_pid, 0);
        if (pidfd < 0 || ROCKER_kill_rocker(res.guard_pid, res.guard_pname, SIGKILL).err_no != ROCKER_ERR_success)
                return -1;
        p = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        if (poll(&p, 1, 5000) != 1)
                return -1;
        close(pidfd);
        if (harness_sh("echo 'the launcher keeps notes here' > %s/launcher-notes && "
                       "test -f %s/overlay/var/upper/tmp/rocker-hostile-pre", pre_dir, pre_dir) != 0)
                return -1;
        for (int i = 0; i < 500; i++) {
                snapshot_take(&now);
                if (snapshot_equal(&now, &H.baseline))
                        break;
                usleep(10 * 1000);
        }
        pre_fp = fingerprint(pre_dir);
        return pre_fp ? 0 : -1;
}

static int make_fixtures(void) {
        char p[512];
        uint64_t inode_table;

        if (harness_sh("set -e; cd %s; mkdir img; "
                       "head -c 4096 %s > img/truncated.squashfs; "
                       "printf 'hsqs' > img/tiny.squashfs; head -c 60 /dev/zero >> img/tiny.squashfs; "
                       ": > img/empty.squashfs; "
                       "mkfifo img/fifo.squashfs; mkdir img/dir.squashfs; "
                       "ln -s %s img/link.squashfs; "
                       "cp %s img/crafted.squashfs; cp %s img/bad-super.squashfs; cp %s img/bad-tables.squashfs; "
                       "echo x > afile; ln -s %s ovlink; "
                       "mkdir -p sym/elsewhere sym/elsewhere2 sym/victim; "
                       "ln -s %s/sym/elsewhere sym/link; ln -s elsewhere sym/rlink; "
                       "ln -s %s/sym/elsewhere2 sym/final; ln -s / sym/root; "
                       "chown 4321:4321 sym/victim; chmod 0750 sym/victim; "
                       "mkdir -p layout/overlay-link layout/layer-link/overlay layout/upper-link/overlay/var/work "
                       "  layout/work-link/overlay/var/upper; "
                       "ln -s %s/sym/victim layout/overlay-link/overlay; "
                       "ln -s %s/sym/victim layout/layer-link/overlay/var; "
                       "ln -s %s/sym/victim layout/upper-link/overlay/var/upper; "
                       "ln -s %s/sym/victim layout/work-link/overlay/var/work; "
                       "find layout -type d -exec chmod 0700 {} +; "
                       "mkdir -p sym/etarget; ln -s %s/sym/etarget sym/elink; "
                       "mkdir -p strict/userdir strict/worldw strict/userimgdir; chown 1000:1000 strict/userdir; "
                       "chmod 0777 strict/worldw; cp %s strict/user.squashfs; chown 1000:1000 strict/user.squashfs; "
                       "cp %s strict/userimgdir/i.squashfs; chown 1000:1000 strict/userimgdir",
                       H.dir, H.image, H.image, H.image, H.image, H.image, H.open_dir, H.dir, H.dir, H.dir, H.dir,
                       H.dir, H.dir, H.dir, H.image, H.image) != 0)
                return -1;
        /* the brief's crafted image, and two that break what the mount reads */
        snprintf(p, sizeof p, "%s/img/crafted.squashfs", H.dir);
        if (write_bytes(p, 96, 4096 - 96, "rocker hostile garbage ") < 0)
                return -1;
        snprintf(p, sizeof p, "%s/img/bad-super.squashfs", H.dir);
        if (write_bytes(p, 4, 92, "\xa5\x5a") < 0)
                return -1;
        snprintf(p, sizeof p, "%s/img/bad-tables.squashfs", H.dir);
        {
                unsigned char b[8];
                int fd = open(H.image, O_RDONLY | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || pread(fd, b, 8, 64) != 8 || fstat(fd, &st) < 0)
                        return -1;
                close(fd);
                inode_table = 0;
                for (int i = 7; i >= 0; i--)
                        inode_table = inode_table << 8 | b[i];
                if (inode_table < 96 || inode_table >= (uint64_t) st.st_size)
                        return -1;
                if (write_bytes(p, (off_t) inode_table, (size_t) st.st_size - inode_table, "\xde\xad\xbe\xef") < 0)
                        return -1;
        }
        return 0;
}

int hostile_setup(void **state) {
        int r;

        if (harness_setup(state) < 0)
                return -1;
        setenv("ROCKER_TIMEOUT_MS", HOSTILE_TIMEOUT_MS, 1);
        if (make_fixtures() < 0) {
                fprintf(stderr, "cannot make the fixtures\n");
                return -1;
        }
        r = make_pre_data_dir();
        unsetenv("ROCKER_TIMEOUT_MS");
        return r;
}

int hostile_teardown(void **state) {
        rows_print();
        free(pre_fp);
        pre_fp = NULL;
        return harness_teardown(state);
}
