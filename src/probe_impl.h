/*
 * What probe.c shares with the per-type files (probe_tcp.c, probe_http.c,
 * probe_exec.c).  Nothing outside the probe files includes this.
 */
#ifndef SPOFD_PROBE_IMPL_H
#define SPOFD_PROBE_IMPL_H

#include <sys/socket.h>

#include "probe.h"

struct proc_table;
struct probe_http_engine;

#define PROBE_SOCK_POOL_MAX 64 /* idle TCP sockets kept per address family */

struct probe_engine {
	struct event_base *base;
	struct evdns_base *dns;          /* lazily created for names */
	struct probe_http_engine *http;  /* lazily created */
	struct proc_table *procs;        /* children of exec probes */
	bool own_procs;                  /* procs made here, freed here */
	struct probe_engine_stats stats;
	/* Disconnected TCP sockets, for the next check: see probe_sock_get. */
	int sock_pool[2][PROBE_SOCK_POOL_MAX]; /* [0] IPv4, [1] IPv6 */
	unsigned n_sock_pool[2];
};

struct probe {
	struct probe_engine *eng;
	const struct service_conf *svc;
	const struct check_conf *check;
	const struct member_conf *member;
	probe_done_fn done;
	void *arg;
	bool running;
	uint64_t start_us;   /* monotonic start of the running check */
	void *impl;          /* per-type state, owned by the type's file */
	struct event *defer; /* reports a verdict outside probe_start */
	struct probe_outcome pending;
	struct probe_facts facts; /* what the type learned; handed on by probe_finish */
};

/* Deliver the verdict (once); latency is measured here. */
void probe_finish(struct probe *p, enum probe_result r, int code, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Deliver the verdict from a later loop turn (used when failing inside start). */
void probe_finish_later(struct probe *p, enum probe_result r, int code, const char *detail);
/* Microseconds left of the probe's budget (0 when spent). */
uint64_t probe_budget_left_us(const struct probe *p);
/*
 * A non-blocking TCP socket of FAMILY for a check: one a finished check
 * gave back, else a new one; -1 (errno set) when none can be had.
 */
int probe_sock_get(struct probe_engine *eng, int family);
/*
 * A check is done with FD, connected to its member: the connection is
 * reset and the socket kept for another check, or closed (with a reset)
 * when the pool is full or the disconnect fails.
 */
void probe_sock_put(struct probe_engine *eng, int fd, int family);
/* Close FD with a reset (SO_LINGER 0): no FIN, no TIME_WAIT. */
void probe_sock_close_reset(int fd);
/*
 * A name lookup of the member's host and port on the engine's resolver,
 * never blocking.  DONE gets the first address (a check tests what clients
 * would reach first) or, with SA NULL, a message; SYNC says it runs inside
 * probe_lookup_start (then finish with probe_finish_later).  Returns the
 * lookup to cancel, or NULL when DONE has already run.
 */
struct probe_lookup;
typedef void (*probe_lookup_fn)(struct probe *p, const struct sockaddr *sa, socklen_t len,
    const char *err, bool sync);
struct probe_lookup *probe_lookup_start(struct probe *p, probe_lookup_fn done);
/* DONE is not called after this. */
void probe_lookup_cancel(struct probe_lookup *lk);

/* Map a connect/socket errno to a result. */
enum probe_result probe_result_from_errno(int err);

/*
 * Per-type entry points.  start must end in exactly one probe_finish or
 * probe_finish_later; cancel must free the check's state and be a no-op
 * when nothing of that type is in flight.
 */
void probe_tcp_start(struct probe *p);
void probe_tcp_cancel(struct probe *p);
/* tcp keeps its resolved address between checks: freed here. */
void probe_tcp_free(struct probe *p);
void probe_http_start(struct probe *p);
void probe_http_cancel(struct probe *p);
struct probe_http_engine *probe_http_engine_new(struct event_base *base);
void probe_http_engine_free(struct probe_http_engine *h);
void probe_exec_start(struct probe *p);
void probe_exec_cancel(struct probe *p);
void probe_pg_start(struct probe *p);
void probe_pg_cancel(struct probe *p);
/* pg keeps a little state between checks: freed here. */
void probe_pg_free(struct probe *p);

#endif
