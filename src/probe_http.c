/*
 * HTTP and HTTPS probes: libcurl's multi_socket interface driven by the
 * daemon's libevent base.  One multi handle per engine; curl tells us which
 * sockets to watch (http_engine_socket_cb) and when to wake it
 * (http_engine_timer_cb), we tell it what happened with
 * curl_multi_socket_action and collect finished transfers with
 * curl_multi_info_read once it has returned.  Verdicts are delivered only
 * from there, never from inside a curl callback, so a done callback may
 * start, cancel or free probes freely.
 *
 * Easy handles are large (tens of KiB each with their buffers), so only
 * probes in flight hold one and a few spares wait in a free list.
 *
 * Plain http to a numeric address does without curl: a check is one
 * request on one fresh connection, and curl's set-up of a transfer cost
 * more than the connection itself (about 200 us of CPU per check against
 * HAProxy's 90).  http_native_* below speaks just what a check needs --
 * HTTP/1.1, one request, status line, headers, a body framed by
 * Content-Length, chunks or the close -- on a non-blocking socket of its
 * own.  https, and members named by host name, still go through curl.
 */
#include "autoconf.h"

#include <sys/queue.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "log.h"
#include "probe_impl.h"
#include "util.h"

#define HTTP_EASY_POOL_MAX 32 /* spare easy handles kept for reuse */
#define HTTP_HEAD_MAX 65536   /* bytes of a reply's head (status line and headers) at most */
#define HTTP_READ_CHUNK 16384 /* bytes read from the socket at once */

/* What p->impl of a running http probe is: both kinds start with this. */
enum http_impl { HTTP_IMPL_CURL, HTTP_IMPL_NATIVE };

/*
 * The body matcher shared by both kinds: nothing is kept but the last
 * expect_len-1 bytes, so a match split across two reads is still seen.
 */
struct http_match {
	const char *expect;            /* http_expect_body or NULL */
	size_t expect_len;
	char *window;                  /* last expect_len-1 body bytes + room for a chunk's head */
	size_t window_len;
	size_t body_seen;              /* body bytes examined, at most DEFAULT_HTTP_BODY_MAX */
};

struct http_check;

struct probe_http_engine {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;               /* curl's single timeout */
	CURL *pool[HTTP_EASY_POOL_MAX];    /* spare easy handles, reset */
	size_t n_pool;
	TAILQ_HEAD(, http_check) checks;   /* in flight */
};

/* One socket curl asked us to watch (curl_multi_assign'ed to it). */
struct http_sock {
	struct probe_http_engine *h;
	curl_socket_t fd;
	struct event *ev;
};

/* One curl check in flight: p->impl of a running https (or named) probe. */
struct http_check {
	enum http_impl kind;           /* HTTP_IMPL_CURL */
	TAILQ_ENTRY(http_check) entry;
	struct probe *p;
	struct probe_http_engine *h;
	CURL *easy;
	struct curl_slist *headers;    /* kept alive until the transfer ends */
	struct curl_slist *connect_to;
	struct http_match match;
	long status;                   /* final status, once the head is read */
	bool decided;                  /* verdict below is final; curl was stopped on purpose */
	enum probe_result verdict;
	int code;
	char errbuf[CURL_ERROR_SIZE];
};

static void http_engine_collect(struct probe_http_engine *);

/* ---- the easy handle pool ---- */

static CURL *
http_easy_get(struct probe_http_engine *h)
{
	if (h->n_pool > 0)
		return h->pool[--h->n_pool];
	return curl_easy_init();
}

/* Reset on the way back, so no spare points at a freed check's buffers. */
static void
http_easy_put(struct probe_http_engine *h, CURL *easy)
{
	if (h->n_pool < HTTP_EASY_POOL_MAX) {
		curl_easy_reset(easy);
		h->pool[h->n_pool++] = easy;
	} else
		curl_easy_cleanup(easy);
}

/* ---- curl on libevent ---- */

static void
http_engine_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_sock *s = arg;
	struct probe_http_engine *h = s->h;
	int action = 0, running;
	CURLMcode mc;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	/* S may be freed inside (CURL_POLL_REMOVE); do not touch it after. */
	mc = curl_multi_socket_action(h->multi, fd, action, &running);
	if (mc != CURLM_OK)
		log_warn("http probe: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	http_engine_collect(h);
}

static void
http_engine_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe_http_engine *h = arg;
	int running;
	CURLMcode mc;

	mc = curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	if (mc != CURLM_OK)
		log_warn("http probe: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	http_engine_collect(h);
}

/*
 * curl's one timer: -1 deletes it, 0 means "as soon as possible".  Zero is
 * armed as a zero timeout, never acted on here: curl forbids calling
 * socket_action from its own callback.
 */
static int
http_engine_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct probe_http_engine *h = arg;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(h->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(h->timer, &tv);
	return 0;
}

