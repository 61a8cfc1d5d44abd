/*
 * Runs the service state machines for real: it gives each service its
 * hook queue, its timer, the state file and the event record, and feeds
 * it the monitor's health changes.  spofd.c lends it the event base.
 */
#ifndef SPOFD_SUPERVISOR_H
#define SPOFD_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "health.h"

struct event_base;
struct proc_table;
struct history;
struct monitor;
struct service;
struct supervisor;
struct vip_manager;

/*
 * Load the state file of CFG->state_dir (a corrupt one is kept aside and
 * reported) and build one state machine per service.  Nothing acts until
 * supervisor_start.
 */
struct supervisor *supervisor_new(struct event_base *base, struct proc_table *procs,
    const struct config *cfg, struct history *hist);
/* Where health is read from; replaced on reload. */
void supervisor_set_monitor(struct supervisor *sup, const struct monitor *mon);
/*
 * Where this node's VIPs are held (spofd.c owns it; NULL, the default:
 * none ever are).  Set before supervisor_start, which removes VIPs left
 * behind by an earlier run and keeps those of a primary adopted here.
 */
void supervisor_set_vips(struct supervisor *sup, struct vip_manager *vips);
void supervisor_start(struct supervisor *sup);
/* The monitor's change callback, forwarded. */
void supervisor_member_changed(struct supervisor *sup, const struct member_conf *member,
    enum health_state from, const struct health *h);
/* A reload: services kept by name keep their runtime; new ones start electing. */
void supervisor_reconf(struct supervisor *sup, const struct config *cfg);
/* The event loop stalled: no automatic change before UNTIL_US (monotonic). */
void supervisor_hold(struct supervisor *sup, uint64_t until_us);
struct service *supervisor_find(struct supervisor *sup, const char *name);
/* SERVICE's primary (NULL: none); ENFORCE: roles are judged (the service is steady). */
const char *supervisor_primary(void *sup, const char *service, bool *enforce);
/*
 * Add each service's state and each member's role to the monitor's status
 * array, and "vips": [{"address", "dev", "held"}] to each service.
 */
void supervisor_status_json(const struct supervisor *sup, json_t *services);
/* Record an event of the daemon itself (SERVICE may be NULL): log and history. */
void supervisor_event(struct supervisor *sup, const char *service, const char *name,
    const char *detail);
/* A clean stop (SIGTERM): give up what this node holds (its VIPs). */
void supervisor_shutdown(struct supervisor *sup);
void supervisor_free(struct supervisor *sup);

#endif
