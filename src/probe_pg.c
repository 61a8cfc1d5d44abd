#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <libpq-fe.h>

#include "log.h"
#include "probe_impl.h"
#include "util.h"

/*
 * PostgreSQL check, in one of two modes.
 *
 * Without pg_query, the probe speaks the first step of the protocol
 * itself: a StartupMessage, then one reply.  An authentication request
 * ('R') means the postmaster accepted the connection and forked a backend
 * that is ready to log someone in: the server is up.  An ErrorResponse
 * ('E') carries a SQLSTATE that says why not (see pg_error_verdict).  It
 * needs no credentials, and after an authentication request it closes
 * without answering, which the server takes as a client that gave up:
 * nothing is logged there, as with pg_isready.
 *
 * With pg_query = yes, the probe logs in through libpq's asynchronous
 * calls (PQconnectStartParams, PQconnectPoll, PQsendQuery, PQconsumeInput)
 * driven by the event loop, and asks one question: is the server in
 * recovery, and how far is its WAL.  libpq is never let to block: the
 * address is resolved here and handed over as hostaddr (libpq would
 * resolve a name with a blocking getaddrinfo), GSSAPI encryption is off
 * unless pg_conninfo asks for it (finding credentials may block), the
 * budget is a timer of ours (connect_timeout would only count whole
 * seconds per step), and PQgetResult is only called once PQisBusy says
 * it will not wait.
 *
 * libpq tells why a login failed only in words (there is no SQLSTATE for
 * a connection that never got a result), so pg_login_verdict() sorts
 * libpq's and the server's English messages.  A server whose lc_messages
 * translates them still reads as down, with the reason connect-error.
 */

#define PG_PROTOCOL_3_0 196608 /* (3 << 16) | 0 */
#define PG_HEADER_LEN 5        /* type byte and int32 length */
#define PG_MSG_LEN_MIN 4       /* a message's length counts itself */
#define PG_MSG_LEN_MAX 65536   /* bytes; a first reply is a few hundred at most */
#define PG_APPLICATION_NAME "spofd"
#define PG_PARAMS_MAX 48       /* libpq keywords of one login, ours and pg_conninfo's */

/* One statement: the role, and the WAL position that ranks candidates. */
static const char pg_role_query[] =
    "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() "
    "THEN pg_wal_lsn_diff(GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), '0/0') "
    "ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END";

enum pg_phase {
	PG_IDLE,
	PG_RESOLVING,
	PG_CONNECTING,  /* wire: TCP connect */
	PG_SENDING,     /* wire: the StartupMessage */
	PG_READING,     /* wire: the first reply */
	PG_LOGIN,       /* libpq: PQconnectPoll until CONNECTION_OK */
	PG_QUERY,       /* libpq: the role query */
};


struct pg_state {
	enum pg_phase phase;
	bool in_start;                  /* inside probe_pg_start: verdicts must wait a turn */
	struct event budget;            /* the probe's whole budget */
	bool budget_set;
	struct event ev;                /* the socket's one event */
	bool ev_set;
	struct probe_lookup *lookup;
	bool dns_sync;                  /* lookup answered inside the call */
	struct sockaddr_storage addr;   /* the member's address, resolved */
	socklen_t addrlen;
	/* wire */
	evutil_socket_t fd;
	unsigned char *out;             /* the StartupMessage */
	size_t outlen, sent;
	unsigned char head[PG_HEADER_LEN];
	size_t headlen;
	unsigned char *body;            /* the reply's body as it arrives */
	size_t bodylen, bodywant;
	/* libpq */
	PGconn *conn;
	PostgresPollingStatusType poll; /* what PQconnectPoll last asked for */
	bool flushing;                  /* the query is not all sent yet */
};

static void pg_go(struct probe *p);

static struct pg_state *
pg_state(struct probe *p)
{
	struct pg_state *t = p->impl;

	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->fd = -1;
		p->impl = t;
	}
	return t;
}

