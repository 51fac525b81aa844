/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "macro.h"
#include "proto.h"

/* jansson's own cleanup helper (json_auto_t) */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Decoders refuse with EBADMSG (EPROTO for a version mismatch, ENOMEM). */
static int nomem(RkError *err) {
        return rk_error(err, ENOMEM, "out of memory");
}

void proto_request_done(ProtoRequest *req) {
        ProtoEnter *e = &req->enter;

        free(e->pkg_path);
        free(e->exec_dir);
        free(e->data_dir);
        for (size_t i = 0; i < e->n_overlay_dirs; i++)
                free(e->overlay_dirs[i]);
        *e = (ProtoEnter) {};
        for (size_t i = 0; i < req->n_argv; i++)
                free(req->argv[i]);
        free(req->argv);
        for (size_t i = 0; i < req->n_envp; i++)
                free(req->envp[i]);
        free(req->envp);
        req->argv = req->envp = NULL;
        req->n_argv = req->n_envp = 0;
}

static int dump(json_t *root, char **ret_buf, size_t *ret_len) {
        char *s;
        size_t n;

        if (!root)
                return -ENOMEM;
        s = json_dumps(root, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        n = strlen(s);
        if (n > PROTO_MSG_MAX) {
                free(s);
                return -EMSGSIZE;
        }
        *ret_buf = s;
        *ret_len = n;
        return 0;
}

int proto_encode_enter(const ProtoEnter *e, char **ret_buf, size_t *ret_len) {
        _cleanup_json_ json_t *dirs = NULL, *root = NULL;

        if (!e->pkg_path || !e->exec_dir || !e->data_dir || e->n_overlay_dirs > PROTO_OVERLAY_MAX)
                return -EINVAL;
        dirs = json_array();
        if (!dirs)
                return -ENOMEM;
        for (size_t i = 0; i < e->n_overlay_dirs; i++) {
                if (!e->overlay_dirs[i])
                        return -EINVAL;
                if (json_array_append_new(dirs, json_string(e->overlay_dirs[i])) < 0)
                        return -EINVAL; /* not UTF-8 */
        }
        root = json_pack("{s:s, s:i, s:{s:i, s:i, s:i, s:s, s:s, s:s, s:O}}",
                         "id", "enter",
                         "version", PROTO_VERSION,
                         "data",
                         "app_id", (int) e->app_id,
                         "uid", (int) e->uid,
                         "gid", (int) e->gid,
                         "app_pkg_path", e->pkg_path,
                         "app_exec_dir", e->exec_dir,
                         "app_data_dir", e->data_dir,
                         "app_overlay_dirs", dirs);
        if (!root)
                return -EINVAL; /* json_pack fails on strings that are not UTF-8 */
        return dump(root, ret_buf, ret_len);
}

static json_t *string_array(const char *const *v, bool is_env) {
        _cleanup_json_ json_t *a = json_array();
        size_t i;

        if (!a || !v)
                return NULL;
        for (i = 0; v[i]; i++) {
                if (i >= PROTO_ARGV_MAX || (is_env && !strchr(v[i], '=')))
                        return NULL;
                if (json_array_append_new(a, json_string(v[i])) < 0)
                        return NULL;  /* not UTF-8 */
        }
        return TAKE_PTR(a);
}

int proto_encode_spawn(const ProtoEnter *e, const char *const *argv, const char *const *envp, char **ret_buf,
                       size_t *ret_len) {
        _cleanup_json_ json_t *root = NULL, *a = NULL, *env = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        json_t *data;
        int r;

        if (!argv || !argv[0] || !argv[0][0] || !envp)
                return -EINVAL;
        a = string_array(argv, false);
        env = string_array(envp, true);
        if (!a || !env)
                return -EINVAL;
        r = proto_encode_enter(e, &buf, &len);
        if (r < 0)
                return r;
        root = json_loadb(buf, len, 0, NULL);
        if (!root)
                return -ENOMEM;
        if (json_object_set_new(root, "id", json_string("spawn")) < 0)
                return -ENOMEM;
        data = json_object_get(root, "data");
        if (!data || json_object_set(data, "argv", a) < 0 || json_object_set(data, "envp", env) < 0)
                return -ENOMEM;
        return dump(root, ret_buf, ret_len);
}

int proto_encode_signal(int32_t guard_pid, const char *guard_name, int32_t signal, int32_t grace_ms, char **ret_buf,
                        size_t *ret_len) {
        _cleanup_json_ json_t *root = NULL;

        if (!guard_name)
                return -EINVAL;
        root = json_pack("{s:s, s:i, s:{s:i, s:s, s:i, s:i}}", "id", "signal", "version", PROTO_VERSION, "data",
                         "guard_pid", (int) guard_pid, "guard_name", guard_name, "signal", (int) signal,
                         "grace_ms", (int) grace_ms);
        if (!root)
                return -EINVAL;
        return dump(root, ret_buf, ret_len);
}

int proto_encode_spawn_in(int32_t guard_pid, const char *guard_name, int32_t uid, int32_t gid,
                          const char *const *argv, const char *const *envp, char **ret_buf, size_t *ret_len) {
        _cleanup_json_ json_t *root = NULL, *a = NULL, *env = NULL;

        if (!guard_name || !argv || !argv[0] || !argv[0][0] || !envp)
                return -EINVAL;
        a = string_array(argv, false);
        env = string_array(envp, true);
        if (!a || !env)
                return -EINVAL;
        root = json_pack("{s:s, s:i, s:{s:i, s:s, s:i, s:i, s:O, s:O}}", "id", "spawn_in", "version", PROTO_VERSION,
                         "data", "guard_pid", (int) guard_pid, "guard_name", guard_name, "uid", (int) uid, "gid",
                         (int) gid, "argv", a, "envp", env);
        if (!root)
                return -EINVAL;
        return dump(root, ret_buf, ret_len);
}

int proto_encode_ack(char **ret_buf, size_t *ret_len) {
        _cleanup_json_ json_t *root = json_pack("{s:s, s:i}", "id", "ack", "version", PROTO_VERSION);

        return dump(root, ret_buf, ret_len);
}

/* Copies s into out (size bytes), replacing every byte that is not part of
 * a valid UTF-8 sequence with '?': error texts quote client input, and cut
 * at a byte limit they may split a character. */
static void utf8_sanitize(const char *s, char *out, size_t size) {
        size_t o = 0;

        while (*s && o + 1 < size) {
                const unsigned char *u = (const unsigned char *) s;
                size_t n = u[0] < 0x80 ? 1 : (u[0] & 0xe0) == 0xc0 ? 2 : (u[0] & 0xf0) == 0xe0 ? 3 :
                           (u[0] & 0xf8) == 0xf0 ? 4 : 0;
                bool ok = n > 0 && o + n < size;

                for (size_t i = 1; ok && i < n; i++)
                        ok = (u[i] & 0xc0) == 0x80;
                if (ok && n == 2 && u[0] < 0xc2)
                        ok = false;  /* overlong */
                if (ok && n == 3 && ((u[0] == 0xe0 && u[1] < 0xa0) || (u[0] == 0xed && u[1] >= 0xa0)))
                        ok = false;  /* overlong, or a surrogate */
                if (ok && n == 4 && ((u[0] == 0xf0 && u[1] < 0x90) || u[0] > 0xf4 || (u[0] == 0xf4 && u[1] >= 0x90)))
                        ok = false;
                if (!ok) {
                        out[o++] = '?';
                        s++;
                        continue;
                }
                memcpy(out + o, s, n);
                o += n;
                s += n;
        }
        out[o] = '\0';
}

int proto_encode_reply(const ProtoReply *r, char **ret_buf, size_t *ret_len) {
        _cleanup_json_ json_t *root = NULL;

        if (r->success) {
                json_t *data;

                root = json_pack("{s:b, s:i, s:{s:i, s:s, s:b}}",
                                 "success", 1,
                                 "version", PROTO_VERSION,
                                 "data",
                                 "guard_pid", (int) r->guard_pid,
                                 "guard_name", r->guard_name,
                                 "user_namespaces", r->user_namespaces ? 1 : 0);
                if (!root)
                        return -EINVAL;  /* a name that is not UTF-8 */
                data = json_object_get(root, "data");
                if (r->app_pid > 0 && json_object_set_new(data, "app_pid", json_integer(r->app_pid)) < 0)
                        return -ENOMEM;
                if (r->has_wait_status &&
                    json_object_set_new(data, "wait_status", json_integer(r->wait_status)) < 0)
                        return -ENOMEM;
        } else {
                char text[sizeof r->error];

                /* An error text is built from client input: never let a
                 * non-UTF-8 byte make the reply itself fail. */
                utf8_sanitize(r->error, text, sizeof text);
                root = json_pack("{s:b, s:i, s:s}", "success", 0, "version", PROTO_VERSION,
                                 "error", text[0] ? text : "request refused");
        }
        return dump(root, ret_buf, ret_len);
}

int proto_encode_list(int32_t offset, char **ret_buf, size_t *ret_len) {
        _cleanup_json_ json_t *root = json_pack("{s:s, s:i, s:{s:i}}", "id", "list", "version", PROTO_VERSION,
                                                "data", "offset", (int) offset);

        return dump(root, ret_buf, ret_len);
}

int proto_encode_list_reply(const ProtoList *list, char **ret_buf, size_t *ret_len) {
        _cleanup_json_ json_t *root = NULL, *arr = json_array();

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < list->n_entries; i++) {
                const ProtoRockerInfo *e = &list->entries[i];
                json_t *o = json_pack("{s:i, s:s, s:i, s:i, s:i, s:I, s:s, s:s, s:s, s:s*, s:s*, s:I, s:I}",
                                      "guard_pid", (int) e->guard_pid,
                                      "guard_name", e->guard_name,
                                      "app_id", (int) e->app_id,
                                      "uid", (int) e->uid,
                                      "gid", (int) e->gid,
                                      "age_ms", (json_int_t) e->age_ms,
                                      "app_pkg_path", e->pkg_path ? e->pkg_path : "",
                                      "app_exec_dir", e->exec_dir ? e->exec_dir : "",
                                      "app_data_dir", e->data_dir ? e->data_dir : "",
                                      "cgroup", e->cgroup,
                                      "cgroup_note", e->cgroup_note,
                                      "memory_bytes", (json_int_t) (e->memory_bytes < 0 ? -1 : e->memory_bytes),
                                      "cpu_usec", (json_int_t) (e->cpu_usec < 0 ? -1 : e->cpu_usec));
                if (!o || json_array_append_new(arr, o) < 0)
                        return -EINVAL;
        }
        root = json_pack("{s:b, s:i, s:{s:i, s:O}}", "success", 1, "version", PROTO_VERSION,
                         "data", "total", (int) list->total, "rockers", arr);
        return dump(root, ret_buf, ret_len);
}

