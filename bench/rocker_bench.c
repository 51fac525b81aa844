/* SPDX-License-Identifier: MIT */
/*
 * rocker_bench — how long rockerd + librocker_client take to put an app in a
 * rocker on this machine, next to bubblewrap and unshare(1).
 *
 *   sudo rocker_bench [--runs N] [--quick] [--daemon-log FILE] [--cgroups MODE] [--limits]
 *   sudo ROCKER_FORCE_FALLBACK=all rocker_bench ...   (the fallbacks of
 *   kernels before 6.15, forced: docs/kernels.md)
 *
 * Everything lives in a private mkdtemp directory under /tmp: a private
 * rockerd (started and stopped by PID) on a socket there, squashfs images made
 * with mksquashfs, every data dir, the bubblewrap row's image mount. Whatever
 * the outcome (a failed phase, SIGINT, SIGTERM), the cleanup kills every guard
 * this process created (by PID, name checked through a pidfd), stops the
 * daemon, unmounts what lies under the directory, waits for the loop devices
 * backed by its files to go and removes the directory.
 *
 * Times are CLOCK_MONOTONIC, taken in this process; the app callback stamps
 * its own start with the same clock and sends it through a pipe.
 * docs/performance.md says what each row measures and how to read it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rocker/rocker.h>

#include "procfs.h"
#include "testlib.h"
#include "util.h"

#ifndef ROCKERD_PATH
#error "ROCKERD_PATH must name the rockerd binary (bench/CMakeLists.txt)"
#endif

#define APP_UID 65534            /* nobody: the app needs no account */
#define APP_ID 4242
#define MAX_ROWS 32
#define MAX_LEVELS 3
#define STAMP_TIMEOUT_MS 10000   /* an app that never stamps is a failure */
#define REAP_TIMEOUT_MS 15000    /* a guard not reaped by then is a failure */
#define CYCLE_THREADS_MAX 8
#define BIG_CALLER_MIB 512
#define BIG_CALLER_MIB_STR "512"
#define DAEMON_READY_TIMEOUT_MS 20000  /* far beyond rockerd's few ms */

static const char *const seed_overlays[] = { "/usr", "/var", "/etc", "/home", "/root" };

/* The one mutable global: what a signal handler may touch. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
        interrupted = sig;
}

__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* ---- time and statistics -------------------------------------------- */

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static double now_ms(void) {
        return (double) now_ns() / 1e6;
}

static void sleep_us(long us) {
        struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !interrupted)
                ;
}

typedef struct Samples {
        double *v;               /* milliseconds */
        size_t n, cap;
} Samples;

static int samples_add(Samples *s, double ms) {
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 256;
                double *v = realloc(s->v, cap * sizeof *v);

                if (!v)
                        return -ENOMEM;
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n++] = ms;
        return 0;
}

static int samples_merge(Samples *dst, const Samples *src) {
        for (size_t i = 0; i < src->n; i++)
                if (samples_add(dst, src->v[i]) < 0)
                        return -ENOMEM;
        return 0;
}

static void samples_free(Samples *s) {
        free(s->v);
        *s = (Samples) {};
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least q of all at or below it. */
static double percentile(const double *sorted, size_t n, double q) {
        double pos = q * (double) n;
        size_t k = (size_t) pos;

        if ((double) k < pos)
                k++;
        if (k < 1)
                k = 1;
        return sorted[k - 1];
}

typedef struct Row {
        char name[80];
        size_t runs;
        double p50, p90, p99, max;
        double per_sec;          /* cycles per second; 0 for latency rows */
        double others_pct;       /* CPU used by other processes during the phase */
        double cpu_ms;           /* CPU time of ours per operation, if measured */
} Row;

typedef struct ScaleFact {
        unsigned live;           /* live rockers besides the keeper */
        long rss_kb;             /* rockerd's VmRSS */
        int daemon_fds;
        int host_mounts;         /* lines of the host's mountinfo */
        double build_s;          /* time to enter the rockers that reached this level */
        double build_p50;        /* their median enter -> callback, ms */
        int rocker_mounts;       /* lines of the keeper's mountinfo: mounts per rocker */
} ScaleFact;

typedef struct Options {
        unsigned warm_runs;      /* --runs */
        unsigned cold_runs;
        unsigned exec_runs;
        unsigned cmp_runs;
        unsigned scale_samples;
        unsigned cycle_ms;
        unsigned levels[MAX_LEVELS];
        size_t n_levels;
        bool quick;
        const char *daemon_log;  /* --daemon-log: rockerd's log, kept */
        const char *cgroups;     /* --cgroups: rockerd's Cgroups= (NULL: its default) */
        bool limits;             /* --limits: every rocker gets resource limits */
} Options;

typedef struct Tracked {
        pid_t pid;
        char name[16];
} Tracked;

typedef struct Bench {
        Options opt;
        char dir[64];
        char socket[96], log[128], state[128], config[128], apps_dir[128], exec_dir[128], data_root[128], image[128];
        char bwrap_img[128], bwrap_exec[128], bwrap_path[256];
        pid_t daemon;
        pthread_mutex_t lock;    /* guards[]: the cycle workers add and remove */
        Tracked *guards;
        size_t n_guards, cap_guards;
        Row rows[MAX_ROWS];
        size_t n_rows;
        ScaleFact facts[MAX_LEVELS];
        size_t n_facts;
        unsigned killed_all;
        double kill_all_s;
        long rss_after_kb;
        int host_mounts_start;
        pid_t keeper;
        double t_start;
        unsigned long long steal_ticks;
        double max_others_pct;
} Bench;

static void add_row(Bench *b, const char *name, Samples *s, double per_sec) {
        Row *r;

        if (b->n_rows >= MAX_ROWS || s->n == 0)
                return;
        r = &b->rows[b->n_rows++];
        qsort(s->v, s->n, sizeof s->v[0], cmp_double);
        snprintf(r->name, sizeof r->name, "%s", name);
        r->runs = s->n;
        r->p50 = percentile(s->v, s->n, 0.50);
        r->p90 = percentile(s->v, s->n, 0.90);
        r->p99 = percentile(s->v, s->n, 0.99);
        r->max = s->v[s->n - 1];
        r->per_sec = per_sec;
}

static const Row *find_row(const Bench *b, const char *prefix) {
        for (size_t i = 0; i < b->n_rows; i++)
                if (strncmp(b->rows[i].name, prefix, strlen(prefix)) == 0)
                        return &b->rows[i];
        return NULL;
}

/* ---- /proc and small file helpers ------------------------------------ */

static long vmrss_kb(pid_t pid) {
        char path[64], buf[4096], *p;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        if (read_file_small(path, buf, sizeof buf) <= 0 || !(p = strstr(buf, "\nVmRSS:")))
                return -1;
        return strtol(p + 7, NULL, 10);
}

/* utime + stime (+ cutime + cstime: reaped children) of pid, in ticks. */
static unsigned long long proc_ticks(pid_t pid, bool children) {
        unsigned long long ut = 0, st = 0;
        long long cut = 0, cst = 0;
        char path[64], buf[2048], *p;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        if (read_file_small(path, buf, sizeof buf) <= 0)
                return 0;
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ut, &st, &cut,
                         &cst) != 4)
                return 0;
        return ut + st + (children && cut > 0 ? (unsigned long long) cut : 0) +
               (children && cst > 0 ? (unsigned long long) cst : 0);
}

typedef struct CpuSnap {
        double ms;
        unsigned long long busy;   /* every CPU, every process, in ticks */
        unsigned long long steal;
        unsigned long long ours;   /* this process tree, rockerd, its guards */
} CpuSnap;

