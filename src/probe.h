/*
 * Probes: one check of one member, run without blocking on the daemon's
 * event base.  Every outcome, whatever the check type, is a typed reason
 * handed to one callback; nothing else reports results.
 */
#ifndef SPOFD_PROBE_H
#define SPOFD_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct event_base;
struct evdns_base;

enum probe_result {
	PROBE_OK,
	PROBE_REFUSED,         /* connection refused */
	PROBE_TIMEOUT,         /* budget spent */
	PROBE_UNREACHABLE,     /* no route, host or network unreachable */
	PROBE_RESET,           /* connection reset by peer */
	PROBE_CLOSED,          /* peer closed before the expected reply */
	PROBE_RESOLVE,         /* name did not resolve */
	PROBE_CONNECT_ERROR,   /* other connect error; detail names errno */
	PROBE_HTTP_STATUS,     /* code: the status */
	PROBE_HTTP_ERROR,      /* malformed reply, protocol error */
	PROBE_BODY_TOO_LARGE,  /* reply over the read cap before a verdict */
	PROBE_EXPECT_MISMATCH, /* reply lacks the expected substring */
	PROBE_TLS_ERROR,
	PROBE_EXEC_EXIT,       /* code: exit status, non-zero */
	PROBE_EXEC_SIGNAL,     /* code: signal number */
	PROBE_EXEC_ERROR,      /* could not run the command */
	PROBE_INTERNAL,        /* local failure: no fd, no memory */
	PROBE_AUTH_FAILED,     /* the backend refused our credentials */
	PROBE_PG_UNAVAILABLE,  /* starting up, shutting down, in crash recovery */
	PROBE_PROTOCOL_ERROR,  /* a reply that is not the protocol spoken */
	PROBE_PG_ERROR,        /* the role query failed */
	PROBE_IN_RECOVERY,     /* the service's primary reports itself a standby */
	PROBE_SPLIT_BRAIN,     /* a standby reports itself a primary */
	PROBE_RESULT_MAX
};

/* What a probe learned of the backend's role, beyond alive or not. */
struct probe_facts {
	bool role_known;       /* the backend said what it is */
	bool in_recovery;      /* PostgreSQL: true on a standby */
	bool lsn_known;
	uint64_t lsn;          /* WAL position, bytes: current on a primary, last received/replayed on a standby */
};

struct probe_outcome {
	enum probe_result result;
	int code;              /* status, exit code or signal; else 0 */
	uint64_t latency_us;   /* from the probe's start to its verdict */
	char detail[160];      /* human words, may be empty */
	struct probe_facts facts;
};

/* "ok", "refused", "http-status 503", "exec-exit 2": into buf, returns buf. */
const char *probe_outcome_str(const struct probe_outcome *o, char *buf, size_t len);
/* The bare name of a result: "http-status". */
const char *probe_result_str(enum probe_result r);

/* Shared machinery of all probes of one daemon (one curl multi handle...). */
struct probe_engine;

struct proc_table;
/*
 * PROCS is the daemon's child table (one per event base: it owns SIGCHLD);
 * NULL lets the engine make its own when an exec probe first needs one.
 */
struct probe_engine *probe_engine_new(struct event_base *base, struct proc_table *procs);
void probe_engine_free(struct probe_engine *eng);
/* Counters for status output and benchmarks. */
struct probe_engine_stats {
	uint64_t started;      /* probes started */
	uint64_t completed;    /* verdicts delivered */
	unsigned in_flight;
};
void probe_engine_stats(const struct probe_engine *eng, struct probe_engine_stats *out);

typedef void (*probe_done_fn)(void *arg, const struct probe_outcome *outcome);

struct probe;

/* A probe for one member, reusable: start it again once it reported. */
struct probe *probe_new(struct probe_engine *eng, const struct service_conf *svc,
    const struct member_conf *member, probe_done_fn done, void *arg);
/* Start one check; DONE is called exactly once, never from inside probe_start. */
void probe_start(struct probe *p);
bool probe_running(const struct probe *p);
/* Abandon a running check; DONE is not called. */
void probe_cancel(struct probe *p);
void probe_free(struct probe *p);

#endif