void proto_list_done(ProtoList *list) {
        for (size_t i = 0; i < list->n_entries; i++) {
                free(list->entries[i].pkg_path);
                free(list->entries[i].exec_dir);
                free(list->entries[i].data_dir);
                free(list->entries[i].cgroup);
                free(list->entries[i].cgroup_note);
        }
        free(list->entries);
        *list = (ProtoList) {};
}

/* Every key of obj must be one of allowed[]. */
static int check_keys(json_t *obj, const char *where, const char *const *allowed,
                      RkError *err) {
        const char *key;
        json_t *v;

        json_object_foreach(obj, key, v) {
                int ok = 0;
                for (size_t i = 0; allowed[i]; i++)
                        if (strcmp(key, allowed[i]) == 0)
                                ok = 1;
                if (!ok)
                        return rk_error(err, EBADMSG, "%s: unknown field \"%.64s\"", where, key);
        }
        return 0;
}

static int get_int32(json_t *obj, const char *key, int64_t min, int64_t max, int32_t *ret,
                     RkError *err) {
        json_t *v = json_object_get(obj, key);
        json_int_t i;

        if (!v)
                return rk_error(err, EBADMSG, "%s: missing", key);
        if (!json_is_integer(v))
                return rk_error(err, EBADMSG, "%s: expected an integer", key);
        i = json_integer_value(v);
        if (i < min || i > max)
                return rk_error(err, EBADMSG, "%s: %lld out of range [%lld, %lld]", key,
                            (long long) i, (long long) min, (long long) max);
        *ret = (int32_t) i;
        return 0;
}

