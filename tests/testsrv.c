/*
 * testsrv: a small backend with misbehaviours on demand, for the tests.
 *
 *	testsrv [-v] [-r READYFILE] ADDR:PORT=MODE [ADDR:PORT=MODE...]
 *
 * ADDR is numeric (127.0.0.1, [::1]); port 0 lets the kernel pick.  Once
 * every listener is bound, one line "ADDR PORT" per listener, in argument
 * order, goes to READYFILE (written to READYFILE.tmp, then renamed, so a
 * reader never sees half of it).  Modes:
 *
 *	http              200 with body "ok\n"
 *	http:CODE         that status, body "status CODE\n"
 *	http:CODE:BODY    that status and body (\n \r \t \\ \xHH decoded)
 *	http-host         200, body: the request's Host header and "\n"
 *	http-method:M     200 "ok\n" when the request method is M, else 405
 *	hang              accepts, reads, never answers (keeps the conn open)
 *	endless           200 headers, then a body that never ends
 *	close             accepts and closes at once
 *	echo              echoes bytes back
 *	banner:TEXT       sends TEXT (escapes decoded) on accept, then reads
 *	slow:MS           200 "ok\n" after MS milliseconds
 *	trickle:BODY      200 with BODY sent one byte every TESTSRV_TRICKLE_MS
 *
 * HTTP modes read the request head up to the blank line (at most
 * TESTSRV_HEAD_MAX bytes, else 431), answer with Content-Length and
 * "Connection: close" (endless: no length), omit the body for HEAD, and
 * close once the reply is flushed.  Only libevent; SIGTERM/SIGINT end it
 * cleanly, every connection freed.
 */
#include "autoconf.h"

#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define TESTSRV_HEAD_MAX 16384      /* bytes of request head read at most */
#define TESTSRV_CHUNK 16384         /* bytes of endless body queued per turn */
#define TESTSRV_ECHO_MAX 65536      /* bytes of echo backlog before pausing reads */
#define TESTSRV_BACKLOG 1024        /* listen queue: many probes connect at once */
#define TESTSRV_ACCEPT_RETRY_MS 100 /* pause of a listener out of descriptors */
#define TESTSRV_TRICKLE_MS 2        /* between two body bytes in trickle mode */

enum mode {
	MODE_HTTP,
	MODE_HTTP_HOST,
	MODE_HTTP_METHOD,
	MODE_HANG,
	MODE_ENDLESS,
	MODE_CLOSE,
	MODE_ECHO,
	MODE_BANNER,
	MODE_SLOW,
	MODE_TRICKLE,
};

struct srv;

struct listener {
	TAILQ_ENTRY(listener) entry;
	struct srv *srv;
	const char *spec;          /* the argument, for messages */
	enum mode mode;
	int code;                  /* http status */
	char *data;                /* http body or banner text */
	size_t data_len;
	char method[16];           /* http-method */
	long slow_ms;              /* slow: delay before the reply */
	struct evconnlistener *evl;
	struct event *retry;       /* re-enables evl after EMFILE */
	char addr[INET6_ADDRSTRLEN];
	int port;
};

enum conn_state {
	CONN_HEAD,      /* reading the request head */
	CONN_WAIT,      /* head read; slow mode waits for its timer */
	CONN_TRICKLE,   /* head read; body goes out byte by byte */
	CONN_FLUSH,     /* reply queued; close once written */
	CONN_STREAM,    /* endless body */
	CONN_RAW,       /* hang, echo, banner: no HTTP */
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct listener *l;
	struct bufferevent *bev;
	struct event *timer;       /* slow and trickle modes */
	size_t trickle_pos;        /* body bytes sent so far */
	enum conn_state state;
	size_t head_len;           /* bytes of the head consumed so far */
	bool have_reqline;
	bool head_req;             /* method HEAD: no body in the reply */
	char method[16];
	char *host;                /* Host header value, or NULL */
};

struct srv {
	struct event_base *base;
	TAILQ_HEAD(, listener) listeners;
	TAILQ_HEAD(, conn) conns;
	size_t n_conns;
	bool verbose;
	char chunk[TESTSRV_CHUNK]; /* the endless body's repeating unit */
};

