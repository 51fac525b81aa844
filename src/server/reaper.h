/* SPDX-License-Identifier: MIT */
/*
 * Children of rockerd that outlive what started them (a rocker's D-Bus
 * proxy) are reaped here by the event loop, on their pidfds: no zombie is
 * left and the loop never waits for one.
 */
#ifndef ROCKER_REAPER_H
#define ROCKER_REAPER_H

#include <systemd/sd-event.h>

typedef struct Reaper Reaper;

int reaper_new(sd_event *e, Reaper **ret);
/* Stops watching; children still running are reparented when rockerd
 * exits (nothing is waited for). */
Reaper *reaper_free(Reaper *r);

/* Reaps the child of pidfd (taken, closed in every case) when it exits.
 * 0 or -errno: then it was reaped at once if it had exited, else killed
 * and reaped, so that no child is ever left unwatched. */
int reaper_adopt(Reaper *r, int pidfd);

/* How many children it waits for. */
unsigned reaper_count(const Reaper *r);

#endif
