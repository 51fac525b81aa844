/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include "list.h"
#include "macro.h"
#include "reaper.h"

typedef struct Child {
        LIST_FIELDS(struct Child, children);
        Reaper *reaper;
        int pidfd;
        sd_event_source *source;
} Child;

struct Reaper {
        sd_event *event;
        LIST_HEAD(Child, children);
        unsigned n;
};

int reaper_new(sd_event *e, Reaper **ret) {
        Reaper *r = calloc(1, sizeof *r);

        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(e);
        *ret = r;
        return 0;
}

static void child_free(Child *c) {
        Reaper *r = c->reaper;

        LIST_REMOVE(children, r->children, c);
        r->n--;
        sd_event_source_disable_unref(c->source);
        safe_close(c->pidfd);
        free(c);
}

Reaper *reaper_free(Reaper *r) {
        if (!r)
                return NULL;
        while (r->children)
                child_free(r->children);
        sd_event_unref(r->event);
        free(r);
        return NULL;
}

static int on_child_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Child *c = userdata;

        (void) s;
        (void) revents;
        /* readable: it has exited */
        (void) waitid(P_PIDFD, (id_t) fd, &(siginfo_t) {}, WEXITED | WNOHANG);
        child_free(c);
        return 0;
}

int reaper_adopt(Reaper *r, int pidfd) {
        Child *c = calloc(1, sizeof *c);
        int k;

        if (!c) {
                k = -ENOMEM;
                goto unwatched;
        }
        c->reaper = r;
        c->pidfd = pidfd;
        k = sd_event_add_io(r->event, &c->source, pidfd, EPOLLIN, on_child_exit, c);
        if (k < 0) {
                free(c);
                goto unwatched;
        }
        LIST_PREPEND(children, r->children, c);
        r->n++;
        return 0;

unwatched:
        /* Never a child nobody waits for: end it here. */
        (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
        (void) waitid(P_PIDFD, (id_t) pidfd, &(siginfo_t) {}, WEXITED);
        safe_close(pidfd);
        return k;
}

unsigned reaper_count(const Reaper *r) {
        return r->n;
}