static int check_string(json_t *v, const char *key, size_t max, RkError *err) {
        if (!json_is_string(v))
                return rk_error(err, EBADMSG, "%s: expected a string", key);
        if (json_string_length(v) == 0)
                return rk_error(err, EBADMSG, "%s: empty", key);
        if (json_string_length(v) > max)
                return rk_error(err, EBADMSG, "%s: longer than %zu bytes", key, max);
        /* jansson already refuses \u0000 unless JSON_ALLOW_NUL is given. */
        return 0;
}

static int get_path(json_t *obj, const char *key, char **ret, RkError *err) {
        json_t *v = json_object_get(obj, key);
        int r;

        if (!v)
                return rk_error(err, EBADMSG, "%s: missing", key);
        r = check_string(v, key, PROTO_PATH_MAX, err);
        if (r < 0)
                return r;
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : nomem(err);
}

static json_t *load(const char *buf, size_t len, RkError *err) {
        json_error_t jerr;
        json_t *root;

        if (len > PROTO_MSG_MAX) {
                (void) rk_error(err, EBADMSG, "message of %zu bytes exceeds the limit of %d", len, PROTO_MSG_MAX);
                return NULL;
        }
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                (void) rk_error(err, EBADMSG, "malformed JSON at byte %d: %s", jerr.position, jerr.text);
                return NULL;
        }
        if (!json_is_object(root)) {
                json_decref(root);
                (void) rk_error(err, EBADMSG, "message is not a JSON object");
                return NULL;
        }
        return root;
}

