#include "autoconf.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>

#include "log.h"
#include "probe_impl.h"
#include "util.h"

/*
 * TCP check: connect within the budget.  Without tcp_send/tcp_expect the
 * connection is reset as soon as it is established (SO_LINGER 0), as
 * HAProxy does: the backend's kernel completes the handshake, the backend
 * process never has to accept, and we leave no TIME_WAIT behind.  The
 * cost is that a backend whose process hangs but whose kernel still
 * answers SYNs looks healthy; tcp_expect (or http) is the check for that.
 */

#define TCP_READ_MAX 65536 /* bytes read while looking for tcp_expect */

enum tcp_phase { TCP_IDLE, TCP_RESOLVING, TCP_CONNECTING, TCP_SENDING, TCP_READING };

/*
 * The state of one check, allocated when it starts and freed with its
 * verdict: between checks a member costs nothing here (with 10000
 * members, most are between checks at any time).
 */
struct tcp_state {
	struct sockaddr_storage addr;   /* resolved address */
	socklen_t addrlen;              /* 0: not resolved yet */
	enum tcp_phase phase;
	evutil_socket_t fd;
	struct event ev;                /* the one event of a check */
	bool ev_set;                    /* ev assigned (maybe pending) */
	bool established;               /* connected within connect() itself */
	struct probe_lookup *lookup;    /* name lookup in flight */
	size_t sent;                    /* bytes of tcp_send written */
	char *buf;                      /* reply so far (only with tcp_expect) */
	size_t buflen;
};


static void tcp_connect(struct probe *p);

/* A numeric address (no lookup) into T; false for a name. */
static bool
tcp_numeric(const struct member_conf *m, struct tcp_state *t)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
	struct addrinfo hints, *res = NULL;
	unsigned long port;
	char *end;

	/* IPv4, the common case, without getaddrinfo's allocations. */
	port = strtoul(m->port, &end, 10);
	if (*m->port != '\0' && *end == '\0' && port <= 65535 &&
	    inet_pton(AF_INET, m->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		t->addrlen = sizeof(*sin);
		return true;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(m->host, m->port, &hints, &res) != 0)
		return false;
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

enum tcp_end {
	TCP_END_CLOSE,  /* close(): a FIN after what was sent */
	TCP_END_RESET,  /* close() with SO_LINGER 0: a reset, no TIME_WAIT */
	TCP_END_REUSE,  /* a reset, and the socket kept for another check */
};

/* End the check's connection as HOW says, drop its event and free its state. */
static void
tcp_end(struct probe *p, enum tcp_end how)
{
	struct tcp_state *t = p->impl;

	if (t == NULL)
		return;
	if (t->ev_set) {
		event_del(&t->ev);
		t->ev_set = false;
	}
	if (t->fd >= 0) {
		if (how == TCP_END_REUSE)
			probe_sock_put(p->eng, t->fd, t->addr.ss_family);
		else if (how == TCP_END_RESET)
			probe_sock_close_reset(t->fd);
		else
			close(t->fd);
		t->fd = -1;
	}
	free(t->buf);
	free(t);
	p->impl = NULL;
}

/* Close the check's socket and event (RST when asked) and free its state. */
static void
tcp_close(struct probe *p, bool reset)
{
	tcp_end(p, reset ? TCP_END_RESET : TCP_END_CLOSE);
}

static void
tcp_finish_errno(struct probe *p, int err, const char *what)
{
	tcp_close(p, true);
	probe_finish(p, probe_result_from_errno(err), 0, "%s: %s", what, strerror(err));
}

static void
tcp_wait(struct probe *p, short what, event_callback_fn cb)
{
	struct tcp_state *t = p->impl;
	struct timeval tv = us_to_tv(probe_budget_left_us(p));

	if (t->ev_set)
		event_del(&t->ev);
	event_assign(&t->ev, p->eng->base, t->fd, what, cb, p);
	t->ev_set = true;
	event_add(&t->ev, &tv);
}

static const char *
tcp_phase_str(enum tcp_phase ph)
{
	switch (ph) {
	case TCP_RESOLVING:
		return "resolving";
	case TCP_CONNECTING:
		return "connecting";
	case TCP_SENDING:
		return "sending";
	case TCP_READING:
		return "waiting for the expected reply";
	default:
		return "idle";
	}
}

static void
tcp_timeout(struct probe *p)
{
	struct tcp_state *t = p->impl;
	enum tcp_phase ph = t->phase;

	tcp_close(p, true);
	probe_finish(p, PROBE_TIMEOUT, 0, "no answer within %llu ms while %s",
	    (unsigned long long)p->check->timeout_ms, tcp_phase_str(ph));
}

static void tcp_send_cb(evutil_socket_t fd, short what, void *arg);

static void
tcp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct tcp_state *t = p->impl;
	const struct check_conf *c = p->check;
	char chunk[4096];
	ssize_t n;

	if (what & EV_TIMEOUT) {
		tcp_timeout(p);
		return;
	}
	for (;;) {
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			tcp_finish_errno(p, errno, "reading reply");
			return;
		}
		if (n == 0) {
			tcp_close(p, false);
			probe_finish(p, PROBE_CLOSED, 0, "connection closed before \"%.40s\" arrived",
			    c->tcp_expect);
			return;
		}
		size_t keep = (size_t)n;
		if (t->buflen + keep > TCP_READ_MAX)
			keep = TCP_READ_MAX - t->buflen;
		t->buf = xrealloc(t->buf, t->buflen + keep);
		memcpy(t->buf + t->buflen, chunk, keep);
		t->buflen += keep;
		if (memmem(t->buf, t->buflen, c->tcp_expect, c->tcp_expect_len) != NULL) {
			tcp_close(p, false);
			probe_finish(p, PROBE_OK, 0, "expected reply received");
			return;
		}
		if (t->buflen >= TCP_READ_MAX) {
			tcp_close(p, true);
			probe_finish(p, PROBE_EXPECT_MISMATCH, 0,
			    "no \"%.40s\" in the first %d bytes", c->tcp_expect, TCP_READ_MAX);
			return;
		}
	}
	tcp_wait(p, EV_READ, tcp_read_cb);
}