/* Drop everything a check holds; the state itself stays for the next one. */
static void
pg_close(struct pg_state *t)
{
	if (t->ev_set) {
		event_del(&t->ev);
		t->ev_set = false;
	}
	if (t->budget_set) {
		event_del(&t->budget);
		t->budget_set = false;
	}
	probe_lookup_cancel(t->lookup);
	t->lookup = NULL;
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	if (t->conn != NULL) {
		/* Sends Terminate without waiting: the connection is non-blocking. */
		PQfinish(t->conn);
		t->conn = NULL;
	}
	free(t->out);
	t->out = NULL;
	free(t->body);
	t->body = NULL;
	t->outlen = t->sent = t->headlen = t->bodylen = t->bodywant = 0;
	t->flushing = false;
	t->phase = PG_IDLE;
}

static void pg_end(struct probe *, enum probe_result, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Close and deliver the verdict, from a later turn when still inside start. */
static void
pg_end(struct probe *p, enum probe_result r, const char *fmt, ...)
{
	struct pg_state *t = p->impl;
	char detail[sizeof(p->pending.detail)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	pg_close(t);
	if (t->in_start || t->dns_sync)
		probe_finish_later(p, r, 0, detail);
	else
		probe_finish(p, r, 0, "%s", detail);
}

static void
pg_end_errno(struct probe *p, int err, const char *what)
{
	pg_end(p, probe_result_from_errno(err), "%s: %s", what, strerror(err));
}

/* Server words into DST: printable bytes kept, runs of white space made one space. */
static void
pg_clean_text(char *dst, size_t len, const char *src, size_t srclen)
{
	size_t n = 0;
	bool space = false;

	for (size_t i = 0; i < srclen && src[i] != '\0' && n + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (isspace(c)) {
			space = n > 0;
			continue;
		}
		if (space && n + 2 < len)
			dst[n++] = ' ';
		space = false;
		dst[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[n] = '\0';
}

static void
pg_wait(struct probe *p, evutil_socket_t fd, short what, event_callback_fn cb)
{
	struct pg_state *t = p->impl;

	if (t->ev_set)
		event_del(&t->ev);
	event_assign(&t->ev, p->eng->base, fd, what, cb, p);
	t->ev_set = true;
	event_add(&t->ev, NULL);
}

static const char *
pg_phase_str(const struct pg_state *t)
{
	switch (t->phase) {
	case PG_RESOLVING:
		return "resolving";
	case PG_CONNECTING:
		return "connecting";
	case PG_SENDING:
		return "sending the startup message";
	case PG_READING:
		return "waiting for the server's first reply";
	case PG_LOGIN:
		if (t->conn == NULL)
			return "logging in";
		switch (PQstatus(t->conn)) {
		case CONNECTION_STARTED:
			return "connecting";
		case CONNECTION_SSL_STARTUP:
			return "negotiating SSL";
		case CONNECTION_AUTH_OK:
		case CONNECTION_SETENV:
		case CONNECTION_CHECK_WRITABLE:
		case CONNECTION_CONSUME:
			return "waiting for the backend to start";
		default:
			return "logging in";
		}
	case PG_QUERY:
		return "waiting for the role query";
	case PG_IDLE:
		break;
	}
	return "idle";
}

static void
pg_budget_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct pg_state *t = p->impl;

	t->budget_set = false;
	pg_end(p, PROBE_TIMEOUT, "no answer within %llu ms while %s",
	    (unsigned long long)p->check->timeout_ms, pg_phase_str(t));
}

/* ---- the protocol, spoken by hand ---- */

static void
pg_put32(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
}

static uint32_t
pg_get32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* StartupMessage: length, protocol 3.0, NUL-terminated name/value pairs, a final NUL. */
static void
pg_build_startup(struct probe *p)
{
	struct pg_state *t = p->impl;
	const char *pairs[] = {
		"user", p->check->pg_user,
		"database", p->check->pg_database,
		"application_name", PG_APPLICATION_NAME,
	};
	size_t len = 8 + 1, off = 8;

	for (size_t i = 0; i < ARRAY_LEN(pairs); i++)
		len += strlen(pairs[i]) + 1;
	t->out = xmalloc(len);
	pg_put32(t->out, (uint32_t)len);
	pg_put32(t->out + 4, PG_PROTOCOL_3_0);
	for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
		size_t n = strlen(pairs[i]) + 1;

		memcpy(t->out + off, pairs[i], n);
		off += n;
	}
	t->out[off] = '\0';
	t->outlen = len;
	t->sent = 0;
}

static const char *
pg_auth_name(uint32_t code)
{
	switch (code) {
	case 0:
		return "no password (trust)";
	case 2:
		return "Kerberos V5";
	case 3:
		return "a clear-text password";
	case 5:
		return "an MD5 password";
	case 7:
		return "GSSAPI";
	case 9:
		return "SSPI";
	case 10:
		return "SASL (SCRAM)";
	default:
		return "an unknown method";
	}
}

/*
 * What an ErrorResponse to a StartupMessage says of the server.  A
 * backend answered, so the postmaster is up; the SQLSTATE class tells
 * whether it refuses everyone or only us:
 *   57P01-57P03 (shutting down, starting up, in recovery and not
 *   accepting), 53 (too many connections, out of memory or disk),
 *   58 (system error), XX (internal error): pg-unavailable.
 *   Anything else (28: our user or pg_hba.conf, 3D: no such database,
 *   08: protocol, 0A...): up, with the server's words as detail.  Those
 *   are about the probe's own request; the server serves others.
 */
static enum probe_result
pg_error_verdict(const char *sqlstate)
{
	static const char *const unavailable[] = { "57P01", "57P02", "57P03" };

	for (size_t i = 0; i < ARRAY_LEN(unavailable); i++) {
		if (strcmp(sqlstate, unavailable[i]) == 0)
			return PROBE_PG_UNAVAILABLE;
	}
	if (strncmp(sqlstate, "53", 2) == 0 || strncmp(sqlstate, "58", 2) == 0 ||
	    strncmp(sqlstate, "XX", 2) == 0)
		return PROBE_PG_UNAVAILABLE;
	return PROBE_OK;
}

/* Fields of an ErrorResponse body: a type byte and a C string each, a NUL at the end. */
static bool
pg_parse_error(const unsigned char *b, size_t len, char *sqlstate, size_t slen, char *msg,
    size_t mlen, char *severity, size_t svlen)
{
	size_t i = 0;

	sqlstate[0] = msg[0] = severity[0] = '\0';
	while (i < len && b[i] != '\0') {
		unsigned char type = b[i++];
		const unsigned char *nul = memchr(b + i, '\0', len - i);
		size_t n;

		if (nul == NULL)
			return false;
		n = (size_t)(nul - (b + i));
		if (type == 'C')
			pg_clean_text(sqlstate, slen, (const char *)b + i, n);
		else if (type == 'M')
			pg_clean_text(msg, mlen, (const char *)b + i, n);
		else if (type == 'V' || (type == 'S' && severity[0] == '\0'))
			pg_clean_text(severity, svlen, (const char *)b + i, n);
		i += n + 1;
	}
	/* The terminator must be the body's last byte, and a code is mandatory. */
	return i + 1 == len && strlen(sqlstate) == 5;
}

/* The whole first reply is in: say what it means. */
static void
pg_wire_verdict(struct probe *p)
{
	struct pg_state *t = p->impl;

	if (t->head[0] == 'R') {
		uint32_t code = pg_get32(t->body);

		if (code == 0) {
			/* Logged in already (trust): say goodbye properly. */
			static const unsigned char terminate[] = { 'X', 0, 0, 0, 4 };

			(void)send(t->fd, terminate, sizeof(terminate), MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		pg_end(p, PROBE_OK, "accepting connections (authentication: %s)", pg_auth_name(code));
		return;
	}

	char sqlstate[8], msg[128], severity[16];

	if (!pg_parse_error(t->body, t->bodylen, sqlstate, sizeof(sqlstate), msg, sizeof(msg),
	    severity, sizeof(severity))) {
		pg_end(p, PROBE_PROTOCOL_ERROR, "malformed ErrorResponse (%zu bytes)", t->bodylen);
		return;
	}
	if (pg_error_verdict(sqlstate) == PROBE_OK)
		pg_end(p, PROBE_OK, "up; refused this probe: %s %s: %s", severity, sqlstate, msg);
	else
		pg_end(p, PROBE_PG_UNAVAILABLE, "%s: %s", sqlstate, msg);
}

/* The first bytes of a reply that is not PostgreSQL, shown safely. */
static void
pg_show_bytes(char *dst, size_t len, const unsigned char *b, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < len; i++) {
		if (isprint(b[i]) && b[i] != '\\')
			dst[o++] = (char)b[i];
		else
			o += (size_t)snprintf(dst + o, len - o, "\\x%02x", b[i]);
	}
	dst[o] = '\0';
}

/* Five header bytes are in: the type and the length must make sense. */
static bool
pg_wire_check_head(struct probe *p)
{
	struct pg_state *t = p->impl;
	uint32_t len = pg_get32(t->head + 1);
	char shown[48];

	if (t->head[0] != 'R' && t->head[0] != 'E') {
		pg_show_bytes(shown, sizeof(shown), t->head, t->headlen);
		pg_end(p, PROBE_PROTOCOL_ERROR, "not a PostgreSQL reply: \"%s...\"", shown);
		return false;
	}
	if (len < PG_MSG_LEN_MIN || len > PG_MSG_LEN_MAX ||
	    (t->head[0] == 'R' && len < PG_MSG_LEN_MIN + 4)) {
		pg_end(p, PROBE_PROTOCOL_ERROR, "bad length %lu of a '%c' message",
		    (unsigned long)len, t->head[0]);
		return false;
	}
	t->bodywant = len - PG_MSG_LEN_MIN;
	t->body = xmalloc(t->bodywant > 0 ? t->bodywant : 1);
	t->bodylen = 0;
	return true;
}

static void
pg_wire_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct pg_state *t = p->impl;

	t->ev_set = false;
	for (;;) {
		unsigned char *dst;
		size_t want;
		ssize_t n;

		if (t->headlen < PG_HEADER_LEN) {
			dst = t->head + t->headlen;
			want = PG_HEADER_LEN - t->headlen;
		} else {
			dst = t->body + t->bodylen;
			want = t->bodywant - t->bodylen;
		}
		if (want == 0) {
			pg_wire_verdict(p);
			return;
		}
		n = recv(fd, dst, want, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			pg_end_errno(p, errno, "reading the reply");
			return;
		}
		if (n == 0) {
			if (t->headlen == 0)
				pg_end(p, PROBE_CLOSED, "connection closed without a reply");
			else
				pg_end(p, PROBE_CLOSED, "connection closed inside a reply (%zu bytes in)",
				    t->headlen + t->bodylen);
			return;
		}
		if (t->headlen < PG_HEADER_LEN) {
			t->headlen += (size_t)n;
			if (t->headlen == PG_HEADER_LEN && !pg_wire_check_head(p))
				return;
		} else {
			t->bodylen += (size_t)n;
		}
	}
	pg_wait(p, fd, EV_READ, pg_wire_read_cb);
}

static void
pg_wire_send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct pg_state *t = p->impl;

	t->ev_set = false;
	while (t->sent < t->outlen) {
		ssize_t n = send(fd, t->out + t->sent, t->outlen - t->sent, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				pg_wait(p, fd, EV_WRITE, pg_wire_send_cb);
				return;
			}
			pg_end_errno(p, errno, "sending the startup message");
			return;
		}
		t->sent += (size_t)n;
	}
	t->phase = PG_READING;
	pg_wait(p, fd, EV_READ, pg_wire_read_cb);
}