static int check_version(json_t *root, RkError *err) {
        int32_t version = 0;
        int r;

        r = get_int32(root, "version", INT32_MIN, INT32_MAX, &version, err);
        if (r < 0)
                return r;
        if (version != PROTO_VERSION) {
                return rk_error(err, EPROTO, "version: protocol %d is not supported (this side speaks %d)",
                                version, PROTO_VERSION);
        }
        return 0;
}

static int decode_enter(json_t *data, ProtoEnter *e, RkError *err) {
        static const char *const keys[] = { "app_id", "uid", "gid", "app_pkg_path", "app_exec_dir",
                                            "app_data_dir", "app_overlay_dirs", NULL };
        json_t *dirs, *v;
        size_t i;
        int r;

        if (!json_is_object(data))
                return rk_error(err, EBADMSG, "data: expected an object");
        r = check_keys(data, "data", keys, err);
        if (r < 0)
                return r;
        r = get_int32(data, "app_id", INT32_MIN, INT32_MAX, &e->app_id, err);
        if (r < 0)
                return r;
        /* uid_t (uid_t) -1 means "unchanged" to the kernel: never a valid id. */
        r = get_int32(data, "uid", 0, INT32_MAX - 1, &e->uid, err);
        if (r < 0)
                return r;
        r = get_int32(data, "gid", 0, INT32_MAX - 1, &e->gid, err);
        if (r < 0)
                return r;
        r = get_path(data, "app_pkg_path", &e->pkg_path, err);
        if (r < 0)
                return r;
        r = get_path(data, "app_exec_dir", &e->exec_dir, err);
        if (r < 0)
                return r;
        r = get_path(data, "app_data_dir", &e->data_dir, err);
        if (r < 0)
                return r;

        dirs = json_object_get(data, "app_overlay_dirs");
        if (!dirs)
                return rk_error(err, EBADMSG, "app_overlay_dirs: missing");
        if (!json_is_array(dirs))
                return rk_error(err, EBADMSG, "app_overlay_dirs: expected an array");
        if (json_array_size(dirs) > PROTO_OVERLAY_MAX)
                return rk_error(err, EBADMSG, "app_overlay_dirs: %zu entries, at most %d allowed",
                            json_array_size(dirs), PROTO_OVERLAY_MAX);
        json_array_foreach(dirs, i, v) {
                char key[48];

                snprintf(key, sizeof key, "app_overlay_dirs[%zu]", i);
                r = check_string(v, key, PROTO_PATH_MAX, err);
                if (r < 0)
                        return r;
                e->overlay_dirs[i] = strdup(json_string_value(v));
                if (!e->overlay_dirs[i])
                        return nomem(err);
                e->n_overlay_dirs = i + 1;
        }
        return 0;
}