static void cpu_model(char *buf, size_t size) {
        char line[512];
        FILE *f = fopen("/proc/cpuinfo", "re");

        snprintf(buf, size, "unknown");
        while (f && fgets(line, sizeof line, f)) {
                char *colon = strchr(line, ':');

                if (strncmp(line, "model name", 10) == 0 && colon) {
                        colon += 1 + strspn(colon + 1, " \t");
                        colon[strcspn(colon, "\n")] = '\0';
                        snprintf(buf, size, "%s", colon);
                        break;
                }
        }
        if (f)
                fclose(f);
}

static void print_machine_facts(FILE *out) {
        struct utsname u;
        char cpu[256];
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

        cpu_model(cpu, sizeof cpu);
        if (uname(&u) < 0)
                memset(&u, 0, sizeof u);
        fprintf(out, "machine: nproc %ld, kernel %s %s, cpu \"%s\", memory %ld MiB\n", sysconf(_SC_NPROCESSORS_ONLN),
                u.release, u.machine, cpu, pages > 0 && psize > 0 ? pages / (1048576 / psize) : -1L);
        /* The bench's rockerd inherits the environment: ROCKER_FORCE_FALLBACK
         * runs it (and the library) on the older kernels' mechanisms. */
        fprintf(out, "mechanisms: %s\n", getenv("ROCKER_FORCE_FALLBACK") && *getenv("ROCKER_FORCE_FALLBACK") ?
                getenv("ROCKER_FORCE_FALLBACK") : "the kernel's best (no ROCKER_FORCE_FALLBACK)");
}

/* A copy of src at dst (a new inode: rockerd sees a new image). */
static int copy_file(const char *src, const char *dst, mode_t mode) {
        char buf[65536];
        int in, out, r = 0;
        ssize_t n;

        in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return -errno;
        out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (out < 0) {
                r = -errno;
                close(in);
                return r;
        }
        while ((n = read(in, buf, sizeof buf)) > 0)
                if (write(out, buf, (size_t) n) != n) {
                        r = -EIO;
                        break;
                }
        if (n < 0)
                r = -errno;
        close(in);
        if (close(out) < 0 && r == 0)
                r = -errno;
        return r;
}

static int write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), r = 0;

        if (fd < 0)
                return -errno;
        if (write(fd, text, strlen(text)) != (ssize_t) strlen(text))
                r = -EIO;
        close(fd);
        return r;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        if (type == FTW_DP)
                (void) rmdir(path);
        else
                (void) unlink(path);
        return 0;
}

/* rm -rf that never crosses into another filesystem (a mount left behind). */
static void rm_rf(const char *path) {
        (void) nftw(path, rm_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* ---- child processes -------------------------------------------------- */

static void to_dev_null(void) {
        int fd = open("/dev/null", O_RDWR);

        if (fd >= 0) {
                dup2(fd, 0);
                dup2(fd, 1);
                dup2(fd, 2);
                if (fd > 2)
                        close(fd);
        }
}

/* fork + exec + waitpid, output to /dev/null; the exit status, or -errno. */
static int run_quiet(char *const argv[]) {
        int status;
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                to_dev_null();
                execvp(argv[0], argv);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool find_in_path(const char *name, char *buf, size_t size) {
        const char *path = getenv("PATH");
        char copy[1024], *save = NULL;

        snprintf(copy, sizeof copy, "%s", path && *path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                snprintf(buf, size, "%s/%s", d, name);
                if (access(buf, X_OK) == 0)
                        return true;
        }
        return false;
}

/* ---- the guards this process created ------------------------------- */

static int track_add(Bench *b, pid_t pid, const char *name) {
        int r = 0;

        pthread_mutex_lock(&b->lock);
        if (b->n_guards == b->cap_guards) {
                size_t cap = b->cap_guards ? b->cap_guards * 2 : 64;
                Tracked *g = realloc(b->guards, cap * sizeof *g);

                if (!g)
                        r = -ENOMEM;
                else {
                        b->guards = g;
                        b->cap_guards = cap;
                }
        }
        if (r == 0) {
                b->guards[b->n_guards].pid = pid;
                memcpy(b->guards[b->n_guards].name, name, sizeof b->guards[0].name);
                b->n_guards++;
        }
        pthread_mutex_unlock(&b->lock);
        return r;
}

static void track_remove(Bench *b, pid_t pid) {
        pthread_mutex_lock(&b->lock);
        for (size_t i = b->n_guards; i-- > 0;)
                if (b->guards[i].pid == pid) {
                        b->guards[i] = b->guards[--b->n_guards];
                        break;
                }
        pthread_mutex_unlock(&b->lock);
}

/* Whether pid, which has exited, is reaped: its /proc entry is gone, or
 * belongs to a process that is no zombie (the pid was reused). */
static bool exited_pid_reaped(pid_t pid) {
        char name[16], state;
        int r = proc_get_name(pid, name, &state);

        if (r < 0)
                return r == -ESRCH;  /* anything else: keep waiting, until the caller's bound */
        return state != 'Z';
}

/* Until the guard has been reaped by rockerd: a pidfd polls POLLIN once the
 * process has exited and, from Linux 6.9, POLLHUP once it is reaped; before,
 * the exited guard is watched in /proc until its zombie is gone. rockerd
 * reaps in the same callback that frees the rocker (registry entry, image
 * reference), and the kernel has torn down the rocker's mounts before the
 * exit is reported. */
static int wait_reaped(int pidfd, pid_t pid, int timeout_ms) {
        double end = now_ms() + timeout_ms;

        for (;;) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                double left = end - now_ms();
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) left + 1);
                if (r < 0 && errno == EINTR && !interrupted)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                if ((p.revents & POLLHUP) || exited_pid_reaped(pid))
                        return 0;
                sleep_us(20);  /* exited, not yet reaped: no wakeup comes for the reap */
        }
}

/* Kills every tracked guard (name checked), then waits until each is
 * reaped. Returns how many were killed, or -errno if one was not reaped. */
static int kill_all_tracked(Bench *b) {
        size_t n;
        int *fds, r = 0;
        Tracked *g;

        pthread_mutex_lock(&b->lock);
        n = b->n_guards;
        g = malloc((n ? n : 1) * sizeof *g);
        fds = malloc((n ? n : 1) * sizeof *fds);
        if (!g || !fds) {
                pthread_mutex_unlock(&b->lock);
                free(g);
                free(fds);
                return -ENOMEM;
        }
        memcpy(g, b->guards, n * sizeof *g);
        pthread_mutex_unlock(&b->lock);

        for (size_t i = 0; i < n; i++) {
                RockerResult k;

                fds[i] = pidfd_open(g[i].pid, 0);
                k = ROCKER_kill_rocker(g[i].pid, g[i].name, SIGKILL);
                if (k.err_no != ROCKER_ERR_success && fds[i] >= 0) {
                        /* Gone already, or no longer that guard: nothing of ours to wait for. */
                        close(fds[i]);
                        fds[i] = -1;
                }
        }
        for (size_t i = 0; i < n; i++) {
                if (fds[i] < 0) {
                        track_remove(b, g[i].pid);
                        continue;
                }
                if (wait_reaped(fds[i], g[i].pid, REAP_TIMEOUT_MS) == 0)
                        track_remove(b, g[i].pid);
                else {
                        say("guard %s (pid %d) was not reaped within %d ms", g[i].name, (int) g[i].pid,
                            REAP_TIMEOUT_MS);
                        r = -ETIMEDOUT;
                }
                close(fds[i]);
        }
        free(g);
        free(fds);
        return r < 0 ? r : (int) n;
}

