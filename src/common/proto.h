/* SPDX-License-Identifier: MIT */
/*
 * The wire protocol between librocker_client and rockerd (docs/protocol.md).
 *
 * One JSON object per SOCK_SEQPACKET message, at most PROTO_MSG_MAX bytes, in
 * the cc-proxy envelope: requests {"id":..., "version":1, "data":{...}},
 * responses {"success":bool, "version":1, "error":"...", "data":{...}}.
 * Decoders are strict: a missing, mistyped or unknown field, an overlong
 * string or too many overlay dirs is an error whose text names the field.
 * These functions never print and never touch sockets.
 */
#ifndef ROCKER_PROTO_H
#define ROCKER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PROTO_VERSION 1
#define PROTO_MSG_MAX (64 * 1024)
#define PROTO_PATH_MAX 4095          /* bytes, without the NUL */
#define PROTO_OVERLAY_MAX 16
#define PROTO_NAME_LEN 15            /* a guard name, without the NUL */
#define PROTO_ERROR_MAX 1024         /* error texts, with the NUL */

typedef enum ProtoKind {
        PROTO_ENTER,    /* build a rocker; the reply carries the guard's pidfd */
        PROTO_ACK,      /* the client has joined: the rocker is its now */
        PROTO_LIST,     /* which rockers live? one page from an offset */
        PROTO_SPAWN,    /* build a rocker and start argv in it; stdin/out/err come with it */
        PROTO_SIGNAL,   /* signal a rocker's guard for the peer (a non-root peer: its own only) */
        PROTO_SPAWN_IN, /* start argv in a live rocker; stdin/out/err come with it */
} ProtoKind;

#define PROTO_ARGV_MAX 1024   /* entries of a spawn's argv, and of its envp */

#define PROTO_LIST_PAGE 64  /* entries per list reply: keeps it under PROTO_MSG_MAX */

typedef struct ProtoEnter {
        int32_t app_id;
        int32_t uid;
        int32_t gid;
        char *pkg_path;
        char *exec_dir;
        char *data_dir;
        char *overlay_dirs[PROTO_OVERLAY_MAX];
        size_t n_overlay_dirs;
} ProtoEnter;

typedef struct ProtoRequest {
        ProtoKind kind;
        ProtoEnter enter;       /* kind == PROTO_ENTER or PROTO_SPAWN */
        int32_t offset;         /* kind == PROTO_LIST */
        char **argv;            /* kind == PROTO_SPAWN: NULL-terminated, n_argv >= 1 */
        size_t n_argv;
        char **envp;            /* kind == PROTO_SPAWN: NULL-terminated, each "NAME=value" */
        size_t n_envp;
        int32_t guard_pid;      /* kind == PROTO_SIGNAL or PROTO_SPAWN_IN (which also sets
                                 * enter.uid and enter.gid): the guard and its name */
        char guard_name[PROTO_NAME_LEN + 1];
        int32_t signal;         /* 1 ... 64 */
        int32_t grace_ms;       /* SIGTERM: the stop's grace (queued to the guard), -1: the rocker's own */
} ProtoRequest;

/* One entry of a list reply. Strings are owned by the entry. */
typedef struct ProtoRockerInfo {
        int32_t guard_pid;
        char guard_name[PROTO_NAME_LEN + 1];
        int32_t app_id;
        int32_t uid;
        int32_t gid;
        int64_t age_ms;
        char *pkg_path;
        char *exec_dir;
        char *data_dir;
        /* Resource control (optional on the wire: absent from a rockerd
         * older than it). */
        char *cgroup;           /* its own cgroup, from the hierarchy root; NULL if none */
        char *cgroup_note;      /* why there is no cgroup, or no memory figure; NULL */
        int64_t memory_bytes;   /* memory.current, -1 if unknown */
        int64_t cpu_usec;       /* CPU time of all its processes, -1 if unknown */
} ProtoRockerInfo;

typedef struct ProtoList {
        int32_t total;               /* live rockers in all */
        ProtoRockerInfo *entries;    /* this page */
        size_t n_entries;
} ProtoList;

typedef struct ProtoReply {
        int success;
        char error[PROTO_ERROR_MAX];      /* success == 0 */
        int32_t guard_pid;                /* success != 0 and an enter reply */
        char guard_name[PROTO_NAME_LEN + 1];
        int user_namespaces;              /* the app may create user namespaces (its policy's
                                           * AllowUserNamespaces=); optional on the wire, false */
        int32_t app_pid;                  /* a spawn reply: the app's PID (rockerd's view); 0 if absent */
        int has_wait_status;              /* a spawn's last message: the app has exited, the rocker is gone */
        int32_t wait_status;              /* ...its wait status, as waitpid() gives it */
} ProtoReply;

/* Releases the strings of a decoded request; safe on a zeroed one. */
void proto_request_done(ProtoRequest *req);

/* Encoders: *ret_buf is a NUL-terminated malloc'ed message of *ret_len bytes
 * (NUL excluded). 0, or -ENOMEM / -EMSGSIZE / -EINVAL. */
int proto_encode_enter(const ProtoEnter *enter, char **ret_buf, size_t *ret_len);
int proto_encode_ack(char **ret_buf, size_t *ret_len);
/* A spawn into the live rocker guard_pid/guard_name, as uid/gid. */
int proto_encode_spawn_in(int32_t guard_pid, const char *guard_name, int32_t uid, int32_t gid,
                          const char *const *argv, const char *const *envp, char **ret_buf, size_t *ret_len);
int proto_encode_signal(int32_t guard_pid, const char *guard_name, int32_t signal, int32_t grace_ms, char **ret_buf,
                        size_t *ret_len);
/* A spawn request: the enter fields plus argv and envp (NULL-terminated,
 * argv not empty). -EINVAL for an empty argv, an envp entry without '=',
 * too many entries or strings that are not UTF-8. */
int proto_encode_spawn(const ProtoEnter *enter, const char *const *argv, const char *const *envp, char **ret_buf,
                       size_t *ret_len);
int proto_encode_reply(const ProtoReply *reply, char **ret_buf, size_t *ret_len);
int proto_encode_list(int32_t offset, char **ret_buf, size_t *ret_len);
int proto_encode_list_reply(const ProtoList *list, char **ret_buf, size_t *ret_len);

/* Decoders: buf need not be NUL-terminated. 0 and *ret filled, or -EBADMSG
 * (-EPROTO for a version mismatch, -ENOMEM) with the same code and the
 * failing field in *err, and *ret untouched. */
int proto_decode_request(const char *buf, size_t len, ProtoRequest *ret, RkError *err);
int proto_decode_reply(const char *buf, size_t len, ProtoReply *ret, RkError *err);

/* A reply to a list request: a failure (ret_reply->success == 0, with its
 * error) or a page in *ret_list (release with proto_list_done()). */
int proto_decode_list_reply(const char *buf, size_t len, ProtoReply *ret_reply, ProtoList *ret_list, RkError *err);
void proto_list_done(ProtoList *list);

#endif
