#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "log.h"
#include "probe_impl.h"
#include "proc.h"
#include "util.h"

static const char *const result_names[PROBE_RESULT_MAX] = {
	[PROBE_OK] = "ok",
	[PROBE_REFUSED] = "refused",
	[PROBE_TIMEOUT] = "timeout",
	[PROBE_UNREACHABLE] = "unreachable",
	[PROBE_RESET] = "reset",
	[PROBE_CLOSED] = "closed",
	[PROBE_RESOLVE] = "resolve",
	[PROBE_CONNECT_ERROR] = "connect-error",
	[PROBE_HTTP_STATUS] = "http-status",
	[PROBE_HTTP_ERROR] = "http-error",
	[PROBE_BODY_TOO_LARGE] = "body-too-large",
	[PROBE_EXPECT_MISMATCH] = "expect-mismatch",
	[PROBE_TLS_ERROR] = "tls-error",
	[PROBE_EXEC_EXIT] = "exec-exit",
	[PROBE_EXEC_SIGNAL] = "exec-signal",
	[PROBE_EXEC_ERROR] = "exec-error",
	[PROBE_INTERNAL] = "internal",
	[PROBE_AUTH_FAILED] = "auth-failed",
	[PROBE_PG_UNAVAILABLE] = "pg-unavailable",
	[PROBE_PROTOCOL_ERROR] = "protocol-error",
	[PROBE_PG_ERROR] = "pg-error",
	[PROBE_IN_RECOVERY] = "in-recovery",
	[PROBE_SPLIT_BRAIN] = "split-brain-suspect",
};

const char *
probe_result_str(enum probe_result r)
{
	if ((unsigned)r >= PROBE_RESULT_MAX)
		return "?";
	return result_names[r];
}

const char *
probe_outcome_str(const struct probe_outcome *o, char *buf, size_t len)
{
	switch (o->result) {
	case PROBE_HTTP_STATUS:
	case PROBE_EXEC_EXIT:
	case PROBE_EXEC_SIGNAL:
		snprintf(buf, len, "%s %d", probe_result_str(o->result), o->code);
		break;
	default:
		snprintf(buf, len, "%s", probe_result_str(o->result));
		break;
	}
	return buf;
}

/*
 * A lookup outlives a cancelled check (libevent reports the cancel
 * later), so it is its own allocation, freed by its callback; cancel only
 * unhooks the probe.
 */
struct probe_lookup {
	struct probe *p;         /* NULL once cancelled */
	probe_lookup_fn done;
	struct evdns_getaddrinfo_request *req;
	bool in_start;           /* evdns_getaddrinfo has not returned yet */
	bool answered;           /* the callback ran inside it */
};

static void
probe_lookup_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct probe_lookup *lk = arg;
	struct probe *p = lk->p;
	probe_lookup_fn done = lk->done;
	bool sync = lk->in_start;
	char msg[160];

	if (sync)
		lk->answered = true; /* probe_lookup_start frees it */
	else
		free(lk);
	if (p == NULL || result == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	if (result != 0 || res == NULL) {
		snprintf(msg, sizeof(msg), "%s: %s", p->member->host, evutil_gai_strerror(result));
		if (res != NULL)
			evutil_freeaddrinfo(res);
		done(p, NULL, 0, msg, sync);
		return;
	}
	done(p, res->ai_addr, (socklen_t)res->ai_addrlen, NULL, sync);
	evutil_freeaddrinfo(res);
}

