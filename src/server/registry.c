/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "registry.h"
#include "util.h"

void registry_add(Registry *reg, Rocker *r) {
        LIST_PREPEND(rockers, reg->rockers, r);
        reg->n++;
}

void registry_remove(Registry *reg, Rocker *r) {
        LIST_REMOVE(rockers, reg->rockers, r);
        reg->n--;
}

Rocker *registry_find_name(const Registry *reg, const char *name) {
        LIST_FOREACH(rockers, r, reg->rockers)
                if (strcmp(r->name, name) == 0)
                        return r;
        return NULL;
}

Rocker *registry_find_data_dir(const Registry *reg, const char *data_dir) {
        /* Nested counts: a data dir inside a live one's would put an upper
         * layer inside another live overlay's layers. */
        LIST_FOREACH(rockers, r, reg->rockers)
                if (!(r->mounts_gone && r->n_overlays_alive == 0) &&
                    (path_contains(r->plan.data_dir, data_dir) || path_contains(data_dir, r->plan.data_dir)))
                        return r;
        return NULL;
}

Rocker *registry_find_data_dir_holding(const Registry *reg, const char *path) {
        LIST_FOREACH(rockers, r, reg->rockers)
                if (!(r->mounts_gone && r->n_overlays_alive == 0) && path_contains(r->plan.data_dir, path))
                        return r;
        return NULL;
}

int registry_new_name(const Registry *reg, char name[16]) {
        /* 36^12 names: a collision is already unlikely; retrying makes the
         * uniqueness among live guards a guarantee. */
        for (int i = 0; i < 64; i++) {
                int r = guard_name_generate(name);
                if (r < 0)
                        return r;
                if (!registry_find_name(reg, name))
                        return 0;
        }
        return -EEXIST;
}
