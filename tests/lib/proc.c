/* SPDX-License-Identifier: MIT */
/* Shell commands, line and directory counts, loop devices. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "procfs.h"
#include "testlib.h"
#include "util.h"

int testlib_sh(const char *fmt, ...) {
        char cmd[4096];
        va_list ap;
        int st;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        st = system(cmd);
        return st < 0 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

int testlib_count_lines(const char *path) {
        FILE *f = fopen(path, "re");
        int n = 0, c;

        if (!f)
                return -errno;
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

int testlib_count_dir(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;
        int n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d)))
                n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(d);
        return n;
}

int testlib_loops_under(const char *dir) {
        DIR *d = opendir("/sys/block");
        struct dirent *de;
        int n = 0;

        while (d && (de = readdir(d))) {
                char path[512], backing[4096] = "";
                FILE *f;

                if (strncmp(de->d_name, "loop", 4) != 0)
                        continue;
                snprintf(path, sizeof path, "/sys/block/%s/loop/backing_file", de->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(backing, sizeof backing, f)) {
                        backing[strcspn(backing, "\n")] = '\0';
                        n += path_contains(dir, backing);
                }
                fclose(f);
        }
        if (d)
                closedir(d);
        return n;
}

int testlib_children_named(pid_t parent, const char *prefix, pid_t *pids, int max) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        size_t k = strlen(prefix);
        int n = 0;

        while (d && parent > 0 && (de = readdir(d))) {
                char path[300], buf[4096], *name, *ppid;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
                if (read_file_small(path, buf, sizeof buf) <= 0)
                        continue;  /* gone meanwhile */
                name = strncmp(buf, "Name:\t", 6) == 0 ? buf + 6 : NULL;
                ppid = strstr(buf, "\nPPid:\t");
                if (!name || !ppid || strncmp(name, prefix, k) != 0 || atoi(ppid + 7) != (int) parent)
                        continue;
                if (n < max)
                        pids[n] = atoi(de->d_name);
                n++;
        }
        if (d)
                closedir(d);
        return n;
}

int testlib_environ_is(pid_t pid, char *const env[]) {
        char buf[16384];
        size_t i = 0, off = 0;
        int n = procfs_read(PROCFS_AT, pid, "environ", buf, sizeof buf);

        if (n < 0)
                return n;
        for (; env[i] && off < (size_t) n; i++) {
                if (strcmp(buf + off, env[i]) != 0)
                        break;
                off += strlen(env[i]) + 1;
        }
        if (!env[i] && off == (size_t) n)
                return 1;
        fprintf(stderr, "environment of %d:\n", (int) pid);
        for (off = 0; off < (size_t) n; off += strlen(buf + off) + 1)
                fprintf(stderr, "  %s\n", buf + off);
        return 0;
}