static void
pg_wire_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct pg_state *t = p->impl;
	int err = 0;
	socklen_t len = sizeof(err);

	t->ev_set = false;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		pg_end_errno(p, err, "connect");
		return;
	}
	t->phase = PG_SENDING;
	pg_build_startup(p);
	pg_wire_send_cb(fd, EV_WRITE, p);
}

static void
pg_wire_start(struct probe *p)
{
	struct pg_state *t = p->impl;
	int fd;

	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		pg_end(p, PROBE_INTERNAL, "socket: %s", strerror(errno));
		return;
	}
	t->fd = fd;
	t->phase = PG_CONNECTING;
	/* Even a connect done at once (loopback) is reported from the loop. */
	if (connect(fd, (struct sockaddr *)&t->addr, t->addrlen) == 0 || errno == EINPROGRESS ||
	    errno == EINTR) {
		pg_wait(p, fd, EV_WRITE, pg_wire_connect_cb);
		return;
	}
	pg_end_errno(p, errno, "connect");
}

/* ---- libpq ---- */

/* libpq's notices would go to stderr: log them instead. */
static void
pg_notice_cb(void *arg, const char *message)
{
	struct probe *p = arg;
	char clean[200];

	pg_clean_text(clean, sizeof(clean), message, strlen(message));
	log_debug("probe %s/%s: server notice: %s", p->svc->name, p->member->name, clean);
}