static int get_strings(json_t *data, const char *key, bool is_env, char ***ret, size_t *ret_n, RkError *err) {
        json_t *a = json_object_get(data, key), *v;
        size_t i;

        if (!a)
                return rk_error(err, EBADMSG, "%s: missing", key);
        if (!json_is_array(a))
                return rk_error(err, EBADMSG, "%s: expected an array", key);
        if (json_array_size(a) > PROTO_ARGV_MAX)
                return rk_error(err, EBADMSG, "%s: %zu entries, at most %d allowed", key, json_array_size(a),
                            PROTO_ARGV_MAX);
        if (!is_env && json_array_size(a) == 0)
                return rk_error(err, EBADMSG, "%s: empty", key);
        *ret = calloc(json_array_size(a) + 1, sizeof(char *));
        if (!*ret)
                return nomem(err);
        json_array_foreach(a, i, v) {
                if (!json_is_string(v))
                        return rk_error(err, EBADMSG, "%s[%zu]: expected a string", key, i);
                if (!is_env && i == 0 && json_string_length(v) == 0)
                        return rk_error(err, EBADMSG, "%s[0]: empty", key);
                if (is_env && !strchr(json_string_value(v), '='))
                        return rk_error(err, EBADMSG, "%s[%zu]: not NAME=value", key, i);
                (*ret)[i] = strdup(json_string_value(v));
                if (!(*ret)[i])
                        return nomem(err);
                *ret_n = i + 1;
        }
        return 0;
}

static int decode_spawn(json_t *data, ProtoRequest *req, RkError *err) {
        _cleanup_json_ json_t *enter = NULL;
        int r;

        if (!json_is_object(data))
                return rk_error(err, EBADMSG, "data: expected an object");
        r = get_strings(data, "argv", false, &req->argv, &req->n_argv, err);
        if (r < 0)
                return r;
        r = get_strings(data, "envp", true, &req->envp, &req->n_envp, err);
        if (r < 0)
                return r;
        enter = json_deep_copy(data);
        if (!enter)
                return nomem(err);
        (void) json_object_del(enter, "argv");
        (void) json_object_del(enter, "envp");
        return decode_enter(enter, &req->enter, err);
}