static int
http_engine_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct probe_http_engine *h = arg;
	struct http_sock *s = sockp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_free(s->ev);
			free(s);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->h = h;
		s->fd = fd;
		s->ev = event_new(h->base, fd, kind, http_engine_event_cb, s);
		if (s->ev == NULL) {
			free(s);
			log_warn("http probe: event_new failed for fd %d", (int)fd);
			return -1;
		}
		curl_multi_assign(h->multi, fd, s);
	} else {
		event_del(s->ev);
		event_assign(s->ev, h->base, fd, kind, http_engine_event_cb, s);
	}
	event_add(s->ev, NULL);
	return 0;
}

struct probe_http_engine *
probe_http_engine_new(struct event_base *base)
{
	struct probe_http_engine *h;
	const curl_version_info_data *vi;
	CURLcode rc;

	/* Refcounted by curl; the matching cleanup is in probe_http_engine_free. */
	rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		fatal("curl_global_init: %s", curl_easy_strerror(rc));
	vi = curl_version_info(CURLVERSION_NOW);
	if (!(vi->features & CURL_VERSION_ASYNCHDNS))
		log_warn("libcurl %s resolves names synchronously: http probes of members "
		    "named by host name may block the event loop", vi->version);

	h = xcalloc(1, sizeof(*h));
	h->base = base;
	TAILQ_INIT(&h->checks);
	h->multi = curl_multi_init();
	if (h->multi == NULL)
		fatal("curl_multi_init failed");
	h->timer = evtimer_new(base, http_engine_timeout_cb, h);
	if (h->timer == NULL)
		fatal("evtimer_new failed");
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_engine_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_engine_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

static void http_check_free(struct http_check *c);

void
probe_http_engine_free(struct probe_http_engine *h)
{
	struct http_check *c;

	if (h == NULL)
		return;
	/* Probes should be gone by now; any left are abandoned, not reported. */
	while ((c = TAILQ_FIRST(&h->checks)) != NULL) {
		log_warn("http probe: engine freed with a check in flight");
		c->p->impl = NULL;
		http_check_free(c);
	}
	while (h->n_pool > 0)
		curl_easy_cleanup(h->pool[--h->n_pool]);
	curl_multi_cleanup(h->multi);
	event_free(h->timer);
	free(h);
	curl_global_cleanup();
}

/* ---- one check ---- */

static bool
http_status_expected(const struct check_conf *check, long status)
{
	if (check->n_http_expect_status == 0)
		return status >= 200 && status <= 399;
	for (size_t i = 0; i < check->n_http_expect_status; i++)
		if (status >= check->http_expect_status[i].lo && status <= check->http_expect_status[i].hi)
			return true;
	return false;
}

static void
http_check_decide(struct http_check *c, enum probe_result r, int code)
{
	c->decided = true;
	c->verdict = r;
	c->code = code;
}

/*
 * Every header line; a lone line end closes a head.  The head of the final
 * reply (not a 1xx) settles the status, and when no body is expected it
 * settles everything: returning 0 stops curl at once, so an endless body
 * costs nothing and curl's CURLE_WRITE_ERROR is overridden by the verdict.
 */
static size_t
http_check_header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct http_check *c = arg;
	const struct check_conf *check = c->p->check;
	size_t len = size * n;
	long status = 0;

	if (c->decided)
		return 0;
	if (!(len == 2 && buf[0] == '\r' && buf[1] == '\n') && !(len == 1 && buf[0] == '\n'))
		return len;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 100 && status < 200)
		return len;
	c->status = status;
	if (!http_status_expected(check, status)) {
		http_check_decide(c, PROBE_HTTP_STATUS, (int)status);
		return 0;
	}
	if (c->match.expect == NULL) {
		http_check_decide(c, PROBE_OK, 0);
		return 0;
	}
	return len;
}

static void
http_match_init(struct http_match *m, const struct check_conf *check)
{
	memset(m, 0, sizeof(*m));
	if (check->http_expect_body != NULL && check->http_expect_body[0] != '\0') {
		m->expect = check->http_expect_body;
		m->expect_len = strlen(m->expect);
		m->window = xmalloc(2 * m->expect_len);
	}
}

/*
 * LEN body bytes: true when they settle the verdict (*R): the substring
 * found, or DEFAULT_HTTP_BODY_MAX bytes examined without it.
 */