static void conn_free(struct conn *);
static void conn_read_cb(struct bufferevent *, void *);
static void conn_write_cb(struct bufferevent *, void *);
static void conn_event_cb(struct bufferevent *, short, void *);

static void __attribute__((format(printf, 1, 2)))
say(const char *fmt, ...)
{
	va_list ap;

	fputs("testsrv: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: testsrv [-v] [-r READYFILE] ADDR:PORT=MODE [ADDR:PORT=MODE...]\n"
	    "modes: http http:CODE http:CODE:BODY http-host http-method:M hang endless\n"
	    "       close echo banner:TEXT slow:MS trickle:BODY\n");
	exit(2);
}

/* Decode \n \r \t \\ \0 \xHH into a fresh buffer (may hold NULs: see *len). */
static char *
unescape(const char *s, size_t *len)
{
	char *out = malloc(strlen(s) + 1);
	size_t n = 0;

	if (out == NULL) {
		say("out of memory");
		exit(1);
	}
	for (; *s != '\0'; s++) {
		if (*s != '\\' || s[1] == '\0') {
			out[n++] = *s;
			continue;
		}
		s++;
		switch (*s) {
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case '0': out[n++] = '\0'; break;
		case 'x':
			if (isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
				char hex[3] = { s[1], s[2], '\0' };

				out[n++] = (char)strtol(hex, NULL, 16);
				s += 2;
			} else
				out[n++] = 'x';
			break;
		default: out[n++] = *s; break;
		}
	}
	out[n] = '\0';
	*len = n;
	return out;
}

static bool
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool
parse_mode(struct listener *l, const char *m)
{
	long v;

	if (strcmp(m, "http") == 0) {
		l->mode = MODE_HTTP;
		l->code = 200;
		l->data = unescape("ok\n", &l->data_len);
	} else if (strncmp(m, "http:", 5) == 0) {
		const char *codes = m + 5, *colon = strchr(codes, ':');
		char num[8];
		size_t nlen = colon != NULL ? (size_t)(colon - codes) : strlen(codes);

		if (nlen == 0 || nlen >= sizeof(num))
			return false;
		memcpy(num, codes, nlen);
		num[nlen] = '\0';
		if (!parse_long(num, 100, 999, &v))
			return false;
		l->mode = MODE_HTTP;
		l->code = (int)v;
		if (colon != NULL)
			l->data = unescape(colon + 1, &l->data_len);
		else {
			char body[32];

			snprintf(body, sizeof(body), "status %d\n", l->code);
			l->data = unescape(body, &l->data_len);
		}
	} else if (strcmp(m, "http-host") == 0) {
		l->mode = MODE_HTTP_HOST;
	} else if (strncmp(m, "http-method:", 12) == 0) {
		if (m[12] == '\0' || strlen(m + 12) >= sizeof(l->method))
			return false;
		l->mode = MODE_HTTP_METHOD;
		strcpy(l->method, m + 12);
	} else if (strcmp(m, "hang") == 0) {
		l->mode = MODE_HANG;
	} else if (strcmp(m, "endless") == 0) {
		l->mode = MODE_ENDLESS;
	} else if (strcmp(m, "close") == 0) {
		l->mode = MODE_CLOSE;
	} else if (strcmp(m, "echo") == 0) {
		l->mode = MODE_ECHO;
	} else if (strncmp(m, "banner:", 7) == 0) {
		l->mode = MODE_BANNER;
		l->data = unescape(m + 7, &l->data_len);
	} else if (strncmp(m, "trickle:", 8) == 0) {
		l->mode = MODE_TRICKLE;
		l->data = unescape(m + 8, &l->data_len);
	} else if (strncmp(m, "slow:", 5) == 0) {
		if (!parse_long(m + 5, 0, 24L * 3600 * 1000, &v))
			return false;
		l->mode = MODE_SLOW;
		l->slow_ms = v;
	} else
		return false;
	return true;
}

/* "127.0.0.1:0", "[::1]:8080" into a socket address. */
static bool
parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct addrinfo hints, *res;
	char host[INET6_ADDRSTRLEN + 2];
	const char *port, *colon;
	size_t hlen;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return false;
		hlen = (size_t)(rb - s - 1);
		if (hlen >= sizeof(host))
			return false;
		memcpy(host, s + 1, hlen);
		port = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return false;
		hlen = (size_t)(colon - s);
		if (hlen >= sizeof(host))
			return false;
		memcpy(host, s, hlen);
		port = colon + 1;
	}
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

