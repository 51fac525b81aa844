/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "macro.h"
#include "util.h"

int path_check(const char *path, size_t max, const char **ret_reason) {
        const char *reason = NULL;
        size_t len;

        if (!path)
                reason = "not set";
        else if ((len = strnlen(path, max + 1)) == 0)
                reason = "empty";
        else if (len > max)
                reason = "too long";
        else if (path[0] != '/')
                reason = "not an absolute path";
        else if (len > 1 && path[len - 1] == '/')
                reason = "ends with '/'";
        else {
                for (const char *p = path; *p && !reason; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                reason = "holds a control character";
                for (const char *c = path; !reason && *c; ) {
                        /* c points at a '/', the component follows it */
                        const char *e = strchrnul(c + 1, '/');
                        size_t n = (size_t) (e - c - 1);

                        if (n == 0 && len > 1)
                                reason = "holds an empty component (\"//\")";
                        else if ((n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
                                reason = "holds a \".\" or \"..\" component";
                        c = e;
                }
        }
        if (reason) {
                if (ret_reason)
                        *ret_reason = reason;
                return -EINVAL;
        }
        return 0;
}

bool path_contains(const char *prefix, const char *path) {
        size_t n = strlen(prefix);

        if (strcmp(prefix, "/") == 0)
                return true;
        return strncmp(prefix, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int path_escape(const char *path, char *ret, size_t size) {
        size_t o = 0;

        for (const char *p = path[0] == '/' ? path + 1 : path; *p; p++) {
                unsigned char c = (unsigned char) *p;
                char tmp[5];
                size_t k;

                if (c == '/')
                        tmp[0] = '-', k = 1;
                else if (c == '-' || c == '\\' || c <= 0x20 || c >= 0x7f)
                        k = (size_t) snprintf(tmp, sizeof tmp, "\\x%02x", c);
                else
                        tmp[0] = (char) c, k = 1;
                if (o + k >= size)
                        return -ENAMETOOLONG;
                memcpy(ret + o, tmp, k);
                o += k;
        }
        if (o >= size)
                return -ENAMETOOLONG;
        ret[o] = '\0';
        return 0;
}

#define NAME_PREFIX "rk-"
#define NAME_ALPHABET "abcdefghijklmnopqrstuvwxyz0123456789"

int guard_name_generate(char name[16]) {
        unsigned char rnd[12];
        size_t got = 0;

        while (got < sizeof rnd) {
                ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                got += (size_t) n;
        }
        memcpy(name, NAME_PREFIX, 3);
        for (size_t i = 0; i < sizeof rnd; i++)
                /* 256 % 36 != 0: the bias (at most 1/256 per letter) does not
                 * matter for names, whose uniqueness the registry enforces. */
                name[3 + i] = NAME_ALPHABET[rnd[i] % (sizeof NAME_ALPHABET - 1)];
        name[15] = '\0';
        return 0;
}

bool guard_name_valid(const char *name) {
        if (strnlen(name, 16) != 15 || strncmp(name, NAME_PREFIX, 3) != 0)
                return false;
        for (size_t i = 3; i < 15; i++)
                if (!strchr(NAME_ALPHABET, name[i]))
                        return false;
        return true;
}

void fs_context_log(int fs_fd, char *buf, size_t size) {
        ssize_t n;

        if (size == 0)
                return;
        n = read(fs_fd, buf, size - 1);
        if (n <= 0) {
                buf[0] = '\0';
                return;
        }
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if ((buf[0] == 'e' || buf[0] == 'w' || buf[0] == 'i') && buf[1] == ' ')
                memmove(buf, buf + 2, strlen(buf + 2) + 1);
}

bool cgroup_path_is_rockers(const char *path, const char *guard_name) {
        const char *last = strrchr(path, '/'), *p;
        size_t n = strlen(guard_name);

        if (!last || strncmp(last + 1, "rocker-", 7) != 0)
                return false;
        p = last + 8;
        if (*p == '-')
                p++;
        if (!isdigit((unsigned char) *p))
                return false;
        while (isdigit((unsigned char) *p))
                p++;
        if (*p != '-' || strncmp(p + 1, guard_name, n) != 0)
                return false;
        p += 1 + n;
        return *p == '\0' || strcmp(p, ".scope") == 0;
}

int read_fd_small(int fd, char *buf, size_t size) {
        ssize_t n;

        if (size == 0)
                return -EINVAL;
        do
                n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return (int) n;
}

int read_file_small(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return negative_errno();
        return read_fd_small(fd, buf, size);
}

int openat2_fd(int dir_fd, const char *path, int flags, uint64_t resolve) {
        struct open_how how = { .flags = (uint64_t) (flags | O_CLOEXEC), .resolve = resolve };
        int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof how);

        return fd < 0 ? negative_errno() : fd;
}