/*
 * libpq's message on one line, without its "connection to server at ...,
 * port N failed:" head (the member is named elsewhere) nor its hints
 * (lines starting with a tab: "Is the server running on that host...").
 */
static void
pg_conn_message(PGconn *conn, char *dst, size_t len)
{
	const char *m = PQerrorMessage(conn), *f;
	char buf[512];
	size_t n = 0;

	if (strncmp(m, "connection to server", 20) == 0 && (f = strstr(m, " failed: ")) != NULL)
		m = f + 9;
	for (const char *line = m; *line != '\0' && n + 1 < sizeof(buf);) {
		size_t l = strcspn(line, "\n");

		if (line[0] != '\t') {
			if (l > sizeof(buf) - 2 - n)
				l = sizeof(buf) - 2 - n;
			memcpy(buf + n, line, l);
			n += l;
			buf[n++] = ' ';
		}
		line += strcspn(line, "\n");
		line += *line == '\n';
	}
	pg_clean_text(dst, len, buf, n);
	if (dst[0] == '\0')
		snprintf(dst, len, "no message from libpq");
}

/* Words of libpq and of the server (English), most specific first. */
static const struct {
	const char *words;
	enum probe_result result;
} pg_login_words[] = {
	{ "the database system is", PROBE_PG_UNAVAILABLE }, /* starting up, shutting down, in recovery... */
	{ "too many clients", PROBE_PG_UNAVAILABLE },
	{ "too many connections", PROBE_PG_UNAVAILABLE },
	{ "connection slots are reserved", PROBE_PG_UNAVAILABLE },
	{ "password authentication failed", PROBE_AUTH_FAILED },
	{ "authentication failed", PROBE_AUTH_FAILED },
	{ "no pg_hba.conf entry", PROBE_AUTH_FAILED },
	{ "pg_hba.conf rejects", PROBE_AUTH_FAILED },
	{ "fe_sendauth", PROBE_AUTH_FAILED },
	{ "SCRAM", PROBE_AUTH_FAILED },
	{ "role \"", PROBE_AUTH_FAILED },                   /* role "x" does not exist */
	{ "database \"", PROBE_PG_ERROR },                  /* database "x" does not exist */
	{ "Connection refused", PROBE_REFUSED },
	{ "Connection reset", PROBE_RESET },
	{ "closed the connection unexpectedly", PROBE_CLOSED },
	{ "No route to host", PROBE_UNREACHABLE },
	{ "Network is unreachable", PROBE_UNREACHABLE },
	{ "expected authentication request", PROBE_PROTOCOL_ERROR },
	{ "invalid response to SSL negotiation", PROBE_PROTOCOL_ERROR },
	{ "unexpected message from server", PROBE_PROTOCOL_ERROR },
	{ "SSL", PROBE_TLS_ERROR },
};

