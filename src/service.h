/*
 * The acting half: one explicit state machine per service that keeps
 * exactly one primary.  It is fed member health changes, timer ticks,
 * hook results and admin commands, and acts only through the ops it is
 * given (persist, run a hook, record an event, arm a timer), so the unit
 * tests drive it with a fake clock and synthetic hooks.  On one node the
 * cluster decision is trivial (quorum 1, majority 1); the cluster code
 * plugs in where a failover is decided, not where it is executed.
 */
#ifndef SPOFD_SERVICE_H
#define SPOFD_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "health.h"
#include "hook.h"

enum service_state {
	SVC_ELECTING,      /* no primary yet: waiting for first verdicts */
	SVC_OK,            /* the primary is up */
	SVC_PRIMARY_DOWN,  /* primary down, failover held (cooldown, stalled loop) */
	SVC_FAILING_OVER,  /* a role change is running its hooks */
	SVC_NO_CANDIDATE,  /* primary down and no standby fit to promote */
	SVC_FAILED,        /* a role change failed; retried after promote_backoff */
	SVC_MAINTENANCE,   /* admin said hands off: observe only */
	SVC_STATE_MAX
};

/* Where the state machine reaches the world. */
struct service_ops {
	uint64_t (*now)(void *arg);        /* monotonic, microseconds */
	uint64_t (*wall)(void *arg);       /* wall clock, microseconds, display only */
	/* This node's current view of a member (NULL: unknown member). */
	const struct health *(*health)(void *arg, const char *service, const char *member);
	/* Persist (epoch, primary) of SERVICE; false: the change must not happen. */
	bool (*persist)(void *arg, const char *service, uint64_t epoch, const char *primary);
	/*
	 * This node takes or gives up what goes with MEMBER being primary here
	 * (the VIPs) before on_promote runs / before on_demote runs.  acquire
	 * false (message in ERR): the promotion fails like a failed on_promote.
	 * Either may be NULL.
	 */
	bool (*acquire)(void *arg, const char *service, const char *member, char *err, size_t errlen);
	void (*release)(void *arg, const char *service, const char *member);
	/* Run a hook; the result comes back through service_hook_done(). */
	void (*run_hook)(void *arg, const char *service, const struct hook_job *job);
	/* A stable event name ("+promoted") and its detail, for log and history. */
	void (*event)(void *arg, const char *service, const char *name, const char *detail);
	/* Call service_tick() for SERVICE at monotonic time AT_US (earliest wins). */
	void (*arm)(void *arg, const char *service, uint64_t at_us);
	void *arg;
};

struct service;

/*
 * Runtime of SVC.  EPOCH and PRIMARY come from the state file (0 and NULL
 * when none); a persisted primary that is still a member is adopted as is
 * (a restart never reverses a failover, and runs no hook).
 */
struct service *service_new(const struct service_conf *svc, const char *node,
    uint64_t epoch, const char *primary, const struct service_ops *ops);
/* After a reload: new conf of the same service; the runtime (epoch, primary, state) stays. */
void service_reconf(struct service *s, const struct service_conf *svc, const char *node);
void service_free(struct service *s);

const char *service_name(const struct service *s);

/*
 * Evaluate: the time asked for with ops->arm has come, or a member's
 * health changed (health is read through ops->health).  Idempotent.
 */
void service_tick(struct service *s);
/* A hook pushed through ops->run_hook has finished. */
void service_hook_done(struct service *s, enum hook_kind kind, const struct hook_result *r);
/* The event loop stalled: observe but do not fail over until UNTIL_US. */
void service_hold(struct service *s, uint64_t until_us);

/*
 * Admin: graceful switchover to TO (NULL: the best standby).  FORCE
 * accepts a standby beyond max_lag_bytes.  False with a message.
 */
bool service_switchover(struct service *s, const char *to, bool force, char *msg, size_t msglen);
/* Admin: maintenance on/off.  False with a message when nothing changes. */
bool service_maintenance(struct service *s, bool on, char *msg, size_t msglen);

enum service_state service_state(const struct service *s);
uint64_t service_epoch(const struct service *s);
const char *service_primary(const struct service *s); /* NULL: none */
const char *service_state_str(enum service_state st);

/*
 * Add "state", "state_since", "state_reason", "epoch", "primary",
 * "maintenance" to the service object O, and "role" to each of its
 * members ("primary" or "standby").
 */
void service_status_json(const struct service *s, json_t *o);

#endif