static bool
http_match_feed(struct http_match *m, const char *buf, size_t len, enum probe_result *r)
{
	size_t take, keep, head;

	take = len;
	if (take > DEFAULT_HTTP_BODY_MAX - m->body_seen)
		take = DEFAULT_HTTP_BODY_MAX - m->body_seen;
	keep = m->expect_len - 1;

	/* A match straddling the previous chunk and this one. */
	head = take < keep ? take : keep;
	memcpy(m->window + m->window_len, buf, head);
	if (memmem(m->window, m->window_len + head, m->expect, m->expect_len) != NULL ||
	    memmem(buf, take, m->expect, m->expect_len) != NULL) {
		*r = PROBE_OK;
		return true;
	}
	/* Keep the last KEEP bytes of window + this chunk. */
	if (take >= keep) {
		memcpy(m->window, buf + take - keep, keep);
		m->window_len = keep;
	} else {
		size_t total = m->window_len + take, drop = total > keep ? total - keep : 0;

		memcpy(m->window + m->window_len, buf, take);
		memmove(m->window, m->window + drop, total - drop);
		m->window_len = total - drop;
	}
	m->body_seen += take;
	if (take < len) {
		/*
		 * Over the cap with no match: body-too-large rather than
		 * expect-mismatch, because the substring may well lie further
		 * on; the operator needs to know the check reads only so far.
		 */
		*r = PROBE_BODY_TOO_LARGE;
		return true;
	}
	return false;
}

/* Body bytes, only read when a substring is expected. */
static size_t
http_check_write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct http_check *c = arg;
	size_t len = size * n;
	enum probe_result r;

	if (c->decided || c->match.expect == NULL)
		return 0;
	if (http_match_feed(&c->match, buf, len, &r)) {
		http_check_decide(c, r, 0);
		return 0;
	}
	return len;
}

static void
http_check_free(struct http_check *c)
{
	struct probe_http_engine *h = c->h;

	TAILQ_REMOVE(&h->checks, c, entry);
	if (c->easy != NULL) {
		curl_multi_remove_handle(h->multi, c->easy);
		http_easy_put(h, c->easy);
	}
	curl_slist_free_all(c->headers);
	curl_slist_free_all(c->connect_to);
	free(c->match.window);
	free(c);
}

static bool
http_host_is_v6(const char *host)
{
	return strchr(host, ':') != NULL;
}

/*
 * The URL and how to reach the member.  With http_host set the URL names
 * that host and CURLOPT_CONNECT_TO sends the connection to the member: curl
 * then writes the Host header, and for https the SNI name and the name the
 * certificate is checked against are http_host too, as a browser would
 * have them.  A host that makes no valid URL falls back to the member's
 * address in the URL and a plain Host header.
 */
static char *
http_check_url(struct http_check *c)
{
	const struct probe *p = c->p;
	const struct check_conf *check = p->check;
	const struct member_conf *m = p->member;
	const char *scheme = check->type == CHECK_HTTPS ? "https" : "http";
	const char *path = check->http_path != NULL ? check->http_path : "/";
	const char *slash = path[0] == '/' ? "" : "/";
	bool v6 = http_host_is_v6(m->host);
	char *url, *to;
	CURLU *u;

	if (check->http_host != NULL && check->http_host[0] != '\0') {
		/* Only a bare authority: "a/b" would quietly change the path. */
		if (strpbrk(check->http_host, "/?#@ \t\\") != NULL)
			goto plain;
		url = xasprintf("%s://%s%s%s", scheme, check->http_host, slash, path);
		u = curl_url();
		if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
			curl_url_cleanup(u);
			to = xasprintf("::%s%s%s:%s", v6 ? "[" : "", m->host, v6 ? "]" : "", m->port);
			c->connect_to = curl_slist_append(NULL, to);
			free(to);
			return url;
		}
		curl_url_cleanup(u);
		free(url);
plain:
		to = xasprintf("Host: %s", check->http_host);
		c->headers = curl_slist_append(c->headers, to);
		free(to);
	}
	return xasprintf("%s://%s%s%s:%s%s%s", scheme, v6 ? "[" : "", m->host, v6 ? "]" : "",
	    m->port, slash, path);
}

