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
 */
#include "autoconf.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "log.h"
#include "probe_impl.h"
#include "util.h"

#define HTTP_EASY_POOL_MAX 32 /* spare easy handles kept for reuse */

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

/* One check in flight: p->impl of a running http probe. */
struct http_check {
	TAILQ_ENTRY(http_check) entry;
	struct probe *p;
	struct probe_http_engine *h;
	CURL *easy;
	struct curl_slist *headers;    /* kept alive until the transfer ends */
	struct curl_slist *connect_to;
	const char *expect;            /* http_expect_body or NULL */
	size_t expect_len;
	char *window;                  /* last expect_len-1 body bytes + room for a chunk's head */
	size_t window_len;
	size_t body_seen;              /* body bytes examined, at most DEFAULT_HTTP_BODY_MAX */
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
	if (c->expect == NULL) {
		http_check_decide(c, PROBE_OK, 0);
		return 0;
	}
	return len;
}

/*
 * Body bytes, only read when a substring is expected.  Nothing is kept but
 * the last expect_len-1 bytes, so a match split across two chunks is still
 * seen; reading stops at the match or at DEFAULT_HTTP_BODY_MAX bytes.
 */
static size_t
http_check_write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct http_check *c = arg;
	size_t len = size * n, take, keep, head;

	if (c->decided || c->expect == NULL)
		return 0;
	take = len;
	if (take > DEFAULT_HTTP_BODY_MAX - c->body_seen)
		take = DEFAULT_HTTP_BODY_MAX - c->body_seen;
	keep = c->expect_len - 1;

	/* A match straddling the previous chunk and this one. */
	head = take < keep ? take : keep;
	memcpy(c->window + c->window_len, buf, head);
	if (memmem(c->window, c->window_len + head, c->expect, c->expect_len) != NULL ||
	    memmem(buf, take, c->expect, c->expect_len) != NULL) {
		http_check_decide(c, PROBE_OK, 0);
		return 0;
	}
	/* Keep the last KEEP bytes of window + this chunk. */
	if (take >= keep) {
		memcpy(c->window, buf + take - keep, keep);
		c->window_len = keep;
	} else {
		size_t total = c->window_len + take, drop = total > keep ? total - keep : 0;

		memcpy(c->window + c->window_len, buf, take);
		memmove(c->window, c->window + drop, total - drop);
		c->window_len = total - drop;
	}
	c->body_seen += take;
	if (take < len) {
		/*
		 * Over the cap with no match: body-too-large rather than
		 * expect-mismatch, because the substring may well lie further
		 * on; the operator needs to know the check reads only so far.
		 */
		http_check_decide(c, PROBE_BODY_TOO_LARGE, 0);
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
	free(c->window);
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

void
probe_http_start(struct probe *p)
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
	if (p->check->http_expect_body != NULL && p->check->http_expect_body[0] != '\0') {
		c->expect = p->check->http_expect_body;
		c->expect_len = strlen(c->expect);
		c->window = xmalloc(2 * c->expect_len);
	}
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

void
probe_http_cancel(struct probe *p)
{
	struct http_check *c = p->impl;

	if (c == NULL)
		return;
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
		return c->expect != NULL ? PROBE_EXPECT_MISMATCH : PROBE_OK;
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

/* curl is done with C: settle the verdict, free C, then report. */
static void
http_check_done(struct http_check *c, CURLcode rc)
{
	struct probe *p = c->p;
	const struct check_conf *check = p->check;
	enum probe_result r;
	char detail[sizeof(((struct probe_outcome *)0)->detail)];
	char quoted[64];
	int code;

	detail[0] = '\0';
	if (c->decided) {
		r = c->verdict;
		code = c->code;
	} else
		r = http_result_from_curl(c, rc, &code);
	switch (r) {
	case PROBE_OK:
		snprintf(detail, sizeof(detail), "status %ld", c->status);
		break;
	case PROBE_HTTP_STATUS:
		snprintf(detail, sizeof(detail), "status %d not expected", code);
		break;
	case PROBE_EXPECT_MISMATCH:
		snprintf(detail, sizeof(detail), "body lacks \"%s\"",
		    http_quote(check->http_expect_body, quoted, sizeof(quoted)));
		break;
	case PROBE_BODY_TOO_LARGE:
		snprintf(detail, sizeof(detail), "no \"%s\" in the first %d bytes",
		    http_quote(check->http_expect_body, quoted, sizeof(quoted)), DEFAULT_HTTP_BODY_MAX);
		break;
	default:
		snprintf(detail, sizeof(detail), "%.*s", (int)sizeof(detail) - 1,
		    c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc));
		break;
	}
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