static void
pg_login_failed(struct probe *p)
{
	struct pg_state *t = p->impl;
	char msg[sizeof(p->pending.detail)];

	if (PQconnectionNeedsPassword(t->conn)) {
		pg_end(p, PROBE_AUTH_FAILED,
		    "the server wants a password (give pg_password_file or PGPASSWORD)");
		return;
	}
	pg_conn_message(t->conn, msg, sizeof(msg));
	for (size_t i = 0; i < ARRAY_LEN(pg_login_words); i++) {
		if (strstr(msg, pg_login_words[i].words) != NULL) {
			pg_end(p, pg_login_words[i].result, "%s", msg);
			return;
		}
	}
	pg_end(p, PROBE_CONNECT_ERROR, "%s", msg);
}

/* "12345" or "12345.000" (numeric) into bytes; false if it is anything else. */
static bool
pg_parse_lsn(const char *s, uint64_t *out)
{
	uint64_t n = 0;
	const char *q = s;

	if (!isdigit((unsigned char)*q))
		return false;
	for (; isdigit((unsigned char)*q); q++) {
		if (n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*q - '0');
	}
	if (*q == '.')
		for (q++; *q == '0'; q++)
			;
	if (*q != '\0')
		return false;
	*out = n;
	return true;
}

static void
pg_query_result(struct probe *p, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	char msg[128];

	if (st == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 2 &&
	    !PQgetisnull(res, 0, 0)) {
		const char *rec = PQgetvalue(res, 0, 0);
		struct probe_facts *f = &p->facts;

		f->role_known = true;
		f->in_recovery = strcmp(rec, "t") == 0;
		if (!PQgetisnull(res, 0, 1) && pg_parse_lsn(PQgetvalue(res, 0, 1), &f->lsn))
			f->lsn_known = true;
		PQclear(res);
		if (f->lsn_known)
			pg_end(p, PROBE_OK, "%s, WAL at %X/%X", f->in_recovery ? "standby" : "primary",
			    (unsigned)(f->lsn >> 32), (unsigned)f->lsn);
		else
			pg_end(p, PROBE_OK, "%s, WAL position unknown",
			    f->in_recovery ? "standby" : "primary");
		return;
	}
	if (st == PGRES_TUPLES_OK) {
		PQclear(res);
		pg_end(p, PROBE_PG_ERROR, "unexpected reply to the role query");
		return;
	}

	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char sqlstate[8];

	pg_clean_text(sqlstate, sizeof(sqlstate), state ? state : "", 5);
	if (primary != NULL)
		pg_clean_text(msg, sizeof(msg), primary, strlen(primary));
	else
		pg_conn_message(((struct pg_state *)p->impl)->conn, msg, sizeof(msg));
	PQclear(res);
	if (sqlstate[0] != '\0' && pg_error_verdict(sqlstate) == PROBE_PG_UNAVAILABLE)
		pg_end(p, PROBE_PG_UNAVAILABLE, "%s: %s", sqlstate, msg);
	else
		pg_end(p, PROBE_PG_ERROR, "role query failed: %s%s%s", sqlstate,
		    sqlstate[0] ? ": " : "", msg);
}