/* Connected: reset at once, or go on to send/expect. */
static void
tcp_connected(struct probe *p)
{
	struct tcp_state *t = p->impl;
	const struct check_conf *c = p->check;

	if (c->tcp_send_len > 0) {
		t->phase = TCP_SENDING;
		t->sent = 0;
		tcp_send_cb(t->fd, EV_WRITE, p);
		return;
	}
	if (c->tcp_expect_len > 0) {
		t->phase = TCP_READING;
		tcp_wait(p, EV_READ, tcp_read_cb);
		return;
	}
	tcp_end(p, TCP_END_REUSE);
	probe_finish(p, PROBE_OK, 0, "connected");
}

static void
tcp_send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct tcp_state *t = p->impl;
	const struct check_conf *c = p->check;

	if (what & EV_TIMEOUT) {
		tcp_timeout(p);
		return;
	}
	while (t->sent < c->tcp_send_len) {
		ssize_t n = send(fd, c->tcp_send + t->sent, c->tcp_send_len - t->sent, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				tcp_wait(p, EV_WRITE, tcp_send_cb);
				return;
			}
			tcp_finish_errno(p, errno, "sending");
			return;
		}
		t->sent += (size_t)n;
	}
	if (c->tcp_expect_len > 0) {
		t->phase = TCP_READING;
		tcp_wait(p, EV_READ, tcp_read_cb);
		return;
	}
	tcp_close(p, false);
	probe_finish(p, PROBE_OK, 0, "sent");
}

static void
tcp_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (what & EV_TIMEOUT) {
		tcp_timeout(p);
		return;
	}
	if (((struct tcp_state *)p->impl)->established) {
		tcp_connected(p);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		tcp_finish_errno(p, err, "connect");
		return;
	}
	tcp_connected(p);
}

static bool
tcp_established(evutil_socket_t fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_ESTABLISHED;
}