static void
http_check_setup(struct http_check *c, uint64_t budget_ms)
{
	const struct check_conf *check = c->p->check;
	CURL *e = c->easy;
	char *url = http_check_url(c);

	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* Every check opens its own connection: it is accept() we test. */
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	/* A proxy from the environment would probe the proxy, not the member. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/*
	 * HTTP/1.1 even over TLS: a check reads a status and maybe a body,
	 * which h2 would not change, while its setup would add to every
	 * (always fresh) connection.
	 */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)budget_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)budget_ms);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_check_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_check_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	if (check->http_method == NULL || strcmp(check->http_method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(check->http_method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, check->http_method);
	if (c->headers != NULL)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	if (c->connect_to != NULL)
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
	if (check->type == CHECK_HTTPS) {
		if (!check->tls_verify) {
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
		}
		if (check->tls_ca_file != NULL)
			curl_easy_setopt(e, CURLOPT_CAINFO, check->tls_ca_file);
	}
}

static void
http_curl_start(struct probe *p)
{
	struct probe_http_engine *h;
	struct http_check *c;
	uint64_t left_us = probe_budget_left_us(p);
	CURLMcode mc;

	if (p->eng->http == NULL)
		p->eng->http = probe_http_engine_new(p->eng->base);
	h = p->eng->http;
	if (left_us == 0) {
		probe_finish_later(p, PROBE_TIMEOUT, 0, "no time left to start");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->kind = HTTP_IMPL_CURL;
	c->p = p;
	c->h = h;
	c->easy = http_easy_get(h);
	TAILQ_INSERT_TAIL(&h->checks, c, entry);
	p->impl = c;
	if (c->easy == NULL) {
		p->impl = NULL;
		http_check_free(c);
		probe_finish_later(p, PROBE_INTERNAL, 0, "curl_easy_init failed");
		return;
	}
	http_match_init(&c->match, p->check);
	/* Round up: a budget of 300us is 1ms, not "no timeout" (0). */
	http_check_setup(c, (left_us + 999) / 1000);
	mc = curl_multi_add_handle(h->multi, c->easy);
	if (mc != CURLM_OK) {
		p->impl = NULL;
		curl_easy_reset(c->easy);
		http_easy_put(h, c->easy);
		c->easy = NULL;
		http_check_free(c);
		probe_finish_later(p, PROBE_INTERNAL, 0, curl_multi_strerror(mc));
	}
	/* curl_multi_add_handle armed a zero timeout: the transfer starts from the loop. */
}

static void
http_curl_cancel(struct probe *p)
{
	struct http_check *c = p->impl;

	p->impl = NULL;
	http_check_free(c);
}

static bool
curl_code_is_tls(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
#if LIBCURL_VERSION_NUM >= 0x074d00
	case CURLE_SSL_CLIENTCERT:
#endif
		return true;
	default:
		return false;
	}
}

/* A transfer curl ended on its own (no verdict of ours yet): what it means. */
static enum probe_result
http_result_from_curl(struct http_check *c, CURLcode rc, int *code)
{
	long os_errno = 0;

	*code = 0;
	switch (rc) {
	case CURLE_OK:
		if (c->status == 0)
			curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
		if (!http_status_expected(c->p->check, c->status)) {
			*code = (int)c->status;
			return PROBE_HTTP_STATUS;
		}
		/* The whole body came and went without the substring. */
		return c->match.expect != NULL ? PROBE_EXPECT_MISMATCH : PROBE_OK;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno);
		return os_errno != 0 ? probe_result_from_errno((int)os_errno) : PROBE_CONNECT_ERROR;
	case CURLE_OPERATION_TIMEDOUT:
		return PROBE_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return PROBE_RESOLVE;
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return PROBE_CLOSED;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		curl_easy_getinfo(c->easy, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == ECONNRESET)
			return PROBE_RESET;
		if (os_errno == EPIPE)
			return PROBE_CLOSED;
		return PROBE_HTTP_ERROR;
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* The URL is always http(s): this is a reply that is not HTTP (0.9). */
		return PROBE_HTTP_ERROR;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_URL_MALFORMAT:
	case CURLE_WRITE_ERROR: /* only we stop writes, and then we decided */
		return PROBE_INTERNAL;
	default:
		return curl_code_is_tls(rc) ? PROBE_TLS_ERROR : PROBE_HTTP_ERROR;
	}
}

/* S for a one-line detail: control characters escaped, "..." when cut to LEN. */
static const char *
http_quote(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	/* Room is kept for one escape (4), then "..." and the NUL (4). */
	for (; *s != '\0' && n + 8 <= len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\n')
			n += (size_t)snprintf(buf + n, len - n, "\\n");
		else if (ch == '\r')
			n += (size_t)snprintf(buf + n, len - n, "\\r");
		else if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			n += (size_t)snprintf(buf + n, len - n, "\\x%02x", ch);
		else
			buf[n++] = (char)ch;
	}
	if (*s != '\0')
		n += (size_t)snprintf(buf + n, len - n, "...");
	buf[n] = '\0';
	return buf;
}

/*
 * The detail of a verdict both kinds reach the same way; false for the
 * others (errors), whose detail says what went wrong in their own words.
 */
static bool
http_verdict_detail(const struct check_conf *check, enum probe_result r, int code, long status,
    char *detail, size_t len)
{
	char quoted[64];

	switch (r) {
	case PROBE_OK:
		snprintf(detail, len, "status %ld", status);
		return true;
	case PROBE_HTTP_STATUS:
		snprintf(detail, len, "status %d not expected", code);
		return true;
	case PROBE_EXPECT_MISMATCH:
		snprintf(detail, len, "body lacks \"%s\"",
		    http_quote(check->http_expect_body, quoted, sizeof(quoted)));
		return true;
	case PROBE_BODY_TOO_LARGE:
		snprintf(detail, len, "no \"%s\" in the first %d bytes",
		    http_quote(check->http_expect_body, quoted, sizeof(quoted)), DEFAULT_HTTP_BODY_MAX);
		return true;
	default:
		return false;
	}
}

