/*
 * The monitoring half: for every member of every service, a timer, a
 * probe and a health record.  It owns no event base (spofd.c lends one)
 * and tells its owner of every change of a member's health.
 */
#ifndef SPOFD_MONITOR_H
#define SPOFD_MONITOR_H

#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "health.h"

struct event_base;
struct probe_engine;
struct monitor;

typedef void (*monitor_change_fn)(void *arg, const struct member_conf *member,
    enum health_state from, const struct health *now);

/*
 * Build the runtime for CFG.  When OLD is given (a reload), every member
 * whose conf and check conf are unchanged keeps its health record.
 * Nothing is probed until monitor_start.
 */
struct monitor *monitor_new(struct event_base *base, struct probe_engine *eng,
    const struct config *cfg, const struct monitor *old,
    monitor_change_fn on_change, void *arg);
/* Arm the timers; first probes spread over one interval. */
void monitor_start(struct monitor *m);
/* Cancel every timer and running probe. */
void monitor_stop(struct monitor *m);
void monitor_free(struct monitor *m);

const struct health *monitor_health(const struct monitor *m, const char *service, const char *member);

/*
 * For backends that report their role (PostgreSQL): FN says which member
 * is SERVICE's primary (NULL: none) and whether roles are enforced now
 * (not while a role change runs).  Enforced, the primary reporting itself
 * a standby is judged in-recovery (a failure), and a standby reporting
 * itself a primary split-brain-suspect (a failure, never accepted).
 */
typedef const char *(*monitor_role_fn)(void *arg, const char *service, bool *enforce);
void monitor_set_role_fn(struct monitor *m, monitor_role_fn fn, void *arg);

/* Schedule accounting, for status and benchmarks. */
struct monitor_stats {
	uint64_t probes;          /* verdicts handled */
	uint64_t late_p50_us;     /* how late timers fired against schedule */
	uint64_t late_p99_us;
	uint64_t late_max_us;
};
void monitor_stats(const struct monitor *m, struct monitor_stats *out);

/*
 * A JSON array with one object per service ({"name", "check", "members":
 * [{"name", "address", "node", "priority", "health", "reason", "detail",
 * "latency_us", "since", "checks"}]}), or only SERVICE when not NULL; NULL
 * when SERVICE is not known.  New reference.
 */
json_t *monitor_status_json(const struct monitor *m, const char *service);

#endif