static void
tcp_connect(struct probe *p)
{
	struct tcp_state *t = p->impl;
	int fd;

	fd = probe_sock_get(p->eng, t->addr.ss_family);
	if (fd < 0) {
		int err = errno;

		tcp_close(p, false);
		probe_finish_later(p, PROBE_INTERNAL, 0, strerror(err));
		return;
	}
	t->fd = fd;
	t->phase = TCP_CONNECTING;
	if (p->check->tcp_send_len == 0 && p->check->tcp_expect_len == 0) {
		/*
		 * A plain connect check ends with a reset as soon as the
		 * SYN-ACK is in.  Out of quick-ack mode the kernel holds back
		 * the handshake's last ACK (there may be data to piggyback it
		 * on), so the reset goes out instead: the backend's kernel never
		 * makes a connection of it, never queues it for accept() nor
		 * wakes the backend.  A backend that cannot take connections
		 * (no listener, a full queue) still fails: no SYN-ACK comes.
		 */
		int off = 0;

		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof(off));
	}
	if (connect(fd, (struct sockaddr *)&t->addr, t->addrlen) == 0 ||
	    errno == EINPROGRESS || errno == EINTR) {
		if (tcp_established(fd)) {
			/*
			 * On loopback (or any path as fast) the handshake is over
			 * by the time connect() returns.  The verdict needs no
			 * trip through epoll then, only a turn of the loop (DONE
			 * is never called from inside probe_start): the event is
			 * made active without being added.
			 */
			event_assign(&t->ev, p->eng->base, fd, EV_WRITE, tcp_connect_cb, p);
			t->ev_set = true;
			t->established = true;
			event_active(&t->ev, EV_WRITE, 1);
			return;
		}
		tcp_wait(p, EV_WRITE, tcp_connect_cb);
		return;
	}
	int err = errno;
	char detail[128];

	tcp_close(p, false);
	snprintf(detail, sizeof(detail), "connect: %s", strerror(err));
	probe_finish_later(p, probe_result_from_errno(err), 0, detail);
}

static void
tcp_resolved(struct probe *p, const struct sockaddr *sa, socklen_t len, const char *err, bool sync)
{
	struct tcp_state *t = p->impl;

	t->lookup = NULL;
	if (sa == NULL) {
		tcp_close(p, false);
		if (sync)
			probe_finish_later(p, PROBE_RESOLVE, 0, err);
		else
			probe_finish(p, PROBE_RESOLVE, 0, "%s", err);
		return;
	}
	memcpy(&t->addr, sa, len);
	t->addrlen = len;
	if (t->ev_set) {
		event_del(&t->ev);
		t->ev_set = false;
	}
	tcp_connect(p);
}

/* The lookup took the whole budget. */
static void
tcp_resolve_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	probe_tcp_cancel(p);
	probe_finish(p, PROBE_TIMEOUT, 0, "no answer within %llu ms while resolving %s",
	    (unsigned long long)p->check->timeout_ms, p->member->host);
}

void
probe_tcp_start(struct probe *p)
{
	struct tcp_state *t = xcalloc(1, sizeof(*t));
	struct probe_lookup *lk;

	t->fd = -1;
	p->impl = t;
	if (tcp_numeric(p->member, t)) {
		tcp_connect(p);
		return;
	}
	t->phase = TCP_RESOLVING;
	t->fd = -1;
	tcp_wait(p, EV_TIMEOUT, tcp_resolve_timeout_cb);
	/* The answer may come (and end the check, freeing t) before this returns. */
	lk = probe_lookup_start(p, tcp_resolved);
	if (lk != NULL)
		((struct tcp_state *)p->impl)->lookup = lk;
}

void
probe_tcp_cancel(struct probe *p)
{
	struct tcp_state *t = p->impl;

	if (t == NULL)
		return;
	probe_lookup_cancel(t->lookup);
	t->lookup = NULL;
	tcp_close(p, true);
}

void
probe_tcp_free(struct probe *p)
{
	probe_tcp_cancel(p);
}