/* curl is done with C: settle the verdict, free C, then report. */
static void
http_check_done(struct http_check *c, CURLcode rc)
{
	struct probe *p = c->p;
	enum probe_result r;
	char detail[sizeof(((struct probe_outcome *)0)->detail)];
	int code;

	detail[0] = '\0';
	if (c->decided) {
		r = c->verdict;
		code = c->code;
	} else
		r = http_result_from_curl(c, rc, &code);
	if (!http_verdict_detail(p->check, r, code, c->status, detail, sizeof(detail)))
		snprintf(detail, sizeof(detail), "%.*s", (int)sizeof(detail) - 1,
		    c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc));
	p->impl = NULL;
	http_check_free(c);
	probe_finish(p, r, code, "%s", detail);
}

/* Finished transfers, collected once curl has returned to us. */
static void
http_engine_collect(struct probe_http_engine *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		char *priv = NULL;
		CURLcode rc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		/* MSG is invalid from here: the handle leaves the multi. */
		if (priv != NULL)
			http_check_done((struct http_check *)(void *)priv, rc);
	}
}

/* ---- plain http without curl ---- */

enum http_phase { HN_CONNECTING, HN_SENDING, HN_HEAD, HN_BODY };
enum http_framing { HN_LENGTH, HN_CHUNKED, HN_UNTIL_CLOSE };
enum http_chunk { HN_CHUNK_SIZE, HN_CHUNK_EXT, HN_CHUNK_DATA, HN_CHUNK_DATA_END, HN_CHUNK_TRAILER };

/* One native check in flight: p->impl of a running plain http probe. */
struct http_native {
	enum http_impl kind;           /* HTTP_IMPL_NATIVE */
	struct probe *p;
	evutil_socket_t fd;
	int family;
	bool reusable;                 /* the socket may serve another check (see probe_sock_put) */
	struct event ev;
	bool ev_set;
	enum http_phase phase;
	char *req;                     /* the request, sent from req + sent */
	size_t req_len, sent;
	char *head;                    /* the reply's head so far */
	size_t head_len, head_cap, head_scanned;
	long status;
	enum http_framing framing;
	uint64_t left;                 /* HN_LENGTH: body bytes to come; chunked: of this chunk */
	enum http_chunk chunk;
	unsigned chunk_digits;
	size_t trailer_line;           /* bytes of the trailer line being read */
	struct http_match match;
};

/* The member's address when it needs no lookup; false sends the check to curl. */
static bool
http_native_addr(const struct member_conf *m, struct sockaddr_storage *ss, socklen_t *len)
{
	char *end;
	unsigned long port = strtoul(m->port, &end, 10);

	if (*m->port == '\0' || *end != '\0' || port == 0 || port > 65535)
		return false;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, m->host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, m->host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return true;
	}
	return false;
}

/*
 * The request, as curl wrote it for the same check: the Host header is
 * http_host as written, else the address (":80" left out, as a browser
 * does); "Connection: close" as the connection ends with the reply.
 */
static char *
http_native_request(const struct probe *p, size_t *len)
{
	const struct check_conf *check = p->check;
	const struct member_conf *m = p->member;
	const char *method = check->http_method != NULL ? check->http_method : "GET";
	const char *path = check->http_path != NULL ? check->http_path : "/";
	const char *slash = path[0] == '/' ? "" : "/";
	char *req;

	if (check->http_host != NULL && check->http_host[0] != '\0')
		req = xasprintf("%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s/%s\r\n"
		    "Accept: */*\r\nConnection: close\r\n\r\n", method, slash, path, check->http_host,
		    PACKAGE_NAME, PACKAGE_VERSION);
	else {
		bool v6 = http_host_is_v6(m->host);
		bool port80 = strcmp(m->port, "80") == 0;

		req = xasprintf("%s %s%s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: %s/%s\r\n"
		    "Accept: */*\r\nConnection: close\r\n\r\n", method, slash, path,
		    v6 ? "[" : "", m->host, v6 ? "]" : "", port80 ? "" : ":", port80 ? "" : m->port,
		    PACKAGE_NAME, PACKAGE_VERSION);
	}
	*len = strlen(req);
	return req;
}

/* Reset the connection (the check needs nothing more of it) and free N. */
static void
http_native_free(struct http_native *n)
{
	if (n->ev_set)
		event_del(&n->ev);
	if (n->fd >= 0) {
		if (n->reusable)
			probe_sock_put(n->p->eng, n->fd, n->family);
		else
			probe_sock_close_reset(n->fd);
	}
	free(n->req);
	free(n->head);
	free(n->match.window);
	free(n);
}

/*
 * The verdict: N is freed, then the probe reports, now (from the loop) or
 * on the next loop turn (from probe_start).  FMT is the detail of errors.
 */