/* Where the CPUs went: rows measured while other processes were busy are
 * flagged, so that a noisy machine does not pass for a slow rocker. */
static void cpu_snap(Bench *b, CpuSnap *s) {
        unsigned long long v[8] = {};
        FILE *f = fopen("/proc/stat", "re");

        *s = (CpuSnap) { .ms = now_ms() };
        if (f) {
                if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                           &v[6], &v[7]) != 8)
                        memset(v, 0, sizeof v);
                fclose(f);
        }
        s->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];  /* user nice system irq softirq steal */
        s->steal = v[7];
        s->ours = proc_ticks(getpid(), true) + (b->daemon > 0 ? proc_ticks(b->daemon, true) : 0);
        pthread_mutex_lock(&b->lock);
        for (size_t i = 0; i < b->n_guards; i++)
                s->ours += proc_ticks(b->guards[i].pid, false);
        pthread_mutex_unlock(&b->lock);
}

/* Runs one phase and notes, on the rows it adds, how busy the rest of the
 * machine was meanwhile. */
static int run_phase(Bench *b, int (*phase)(Bench *)) {
        size_t first = b->n_rows;
        double cap, others = 0;
        CpuSnap a, z;
        int r;

        cpu_snap(b, &a);
        r = phase(b);
        cpu_snap(b, &z);
        cap = (z.ms - a.ms) / 1000.0 * (double) sysconf(_SC_CLK_TCK) * (double) sysconf(_SC_NPROCESSORS_ONLN);
        if (cap > 0 && z.busy - a.busy > z.ours - a.ours)
                others = 100.0 * (double) ((z.busy - a.busy) - (z.ours - a.ours)) / cap;
        for (size_t i = first; i < b->n_rows; i++)
                b->rows[i].others_pct = others;
        if (first < b->n_rows && others > b->max_others_pct)
                b->max_others_pct = others;
        b->steal_ticks += z.steal - a.steal;
        return r;
}

/* ---- one rocker --------------------------------------------------------- */

typedef struct AppArg {
        int fd;                  /* the pipe the stamp goes to */
        int read_fd;             /* its other end, read by the bench */
        const char *exec;        /* then exec this, if set */
} AppArg;

/* Runs inside the rocker, as APP_UID: stamp first, nothing else. */
static int app_main(void *p) {
        const AppArg *a = p;
        uint64_t t = now_ns();

        if (write(a->fd, &t, sizeof t) != (ssize_t) sizeof t)
                return 1;
        if (a->exec) {
                execl(a->exec, a->exec, (char *) NULL);
                return 127;
        }
        return 0;
}

typedef struct Entered {
        RockerResult res;
        int pidfd;               /* of the guard */
        double t0, t_ret, t_cb, t_exit, t_reaped;   /* ms */
} Entered;

static int rocker_enter(Bench *b, const char *image, const char *data_dir, AppArg *arg, Entered *e) {
        RockerRequest req = ROCKER_request_new();
        int r;

        req.app_id = APP_ID;
        req.uid = APP_UID;
        req.gid = APP_UID;
        req.app_pkg_path = (char *) image;
        req.app_exec_dir = b->exec_dir;
        req.app_data_dir = (char *) data_dir;
        for (size_t i = 0; i < sizeof seed_overlays / sizeof seed_overlays[0]; i++)
                req.app_overlay_dirs[i] = (char *) seed_overlays[i];

        *e = (Entered) { .pidfd = -1 };
        e->t0 = now_ms();
        e->res = ROCKER_enter_rocker(&req, app_main, arg);
        e->t_ret = now_ms();
        if (e->res.err_no != ROCKER_ERR_success) {
                say("ROCKER_enter_rocker (data dir %s): %s: %s", data_dir, ROCKER_strerror(e->res.err_no),
                    ROCKER_last_error());
                if (e->res.app_pid > 0)
                        (void) waitpid(e->res.app_pid, NULL, 0);
                return -EIO;
        }
        r = track_add(b, e->res.guard_pid, e->res.guard_pname);
        if (r < 0) {
                (void) ROCKER_kill_rocker(e->res.guard_pid, e->res.guard_pname, SIGKILL);
                (void) waitpid(e->res.app_pid, NULL, 0);
                return r;
        }
        /* The guard lives until we kill it: its PID is still its own. */
        e->pidfd = pidfd_open(e->res.guard_pid, PIDFD_NONBLOCK);
        if (e->pidfd < 0)
                say("pidfd_open(guard %d): %m", e->res.guard_pid);
        return 0;
}

