/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "macro.h"
#include "proto.h"
#include "state.h"
#include "util.h"

#define STATE_VERSION 1
/* Three paths of PROTO_PATH_MAX bytes, each of which JSON may double ('\\'
 * and '"' are escaped), and the rest: a record always fits. */
#define STATE_FILE_MAX (64 * 1024)

int state_dir_open(const char *dir) {
        char parent[PATH_MAX];
        struct stat st;

        /* Parents as on a fresh /run: /run/rocker may not exist yet. */
        snprintf(parent, sizeof parent, "%s", dir);
        for (char *s = parent + 1; *s; s++)
                if (*s == '/') {
                        *s = '\0';
                        if (mkdir(parent, 0755) < 0 && errno != EEXIST)
                                return negative_errno();
                        *s = '/';
                }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        if (lstat(dir, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
                return -ENOTDIR;
        if ((st.st_mode & 0022) && chmod(dir, st.st_mode & 07755) < 0)
                return negative_errno();  /* nobody else may plant records */
        return 0;
}

void state_record_done(StateRecord *rec) {
        free(rec->pkg_path);
        free(rec->exec_dir);
        free(rec->data_dir);
        free(rec->cgroup);
        *rec = (StateRecord) {};
}

int state_save(const char *dir, const StateRecord *rec) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        char path[PATH_MAX], tmp[PATH_MAX];
        json_t *root;
        size_t len;

        root = json_pack("{s:i, s:s, s:i, s:I, s:b, s:i, s:I, s:I, s:s, s:s, s:s, s:s*, s:I}",
                         "version", STATE_VERSION,
                         "name", rec->name,
                         "pid", (int) rec->pid,
                         "starttime", (json_int_t) rec->starttime,
                         "claimed", rec->claimed,
                         "app_id", (int) rec->app_id,
                         "uid", (json_int_t) rec->uid,
                         "gid", (json_int_t) rec->gid,
                         "pkg_path", rec->pkg_path,
                         "exec_dir", rec->exec_dir,
                         "data_dir", rec->data_dir,
                         "cgroup", rec->cgroup,
                         "owner", (json_int_t) rec->owner);
        if (!root)
                return -EINVAL;
        text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        if (!text)
                return -ENOMEM;
        len = strlen(text);
        if (len >= STATE_FILE_MAX)
                return -EMSGSIZE;  /* never written, so never misread as malformed */

        snprintf(path, sizeof path, "%s/%s", dir, rec->name);
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, rec->name);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        if (write(fd, text, len) != (ssize_t) len) {
                int r = errno ? negative_errno() : -EIO;
                (void) unlink(tmp);
                return r;
        }
        if (rename(tmp, path) < 0) {
                int r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

void state_remove(const char *dir, const char *name) {
        char path[PATH_MAX];

        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (unlink(path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "cannot remove state file %s: %m", path);
}

static int state_parse(const char *text, size_t len, StateRecord *ret) {
        json_t *root;
        json_error_t jerr;
        const char *name, *pkg, *exec, *data;
        json_t *cgroup = NULL;
        bool has_cgroup;
        int version, pid, claimed, app_id;
        json_int_t starttime, uid, gid, owner = 0;
        StateRecord rec = {};

        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return -EBADMSG;
        /* "cgroup" (a string, or null) came after version 1's first
         * records: optional. */
        /* "owner" (issue 17) likewise: a record without it is root's. */
        if (json_unpack(root, "{s:i, s:s, s:i, s:I, s:b, s:i, s:I, s:I, s:s, s:s, s:s, s?o, s?I !}", "version",
                        &version, "name", &name, "pid", &pid, "starttime", &starttime, "claimed", &claimed, "app_id",
                        &app_id, "uid", &uid, "gid", &gid, "pkg_path", &pkg, "exec_dir", &exec, "data_dir", &data,
                        "cgroup", &cgroup, "owner", &owner) < 0 ||
            owner < 0 || owner >= INT32_MAX ||
            (cgroup && !json_is_null(cgroup) &&
             (!json_is_string(cgroup) || path_check(json_string_value(cgroup), PROTO_PATH_MAX, NULL) < 0)) ||
            version != STATE_VERSION || !guard_name_valid(name) || pid <= 1 || starttime < 0 ||
            uid < 0 || uid >= INT32_MAX || gid < 0 || gid >= INT32_MAX ||
            path_check(data, PROTO_PATH_MAX, NULL) < 0 || path_check(pkg, PROTO_PATH_MAX, NULL) < 0 ||
            path_check(exec, PROTO_PATH_MAX, NULL) < 0) {
                json_decref(root);
                return -EBADMSG;
        }
        memcpy(rec.name, name, sizeof rec.name);
        rec.pid = pid;
        rec.starttime = (unsigned long long) starttime;
        rec.claimed = claimed;
        rec.app_id = app_id;
        rec.uid = (uid_t) uid;
        rec.gid = (gid_t) gid;
        rec.owner = (uid_t) owner;
        rec.pkg_path = strdup(pkg);
        rec.exec_dir = strdup(exec);
        rec.data_dir = strdup(data);
        has_cgroup = cgroup && json_is_string(cgroup);
        if (has_cgroup)
                rec.cgroup = strdup(json_string_value(cgroup));
        json_decref(root);  /* cgroup is gone with it */
        if (!rec.pkg_path || !rec.exec_dir || !rec.data_dir || (has_cgroup && !rec.cgroup)) {
                state_record_done(&rec);
                return -ENOMEM;
        }
        *ret = rec;
        return 0;
}

int state_load_all(const char *dir, void (*fn)(StateRecord *rec, void *userdata), void *userdata) {
        _cleanup_free_ char *text = malloc(STATE_FILE_MAX);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (!text)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        while ((de = readdir(d))) {
                _cleanup_close_ int fd = -EBADF;
                StateRecord rec;
                ssize_t n;

                if (de->d_name[0] == '.') {
                        /* a torn temporary, or an earlier rockerd's squashfuse
                         * staging dir (empty once its mount is gone) */
                        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
                            unlinkat(dirfd(d), de->d_name, 0) < 0 && errno == EISDIR)
                                (void) unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
                        continue;
                }
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                n = fd >= 0 ? read(fd, text, STATE_FILE_MAX) : -1;
                if (n <= 0 || n == STATE_FILE_MAX || state_parse(text, (size_t) n, &rec) < 0) {
                        log_warning("state file %s/%s is malformed: removed", dir, de->d_name);
                        (void) unlinkat(dirfd(d), de->d_name, 0);
                        continue;
                }
                if (strcmp(rec.name, de->d_name) != 0) {
                        log_warning("state file %s/%s names another rocker: removed", dir, de->d_name);
                        (void) unlinkat(dirfd(d), de->d_name, 0);
                        state_record_done(&rec);
                        continue;
                }
                fn(&rec, userdata);
                state_record_done(&rec);
        }
        return 0;
}