static void http_native_end(struct http_native *n, bool later, enum probe_result r, int code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
http_native_end(struct http_native *n, bool later, enum probe_result r, int code, const char *fmt, ...)
{
	struct probe *p = n->p;
	char detail[sizeof(((struct probe_outcome *)0)->detail)];

	/* A verdict from a reply: the connection is sound, its socket reusable. */
	n->reusable = (n->phase == HN_HEAD || n->phase == HN_BODY) && (r == PROBE_OK ||
	    r == PROBE_HTTP_STATUS || r == PROBE_EXPECT_MISMATCH || r == PROBE_BODY_TOO_LARGE);
	if (!http_verdict_detail(p->check, r, code, n->status, detail, sizeof(detail))) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	p->impl = NULL;
	http_native_free(n);
	if (later)
		probe_finish_later(p, r, code, detail);
	else
		probe_finish(p, r, code, "%s", detail);
}

static void http_native_cb(evutil_socket_t fd, short what, void *arg);

static void
http_native_wait(struct http_native *n, short what)
{
	struct timeval tv = us_to_tv(probe_budget_left_us(n->p));

	if (n->ev_set)
		event_del(&n->ev);
	event_assign(&n->ev, n->p->eng->base, n->fd, what, http_native_cb, n);
	n->ev_set = true;
	event_add(&n->ev, &tv);
}

/*
 * Send what is left of the request.  Loopback (and any fast network)
 * has the handshake done by the time connect() returns, so the request
 * goes at once; a socket still connecting says EAGAIN and we wait.
 */
static void
http_native_send(struct http_native *n, bool later)
{
	while (n->sent < n->req_len) {
		ssize_t k = send(n->fd, n->req + n->sent, n->req_len - n->sent, MSG_NOSIGNAL);

		if (k < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			if (err == EAGAIN || err == EWOULDBLOCK) {
				http_native_wait(n, EV_WRITE);
				return;
			}
			if (n->phase == HN_CONNECTING)
				http_native_end(n, later, probe_result_from_errno(err), 0, "connect: %s",
				    strerror(err));
			else
				http_native_end(n, later, probe_result_from_errno(err), 0,
				    "sending the request: %s", strerror(err));
			return;
		}
		n->sent += (size_t)k;
		n->phase = HN_SENDING;
	}
	n->phase = HN_HEAD;
	http_native_wait(n, EV_READ);
}

/* The reply is complete and the substring never came. */
static void
http_native_body_done(struct http_native *n)
{
	http_native_end(n, false, PROBE_EXPECT_MISMATCH, 0, "body without the expected text");
}

/* The first line of the head (at most LEN-1 bytes of it), for a detail. */
static const char *
http_native_first_line(const struct http_native *n, char *line, size_t len)
{
	size_t l = 0;

	while (l < n->head_len && l + 1 < len && n->head[l] != '\r' && n->head[l] != '\n') {
		line[l] = n->head[l];
		l++;
	}
	line[l] = '\0';
	return line;
}

/* Value of a header named NAME (case-insensitive) in the head, or NULL; LEN its length. */
static const char *
http_native_header(const struct http_native *n, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *line = memchr(n->head, '\n', n->head_len);
	const char *end = n->head + n->head_len;

	while (line != NULL && ++line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *v, *ve;

		if (eol == NULL)
			break;
		if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			v = line + nl + 1;
			ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*len = (size_t)(ve - v);
			return v;
		}
		line = eol;
	}
	return NULL;
}

/* Body bytes, decoded from their framing; true when the verdict is out. */
static bool
http_native_body(struct http_native *n, const char *buf, size_t len)
{
	enum probe_result r;

	while (len > 0) {
		size_t take;

		if (n->framing == HN_UNTIL_CLOSE || n->framing == HN_LENGTH ||
		    n->chunk == HN_CHUNK_DATA) {
			take = len;
			if (n->framing != HN_UNTIL_CLOSE && take > n->left)
				take = (size_t)n->left;
			if (http_match_feed(&n->match, buf, take, &r)) {
				http_native_end(n, false, r, 0, "body checked");
				return true;
			}
			buf += take;
			len -= take;
			if (n->framing == HN_UNTIL_CLOSE)
				continue;
			n->left -= take;
			if (n->left > 0)
				continue;
			if (n->framing == HN_LENGTH) {
				http_native_body_done(n);
				return true;
			}
			n->chunk = HN_CHUNK_DATA_END;
			continue;
		}
		/* Chunked framing, one byte at a time outside the data. */
		char ch = *buf++;

		len--;
		switch (n->chunk) {
		case HN_CHUNK_SIZE:
			if (ch >= '0' && ch <= '9')
				n->left = n->left * 16 + (uint64_t)(ch - '0');
			else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
				n->left = n->left * 16 + (uint64_t)((ch | 0x20) - 'a' + 10);
			else if (ch == ';' || ch == ' ' || ch == '\t' || ch == '\r') {
				n->chunk = HN_CHUNK_EXT;
				break;
			} else if (ch == '\n' && n->chunk_digits > 0)
				goto size_done;
			else
				goto bad;
			if (++n->chunk_digits > 15)
				goto bad;
			break;
		case HN_CHUNK_EXT:
			if (ch != '\n')
				break;
			if (n->chunk_digits == 0)
				goto bad;
size_done:
			n->chunk_digits = 0;
			n->chunk = n->left > 0 ? HN_CHUNK_DATA : HN_CHUNK_TRAILER;
			n->trailer_line = 0;
			break;
		case HN_CHUNK_DATA_END:
			if (ch == '\r')
				break;
			if (ch != '\n')
				goto bad;
			n->chunk = HN_CHUNK_SIZE;
			n->left = 0;
			break;
		case HN_CHUNK_TRAILER:
			if (ch == '\r')
				break;
			if (ch != '\n') {
				n->trailer_line++;
				break;
			}
			if (n->trailer_line == 0) {
				http_native_body_done(n);
				return true;
			}
			n->trailer_line = 0;
			break;
		case HN_CHUNK_DATA:
			break;
		}
	}
	return false;
bad:
	http_native_end(n, false, PROBE_HTTP_ERROR, 0, "malformed chunked body");
	return true;
}