static void
pg_query_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct pg_state *t = p->impl;
	char msg[sizeof(p->pending.detail)];

	t->ev_set = false;
	if (t->flushing && (what & EV_WRITE)) {
		int r = PQflush(t->conn);

		if (r < 0)
			goto lost;
		t->flushing = r == 1;
	}
	if ((what & EV_READ) && !PQconsumeInput(t->conn))
		goto lost;
	if (!PQisBusy(t->conn)) {
		PGresult *res = PQgetResult(t->conn);

		if (res == NULL)
			pg_end(p, PROBE_PG_ERROR, "no result for the role query");
		else
			pg_query_result(p, res);
		return;
	}
	pg_wait(p, PQsocket(t->conn), EV_READ | (t->flushing ? EV_WRITE : 0), pg_query_cb);
	return;
lost:
	pg_conn_message(t->conn, msg, sizeof(msg));
	if (strstr(msg, "closed the connection unexpectedly") != NULL)
		pg_end(p, PROBE_CLOSED, "%s", msg);
	else if (strstr(msg, "Connection reset") != NULL)
		pg_end(p, PROBE_RESET, "%s", msg);
	else
		pg_end(p, PROBE_PG_ERROR, "%s", msg);
}

static void
pg_query_start(struct probe *p)
{
	struct pg_state *t = p->impl;
	char msg[sizeof(p->pending.detail)];
	int r;

	t->phase = PG_QUERY;
	if (!PQsendQuery(t->conn, pg_role_query)) {
		pg_conn_message(t->conn, msg, sizeof(msg));
		pg_end(p, PROBE_PG_ERROR, "cannot send the role query: %s", msg);
		return;
	}
	if ((r = PQflush(t->conn)) < 0) {
		pg_conn_message(t->conn, msg, sizeof(msg));
		pg_end(p, PROBE_PG_ERROR, "cannot send the role query: %s", msg);
		return;
	}
	t->flushing = r == 1;
	pg_wait(p, PQsocket(t->conn), EV_READ | (t->flushing ? EV_WRITE : 0), pg_query_cb);
}