static const char *
status_text(int code)
{
	switch (code) {
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 302: return "Found";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* Queue a complete reply and close once it is written. */
static void
conn_reply(struct conn *c, int code, const char *body, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", code, status_text(code), len);
	if (!c->head_req && len > 0)
		evbuffer_add(out, body, len);
	c->state = CONN_FLUSH;
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
conn_stream_more(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	/* One chunk per turn: the backlog stays bounded whatever the reader does. */
	if (evbuffer_get_length(out) < TESTSRV_CHUNK)
		evbuffer_add(out, c->l->srv->chunk, TESTSRV_CHUNK);
}

static void
conn_slow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	conn_reply(c, 200, "ok\n", 3);
}

/* One more byte, so the reader sees the body in many small pieces. */
static void
conn_trickle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval tv = { 0, TESTSRV_TRICKLE_MS * 1000 };

	if (c->trickle_pos >= c->l->data_len) {
		c->state = CONN_FLUSH;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_free(c);
		return;
	}
	bufferevent_write(c->bev, c->l->data + c->trickle_pos++, 1);
	evtimer_add(c->timer, &tv);
}

/* The request head is complete: answer as the mode says. */
static void
conn_answer(struct conn *c)
{
	struct listener *l = c->l;
	struct timeval tv;

	switch (l->mode) {
	case MODE_HTTP:
		conn_reply(c, l->code, l->data, l->data_len);
		break;
	case MODE_HTTP_HOST: {
		char *body;
		int n = asprintf(&body, "%s\n", c->host != NULL ? c->host : "");

		if (n < 0) {
			conn_free(c);
			return;
		}
		conn_reply(c, 200, body, (size_t)n);
		free(body);
		break;
	}
	case MODE_HTTP_METHOD:
		if (strcmp(c->method, l->method) == 0)
			conn_reply(c, 200, "ok\n", 3);
		else
			conn_reply(c, 405, "wrong method\n", 13);
		break;
	case MODE_SLOW:
		c->state = CONN_WAIT;
		c->timer = evtimer_new(l->srv->base, conn_slow_cb, c);
		if (c->timer == NULL) {
			conn_free(c);
			return;
		}
		tv.tv_sec = l->slow_ms / 1000;
		tv.tv_usec = (l->slow_ms % 1000) * 1000;
		evtimer_add(c->timer, &tv);
		break;
	case MODE_TRICKLE:
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n", l->data_len);
		if (c->head_req) {
			c->state = CONN_FLUSH;
			break;
		}
		c->state = CONN_TRICKLE;
		c->timer = evtimer_new(l->srv->base, conn_trickle_cb, c);
		if (c->timer == NULL) {
			conn_free(c);
			return;
		}
		conn_trickle_cb(-1, 0, c);
		break;
	case MODE_ENDLESS:
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
		if (c->head_req) {
			c->state = CONN_FLUSH;
			break;
		}
		c->state = CONN_STREAM;
		conn_stream_more(c);
		break;
	default:
		break;
	}
}

/* One line of the request head (without its line end). */
static void
conn_head_line(struct conn *c, const char *line)
{
	if (!c->have_reqline) {
		size_t n = strcspn(line, " ");

		c->have_reqline = true;
		if (n >= sizeof(c->method))
			n = sizeof(c->method) - 1;
		memcpy(c->method, line, n);
		c->method[n] = '\0';
		c->head_req = strcmp(c->method, "HEAD") == 0;
		return;
	}
	if (strncasecmp(line, "Host:", 5) == 0 && c->host == NULL) {
		const char *v = line + 5;
		size_t n;

		while (*v == ' ' || *v == '\t')
			v++;
		n = strlen(v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		c->host = strndup(v, n);
	}
}

static void
conn_read_head(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n;
	char *line;

	while (c->state == CONN_HEAD) {
		/*
		 * Not HTTP at all (a TLS ClientHello starts with 0x16): answer
		 * 400 at once, as a real server does, rather than wait for a
		 * line end that may never come.
		 */
		if (!c->have_reqline && evbuffer_get_length(in) > 0) {
			unsigned char first = *evbuffer_pullup(in, 1);

			if (!isupper(first) && first != '\r' && first != '\n') {
				conn_reply(c, 400, "bad request\n", 12);
				return;
			}
		}
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (c->head_len + evbuffer_get_length(in) > TESTSRV_HEAD_MAX)
				conn_reply(c, 431, "request head too large\n", 23);
			return;
		}
		c->head_len += n + 2;
		if (c->head_len > TESTSRV_HEAD_MAX) {
			free(line);
			conn_reply(c, 431, "request head too large\n", 23);
			return;
		}
		if (n == 0 && c->have_reqline) {
			free(line);
			/* Returns at once: conn_answer may have freed C. */
			conn_answer(c);
			return;
		}
		/* A blank line before the request line is tolerated, as RFC 9112 says. */
		if (n > 0)
			conn_head_line(c, line);
		free(line);
	}
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state == CONN_HEAD) {
		conn_read_head(c);
		return;
	}
	if (c->l->mode == MODE_ECHO) {
		evbuffer_add_buffer(bufferevent_get_output(bev), in);
		/* A peer that sends without reading must not grow us without end. */
		if (evbuffer_get_length(bufferevent_get_output(bev)) > TESTSRV_ECHO_MAX)
			bufferevent_disable(bev, EV_READ);
		return;
	}
	/* Anything after the head (or in hang/banner mode) is read and dropped. */
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	switch (c->state) {
	case CONN_FLUSH:
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		break;
	case CONN_STREAM:
		conn_stream_more(c);
		break;
	case CONN_RAW:
		if (c->l->mode == MODE_ECHO)
			bufferevent_enable(bev, EV_READ);
		break;
	default:
		break;
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/*
		 * The peer went away (or reset us): forget the connection,
		 * whatever state it was in.  A half-closed peer still waiting
		 * for a reply we owe it keeps it: only hang mode cares, and
		 * there the peer closing means it is done.
		 */
		if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
		    (c->state == CONN_WAIT || c->state == CONN_TRICKLE || c->state == CONN_FLUSH)) {
			bufferevent_disable(bev, EV_READ);
			return;
		}
		if (c->l->srv->verbose)
			say("%s: peer gone (%s)", c->l->spec,
			    (what & BEV_EVENT_ERROR) ? evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()) : "eof");
		conn_free(c);
	}
}