/*
 * The head is complete at END: judge the status; when a body is to be
 * read, find its framing and hand on what came after the head.  True
 * when the verdict is out.
 */
static bool
http_native_head_done(struct http_native *n, size_t end)
{
	const struct check_conf *check = n->p->check;
	const char *h = n->head, *v;
	size_t vlen;
	long status;

	/* "HTTP/1.1 200 OK": the status is the three digits after the first space. */
	v = memchr(h, ' ', end);
	if (v == NULL || (size_t)(v - h) + 4 > end || v[1] < '1' || v[1] > '9' ||
	    v[2] < '0' || v[2] > '9' || v[3] < '0' || v[3] > '9' ||
	    !(v[4] == ' ' || v[4] == '\r' || v[4] == '\n')) {
		char quoted[64], line[48];

		http_native_end(n, false, PROBE_HTTP_ERROR, 0, "malformed status line \"%s\"",
		    http_quote(http_native_first_line(n, line, sizeof(line)), quoted, sizeof(quoted)));
		return true;
	}
	status = (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
	if (status < 200) {
		/* An interim reply (100 Continue): the final one follows. */
		memmove(n->head, n->head + end, n->head_len - end);
		n->head_len -= end;
		n->head_scanned = 0;
		return false;
	}
	n->status = status;
	if (!http_status_expected(check, status)) {
		http_native_end(n, false, PROBE_HTTP_STATUS, (int)status, "status");
		return true;
	}
	if (n->match.expect == NULL) {
		http_native_end(n, false, PROBE_OK, 0, "status");
		return true;
	}
	/* A body is wanted: no body at all is a reply without the text. */
	if ((check->http_method != NULL && strcmp(check->http_method, "HEAD") == 0) ||
	    status == 204 || status == 304) {
		http_native_body_done(n);
		return true;
	}
	n->phase = HN_BODY;
	n->framing = HN_UNTIL_CLOSE;
	if ((v = http_native_header(n, "Transfer-Encoding", &vlen)) != NULL && vlen >= 7 &&
	    strncasecmp(v + vlen - 7, "chunked", 7) == 0) {
		n->framing = HN_CHUNKED;
		n->chunk = HN_CHUNK_SIZE;
		n->left = 0;
	} else if ((v = http_native_header(n, "Content-Length", &vlen)) != NULL) {
		char num[24];
		char *e;

		snprintf(num, sizeof(num), "%.*s", (int)(vlen < sizeof(num) - 1 ? vlen : sizeof(num) - 1), v);
		n->left = strtoull(num, &e, 10);
		if (vlen == 0 || vlen >= sizeof(num) || *e != '\0' || num[0] == '-') {
			http_native_end(n, false, PROBE_HTTP_ERROR, 0, "malformed Content-Length");
			return true;
		}
		n->framing = HN_LENGTH;
		if (n->left == 0) {
			http_native_body_done(n);
			return true;
		}
	}
	return http_native_body(n, n->head + end, n->head_len - end);
}

/* Reply bytes while in the head; true when the verdict is out. */
static bool
http_native_head(struct http_native *n, const char *buf, size_t len)
{
	if (n->head_len + len > HTTP_HEAD_MAX) {
		http_native_end(n, false, PROBE_HTTP_ERROR, 0, "reply head over %d bytes", HTTP_HEAD_MAX);
		return true;
	}
	if (n->head_len + len > n->head_cap) {
		size_t cap = n->head_cap > 0 ? n->head_cap : 1024;

		while (cap < n->head_len + len)
			cap *= 2;
		n->head = xrealloc(n->head, cap);
		n->head_cap = cap;
	}
	memcpy(n->head + n->head_len, buf, len);
	n->head_len += len;
	for (;;) {
		size_t i, cmp = n->head_len < 5 ? n->head_len : 5;

		/* Not HTTP at all (an SSH banner...): say so at once. */
		if (memcmp(n->head, "HTTP/", cmp) != 0) {
			char quoted[64], line[48];

			http_native_end(n, false, PROBE_HTTP_ERROR, 0, "reply is not HTTP: \"%s\"",
			    http_quote(http_native_first_line(n, line, sizeof(line)), quoted, sizeof(quoted)));
			return true;
		}
		/* The head ends with an empty line ("\r\n\r\n", or bare "\n\n"). */
		for (i = n->head_scanned; i < n->head_len; i++) {
			if (n->head[i] != '\n')
				continue;
			if ((i >= 1 && n->head[i - 1] == '\n') ||
			    (i >= 2 && n->head[i - 1] == '\r' && n->head[i - 2] == '\n'))
				break;
		}
		if (i == n->head_len) {
			n->head_scanned = i;
			return false;
		}
		if (http_native_head_done(n, i + 1))
			return true;
		if (n->phase == HN_BODY)
			return false;
		/* After an interim reply: look at what follows it. */
		if (n->head_len == 0)
			return false;
	}
}

/* The peer closed: the end of a body read to the close, else too soon. */
static void
http_native_eof(struct http_native *n)
{
	if (n->phase == HN_BODY && n->framing == HN_UNTIL_CLOSE)
		http_native_body_done(n);
	else if (n->phase == HN_BODY)
		http_native_end(n, false, PROBE_CLOSED, 0, "connection closed before the end of the body");
	else if (n->head_len == 0)
		http_native_end(n, false, PROBE_CLOSED, 0, "connection closed without a reply");
	else
		http_native_end(n, false, PROBE_CLOSED, 0, "connection closed in the reply's head");
}

static void
http_native_read(struct http_native *n)
{
	char buf[HTTP_READ_CHUNK];

	for (;;) {
		ssize_t k = recv(n->fd, buf, sizeof(buf), 0);

		if (k < 0) {
			int err = errno;

			if (err == EINTR)
				continue;
			if (err == EAGAIN || err == EWOULDBLOCK)
				break;
			/* As curl's receive errors read: reset, closed, else an HTTP error. */
			http_native_end(n, false, err == ECONNRESET ? PROBE_RESET : err == EPIPE ?
			    PROBE_CLOSED : PROBE_HTTP_ERROR, 0, "reading the reply: %s", strerror(err));
			return;
		}
		if (k == 0) {
			http_native_eof(n);
			return;
		}
		if (n->phase == HN_HEAD ? http_native_head(n, buf, (size_t)k) :
		    http_native_body(n, buf, (size_t)k))
			return;
	}
	http_native_wait(n, EV_READ);
}

static const char *
http_native_phase_str(enum http_phase ph)
{
	switch (ph) {
	case HN_CONNECTING:
		return "connecting";
	case HN_SENDING:
		return "sending the request";
	case HN_HEAD:
		return "waiting for the reply";
	case HN_BODY:
		return "reading the body";
	}
	return "?";
}

static void
http_native_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_native *n = arg;

	n->ev_set = false;
	if (what & EV_TIMEOUT) {
		http_native_end(n, false, PROBE_TIMEOUT, 0, "no answer within %llu ms while %s",
		    (unsigned long long)n->p->check->timeout_ms, http_native_phase_str(n->phase));
		return;
	}
	if (n->phase == HN_CONNECTING || n->phase == HN_SENDING)
		http_native_send(n, false);
	else
		http_native_read(n);
}