int proto_decode_request(const char *buf, size_t len, ProtoRequest *ret, RkError *err) {
        static const char *const keys[] = { "id", "version", "data", NULL };
        _cleanup_json_ json_t *root = NULL;
        ProtoRequest req = {};
        const char *id;
        json_t *v;
        int r;

        root = load(buf, len, err);
        if (!root)
                return -EBADMSG;
        /* The version first: a newer peer's unknown fields are "version
         * not supported", not "malformed". */
        r = check_version(root, err);
        if (r < 0)
                return r;
        r = check_keys(root, "request", keys, err);
        if (r < 0)
                return r;
        v = json_object_get(root, "id");
        if (!v)
                return rk_error(err, EBADMSG, "id: missing");
        if (!json_is_string(v))
                return rk_error(err, EBADMSG, "id: expected a string");

        id = json_string_value(v);
        if (strcmp(id, "enter") == 0) {
                req.kind = PROTO_ENTER;
                v = json_object_get(root, "data");
                if (!v)
                        return rk_error(err, EBADMSG, "data: missing");
                r = decode_enter(v, &req.enter, err);
                if (r < 0) {
                        proto_request_done(&req);
                        return r;
                }
        } else if (strcmp(id, "spawn") == 0) {
                req.kind = PROTO_SPAWN;
                v = json_object_get(root, "data");
                if (!v)
                        return rk_error(err, EBADMSG, "data: missing");
                r = decode_spawn(v, &req, err);
                if (r < 0) {
                        proto_request_done(&req);
                        return r;
                }
        } else if (strcmp(id, "spawn_in") == 0) {
                static const char *const keys_in[] = { "guard_pid", "guard_name", "uid", "gid", "argv", "envp",
                                                       NULL };
                json_t *n;

                req.kind = PROTO_SPAWN_IN;
                v = json_object_get(root, "data");
                if (!v)
                        return rk_error(err, EBADMSG, "data: missing");
                if (!json_is_object(v))
                        return rk_error(err, EBADMSG, "data: expected an object");
                r = check_keys(v, "data", keys_in, err);
                if (r == 0)
                        r = get_int32(v, "guard_pid", 2, INT32_MAX, &req.guard_pid, err);
                if (r == 0)
                        r = get_int32(v, "uid", 0, INT32_MAX - 1, &req.enter.uid, err);
                if (r == 0)
                        r = get_int32(v, "gid", 0, INT32_MAX - 1, &req.enter.gid, err);
                n = json_object_get(v, "guard_name");
                if (r == 0 && !n)
                        r = rk_error(err, EBADMSG, "guard_name: missing");
                if (r == 0)
                        r = check_string(n, "guard_name", PROTO_NAME_LEN, err);
                if (r == 0)
                        memcpy(req.guard_name, json_string_value(n), json_string_length(n) + 1);
                if (r == 0)
                        r = get_strings(v, "argv", false, &req.argv, &req.n_argv, err);
                if (r == 0)
                        r = get_strings(v, "envp", true, &req.envp, &req.n_envp, err);
                if (r < 0) {
                        proto_request_done(&req);
                        return r;
                }
        } else if (strcmp(id, "signal") == 0) {
                static const char *const signal_keys[] = { "guard_pid", "guard_name", "signal", "grace_ms", NULL };
                req.kind = PROTO_SIGNAL;
                v = json_object_get(root, "data");
                if (!v)
                        return rk_error(err, EBADMSG, "data: missing");
                if (!json_is_object(v))
                        return rk_error(err, EBADMSG, "data: expected an object");
                r = check_keys(v, "data", signal_keys, err);
                if (r < 0)
                        return r;
                r = get_int32(v, "guard_pid", 2, INT32_MAX, &req.guard_pid, err);
                if (r < 0)
                        return r;
                r = get_int32(v, "signal", 1, 64, &req.signal, err);
                if (r < 0)
                        return r;
                r = get_int32(v, "grace_ms", -1, 3600 * 1000, &req.grace_ms, err);
                if (r < 0)
                        return r;
                json_t *n = json_object_get(v, "guard_name");
                if (!n)
                        return rk_error(err, EBADMSG, "guard_name: missing");
                r = check_string(n, "guard_name", PROTO_NAME_LEN, err);
                if (r < 0)
                        return r;
                memcpy(req.guard_name, json_string_value(n), json_string_length(n) + 1);
        } else if (strcmp(id, "list") == 0) {
                static const char *const list_keys[] = { "offset", NULL };
                req.kind = PROTO_LIST;
                v = json_object_get(root, "data");
                if (!v)
                        return rk_error(err, EBADMSG, "data: missing");
                if (!json_is_object(v))
                        return rk_error(err, EBADMSG, "data: expected an object");
                r = check_keys(v, "data", list_keys, err);
                if (r < 0)
                        return r;
                r = get_int32(v, "offset", 0, INT32_MAX, &req.offset, err);
                if (r < 0)
                        return r;
        } else if (strcmp(id, "ack") == 0) {
                req.kind = PROTO_ACK;
                if (json_object_get(root, "data"))
                        return rk_error(err, EBADMSG, "data: not expected for \"ack\"");
        } else
                return rk_error(err, EBADMSG, "id: unknown request \"%.64s\"", id);

        *ret = req;
        return 0;
}

