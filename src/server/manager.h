/* SPDX-License-Identifier: MIT */
/* rockerd's event loop: the listening socket, client connections, and the
 * life of each rocker from request to the guard's death. */
#ifndef ROCKER_MANAGER_H
#define ROCKER_MANAGER_H

#include "config.h"
#include "kernel.h"

typedef struct Manager Manager;

int manager_new(const ManagerConfig *cfg, const KernelFeatures *kernel, Manager **ret);
Manager *manager_free(Manager *m);
static inline void manager_freep(Manager **m) { manager_free(*m); }

/* Binds (or takes from socket activation) the socket and runs the loop until
 * SIGTERM or SIGINT. Live rockers survive. 0 or -errno. */
int manager_run(Manager *m);

#endif