static void pg_login_cb(evutil_socket_t fd, short what, void *arg);

/*
 * One more step of the login.  The socket may be another one after each
 * call (libpq tries SSL then plain, or the next address), so the event is
 * set up again every time from PQsocket.
 */
static void
pg_login_step(struct probe *p)
{
	struct pg_state *t = p->impl;
	evutil_socket_t fd;

	switch (t->poll) {
	case PGRES_POLLING_OK:
		pg_query_start(p);
		return;
	case PGRES_POLLING_FAILED:
		pg_login_failed(p);
		return;
	default:
		break;
	}
	if ((fd = PQsocket(t->conn)) < 0) {
		pg_end(p, PROBE_INTERNAL, "libpq has no socket while logging in");
		return;
	}
	pg_wait(p, fd, t->poll == PGRES_POLLING_READING ? EV_READ : EV_WRITE, pg_login_cb);
}

static void
pg_login_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct pg_state *t = p->impl;

	/* Not persistent: the event is out of the loop before libpq may close its fd. */
	t->ev_set = false;
	t->poll = PQconnectPoll(t->conn);
	pg_login_step(p);
}

/*
 * The keywords of one login: ours, then pg_conninfo's (which may change
 * application_name or gssencmode), then where and who, which
 * pg_conninfo may not name (the configuration refuses them).
 */