/* False: not for us (a name, https); curl takes the check. */
static bool
http_native_start(struct probe *p)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct http_native *n;
	int off = 0;

	if (p->check->type != CHECK_HTTP || !http_native_addr(p->member, &ss, &sslen))
		return false;
	n = xcalloc(1, sizeof(*n));
	n->kind = HTTP_IMPL_NATIVE;
	n->p = p;
	n->phase = HN_CONNECTING;
	http_match_init(&n->match, p->check);
	n->req = http_native_request(p, &n->req_len);
	p->impl = n;
	n->family = ss.ss_family;
	n->fd = probe_sock_get(p->eng, ss.ss_family);
	if (n->fd < 0) {
		http_native_end(n, true, PROBE_INTERNAL, 0, "socket: %s", strerror(errno));
		return true;
	}
	/* The request carries the handshake's last ACK: one packet less. */
	setsockopt(n->fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof(off));
	if (connect(n->fd, (struct sockaddr *)&ss, sslen) < 0 && errno != EINPROGRESS && errno != EINTR) {
		int err = errno;

		http_native_end(n, true, probe_result_from_errno(err), 0, "connect: %s", strerror(err));
		return true;
	}
	http_native_send(n, true);
	return true;
}

/* ---- entry points ---- */

void
probe_http_start(struct probe *p)
{
	if (probe_budget_left_us(p) > 0 && http_native_start(p))
		return;
	http_curl_start(p);
}

void
probe_http_cancel(struct probe *p)
{
	enum http_impl *kind = p->impl;

	if (kind == NULL)
		return;
	if (*kind == HTTP_IMPL_NATIVE) {
		p->impl = NULL;
		http_native_free((struct http_native *)(void *)kind);
	} else
		http_curl_cancel(p);
}