int proto_decode_reply(const char *buf, size_t len, ProtoReply *ret, RkError *err) {
        static const char *const keys[] = { "success", "version", "error", "data", NULL };
        static const char *const data_keys[] = { "guard_pid", "guard_name", "user_namespaces", "app_pid",
                                                  "wait_status", NULL };
        _cleanup_json_ json_t *root = NULL;
        ProtoReply reply = {};
        json_t *v, *data;
        int r;

        root = load(buf, len, err);
        if (!root)
                return -EBADMSG;
        r = check_version(root, err);
        if (r < 0)
                return r;
        r = check_keys(root, "reply", keys, err);
        if (r < 0)
                return r;
        v = json_object_get(root, "success");
        if (!v)
                return rk_error(err, EBADMSG, "success: missing");
        if (!json_is_boolean(v))
                return rk_error(err, EBADMSG, "success: expected a boolean");
        reply.success = json_is_true(v);

        data = json_object_get(root, "data");
        v = json_object_get(root, "error");
        if (!reply.success) {
                if (data)
                        return rk_error(err, EBADMSG, "data: not expected in a failure reply");
                if (!v)
                        return rk_error(err, EBADMSG, "error: missing in a failure reply");
                r = check_string(v, "error", PROTO_ERROR_MAX - 1, err);
                if (r < 0)
                        return r;
                memcpy(reply.error, json_string_value(v), json_string_length(v) + 1);
                *ret = reply;
                return 0;
        }

        if (v)
                return rk_error(err, EBADMSG, "error: not expected in a success reply");
        if (!data)
                return rk_error(err, EBADMSG, "data: missing in a success reply");
        if (!json_is_object(data))
                return rk_error(err, EBADMSG, "data: expected an object");
        r = check_keys(data, "data", data_keys, err);
        if (r < 0)
                return r;
        r = get_int32(data, "guard_pid", 1, INT32_MAX, &reply.guard_pid, err);
        if (r < 0)
                return r;
        v = json_object_get(data, "guard_name");
        if (!v)
                return rk_error(err, EBADMSG, "guard_name: missing");
        r = check_string(v, "guard_name", PROTO_NAME_LEN, err);
        if (r < 0)
                return r;
        memcpy(reply.guard_name, json_string_value(v), json_string_length(v) + 1);
        v = json_object_get(data, "user_namespaces");
        if (v) {
                if (!json_is_boolean(v))
                        return rk_error(err, EBADMSG, "user_namespaces: expected a boolean");
                reply.user_namespaces = json_is_true(v);
        }
        if (json_object_get(data, "app_pid")) {
                r = get_int32(data, "app_pid", 1, INT32_MAX, &reply.app_pid, err);
                if (r < 0)
                        return r;
        }
        if (json_object_get(data, "wait_status")) {
                r = get_int32(data, "wait_status", 0, 0xffff, &reply.wait_status, err);
                if (r < 0)
                        return r;
                reply.has_wait_status = 1;
        }
        *ret = reply;
        return 0;
}

static int get_string_copy(json_t *obj, const char *key, size_t max, bool allow_empty, char **ret, RkError *err) {
        json_t *v = json_object_get(obj, key);

        if (!v)
                return rk_error(err, EBADMSG, "%s: missing", key);
        if (!json_is_string(v))
                return rk_error(err, EBADMSG, "%s: expected a string", key);
        if (json_string_length(v) > max || (!allow_empty && json_string_length(v) == 0))
                return rk_error(err, EBADMSG, "%s: empty or longer than %zu bytes", key, max);
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : nomem(err);
}