static void
conn_free(struct conn *c)
{
	struct srv *srv = c->l->srv;

	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->n_conns--;
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c->host);
	free(c);
}

static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct srv *srv = l->srv;
	struct conn *c;
	int one = 1;

	if (l->mode == MODE_CLOSE) {
		evutil_closesocket(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->l = l;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->n_conns++;
	/* Small writes (trickle, banner) must leave at once, not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	switch (l->mode) {
	case MODE_HANG:
	case MODE_ECHO:
		c->state = CONN_RAW;
		break;
	case MODE_BANNER:
		c->state = CONN_RAW;
		bufferevent_write(c->bev, l->data, l->data_len);
		break;
	default:
		c->state = CONN_HEAD;
		break;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
listener_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	evconnlistener_enable(l->evl);
}

static void
listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, TESTSRV_ACCEPT_RETRY_MS * 1000 };

	say("%s: accept: %s (%zu connections open); pausing", l->spec,
	    evutil_socket_error_to_string(err), l->srv->n_conns);
	/* Out of descriptors: a busy loop on accept helps nobody, wait a little. */
	evconnlistener_disable(evl);
	evtimer_add(l->retry, &tv);
}

static bool
listener_open(struct srv *srv, struct listener *l, const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	const char *eq = strchr(spec, '=');
	char *addr;
	bool ok;

	l->srv = srv;
	l->spec = spec;
	if (eq == NULL)
		return say("%s: expected ADDR:PORT=MODE", spec), false;
	if (!parse_mode(l, eq + 1))
		return say("%s: unknown or malformed mode", spec), false;
	addr = strndup(spec, (size_t)(eq - spec));
	if (addr == NULL)
		return say("out of memory"), false;
	ok = parse_addr(addr, &ss, &sslen);
	free(addr);
	if (!ok)
		return say("%s: bad address (numeric ADDR:PORT or [V6]:PORT)", spec), false;
	l->evl = evconnlistener_new_bind(srv->base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    TESTSRV_BACKLOG, (struct sockaddr *)&ss, (int)sslen);
	if (l->evl == NULL)
		return say("%s: bind/listen: %s", spec, strerror(errno)), false;
	evconnlistener_set_error_cb(l->evl, listener_error_cb);
	l->retry = evtimer_new(srv->base, listener_retry_cb, l);
	if (l->retry == NULL)
		return say("out of memory"), false;

	sslen = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(l->evl), (struct sockaddr *)&ss, &sslen) == -1)
		return say("%s: getsockname: %s", spec, strerror(errno)), false;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, l->addr, sizeof(l->addr));
		l->port = ntohs(s6->sin6_port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, l->addr, sizeof(l->addr));
		l->port = ntohs(s4->sin_port);
	}
	say("listening on %s port %d: %s", l->addr, l->port, eq + 1);
	return true;
}