static void
pg_login_start(struct probe *p)
{
	struct pg_state *t = p->impl;
	const struct check_conf *c = p->check;
	const char *kw[PG_PARAMS_MAX + 1], *val[PG_PARAMS_MAX + 1];
	char hostaddr[NI_MAXHOST];
	PQconninfoOption *extra = NULL;
	size_t n = 0;
	int rc;

	rc = getnameinfo((struct sockaddr *)&t->addr, t->addrlen, hostaddr, sizeof(hostaddr), NULL, 0,
	    NI_NUMERICHOST);
	if (rc != 0) {
		pg_end(p, PROBE_INTERNAL, "cannot print the address: %s", gai_strerror(rc));
		return;
	}
#define PG_PARAM(k, v) do { kw[n] = (k); val[n] = (v); n++; } while (0)
	PG_PARAM("application_name", PG_APPLICATION_NAME);
	PG_PARAM("gssencmode", "disable");
	if (c->pg_conninfo != NULL) {
		char *err = NULL;

		if ((extra = PQconninfoParse(c->pg_conninfo, &err)) == NULL) {
			/* Checked at load: only memory can fail here. */
			PQfreemem(err);
			pg_end(p, PROBE_INTERNAL, "cannot parse pg_conninfo");
			return;
		}
		for (const PQconninfoOption *o = extra; o->keyword != NULL; o++) {
			if (o->val != NULL && n < PG_PARAMS_MAX - 6)
				PG_PARAM(o->keyword, o->val);
		}
	}
	PG_PARAM("host", p->member->host);
	PG_PARAM("hostaddr", hostaddr);
	PG_PARAM("port", p->member->port);
	PG_PARAM("user", c->pg_user);
	PG_PARAM("dbname", c->pg_database);
	if (c->pg_password != NULL)
		PG_PARAM("password", c->pg_password);
#undef PG_PARAM
	kw[n] = val[n] = NULL;

	t->phase = PG_LOGIN;
	t->conn = PQconnectStartParams(kw, val, 0);
	if (extra != NULL)
		PQconninfoFree(extra);
	if (t->conn == NULL) {
		pg_end(p, PROBE_INTERNAL, "libpq: out of memory");
		return;
	}
	PQsetNoticeProcessor(t->conn, pg_notice_cb, p);
	if (PQstatus(t->conn) == CONNECTION_BAD) {
		t->poll = PGRES_POLLING_FAILED;
		pg_login_step(p);
		return;
	}
	if (PQsetnonblocking(t->conn, 1) != 0) {
		pg_end(p, PROBE_INTERNAL, "libpq: cannot make the connection non-blocking");
		return;
	}
	/* As libpq's documentation says: start as if PQconnectPoll asked to write. */
	t->poll = PGRES_POLLING_WRITING;
	pg_login_step(p);
}

/* ---- address and start ---- */

/* Address known: on to the mode's first step. */
static void
pg_go(struct probe *p)
{
	if (p->check->pg_query)
		pg_login_start(p);
	else
		pg_wire_start(p);
}

static void
pg_resolved(struct probe *p, const struct sockaddr *sa, socklen_t len, const char *err, bool sync)
{
	struct pg_state *t = p->impl;

	t->lookup = NULL;
	if (sa == NULL) {
		t->dns_sync = sync;
		pg_end(p, PROBE_RESOLVE, "%s", err);
		return;
	}
	memcpy(&t->addr, sa, len);
	t->addrlen = len;
	pg_go(p);
}

static void
pg_resolve(struct probe *p)
{
	struct pg_state *t = p->impl;
	struct probe_lookup *lk;

	t->phase = PG_RESOLVING;
	/* The answer may come (and end the check) before this returns. */
	lk = probe_lookup_start(p, pg_resolved);
	t = p->impl;
	if (t != NULL) {
		t->dns_sync = false;
		if (lk != NULL)
			t->lookup = lk;
	}
}

void
probe_pg_start(struct probe *p)
{
	struct pg_state *t = pg_state(p);
	struct timeval tv = us_to_tv(probe_budget_left_us(p));
	struct addrinfo hints, *res = NULL;

	t->in_start = true;
	evtimer_assign(&t->budget, p->eng->base, pg_budget_cb, p);
	evtimer_add(&t->budget, &tv);
	t->budget_set = true;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(p->member->host, p->member->port, &hints, &res) == 0) {
		memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
		t->addrlen = res->ai_addrlen;
		freeaddrinfo(res);
		pg_go(p);
	} else {
		pg_resolve(p);
	}
	t->in_start = false;
}

void
probe_pg_cancel(struct probe *p)
{
	struct pg_state *t = p->impl;

	if (t != NULL)
		pg_close(t);
}

void
probe_pg_free(struct probe *p)
{
	probe_pg_cancel(p);
	free(p->impl);
	p->impl = NULL;
}