/* Reads the app's stamp, then reaps the app. */
static int rocker_wait_app(Entered *e, int stamp_fd) {
        struct pollfd p = { .fd = stamp_fd, .events = POLLIN };
        uint64_t stamp = 0;
        int status, r;

        do
                r = poll(&p, 1, STAMP_TIMEOUT_MS);
        while (r < 0 && errno == EINTR && !interrupted);
        if (r == 1 && read(stamp_fd, &stamp, sizeof stamp) == (ssize_t) sizeof stamp)
                e->t_cb = (double) stamp / 1e6;
        else
                (void) kill(e->res.app_pid, SIGKILL);
        while (waitpid(e->res.app_pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        e->t_exit = now_ms();
        if (stamp == 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                say("app %d: %s, status 0x%x", e->res.app_pid, stamp ? "ran" : "never ran", status);
                return -EIO;
        }
        return 0;
}

/* Kills the guard (name checked) and waits until rockerd has reaped it. */
static int rocker_end(Bench *b, Entered *e) {
        RockerResult k;
        int r = 0;

        k = ROCKER_kill_rocker(e->res.guard_pid, e->res.guard_pname, SIGKILL);
        if (k.err_no != ROCKER_ERR_success)
                say("ROCKER_kill_rocker(%d, %s): %s: %s", e->res.guard_pid, e->res.guard_pname,
                    ROCKER_strerror(k.err_no), ROCKER_last_error());
        if (e->pidfd >= 0) {
                r = wait_reaped(e->pidfd, e->res.guard_pid, REAP_TIMEOUT_MS);
                close(e->pidfd);
                e->pidfd = -1;
        }
        e->t_reaped = now_ms();
        if (r < 0) {
                say("guard %d not reaped: %s", e->res.guard_pid, strerror(-r));
                return r;
        }
        track_remove(b, e->res.guard_pid);
        return 0;
}

/* enter → stamp → app reaped; the guard stays (the caller ends it). */
static int rocker_start(Bench *b, const char *image, const char *data_dir, AppArg *arg, Entered *e) {
        int r = rocker_enter(b, image, data_dir, arg, e);

        if (r < 0)
                return r;
        r = rocker_wait_app(e, arg->read_fd);
        if (r < 0)
                (void) rocker_end(b, e);
        return r;
}

/* <data root>/<printf(fmt, ...)>: every data dir lives under the temp dir. */
__attribute__((format(printf, 4, 5)))
static void data_dir_path(const Bench *b, char *buf, size_t size, const char *fmt, ...) {
        char tag[64];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(tag, sizeof tag, fmt, ap);
        va_end(ap);
        snprintf(buf, size, "%s/%s", b->data_root, tag);
}

/* ---- setup and teardown ----------------------------------------------- */

/* The daemon, with the settings of bench_setup(); 0 once it said READY=1. */
static int start_daemon(Bench *b) {
        char notify[96];
        TestDaemon d = {
                .rockerd = ROCKERD_PATH, .socket = b->socket, .state_dir = b->state, .config = b->config,
                .log = b->log, .notify = notify, .ready_timeout_ms = DAEMON_READY_TIMEOUT_MS,
        };
        int r;

        snprintf(notify, sizeof notify, "%s/notify", b->dir);
        r = testlib_daemon_start(&d, &b->daemon);
        if (r == -ECHILD)
                b->daemon = 0;
        return r;
}

static void stop_daemon(Bench *b) {
        int status;

        if (b->daemon <= 0)
                return;
        status = testlib_daemon_stop(b->daemon, SIGTERM, 5000);
        if (status > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
                say("rockerd (pid %d) did not stop on SIGTERM: SIGKILL", (int) b->daemon);
        b->daemon = 0;
}

static bool wait_loops_gone(const Bench *b, int timeout_ms) {
        double end = now_ms() + timeout_ms;

        while (testlib_loops_under(b->dir) > 0) {
                if (now_ms() > end)
                        return false;
                sleep_us(10000);
        }
        return true;
}

static int bench_setup(Bench *b) {
        struct rlimit rl;
        int r;

        snprintf(b->dir, sizeof b->dir, "/tmp/rocker-bench.XXXXXX");
        if (!mkdtemp(b->dir)) {
                b->dir[0] = '\0';
                return -errno;
        }
        if (chmod(b->dir, 0755) < 0)
                return -errno;
        snprintf(b->socket, sizeof b->socket, "%s/rockerd.sock", b->dir);
        snprintf(b->log, sizeof b->log, "%s", b->opt.daemon_log ? b->opt.daemon_log : "");
        if (!b->opt.daemon_log)
                snprintf(b->log, sizeof b->log, "%s/rockerd.log", b->dir);
        snprintf(b->state, sizeof b->state, "%s/state", b->dir);
        snprintf(b->config, sizeof b->config, "%s/rockerd.conf", b->dir);
        snprintf(b->apps_dir, sizeof b->apps_dir, "%s/apps.d", b->dir);
        snprintf(b->exec_dir, sizeof b->exec_dir, "%s/exec", b->dir);
        snprintf(b->data_root, sizeof b->data_root, "%s/data", b->dir);
        snprintf(b->image, sizeof b->image, "%s/app.squashfs", b->dir);
        snprintf(b->bwrap_img, sizeof b->bwrap_img, "%s/bwrap-image", b->dir);
        snprintf(b->bwrap_exec, sizeof b->bwrap_exec, "%s/bwrap-exec", b->dir);
        if (mkdir(b->exec_dir, 0755) < 0 || mkdir(b->data_root, 0755) < 0 || mkdir(b->bwrap_img, 0755) < 0 ||
            mkdir(b->bwrap_exec, 0755) < 0)
                return -errno;
        r = testlib_make_image(b->dir, b->image, "rocker_bench image");
        if (r < 0) {
                say("mksquashfs failed: is squashfs-tools installed?");
                return r;
        }
        /* The daemon's built-in settings, whatever /etc/rocker holds: an
         * empty per-app policy dir, so app APP_ID gets the default policy. */
        {
                char conf[256];

                if (mkdir(b->apps_dir, 0755) < 0)
                        return -errno;
                snprintf(conf, sizeof conf, "[Daemon]\nAppsDir=%s\n[Resources]\n%s%s%s%s", b->apps_dir,
                         b->opt.cgroups ? "Cgroups=" : "", b->opt.cgroups ? b->opt.cgroups : "",
                         b->opt.cgroups ? "\n" : "",
                         /* limits of every kind a scope carries, none of
                          * them reached by the bench's apps */
                         b->opt.limits ? "MemoryMax=1G\nMemoryHigh=768M\nTasksMax=4096\nCPUWeight=100\n"
                                         "CPUQuota=400%\nIOWeight=100\n"
                                       : "");
                r = write_file(b->config, conf);
                if (r < 0)
                        return r;
        }

        /* Killing 1000 live rockers at once holds 1000 pidfds here: the
         * soft limit goes to the hard one (rockerd raises its own). */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        r = start_daemon(b);
        if (r < 0) {
                say("rockerd (%s) did not come up: %s; its log: %s", ROCKERD_PATH, strerror(-r), b->log);
                return r;
        }
        if (setenv("ROCKER_SOCKET", b->socket, 1) < 0)
                return -errno;
        b->host_mounts_start = testlib_count_lines("/proc/self/mountinfo");
        return 0;
}

/* Runs whatever happened before: every step copes with a half-made state. */
static int bench_cleanup(Bench *b) {
        int r = 0, k;

        if (b->dir[0] == '\0')
                return 0;
        k = kill_all_tracked(b);
        if (k < 0)
                r = k;
        if (b->daemon > 0 && r < 0) {
                say("rockerd's log (%s), last lines:", b->log);
                char *argv[] = { "tail", "-n", "20", b->log, NULL };
                pid_t pid = fork();
                if (pid == 0) {
                        dup2(2, 1);
                        execvp(argv[0], argv);
                        _exit(127);
                }
                if (pid > 0)
                        (void) waitpid(pid, NULL, 0);
        }
        stop_daemon(b);
        (void) testlib_unmount_under(b->dir);
        if (!wait_loops_gone(b, 5000)) {
                say("loop devices backed by files in %s are still attached", b->dir);
                r = -EBUSY;
        }
        if (b->n_guards > 0) {
                say("%zu guards could not be ended", b->n_guards);
                r = -EBUSY;
        }
        rm_rf(b->dir);
        if (access(b->dir, F_OK) == 0) {
                say("%s could not be removed entirely", b->dir);
                r = -EBUSY;
        }
        free(b->guards);
        b->guards = NULL;
        return r;
}

/* ---- phase: comparisons (fork+exec+waitpid, timed here) --------------- */

static int time_runs(char *const argv[], unsigned runs, Samples *s) {
        for (unsigned i = 0; i < runs && !interrupted; i++) {
                double t0 = now_ms();
                int st = run_quiet(argv);
                double t1 = now_ms();

                if (st != 0) {
                        say("%s: exit status %d", argv[0], st);
                        return -EIO;
                }
                if (samples_add(s, t1 - t0) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int time_command(Bench *b, const char *name, char *const argv[], unsigned runs) {
        Samples s = {};
        int r;

        say("  %s: %u runs", name, runs);
        r = time_runs(argv, runs, &s);
        if (r == 0 && !interrupted)
                add_row(b, name, &s, 0);
        samples_free(&s);
        return r;
}

/* The bwrap row's image mount lives in a mount namespace of its own: a
 * rocker built meanwhile by any rockerd on this host copies the host's mount
 * table and would keep a host mount (and its loop device) alive for as long
 * as it lives, whatever umount does on the host. The namespace, the mount
 * and the loop device all end with this child, whatever happens to it. */
static void bwrap_child(Bench *b, int out_fd) {
        char *mnt[] = { "mount", "-o", "loop,ro", b->image, b->bwrap_img, NULL };
        char *umnt[] = { "umount", b->bwrap_img, NULL };
        char *bwrap[] = { b->bwrap_path, "--dev-bind", "/", "/", "--unshare-pid", "--unshare-uts", "--unshare-ipc",
                          "--proc", "/proc", "--ro-bind", b->bwrap_img, b->bwrap_exec, "/bin/true", NULL };
        Samples s = {};
        int r;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                _exit(3);
        r = run_quiet(mnt);
        if (r != 0) {
                say("mount -o loop,ro %s: status %d", b->image, r);
                _exit(4);
        }
        r = time_runs(bwrap, b->opt.cmp_runs, &s);
        if (run_quiet(umnt) != 0)
                (void) umount2(b->bwrap_img, MNT_DETACH);
        if (r < 0)
                _exit(5);
        for (size_t i = 0; i < s.n; i++)
                if (write(out_fd, &s.v[i], sizeof s.v[i]) != (ssize_t) sizeof s.v[i])
                        _exit(6);
        _exit(0);
}

static int time_bwrap(Bench *b, const char *name) {
        Samples s = {};
        int fds[2], status, r = 0;
        double v;
        pid_t pid;

        say("  %s: %u runs", name, b->opt.cmp_runs);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0) {
                close(fds[0]);
                bwrap_child(b, fds[1]);
        }
        close(fds[1]);
        while (read(fds[0], &v, sizeof v) == (ssize_t) sizeof v)
                if (samples_add(&s, v) < 0)
                        r = -ENOMEM;
        close(fds[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        status = -1;
                        break;
                }
        if (r == 0 && (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                say("the bwrap runs failed (status 0x%x)", status);
                r = -EIO;
        }
        if (r == 0 && !interrupted)
                add_row(b, name, &s, 0);
        samples_free(&s);
        return r;
}

static int phase_compare(Bench *b) {
        char *truth[] = { "/bin/true", NULL };
        char *unshare[] = { "unshare", "-m", "-p", "-f", "-u", "-i", "/bin/true", NULL };
        int r;

        say("comparisons");
        r = time_command(b, "fork+exec+wait /bin/true (no isolation)", truth, b->opt.cmp_runs);
        if (r < 0)
                return r;
        r = time_command(b, "unshare -m -p -f -u -i /bin/true", unshare, b->opt.cmp_runs);
        if (r < 0)
                return r;
        if (!find_in_path("bwrap", b->bwrap_path, sizeof b->bwrap_path)) {
                say("  bwrap: not installed (apt-get install -y bubblewrap): row skipped");
                return 0;
        }
        return time_bwrap(b, "bwrap (image ro-bind, pid/uts/ipc) /bin/true");
}

/* ---- phase: cold enter ------------------------------------------------- */

static int phase_cold(Bench *b) {
        Samples cb = {}, ret = {};
        char data[192], img[192];
        int fds[2], r = 0;
        AppArg arg;

        say("cold enter: %u runs, a fresh image file each", b->opt.cold_runs);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        arg = (AppArg) { .fd = fds[1], .read_fd = fds[0] };
        data_dir_path(b, data, sizeof data, "cold");
        /* The copies are made first: only the rocker is timed. */
        for (unsigned i = 0; i < b->opt.cold_runs && r == 0; i++) {
                snprintf(img, sizeof img, "%s/cold-%u.squashfs", b->dir, i);
                r = copy_file(b->image, img, 0644);
        }
        for (unsigned i = 0; i < b->opt.cold_runs && r == 0 && !interrupted; i++) {
                Entered e;

                snprintf(img, sizeof img, "%s/cold-%u.squashfs", b->dir, i);
                r = rocker_start(b, img, data, &arg, &e);
                if (r < 0)
                        break;
                r = rocker_end(b, &e);
                if (r == 0 && (samples_add(&cb, e.t_cb - e.t0) < 0 || samples_add(&ret, e.t_ret - e.t0) < 0))
                        r = -ENOMEM;
                (void) unlink(img);
        }
        for (unsigned i = 0; i < b->opt.cold_runs; i++) {
                snprintf(img, sizeof img, "%s/cold-%u.squashfs", b->dir, i);
                (void) unlink(img);
        }
        close(fds[0]);
        close(fds[1]);
        if (r == 0 && !interrupted) {
                add_row(b, "cold enter -> callback  [new image each run]", &cb, 0);
                add_row(b, "cold enter -> return    [new image each run]", &ret, 0);
                if (!wait_loops_gone(b, 5000))
                        say("  note: loop devices of the cold images linger after their rockers ended");
        }
        samples_free(&cb);
        samples_free(&ret);
        return r;
}

/* ---- phase: warm enter -------------------------------------------------- */

static int start_keeper(Bench *b) {
        char data[192];
        int fds[2], r;
        AppArg arg;
        Entered e;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        arg = (AppArg) { .fd = fds[1], .read_fd = fds[0] };
        data_dir_path(b, data, sizeof data, "keeper");
        r = rocker_start(b, b->image, data, &arg, &e);
        if (r == 0)
                b->keeper = e.res.guard_pid;
        if (r == 0 && e.pidfd >= 0)
                close(e.pidfd);  /* the guard stays tracked: the cleanup ends it */
        close(fds[0]);
        close(fds[1]);
        return r;
}

/* A launcher is rarely a small process: the same warm enter from a caller
 * holding BIG_CALLER_MIB more of touched memory. Every process the library
 * forks from the caller copies its page tables. */
static int warm_big_caller(Bench *b, const char *data, AppArg *arg, Samples *out) {
        size_t size = (size_t) BIG_CALLER_MIB << 20;
        unsigned long long avail_kb = 0;
        char line[256];
        FILE *f;
        char *mem;
        int r = 0;

        f = fopen("/proc/meminfo", "re");
        while (f && fgets(line, sizeof line, f))
                if (sscanf(line, "MemAvailable: %llu kB", &avail_kb) == 1)
                        break;
        if (f)
                fclose(f);
        if (avail_kb < 4ULL * BIG_CALLER_MIB * 1024) {
                say("  caller RSS row skipped: less than %d MiB available", 4 * BIG_CALLER_MIB);
                return 0;
        }
        mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
                return -errno;
        for (size_t i = 0; i < size; i += 4096)
                mem[i] = 1;
        say("warm enter from a caller with %d MiB more RSS: %u runs", BIG_CALLER_MIB, b->opt.exec_runs);
        for (unsigned i = 0; i < b->opt.exec_runs && r == 0 && !interrupted; i++) {
                Entered e;

                r = rocker_start(b, b->image, data, arg, &e);
                if (r < 0)
                        break;
                r = rocker_end(b, &e);
                if (r == 0 && samples_add(out, e.t_cb - e.t0) < 0)
                        r = -ENOMEM;
        }
        munmap(mem, size);
        return r;
}

/* Spawn (issue 17: rockerd creates the app) next to enter (the library
 * joins), both running the image's /bin/true to its end and the rocker to
 * its end: spawn -> ROCKER_wait_rocker() returned (the app exited, rockerd
 * reaped it, killed the guard and saw it gone); enter -> /bin/true reaped,
 * guard killed and reaped by rockerd. Same image, data dir and overlays. */
static int phase_spawn(Bench *b) {
        Samples sp_ret = {}, sp_done = {}, en_ret = {}, en_done = {};
        char data[192], tru[192];
        int fds[2], r = 0, null;
        AppArg arg;

        snprintf(tru, sizeof tru, "%s/bin/true", b->exec_dir);
        data_dir_path(b, data, sizeof data, "spawn");
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        arg = (AppArg) { .fd = fds[1], .read_fd = fds[0], .exec = tru };
        say("spawn vs enter, each to /bin/true's end and the rocker's: %u runs each", b->opt.exec_runs);
        for (unsigned i = 0; i < b->opt.exec_runs && r == 0 && !interrupted; i++) {
                RockerRequest req = ROCKER_request_new();
                const char *const argv[] = { tru, NULL };
                const char *const envp[] = { NULL };
                const int stdio[3] = { null, null, null };
                int handle = -1, ws = 0;
                double t0, t1;
                RockerResult res;
                Entered e;

                req.app_id = APP_ID;
                req.uid = APP_UID;
                req.gid = APP_UID;
                req.app_pkg_path = b->image;
                req.app_exec_dir = b->exec_dir;
                req.app_data_dir = data;
                for (size_t k = 0; k < sizeof seed_overlays / sizeof seed_overlays[0]; k++)
                        req.app_overlay_dirs[k] = (char *) seed_overlays[k];
                t0 = now_ms();
                res = ROCKER_spawn_rocker(&req, argv, envp, stdio, &handle);
                t1 = now_ms();
                if (res.err_no != ROCKER_ERR_success) {
                        say("ROCKER_spawn_rocker: %s: %s", ROCKER_strerror(res.err_no), ROCKER_last_error());
                        r = -EIO;
                        break;
                }
                res = ROCKER_wait_rocker(handle, &ws);
                close(handle);
                if (res.err_no != ROCKER_ERR_success || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                        say("ROCKER_wait_rocker: %s: %s (status 0x%x)", ROCKER_strerror(res.err_no),
                            ROCKER_last_error(), (unsigned) ws);
                        r = -EIO;
                        break;
                }
                if (samples_add(&sp_ret, t1 - t0) < 0 || samples_add(&sp_done, now_ms() - t0) < 0)
                        r = -ENOMEM;

                if (r == 0)
                        r = rocker_start(b, b->image, data, &arg, &e);
                if (r == 0)
                        r = rocker_end(b, &e);
                if (r == 0 && (samples_add(&en_ret, e.t_ret - e.t0) < 0 || samples_add(&en_done, e.t_reaped - e.t0) < 0))
                        r = -ENOMEM;
        }
        close(fds[0]);
        close(fds[1]);
        close(null);
        if (r == 0 && !interrupted) {
                add_row(b, "warm spawn -> return    [rockerd starts the app]", &sp_ret, 0);
                add_row(b, "warm enter -> return    [the same, joined by the library]", &en_ret, 0);
                add_row(b, "warm spawn -> /bin/true exited, rocker gone [wait]", &sp_done, 0);
                add_row(b, "warm enter -> /bin/true exited, rocker gone [kill]", &en_done, 0);
        }
        samples_free(&sp_ret);
        samples_free(&sp_done);
        samples_free(&en_ret);
        samples_free(&en_done);
        return r;
}

static int phase_warm(Bench *b) {
        Samples cb = {}, ret = {}, down = {}, ex = {}, big = {};
        char data[192], tru[192];
        int fds[2], r = 0;
        AppArg arg;

        say("warm enter: %u runs (the image is held by a keeper rocker)", b->opt.warm_runs);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        arg = (AppArg) { .fd = fds[1], .read_fd = fds[0] };
        data_dir_path(b, data, sizeof data, "warm");
        for (unsigned i = 0; i < b->opt.warm_runs && r == 0 && !interrupted; i++) {
                Entered e;
                double t_kill;

                r = rocker_start(b, b->image, data, &arg, &e);
                if (r < 0)
                        break;
                t_kill = now_ms();
                r = rocker_end(b, &e);
                if (r == 0 && (samples_add(&cb, e.t_cb - e.t0) < 0 || samples_add(&ret, e.t_ret - e.t0) < 0 ||
                               samples_add(&down, e.t_reaped - t_kill) < 0))
                        r = -ENOMEM;
        }
        snprintf(tru, sizeof tru, "%s/bin/true", b->exec_dir);
        arg.exec = tru;
        say("warm enter + exec the image's /bin/true: %u runs", b->opt.exec_runs);
        for (unsigned i = 0; i < b->opt.exec_runs && r == 0 && !interrupted; i++) {
                Entered e;

                r = rocker_start(b, b->image, data, &arg, &e);
                if (r < 0)
                        break;
                r = rocker_end(b, &e);
                if (r == 0 && samples_add(&ex, e.t_exit - e.t0) < 0)
                        r = -ENOMEM;
        }
        arg.exec = NULL;
        if (r == 0 && !interrupted)
                r = warm_big_caller(b, data, &arg, &big);
        close(fds[0]);
        close(fds[1]);
        if (r == 0 && !interrupted) {
                add_row(b, "warm enter -> callback  [1 data dir, teardown awaited]", &cb, 0);
                add_row(b, "warm enter -> return    [1 data dir, teardown awaited]", &ret, 0);
                add_row(b, "warm enter -> image's /bin/true exited", &ex, 0);
                add_row(b, "teardown: kill guard -> reaped by rockerd", &down, 0);
                add_row(b, "warm enter -> callback  [caller RSS +" BIG_CALLER_MIB_STR " MiB]", &big, 0);
        }
        samples_free(&big);
        samples_free(&cb);
        samples_free(&ret);
        samples_free(&down);
        samples_free(&ex);
        return r;
}


/* ---- phase: full cycles, 1/2/8 client threads -------------------------- */

typedef struct CycleClock {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool go;
        double t0, deadline;     /* ms */
} CycleClock;

typedef struct Worker {
        Bench *b;
        CycleClock *clock;
        pthread_t thread;
        unsigned index;
        Samples s;
        int r;
        double t_end;
} Worker;

/* One client thread: full cycles on its own data dir until the deadline. */
static void *worker_main(void *p) {
        Worker *w = p;
        char data[192];
        double deadline;
        int fds[2];
        AppArg arg;

        data_dir_path(w->b, data, sizeof data, "cycle-%u", w->index);
        pthread_mutex_lock(&w->clock->lock);
        while (!w->clock->go)
                pthread_cond_wait(&w->clock->cond, &w->clock->lock);
        deadline = w->clock->deadline;
        pthread_mutex_unlock(&w->clock->lock);

        if (pipe2(fds, O_CLOEXEC) < 0) {
                w->r = -errno;
                return NULL;
        }
        arg = (AppArg) { .fd = fds[1], .read_fd = fds[0] };
        while (now_ms() < deadline && !interrupted) {
                Entered e;

                w->r = rocker_start(w->b, w->b->image, data, &arg, &e);
                if (w->r < 0)
                        break;
                w->r = rocker_end(w->b, &e);
                if (w->r < 0)
                        break;
                if (samples_add(&w->s, e.t_reaped - e.t0) < 0) {
                        w->r = -ENOMEM;
                        break;
                }
        }
        w->t_end = now_ms();
        close(fds[0]);
        close(fds[1]);
        return NULL;
}

static int run_cycles(Bench *b, unsigned threads) {
        CycleClock clock = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        Worker w[CYCLE_THREADS_MAX] = {};
        unsigned started;
        Samples all = {};
        double t_end = 0;
        char name[80];
        int r = 0;

        CpuSnap c0, c1;

        say("full cycles: %u client thread%s for %.1f s", threads, threads > 1 ? "s" : "", b->opt.cycle_ms / 1000.0);
        cpu_snap(b, &c0);
        for (started = 0; started < threads; started++) {
                w[started] = (Worker) { .b = b, .clock = &clock, .index = started };
                if (pthread_create(&w[started].thread, NULL, worker_main, &w[started]) != 0) {
                        r = -EAGAIN;
                        break;
                }
        }
        /* Every worker waits on the clock: start them together. */
        pthread_mutex_lock(&clock.lock);
        clock.t0 = now_ms();
        clock.deadline = r < 0 ? 0 : clock.t0 + b->opt.cycle_ms;
        clock.go = true;
        pthread_cond_broadcast(&clock.cond);
        pthread_mutex_unlock(&clock.lock);

        for (unsigned i = 0; i < started; i++) {
                pthread_join(w[i].thread, NULL);
                if (w[i].r < 0 && r == 0)
                        r = w[i].r;
                if (w[i].t_end > t_end)
                        t_end = w[i].t_end;
                if (samples_merge(&all, &w[i].s) < 0 && r == 0)
                        r = -ENOMEM;
                samples_free(&w[i].s);
        }
        cpu_snap(b, &c1);
        if (r == 0 && !interrupted && all.n > 0) {
                snprintf(name, sizeof name, "full cycle, %u thread%s       [data dir per thread]", threads,
                         threads > 1 ? "s" : " ");
                add_row(b, name, &all, (double) all.n / ((t_end - clock.t0) / 1000.0));
                b->rows[b->n_rows - 1].cpu_ms = (double) (c1.ours - c0.ours) * 1000.0 /
                                                (double) sysconf(_SC_CLK_TCK) / (double) all.n;
        }
        samples_free(&all);
        return r;
}

static int phase_cycles(Bench *b) {
        static const unsigned threads[] = { 1, 2, 8 };
        int r = 0;

        for (size_t i = 0; i < sizeof threads / sizeof threads[0] && r == 0 && !interrupted; i++)
                r = run_cycles(b, threads[i]);
        return r;
}

/* ---- phase: scale ------------------------------------------------------- */

/* Timed enters on the data dir "scale", each torn down before the next. */
static int scale_sample(Bench *b, const char *data, AppArg *arg, const char *name) {
        Samples lat = {};
        int r = 0;

        for (unsigned i = 0; i < b->opt.scale_samples && r == 0 && !interrupted; i++) {
                Entered e;

                r = rocker_start(b, b->image, data, arg, &e);
                if (r < 0)
                        break;
                r = rocker_end(b, &e);
                if (r == 0 && samples_add(&lat, e.t_cb - e.t0) < 0)
                        r = -ENOMEM;
        }
        if (r == 0 && !interrupted)
                add_row(b, name, &lat, 0);
        samples_free(&lat);
        return r;
}

static int phase_scale(Bench *b) {
        char data[192], live[192], name[80], path[64];
        Samples grow = {};
        unsigned have = 0;
        int fds[2], r = 0;
        AppArg arg;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        arg = (AppArg) { .fd = fds[1], .read_fd = fds[0] };
        data_dir_path(b, data, sizeof data, "scale");
        for (size_t l = 0; l < b->opt.n_levels && r == 0 && !interrupted; l++) {
                unsigned target = b->opt.levels[l];
                ScaleFact *f = &b->facts[b->n_facts];
                double t_build = now_ms();

                say("scale: %u live rockers (+ the keeper), %u timed enters", target, b->opt.scale_samples);
                for (; have < target && r == 0 && !interrupted; have++) {
                        Entered e;

                        data_dir_path(b, live, sizeof live, "live-%u", have);
                        r = rocker_start(b, b->image, live, &arg, &e);
                        if (r == 0 && e.pidfd >= 0)
                                close(e.pidfd);  /* tracked: killed below or by the cleanup */
                        if (r == 0 && samples_add(&grow, e.t_cb - e.t0) < 0)
                                r = -ENOMEM;
                }
                if (r < 0 || interrupted)
                        break;
                f->live = target;
                f->build_s = (now_ms() - t_build) / 1000.0;
                f->rss_kb = vmrss_kb(b->daemon);
                {
                        char fd_dir[64];

                        snprintf(fd_dir, sizeof fd_dir, "/proc/%d/fd", (int) b->daemon);
                        f->daemon_fds = testlib_count_dir(fd_dir);
                }
                f->host_mounts = testlib_count_lines("/proc/self/mountinfo");
                snprintf(path, sizeof path, "/proc/%d/mountinfo", (int) b->keeper);
                f->rocker_mounts = b->keeper > 0 ? testlib_count_lines(path) : -1;
                if (grow.n > 0) {
                        qsort(grow.v, grow.n, sizeof grow.v[0], cmp_double);
                        f->build_p50 = percentile(grow.v, grow.n, 0.5);
                }
                samples_free(&grow);
                b->n_facts++;

                snprintf(name, sizeof name, "scale: enter -> callback, %4u live", target);
                r = scale_sample(b, data, &arg, name);
        }
        samples_free(&grow);
        if (r == 0 && !interrupted) {
                double t = now_ms();
                int k;

                say("scale: killing every live rocker");
                k = kill_all_tracked(b);  /* the keeper too */
                if (k < 0)
                        r = k;
                else {
                        b->killed_all = (unsigned) k;
                        b->kill_all_s = (now_ms() - t) / 1000.0;
                        b->rss_after_kb = vmrss_kb(b->daemon);
                }
        }
        /* Level 0 again: did the machine, not the live rockers, change? */
        if (r == 0 && !interrupted)
                r = start_keeper(b);
        if (r == 0 && !interrupted) {
                say("scale: 0 live rockers again (+ a new keeper), %u timed enters", b->opt.scale_samples);
                r = scale_sample(b, data, &arg, "scale: enter -> callback,    0 live, again");
        }
        close(fds[0]);
        close(fds[1]);
        return r;
}

/* ---- report ------------------------------------------------------------ */

static void print_report(const Bench *b, FILE *out) {
        static const char *const order[] = { "warm", "cold", "teardown", "full", "scale", "fork", "unshare", "bwrap" };
        const Row *bw = find_row(b, "bwrap"), *un = find_row(b, "unshare");

        fprintf(out, "\n%-56s %6s %8s %8s %8s %8s %7s %7s %9s %7s\n", "row (times in ms)", "runs", "median", "p90", "p99",
                "max", "per s", "x bwrap", "x unshare", "others");
        for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
                for (size_t i = 0; i < b->n_rows; i++) {
                        const Row *r = &b->rows[i];
                        char per[16] = "-", xb[16] = "-", xu[16] = "-";

                        if (strncmp(r->name, order[o], strlen(order[o])) != 0)
                                continue;
                        if (r->per_sec > 0)
                                snprintf(per, sizeof per, "%.1f", r->per_sec);
                        if (bw)
                                snprintf(xb, sizeof xb, "%.2f", r->p50 / bw->p50);
                        if (un)
                                snprintf(xu, sizeof xu, "%.2f", r->p50 / un->p50);
                        fprintf(out, "%-56s %6zu %8.2f %8.2f %8.2f %8.2f %7s %7s %9s %6.0f%%\n", r->name, r->runs,
                                r->p50, r->p90, r->p99, r->max, per, xb, xu, r->others_pct);
                }
        for (size_t i = 0; i < b->n_rows; i++)
                if (b->rows[i].cpu_ms > 0) {
                        const char *gap = strstr(b->rows[i].name, "  ");
                        int len = gap ? (int) (gap - b->rows[i].name) : (int) strlen(b->rows[i].name);

                        fprintf(out, "%s%.*s: %.1f ms of CPU per cycle (this benchmark, rockerd, guards)\n",
                                i == 0 || b->rows[i - 1].cpu_ms <= 0 ? "\n" : "", len, b->rows[i].name,
                                b->rows[i].cpu_ms);
                }
        if (b->n_facts > 0) {
                fprintf(out, "\n%-26s %14s %12s %15s %14s %15s %16s\n", "scale (+1 keeper rocker)", "rockerd VmRSS",
                        "rockerd fds", "host mountinfo", "rocker mounts", "enter them (s)", "their median ms");
                fprintf(out, "%-26s %14s %12s %15d %14s %15s %16s\n", "before any rocker", "-", "-", b->host_mounts_start,
                        "-", "-", "-");
                for (size_t i = 0; i < b->n_facts; i++) {
                        const ScaleFact *f = &b->facts[i];
                        char what[40];

                        snprintf(what, sizeof what, "%u live", f->live);
                        fprintf(out, "%-26s %11ld kB %12d %15d %14d %15.2f %16.2f\n", what, f->rss_kb, f->daemon_fds,
                                f->host_mounts, f->rocker_mounts, f->build_s, f->build_p50);
                }
                if (b->killed_all > 0)
                        fprintf(out, "killed all %u live rockers: all reaped after %.2f s; rockerd VmRSS then %ld kB\n",
                                b->killed_all, b->kill_all_s, b->rss_after_kb);
        }
}

/* ---- main --------------------------------------------------------------- */

static void help(void) {
        printf("Usage: rocker_bench [--runs N] [--quick] [--daemon-log FILE] [--cgroups MODE] [--limits]\n\n"
               "Times rockerd + librocker_client on this machine, next to bubblewrap and\n"
               "unshare(1). Run as root; everything it makes lives in a private directory\n"
               "under /tmp and is removed at the end. See docs/performance.md.\n\n"
               "  --runs N   warm enter runs (default 1000; 100 with --quick); the other\n"
               "             phases scale with it\n"
               "  --quick    a short run (under 30 s): fewer runs, 1 s per cycle row,\n"
               "             scale levels 0 and 100 only\n"
               "  --daemon-log FILE\n"
               "             append rockerd's log to FILE and keep it (default: a file\n"
               "             in the temporary directory, removed with it)\n"
               "  --cgroups auto|systemd|cgroupfs|no\n"
               "             rockerd's Cgroups= (default: its own, auto): compare the\n"
               "             cost of a cgroup per rocker with none (docs/cgroups.md)\n"
               "  --limits   every rocker gets MemoryMax=, MemoryHigh=, TasksMax=,\n"
               "             CPUWeight=, CPUQuota=, IOWeight= (none reached): the\n"
               "             cost of limits (with a cgroup v2 host)\n"
               "  -h, --help show this help\n");
}

static int parse_options(int argc, char **argv, Options *ret) {
        static const struct option opts[] = {
                { "runs", required_argument, NULL, 'r' },
                { "quick", no_argument, NULL, 'q' },
                { "daemon-log", required_argument, NULL, 'l' },
                { "cgroups", required_argument, NULL, 'c' },
                { "limits", no_argument, NULL, 'L' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *daemon_log = NULL, *cgroups = NULL;
        long runs = 0;
        bool quick = false, limits = false;
        char *end;
        int c;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'r':
                        errno = 0;
                        runs = strtol(optarg, &end, 10);
                        if (errno || *end || runs < 1 || runs > 1000000) {
                                fprintf(stderr, "--runs: \"%s\" is not a number from 1 to 1000000\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'q':
                        quick = true;
                        break;
                case 'l':
                        if (optarg[0] != '/') {
                                fprintf(stderr, "--daemon-log: \"%s\" is not an absolute path\n", optarg);
                                return -EINVAL;
                        }
                        daemon_log = optarg;
                        break;
                case 'c':
                        if (strcmp(optarg, "auto") && strcmp(optarg, "systemd") && strcmp(optarg, "cgroupfs") &&
                            strcmp(optarg, "no")) {
                                fprintf(stderr, "--cgroups: expected auto, systemd, cgroupfs or no\n");
                                return -EINVAL;
                        }
                        cgroups = optarg;
                        break;
                case 'L':
                        limits = true;
                        break;
                case 'h':
                        help();
                        return 1;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "unexpected argument \"%s\"\n", argv[optind]);
                return -EINVAL;
        }
        if (quick)
                *ret = (Options) { .warm_runs = 100, .cold_runs = 10, .exec_runs = 30, .cmp_runs = 30,
                                   .scale_samples = 30, .cycle_ms = 1000, .levels = { 0, 100 }, .n_levels = 2,
                                   .quick = true };
        else
                *ret = (Options) { .warm_runs = 1000, .cold_runs = 50, .exec_runs = 200, .cmp_runs = 200,
                                   .scale_samples = 100, .cycle_ms = 4000, .levels = { 0, 100, 1000 },
                                   .n_levels = 3 };
        ret->daemon_log = daemon_log;
        ret->cgroups = cgroups;
        ret->limits = limits;
        if (runs > 0) {
                unsigned n = (unsigned) runs;

                ret->warm_runs = n;
                ret->cold_runs = n / 20 > 5 ? n / 20 : 5;
                ret->exec_runs = n / 5 > 10 ? n / 5 : 10;
                ret->cmp_runs = n / 5 > 10 ? n / 5 : 10;
                ret->scale_samples = n / 10 > 10 ? n / 10 : 10;
        }
        return 0;
}

int main(int argc, char **argv) {
        Bench b = { .lock = PTHREAD_MUTEX_INITIALIZER };
        struct sigaction sa = { .sa_handler = on_signal };
        int r, k;

        r = parse_options(argc, argv, &b.opt);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        if (geteuid() != 0) {
                fprintf(stderr, "rocker_bench must run as root (rockerd serves root clients only)\n");
                return EXIT_FAILURE;
        }
        /* No SA_RESTART: a signal ends the phase, the cleanup still runs. */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);

        b.t_start = now_ms();
        print_machine_facts(stdout);
        printf("rockerd: %s; overlays /usr /var /etc /home /root; app uid %d; %s run; Cgroups=%s%s\n",
               ROCKERD_PATH, APP_UID, b.opt.quick ? "quick" : "full", b.opt.cgroups ? b.opt.cgroups : "(default)",
               b.opt.limits ? " with limits" : "");

        r = bench_setup(&b);
        if (r == 0)
                r = run_phase(&b, phase_compare);
        if (r == 0 && !interrupted)
                r = run_phase(&b, phase_cold);
        if (r == 0 && !interrupted)
                r = start_keeper(&b);
        if (r == 0 && !interrupted)
                r = run_phase(&b, phase_warm);
        if (r == 0 && !interrupted)
                r = run_phase(&b, phase_spawn);
        if (r == 0 && !interrupted)
                r = run_phase(&b, phase_cycles);
        if (r == 0 && !interrupted)
                r = run_phase(&b, phase_scale);
        if (r < 0)
                say("stopped: %s", strerror(-r));
        if (interrupted)
                say("interrupted by signal %d", (int) interrupted);

        say("cleaning up %s", b.dir);
        k = bench_cleanup(&b);
        print_report(&b, stdout);
        printf("\n\"others\": CPU time used by processes other than this benchmark, rockerd and its guards\n"
               "while the row's phase ran, in %% of all %ld CPUs; hypervisor steal during the run: %.2f s.\n",
               sysconf(_SC_NPROCESSORS_ONLN), (double) b.steal_ticks / (double) sysconf(_SC_CLK_TCK));
        if (b.max_others_pct > 10)
                printf("WARNING: other processes took up to %.0f%% of the CPUs during some rows: those figures are\n"
                       "inflated; rerun on a quiet machine for numbers worth quoting.\n", b.max_others_pct);
        printf("total wall time %.1f s%s\n", (now_ms() - b.t_start) / 1000.0,
               k < 0 ? "; CLEANUP INCOMPLETE (see above)" : "; cleanup complete");
        return r < 0 || k < 0 || interrupted ? EXIT_FAILURE : EXIT_SUCCESS;
}