static bool
write_ready(struct srv *srv, const char *path)
{
	struct listener *l;
	char *tmp;
	FILE *f;
	bool ok = true;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return false;
	f = fopen(tmp, "w");
	if (f == NULL) {
		say("%s: %s", tmp, strerror(errno));
		free(tmp);
		return false;
	}
	TAILQ_FOREACH(l, &srv->listeners, entry)
		fprintf(f, "%s %d\n", l->addr, l->port);
	if (fflush(f) != 0 || ferror(f))
		ok = false;
	if (fclose(f) != 0)
		ok = false;
	if (ok && rename(tmp, path) == -1)
		ok = false;
	if (!ok) {
		say("%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ok;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct srv *srv = arg;

	say("signal %d, exiting", (int)sig);
	event_base_loopbreak(srv->base);
}

static void
srv_free(struct srv *srv)
{
	struct listener *l;

	while (!TAILQ_EMPTY(&srv->conns))
		conn_free(TAILQ_FIRST(&srv->conns));
	while ((l = TAILQ_FIRST(&srv->listeners)) != NULL) {
		TAILQ_REMOVE(&srv->listeners, l, entry);
		if (l->evl != NULL)
			evconnlistener_free(l->evl);
		if (l->retry != NULL)
			event_free(l->retry);
		free(l->data);
		free(l);
	}
}

/* Many probes at once need many descriptors: take all we are allowed. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	struct srv *srv;
	struct event *sigterm = NULL, *sigint = NULL;
	const char *ready = NULL;
	bool verbose = false;
	int ch, rc = 0;

	while ((ch = getopt(argc, argv, "r:v")) != -1) {
		switch (ch) {
		case 'r':
			ready = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return 1;
	srv->verbose = verbose;
	for (size_t i = 0; i < sizeof(srv->chunk); i++)
		srv->chunk[i] = "endless body\n"[i % 13];
	TAILQ_INIT(&srv->listeners);
	TAILQ_INIT(&srv->conns);
	srv->base = event_base_new();
	if (srv->base == NULL) {
		say("event_base_new failed");
		free(srv);
		return 1;
	}
	sigterm = evsignal_new(srv->base, SIGTERM, signal_cb, srv);
	sigint = evsignal_new(srv->base, SIGINT, signal_cb, srv);
	if (sigterm == NULL || sigint == NULL) {
		say("evsignal_new failed");
		rc = 1;
		goto out;
	}
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);

	for (int i = optind; i < argc; i++) {
		struct listener *l = calloc(1, sizeof(*l));

		if (l == NULL) {
			rc = 1;
			goto out;
		}
		TAILQ_INSERT_TAIL(&srv->listeners, l, entry);
		if (!listener_open(srv, l, argv[i])) {
			rc = 2;
			goto out;
		}
	}
	if (ready != NULL && !write_ready(srv, ready)) {
		rc = 1;
		goto out;
	}
	event_base_dispatch(srv->base);
out:
	srv_free(srv);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	event_base_free(srv->base);
	free(srv);
	libevent_global_shutdown();
	return rc;
}