struct probe_lookup *
probe_lookup_start(struct probe *p, probe_lookup_fn done)
{
	struct evutil_addrinfo hints;
	struct probe_lookup *lk;
	struct evdns_getaddrinfo_request *req;

	if (p->eng->dns == NULL) {
		p->eng->dns = evdns_base_new(p->eng->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
		if (p->eng->dns == NULL) {
			done(p, NULL, 0, "cannot read the resolver configuration", true);
			return NULL;
		}
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	lk = xcalloc(1, sizeof(*lk));
	lk->p = p;
	lk->done = done;
	lk->in_start = true;
	req = evdns_getaddrinfo(p->eng->dns, p->member->host, p->member->port, &hints,
	    probe_lookup_cb, lk);
	if (lk->answered) {
		free(lk);
		return NULL;
	}
	if (req == NULL) {
		/* Neither answered nor pending: report it rather than wait for nothing. */
		free(lk);
		done(p, NULL, 0, "the lookup could not be started", true);
		return NULL;
	}
	lk->in_start = false;
	lk->req = req;
	return lk;
}

void
probe_lookup_cancel(struct probe_lookup *lk)
{
	if (lk == NULL)
		return;
	lk->p = NULL;
	if (lk->req != NULL)
		evdns_getaddrinfo_cancel(lk->req);
}

enum probe_result
probe_result_from_errno(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return PROBE_REFUSED;
	case ETIMEDOUT:
		return PROBE_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
	case EADDRNOTAVAIL:
		return PROBE_UNREACHABLE;
	case ECONNRESET:
		return PROBE_RESET;
	case EPIPE:
		return PROBE_CLOSED;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return PROBE_INTERNAL;
	default:
		return PROBE_CONNECT_ERROR;
	}
}

struct probe_engine *
probe_engine_new(struct event_base *base, struct proc_table *procs)
{
	struct probe_engine *eng = xcalloc(1, sizeof(*eng));

	eng->base = base;
	eng->procs = procs;
	return eng;
}

/*
 * A check opens a fresh connection every time, but not necessarily a
 * fresh socket: connect() with AF_UNSPEC resets a TCP connection and
 * leaves the socket as socket() made it, ready for another connect()
 * (the next check gets a new port and a new handshake all the same).
 * Sparing socket() and close() -- a file, an inode and a socket made and
 * torn down per check -- is a good part of the kernel's work per check.
 */
static unsigned
probe_sock_family_slot(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

int
probe_sock_get(struct probe_engine *eng, int family)
{
	unsigned slot = probe_sock_family_slot(family);

	if ((family == AF_INET || family == AF_INET6) && eng->n_sock_pool[slot] > 0)
		return eng->sock_pool[slot][--eng->n_sock_pool[slot]];
	return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
}

void
probe_sock_put(struct probe_engine *eng, int fd, int family)
{
	unsigned slot = probe_sock_family_slot(family);
	struct sockaddr unspec;

	memset(&unspec, 0, sizeof(unspec));
	unspec.sa_family = AF_UNSPEC;
	if ((family != AF_INET && family != AF_INET6) || eng->n_sock_pool[slot] >= PROBE_SOCK_POOL_MAX ||
	    connect(fd, &unspec, sizeof(unspec)) < 0) {
		probe_sock_close_reset(fd);
		return;
	}
	eng->sock_pool[slot][eng->n_sock_pool[slot]++] = fd;
}

void
probe_sock_close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void
probe_engine_free(struct probe_engine *eng)
{
	if (eng == NULL)
		return;
	for (unsigned slot = 0; slot < 2; slot++)
		while (eng->n_sock_pool[slot] > 0)
			close(eng->sock_pool[slot][--eng->n_sock_pool[slot]]);
	if (eng->http != NULL)
		probe_http_engine_free(eng->http);
	if (eng->own_procs)
		proc_table_free(eng->procs);
	if (eng->dns != NULL)
		evdns_base_free(eng->dns, 1);
	free(eng);
}

void
probe_engine_stats(const struct probe_engine *eng, struct probe_engine_stats *out)
{
	*out = eng->stats;
}

static void
probe_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	probe_finish(p, p->pending.result, p->pending.code, "%s", p->pending.detail);
}

struct probe *
probe_new(struct probe_engine *eng, const struct service_conf *svc,
    const struct member_conf *member, probe_done_fn done, void *arg)
{
	struct probe *p = xcalloc(1, sizeof(*p));

	p->eng = eng;
	p->svc = svc;
	p->check = &svc->check;
	p->member = member;
	p->done = done;
	p->arg = arg;
	/* p->defer is made by the first probe_finish_later: most probes never need one. */
	return p;
}

void
probe_start(struct probe *p)
{
	if (p->running)
		fatal("probe %s/%s started twice", p->svc->name, p->member->name);
	p->running = true;
	p->start_us = now_mono_us();
	memset(&p->facts, 0, sizeof(p->facts));
	p->eng->stats.started++;
	p->eng->stats.in_flight++;
	switch (p->check->type) {
	case CHECK_TCP:
		probe_tcp_start(p);
		break;
	case CHECK_HTTP:
	case CHECK_HTTPS:
		probe_http_start(p);
		break;
	case CHECK_EXEC:
		probe_exec_start(p);
		break;
	case CHECK_POSTGRES:
		probe_pg_start(p);
		break;
	}
}

bool
probe_running(const struct probe *p)
{
	return p->running;
}

uint64_t
probe_budget_left_us(const struct probe *p)
{
	uint64_t budget = p->check->timeout_ms * 1000u;
	uint64_t spent = now_mono_us() - p->start_us;

	return spent >= budget ? 0 : budget - spent;
}

void
probe_finish(struct probe *p, enum probe_result r, int code, const char *fmt, ...)
{
	struct probe_outcome o;
	va_list ap;

	if (!p->running)
		fatal("probe %s/%s finished while not running", p->svc->name, p->member->name);
	memset(&o, 0, sizeof(o));
	o.result = r;
	o.code = code;
	o.latency_us = now_mono_us() - p->start_us;
	va_start(ap, fmt);
	vsnprintf(o.detail, sizeof(o.detail), fmt, ap);
	va_end(ap);
	o.facts = p->facts;
	p->running = false;
	p->eng->stats.completed++;
	p->eng->stats.in_flight--;
	p->done(p->arg, &o);
}

void
probe_finish_later(struct probe *p, enum probe_result r, int code, const char *detail)
{
	static const struct timeval now = { 0, 0 };

	p->pending.result = r;
	p->pending.code = code;
	snprintf(p->pending.detail, sizeof(p->pending.detail), "%s", detail ? detail : "");
	if (p->defer == NULL) {
		p->defer = evtimer_new(p->eng->base, probe_deferred_cb, p);
		if (p->defer == NULL)
			fatal("evtimer_new failed");
	}
	evtimer_add(p->defer, &now);
}

static void
probe_cancel_type(struct probe *p)
{
	switch (p->check->type) {
	case CHECK_TCP:
		probe_tcp_cancel(p);
		break;
	case CHECK_HTTP:
	case CHECK_HTTPS:
		probe_http_cancel(p);
		break;
	case CHECK_EXEC:
		probe_exec_cancel(p);
		break;
	case CHECK_POSTGRES:
		probe_pg_cancel(p);
		break;
	}
}

void
probe_cancel(struct probe *p)
{
	if (!p->running)
		return;
	/* A verdict may be waiting in defer while the type still holds state. */
	if (p->defer != NULL)
		evtimer_del(p->defer);
	probe_cancel_type(p);
	p->running = false;
	p->eng->stats.in_flight--;
}

void
probe_free(struct probe *p)
{
	if (p == NULL)
		return;
	probe_cancel(p);
	if (p->check->type == CHECK_TCP)
		probe_tcp_free(p);
	else if (p->check->type == CHECK_POSTGRES)
		probe_pg_free(p);
	if (p->defer != NULL)
		event_free(p->defer);
	free(p);
}