int proto_decode_list_reply(const char *buf, size_t len, ProtoReply *ret_reply, ProtoList *ret_list, RkError *err) {
        static const char *const keys[] = { "success", "version", "error", "data", NULL };
        static const char *const data_keys[] = { "total", "rockers", NULL };
        static const char *const entry_keys[] = { "guard_pid", "guard_name", "app_id", "uid", "gid", "age_ms",
                                                  "app_pkg_path", "app_exec_dir", "app_data_dir", "cgroup",
                                                  "cgroup_note", "memory_bytes", "cpu_usec", NULL };
        _cleanup_json_ json_t *root = NULL;
        ProtoList list = {};
        json_t *v, *data, *arr, *e;
        size_t i;
        int r;

        root = load(buf, len, err);
        if (!root)
                return -EBADMSG;
        r = check_version(root, err);
        if (r < 0)
                return r;
        v = json_object_get(root, "success");
        if (!v || !json_is_boolean(v))
                return rk_error(err, EBADMSG, "success: missing or not a boolean");
        if (!json_is_true(v))
                return proto_decode_reply(buf, len, ret_reply, err);  /* a plain failure */
        r = check_keys(root, "reply", keys, err);
        if (r < 0)
                return r;
        if (json_object_get(root, "error"))
                return rk_error(err, EBADMSG, "error: not expected in a success reply");
        data = json_object_get(root, "data");
        if (!data || !json_is_object(data))
                return rk_error(err, EBADMSG, "data: missing or not an object");
        r = check_keys(data, "data", data_keys, err);
        if (r < 0)
                return r;
        r = get_int32(data, "total", 0, INT32_MAX, &list.total, err);
        if (r < 0)
                return r;
        arr = json_object_get(data, "rockers");
        if (!arr || !json_is_array(arr))
                return rk_error(err, EBADMSG, "rockers: missing or not an array");
        if (json_array_size(arr) > PROTO_LIST_PAGE)
                return rk_error(err, EBADMSG, "rockers: more than %d entries", PROTO_LIST_PAGE);
        list.entries = calloc(json_array_size(arr) + 1, sizeof *list.entries);
        if (!list.entries)
                return nomem(err);
        json_array_foreach(arr, i, e) {
                ProtoRockerInfo *x = &list.entries[i];
                json_t *name, *age;

                list.n_entries = i + 1;
                if (!json_is_object(e)) {
                        r = rk_error(err, EBADMSG, "rockers[%zu]: expected an object", i);
                        goto fail;
                }
                if ((r = check_keys(e, "rockers[]", entry_keys, err)) < 0 ||
                    (r = get_int32(e, "guard_pid", 1, INT32_MAX, &x->guard_pid, err)) < 0 ||
                    (r = get_int32(e, "app_id", INT32_MIN, INT32_MAX, &x->app_id, err)) < 0 ||
                    (r = get_int32(e, "uid", 0, INT32_MAX, &x->uid, err)) < 0 ||
                    (r = get_int32(e, "gid", 0, INT32_MAX, &x->gid, err)) < 0 ||
                    (r = get_string_copy(e, "app_pkg_path", PROTO_PATH_MAX, true, &x->pkg_path, err)) < 0 ||
                    (r = get_string_copy(e, "app_exec_dir", PROTO_PATH_MAX, true, &x->exec_dir, err)) < 0 ||
                    (r = get_string_copy(e, "app_data_dir", PROTO_PATH_MAX, true, &x->data_dir, err)) < 0)
                        goto fail;
                name = json_object_get(e, "guard_name");
                if (!name || (r = check_string(name, "guard_name", PROTO_NAME_LEN, err)) < 0) {
                        if (!name)
                                r = rk_error(err, EBADMSG, "guard_name: missing");
                        goto fail;
                }
                memcpy(x->guard_name, json_string_value(name), json_string_length(name) + 1);
                age = json_object_get(e, "age_ms");
                if (!age || !json_is_integer(age) || json_integer_value(age) < 0) {
                        r = rk_error(err, EBADMSG, "age_ms: missing or not a non-negative integer");
                        goto fail;
                }
                x->age_ms = json_integer_value(age);
                x->memory_bytes = x->cpu_usec = -1;
                {
                        static const char *const opt_str[] = { "cgroup", "cgroup_note" };
                        static const char *const opt_int[] = { "memory_bytes", "cpu_usec" };
                        char **str_dst[] = { &x->cgroup, &x->cgroup_note };
                        int64_t *int_dst[] = { &x->memory_bytes, &x->cpu_usec };

                        for (size_t k = 0; k < 2; k++) {
                                json_t *o = json_object_get(e, opt_str[k]);

                                if (!o || json_is_null(o))
                                        continue;
                                r = get_string_copy(e, opt_str[k], k == 0 ? PROTO_PATH_MAX : PROTO_ERROR_MAX, false,
                                                    str_dst[k], err);
                                if (r < 0)
                                        goto fail;
                        }
                        for (size_t k = 0; k < 2; k++) {
                                json_t *o = json_object_get(e, opt_int[k]);

                                if (!o)
                                        continue;
                                if (!json_is_integer(o) || json_integer_value(o) < -1) {
                                        r = rk_error(err, EBADMSG, "%s: not an integer from -1", opt_int[k]);
                                        goto fail;
                                }
                                *int_dst[k] = json_integer_value(o);
                        }
                }
        }
        ret_reply->success = 1;
        *ret_list = list;
        return 0;
fail:
        proto_list_done(&list);
        return r;
}
