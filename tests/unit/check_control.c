/*
 * The control socket against real clients: the server runs in this
 * thread's event loop, each client in a second thread (or, to change its
 * credentials, a child process) that signals the end of its work on a
 * pipe the loop watches.  Clients only record what they saw; the
 * assertions run here, after the loop.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "control.h"
#include "util.h"

#define CLIENT_WAIT_S 20          /* bound on one client's whole run */
#define CLIENT_IO_TIMEOUT_S 5     /* bound on one blocking read or write */
#define CALL_TIMEOUT_MS 5000
#define BIG_PAD_BYTES 16384       /* reply padding of the "big" command */
#define MAX_LINES 32

static struct event_base *base;
static struct control *ctl;
static char tmpdir[PATH_MAX];
static char *sock_path;
static unsigned handler_calls;
static bool handler_saw_partial;

/* Echo the words back with the peer's credentials. */
static json_t *
test_handler(void *arg, const struct control_request *req)
{
	json_t *words, *reply;

	handler_calls++;
	if (strcmp(req->argv[0], "null") == 0)
		return NULL;
	if (strcmp(req->argv[0], "fail") == 0)
		return json_pack("{s:b,s:s}", "ok", 0, "error", "unknown command");
	words = json_array();
	for (size_t i = 0; i < req->argc; i++) {
		json_array_append_new(words, json_string(req->argv[i]));
		if (strstr(req->argv[i], "partial") != NULL)
			handler_saw_partial = true;
	}
	reply = json_pack("{s:b,s:o,s:I,s:I,s:I,s:b}", "ok", 1, "argv", words,
	    "uid", (json_int_t)req->uid, "gid", (json_int_t)req->gid,
	    "pid", (json_int_t)req->pid, "privileged", req->privileged);
	if (strcmp(req->argv[0], "big") == 0) {
		char *pad = xmalloc(BIG_PAD_BYTES + 1);

		memset(pad, 'x', BIG_PAD_BYTES);
		pad[BIG_PAD_BYTES] = '\0';
		json_object_set_new(reply, "pad", json_string(pad));
		free(pad);
	}
	return reply;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
setup(void)
{
	char err[256];

	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_control.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	sock_path = xasprintf("%s/ctl.sock", tmpdir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	handler_calls = 0;
	handler_saw_partial = false;
	ctl = control_new(base, sock_path, NULL, NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_msg(ctl != NULL, "control_new: %s", err);
}

static void
teardown(void)
{
	control_free(ctl);
	ctl = NULL;
	event_base_free(base);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(sock_path);
}

static void
sun_set(struct sockaddr_un *sun, const char *path)
{
	ck_assert_uint_lt(strlen(path), sizeof(sun->sun_path));
	memcpy(sun->sun_path, path, strlen(path) + 1);
}

/* ---- driving the loop while a client works ---- */

static bool loop_timed_out;

static void
loop_done_cb(evutil_socket_t fd, short what, void *arg)
{
	if (what & EV_TIMEOUT)
		loop_timed_out = true;
	event_base_loopbreak(arg);
}

/* Run the loop until FD is readable (a byte or EOF). */
static void
loop_until_readable(int fd)
{
	struct timeval tv = { .tv_sec = CLIENT_WAIT_S };
	struct event *ev = event_new(base, fd, EV_READ, loop_done_cb, base);

	loop_timed_out = false;
	event_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
	ck_assert_msg(!loop_timed_out, "client did not finish within %d s", CLIENT_WAIT_S);
}

struct client_thread {
	void (*fn)(void *);
	void *arg;
	int done_fd;
};

static void *
client_thread_main(void *p)
{
	struct client_thread *ct = p;

	ct->fn(ct->arg);
	(void)!write(ct->done_fd, "x", 1);
	return NULL;
}

static void
run_client(void (*fn)(void *), void *arg)
{
	struct client_thread ct = { .fn = fn, .arg = arg };
	pthread_t th;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ct.done_fd = p[1];
	ck_assert_int_eq(pthread_create(&th, NULL, client_thread_main, &ct), 0);
	loop_until_readable(p[0]);
	pthread_join(th, NULL);
	close(p[0]);
	close(p[1]);
}

/* ---- raw client helpers (blocking, bounded) ---- */

struct conn {
	int fd;
	char buf[65536];
	size_t len;
};

static bool
conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CLIENT_IO_TIMEOUT_S };

	c->len = 0;
	sun_set(&sun, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return false;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	return true;
}

static void
conn_close(struct conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

/* Send all of it; false on an error (the server may have hung up). */
static bool
conn_send(struct conn *c, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool
conn_send_str(struct conn *c, const char *s)
{
	return conn_send(c, s, strlen(s));
}

/* One line without its "\n", or NULL on EOF, error or timeout. */
static char *
conn_readline(struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t n;

		if (nl != NULL) {
			char *line = xstrndup(c->buf, (size_t)(nl - c->buf));
			size_t used = (size_t)(nl - c->buf) + 1;

			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			return line;
		}
		if (c->len == sizeof(c->buf))
			return NULL;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
	}
}

/* ---- assertions on replies ---- */

static json_t *
parse_reply(const char *line)
{
	json_error_t jerr;
	json_t *j;

	ck_assert_msg(line != NULL, "no reply line");
	j = json_loads(line, 0, &jerr);
	ck_assert_msg(j != NULL, "reply is not JSON: %s: %s", jerr.text, line);
	ck_assert(json_is_object(j));
	return j;
}

static void
assert_error_reply(const char *line, const char *needle)
{
	json_t *j = parse_reply(line);
	const char *e = json_string_value(json_object_get(j, "error"));

	ck_assert_msg(json_is_false(json_object_get(j, "ok")), "expected ok:false: %s", line);
	ck_assert_msg(e != NULL && strstr(e, needle) != NULL,
	    "expected an error with \"%s\": %s", needle, line);
	json_decref(j);
}

/* ok:true and the words echoed; WORDS NULL-terminated. */
static void
assert_echo_json(const json_t *j, const char *const *words)
{
	const json_t *argv = json_object_get(j, "argv");
	size_t n = 0;

	ck_assert(json_is_true(json_object_get(j, "ok")));
	while (words[n] != NULL) {
		const char *w = json_string_value(json_array_get(argv, n));

		ck_assert_msg(w != NULL && strcmp(w, words[n]) == 0,
		    "word %zu: expected \"%s\", got \"%s\"", n, words[n], w ? w : "(none)");
		n++;
	}
	ck_assert_uint_eq(json_array_size(argv), n);
}

static void
assert_echo_reply(const char *line, const char *const *words)
{
	json_t *j = parse_reply(line);

	assert_echo_json(j, words);
	json_decref(j);
}

static struct control_stats
stats_now(void)
{
	struct control_stats st;

	control_stats(ctl, &st);
	return st;
}

/* ---- tests ---- */

struct call_ctx {
	const char *path;
	const char *request;
	json_t *reply;
	char err[256];
};

static void
client_call(void *p)
{
	struct call_ctx *cc = p;

	cc->reply = control_call(cc->path, cc->request, CALL_TIMEOUT_MS, cc->err, sizeof(cc->err));
}

START_TEST(test_good_request)
{
	struct call_ctx cc = { .path = sock_path, .request = "echo hello 'big world' a\\ b" };
	const char *words[] = { "echo", "hello", "big world", "a b", NULL };
	struct control_stats st;

	run_client(client_call, &cc);
	ck_assert_msg(cc.reply != NULL, "control_call: %s", cc.err);
	assert_echo_json(cc.reply, words);
	ck_assert_int_eq(json_integer_value(json_object_get(cc.reply, "uid")), getuid());
	ck_assert_int_eq(json_integer_value(json_object_get(cc.reply, "gid")), getgid());
	ck_assert_int_eq(json_integer_value(json_object_get(cc.reply, "pid")), getpid());
	/* Root or not, the peer runs as the server's own user. */
	ck_assert(json_is_true(json_object_get(cc.reply, "privileged")));
	json_decref(cc.reply);
	st = stats_now();
	ck_assert_uint_eq(st.requests, 1);
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_uint_eq(st.clients_refused, 0);
}
END_TEST

struct lines_ctx {
	char *line[MAX_LINES];
	size_t n;
	bool eof_after;   /* the server hung up after the last line */
};

static void
lines_free(struct lines_ctx *lc)
{
	for (size_t i = 0; i < lc->n; i++)
		free(lc->line[i]);
}

static void
lines_read(struct lines_ctx *lc, struct conn *c, size_t n)
{
	while (n-- > 0 && lc->n < MAX_LINES)
		lc->line[lc->n++] = conn_readline(c);
}

static void
client_pipeline(void *p)
{
	struct lines_ctx *lc = p;
	struct conn c;

	if (!conn_open(&c, sock_path))
		return;
	/* Three requests in one write, one with a CRLF ending. */
	conn_send_str(&c, "echo 1\necho 2\r\necho 3\n");
	lines_read(lc, &c, 3);
	conn_send_str(&c, "echo 4\n");
	lines_read(lc, &c, 1);
	conn_close(&c);
}

START_TEST(test_pipeline)
{
	struct lines_ctx lc = { .n = 0 };
	const char *w[][3] = {
		{ "echo", "1", NULL }, { "echo", "2", NULL }, { "echo", "3", NULL }, { "echo", "4", NULL },
	};

	run_client(client_pipeline, &lc);
	ck_assert_uint_eq(lc.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_echo_reply(lc.line[i], w[i]);
	ck_assert_uint_eq(stats_now().requests, 4);
	ck_assert_uint_eq(stats_now().rejected, 0);
	lines_free(&lc);
}
END_TEST

struct oversize_ctx {
	struct lines_ctx at_max;  /* a line of exactly CONTROL_REQUEST_MAX bytes */
	struct lines_ctx unterminated;
	struct lines_ctx huge;
};

static void
client_oversize(void *p)
{
	struct oversize_ctx *oc = p;
	size_t huge_len = 1024 * 1024;
	char *buf = xmalloc(huge_len + 2);
	struct conn c;
	char *line;

	/* Exactly at the limit (plus "\r\n"): accepted. */
	if (conn_open(&c, sock_path)) {
		memcpy(buf, "echo ", 5);
		memset(buf + 5, 'a', CONTROL_REQUEST_MAX - 5);
		memcpy(buf + CONTROL_REQUEST_MAX, "\r\n", 2);
		conn_send(&c, buf, CONTROL_REQUEST_MAX + 2);
		lines_read(&oc->at_max, &c, 1);
		conn_close(&c);
	}
	/* Over the limit with no end of line in sight. */
	if (conn_open(&c, sock_path)) {
		memset(buf, 'b', CONTROL_REQUEST_MAX + 100);
		conn_send(&c, buf, CONTROL_REQUEST_MAX + 100);
		lines_read(&oc->unterminated, &c, 1);
		line = conn_readline(&c);
		oc->unterminated.eof_after = line == NULL;
		free(line);
		conn_close(&c);
	}
	/* 1 MiB in one line: the server stops reading; our write fails. */
	if (conn_open(&c, sock_path)) {
		memset(buf, 'c', huge_len);
		buf[huge_len] = '\n';
		conn_send(&c, buf, huge_len + 1);
		lines_read(&oc->huge, &c, 1);
		line = conn_readline(&c);
		oc->huge.eof_after = line == NULL;
		free(line);
		conn_close(&c);
	}
	free(buf);
}

START_TEST(test_oversize)
{
	struct oversize_ctx oc;
	struct control_stats st;
	json_t *j;

	memset(&oc, 0, sizeof(oc));
	run_client(client_oversize, &oc);

	ck_assert_uint_eq(oc.at_max.n, 1);
	j = parse_reply(oc.at_max.line[0]);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_uint_eq(strlen(json_string_value(json_array_get(json_object_get(j, "argv"), 1))),
	    CONTROL_REQUEST_MAX - 5);
	json_decref(j);

	ck_assert_uint_eq(oc.unterminated.n, 1);
	assert_error_reply(oc.unterminated.line[0], "request too long");
	ck_assert_msg(oc.unterminated.eof_after, "connection stayed open after an oversized request");
	ck_assert_uint_eq(oc.huge.n, 1);
	assert_error_reply(oc.huge.line[0], "request too long");
	ck_assert(oc.huge.eof_after);

	st = stats_now();
	ck_assert_uint_eq(st.requests, 3);
	ck_assert_uint_eq(st.rejected, 2);
	ck_assert_uint_eq(handler_calls, 1);
	lines_free(&oc.at_max);
	lines_free(&oc.unterminated);
	lines_free(&oc.huge);
}
END_TEST

/* Each bad line, and what its error reply must say. */
static const struct {
	const char *bytes;
	size_t len;
	const char *error;
} garbage[] = {
	{ "\n", 1, "empty request" },
	{ "   \n", 4, "empty command" },
	{ "ec\0ho\n", 6, "NUL" },
	{ "\xff\xfe\n", 3, "UTF-8" },
	{ "\x01\x02\x03\n", 4, "control character" },
	{ "echo \x1b[31m\n", 11, "control character" },
	{ "\xc0\xaf\n", 3, "UTF-8" },            /* overlong "/" */
	{ "\xed\xa0\x80\n", 4, "UTF-8" },        /* a surrogate */
	{ "\xf4\x90\x80\x80\n", 5, "UTF-8" },    /* past U+10FFFF */
	{ "echo \xc3\n", 7, "UTF-8" },           /* truncated sequence */
	{ "echo 'unterminated\n", 19, "unterminated quote" },
	{ "echo trailing\\\n", 15, "trailing backslash" },
	{ "fail\n", 5, "unknown command" },      /* the handler's own refusal */
	{ "null\n", 5, "internal error" },       /* the handler gave nothing */
};

static void
client_garbage(void *p)
{
	struct lines_ctx *lc = p;
	struct conn c;

	if (!conn_open(&c, sock_path))
		return;
	for (size_t i = 0; i < ARRAY_LEN(garbage); i++) {
		conn_send(&c, garbage[i].bytes, garbage[i].len);
		lines_read(lc, &c, 1);
	}
	/* Still usable: valid UTF-8 goes through untouched. */
	conn_send_str(&c, "echo h\xc3\xa9llo \xe2\x82\xac\n");
	lines_read(lc, &c, 1);
	conn_close(&c);
}

START_TEST(test_garbage)
{
	struct lines_ctx lc = { .n = 0 };
	const char *words[] = { "echo", "h\xc3\xa9llo", "\xe2\x82\xac", NULL };
	struct control_stats st;

	run_client(client_garbage, &lc);
	ck_assert_uint_eq(lc.n, ARRAY_LEN(garbage) + 1);
	for (size_t i = 0; i < ARRAY_LEN(garbage); i++)
		assert_error_reply(lc.line[i], garbage[i].error);
	assert_echo_reply(lc.line[ARRAY_LEN(garbage)], words);
	st = stats_now();
	ck_assert_uint_eq(st.requests, ARRAY_LEN(garbage) + 1);
	ck_assert_uint_eq(st.rejected, ARRAY_LEN(garbage));
	/* Only "fail", "null" and the good line reached the handler. */
	ck_assert_uint_eq(handler_calls, 3);
	lines_free(&lc);
}
END_TEST

static void
client_early_close(void *p)
{
	struct call_ctx *cc = p;
	struct conn c;

	/* Half a line, then gone. */
	if (conn_open(&c, sock_path)) {
		conn_send_str(&c, "echo partial");
		conn_close(&c);
	}
	/* Many requests, then gone before reading a reply. */
	if (conn_open(&c, sock_path)) {
		for (int i = 0; i < 64; i++)
			conn_send_str(&c, "big\n");
		conn_close(&c);
	}
	/* Connected, then gone without a word. */
	if (conn_open(&c, sock_path))
		conn_close(&c);
	client_call(cc);
}

START_TEST(test_early_close)
{
	struct call_ctx cc = { .path = sock_path, .request = "echo after" };
	const char *words[] = { "echo", "after", NULL };

	run_client(client_early_close, &cc);
	ck_assert_msg(cc.reply != NULL, "control_call: %s", cc.err);
	assert_echo_json(cc.reply, words);
	json_decref(cc.reply);
	ck_assert(!handler_saw_partial);
	ck_assert_uint_eq(stats_now().rejected, 0);
}
END_TEST

struct many_ctx {
	unsigned answered;        /* of the first CONTROL_MAX_CLIENTS */
	json_t *refused_reply;    /* what one more got */
	char refused_err[256];
	json_t *after_reply;      /* once they are gone */
	char after_err[256];
};

static void
client_many(void *p)
{
	struct many_ctx *mc = p;
	struct conn *c = xcalloc(CONTROL_MAX_CLIENTS, sizeof(*c));
	uint64_t end;

	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		char *req, *line;

		if (!conn_open(&c[i], sock_path))
			continue;
		req = xasprintf("echo %d\n", i);
		conn_send_str(&c[i], req);
		line = conn_readline(&c[i]);
		if (line != NULL && strstr(line, "\"ok\":true") != NULL)
			mc->answered++;
		free(line);
		free(req);
	}
	mc->refused_reply = control_call(sock_path, "echo one-too-many", CALL_TIMEOUT_MS,
	    mc->refused_err, sizeof(mc->refused_err));
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		conn_close(&c[i]);
	free(c);
	/* The server sees the hang-ups on its next loop turns. */
	end = now_mono_us() + 3000000u;
	for (;;) {
		json_t *r = control_call(sock_path, "echo again", CALL_TIMEOUT_MS,
		    mc->after_err, sizeof(mc->after_err));

		if (r != NULL && json_is_true(json_object_get(r, "ok"))) {
			mc->after_reply = r;
			break;
		}
		json_decref(r);
		if (now_mono_us() > end)
			break;
		usleep(20000);
	}
}

START_TEST(test_max_clients)
{
	struct many_ctx mc;
	struct control_stats st;

	memset(&mc, 0, sizeof(mc));
	run_client(client_many, &mc);
	ck_assert_uint_eq(mc.answered, CONTROL_MAX_CLIENTS);
	ck_assert_msg(mc.refused_reply != NULL, "control_call: %s", mc.refused_err);
	ck_assert(json_is_false(json_object_get(mc.refused_reply, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(mc.refused_reply, "error")),
	    "too many clients");
	ck_assert_msg(mc.after_reply != NULL, "no answer once clients left: %s", mc.after_err);
	json_decref(mc.refused_reply);
	json_decref(mc.after_reply);
	st = stats_now();
	ck_assert_uint_ge(st.clients_refused, 1);
	ck_assert_uint_ge(st.requests, CONTROL_MAX_CLIENTS + 1);
}
END_TEST

struct flood_ctx {
	unsigned sent;
	bool blocked;        /* the socket filled up at least once */
	bool still_blocked;  /* ... and stayed full while we read nothing */
	unsigned replies;    /* good "big" replies read afterwards, in order */
};

static void
client_flood(void *p)
{
	struct flood_ctx *fc = p;
	struct conn *c = xcalloc(1, sizeof(*c));
	const unsigned limit = 20000;
	uint64_t end = now_mono_us() + 10000000u;

	if (!conn_open(c, sock_path)) {
		free(c);
		return;
	}
	/* Send until the socket stays full: a short EAGAIN only says that
	 * the server is slower than we are; a lasting one that it stopped. */
	while (fc->sent < limit && now_mono_us() < end) {
		char req[32];
		int len = snprintf(req, sizeof(req), "big %u\n", fc->sent);
		ssize_t n = send(c->fd, req, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			fc->blocked = true;
			usleep(300000);
			n = send(c->fd, req, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				fc->still_blocked = true;
				break;
			}
		}
		if (n != len)
			break;
		fc->sent++;
	}
	for (unsigned i = 0; i < fc->sent; i++) {
		char *line = conn_readline(c), *want;

		if (line == NULL)
			break;
		want = xasprintf("[\"big\",\"%u\"]", i);
		if (strstr(line, want) != NULL && strlen(line) > BIG_PAD_BYTES)
			fc->replies++;
		free(want);
		free(line);
		if (fc->replies != i + 1)
			break;
	}
	conn_close(c);
	free(c);
}

START_TEST(test_unread_replies)
{
	struct flood_ctx fc;

	memset(&fc, 0, sizeof(fc));
	run_client(client_flood, &fc);
	ck_assert_msg(fc.blocked, "sent %u requests without the server pushing back", fc.sent);
	ck_assert(fc.still_blocked);
	/* Without back-pressure the server would have read them all. */
	ck_assert_uint_lt(fc.sent, 20000);
	ck_assert_uint_eq(fc.replies, fc.sent);
	ck_assert_uint_eq(stats_now().requests, fc.sent);
}
END_TEST

START_TEST(test_socket_mode_and_group)
{
	struct stat st;
	struct group *gr;
	struct control *c2;
	char *p2, err[256];

	ck_assert_int_eq(stat(sock_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0660);

	/* Our own group: chown works for anyone for their own groups. */
	gr = getgrgid(getgid());
	if (gr != NULL) {
		char *gname = xstrdup(gr->gr_name);

		p2 = xasprintf("%s/grp.sock", tmpdir);
		c2 = control_new(base, p2, gname, NULL, test_handler, NULL, err, sizeof(err));
		ck_assert_msg(c2 != NULL, "control_new: %s", err);
		ck_assert_int_eq(stat(p2, &st), 0);
		ck_assert_uint_eq(st.st_gid, getgid());
		ck_assert_uint_eq(st.st_mode & 07777, 0660);
		control_free(c2);
		free(p2);
		free(gname);
	}

	p2 = xasprintf("%s/nogrp.sock", tmpdir);
	c2 = control_new(base, p2, "no-such-group-spofd", NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_ptr_null(c2);
	ck_assert_msg(strstr(err, "no-such-group-spofd") != NULL, "err: %s", err);
	ck_assert_int_eq(access(p2, F_OK), -1);
	c2 = control_new(base, p2, NULL, "no-such-group-spofd", test_handler, NULL, err, sizeof(err));
	ck_assert_ptr_null(c2);
	ck_assert_msg(strstr(err, "admin group") != NULL, "err: %s", err);
	free(p2);
}
END_TEST

START_TEST(test_stale_socket_replaced)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct call_ctx cc = { .request = "echo fresh" };
	const char *words[] = { "echo", "fresh", NULL };
	struct control *c2;
	struct stat before, after;
	char *p2 = xasprintf("%s/stale.sock", tmpdir), err[256];
	int fd;

	/* What a killed daemon leaves: a bound socket nobody listens on. */
	sun_set(&sun, p2);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	ck_assert_int_eq(stat(p2, &before), 0);

	c2 = control_new(base, p2, NULL, NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "control_new over a stale socket: %s", err);
	ck_assert_int_eq(stat(p2, &after), 0);
	ck_assert(S_ISSOCK(after.st_mode));
	cc.path = p2;
	run_client(client_call, &cc);
	ck_assert_msg(cc.reply != NULL, "control_call: %s", cc.err);
	assert_echo_json(cc.reply, words);
	json_decref(cc.reply);
	control_free(c2);
	free(p2);
}
END_TEST

START_TEST(test_live_socket_kept)
{
	struct call_ctx cc = { .path = sock_path, .request = "echo still-here" };
	const char *words[] = { "echo", "still-here", NULL };
	struct control *c2;
	char err[256];

	c2 = control_new(base, sock_path, NULL, NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_ptr_null(c2);
	ck_assert_msg(strstr(err, "another spofd is listening on") != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, sock_path) != NULL, "err: %s", err);
	/* The first one still answers on the same path. */
	run_client(client_call, &cc);
	ck_assert_msg(cc.reply != NULL, "control_call: %s", cc.err);
	assert_echo_json(cc.reply, words);
	json_decref(cc.reply);
}
END_TEST

START_TEST(test_regular_file_refused)
{
	char *p2 = xasprintf("%s/file.sock", tmpdir), err[256], buf[16] = "";
	struct control *c2;
	FILE *f = fopen(p2, "w");

	ck_assert_ptr_nonnull(f);
	fputs("precious\n", f);
	fclose(f);
	c2 = control_new(base, p2, NULL, NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_ptr_null(c2);
	ck_assert_msg(strstr(err, "not a socket") != NULL, "err: %s", err);
	f = fopen(p2, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "precious\n");
	free(p2);
}
END_TEST

START_TEST(test_parent_dir)
{
	char *dir = xasprintf("%s/run", tmpdir);
	char *p2 = xasprintf("%s/spofd.sock", dir), *p3, *p4, err[256];
	struct control *c2;
	struct stat st;
	FILE *f;

	c2 = control_new(base, p2, NULL, NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "control_new: %s", err);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	control_free(c2);

	/* The parent is a file. */
	p3 = xasprintf("%s/plain", tmpdir);
	f = fopen(p3, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	free(p2);
	p2 = xasprintf("%s/spofd.sock", p3);
	c2 = control_new(base, p2, NULL, NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_ptr_null(c2);
	ck_assert_msg(strstr(err, "not a directory") != NULL, "err: %s", err);

	/* Two levels missing: not created. */
	p4 = xasprintf("%s/a/b/spofd.sock", tmpdir);
	c2 = control_new(base, p4, NULL, NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_ptr_null(c2);
	ck_assert_msg(strstr(err, "cannot create directory") != NULL, "err: %s", err);
	free(p2);
	free(p3);
	free(p4);
	free(dir);
}
END_TEST

START_TEST(test_free_unlinks)
{
	char *p2 = xasprintf("%s/other.sock", tmpdir), *p3 = xasprintf("%s/moved.sock", tmpdir);
	char err[256];
	struct control *c2;
	FILE *f;

	control_free(ctl);
	ctl = NULL;
	ck_assert_int_eq(access(sock_path, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);

	/* Replaced behind our back: the new file is not ours to remove. */
	c2 = control_new(base, p2, NULL, NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "control_new: %s", err);
	ck_assert_int_eq(rename(p2, p3), 0);
	f = fopen(p2, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	control_free(c2);
	ck_assert_int_eq(access(p2, F_OK), 0);
	free(p2);
	free(p3);
}
END_TEST

START_TEST(test_path_too_long)
{
	char long_path[200], err[256];
	struct control *c2;

	memset(long_path, 'x', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	c2 = control_new(base, long_path, NULL, NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_ptr_null(c2);
	ck_assert_msg(strstr(err, "too long") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_call_errors)
{
	char *missing = xasprintf("%s/missing.sock", tmpdir), err[512];
	json_t *r;

	r = control_call(missing, "status", CALL_TIMEOUT_MS, err, sizeof(err));
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err, "cannot connect to") != NULL && strstr(err, missing) != NULL &&
	    strstr(err, "No such file or directory (is spofd running?)") != NULL, "err: %s", err);
	r = control_call(sock_path, "a\nb", CALL_TIMEOUT_MS, err, sizeof(err));
	ck_assert_ptr_null(r);
	free(missing);
}
END_TEST

/* A listener that never answers: control_call gives up on time. */
START_TEST(test_call_timeout)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *p2 = xasprintf("%s/mute.sock", tmpdir), err[256];
	uint64_t t0;
	json_t *r;
	int fd;

	sun_set(&sun, p2);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	t0 = now_mono_us();
	r = control_call(p2, "status", 200, err, sizeof(err));
	ck_assert_ptr_null(r);
	ck_assert_str_eq(err, "timeout");
	ck_assert_uint_ge(now_mono_us() - t0, 150000);
	ck_assert_uint_lt(now_mono_us() - t0, 5000000);
	close(fd);
	free(p2);
}
END_TEST

/* ---- privileges: needs root to become someone else ---- */

/*
 * In a child: become UID with primary group GID and supplementary groups
 * SUPP, call "echo", and write '1' (privileged), '0' (not) or 'E' on FD.
 */
static void
priv_child(const char *path, uid_t uid, gid_t gid, const gid_t *supp, size_t nsupp, int fd)
{
	char err[256], verdict = 'E';
	json_t *r;

	if (setgroups(nsupp, supp) == 0 && setgid(gid) == 0 && setuid(uid) == 0) {
		r = control_call(path, "echo who", CALL_TIMEOUT_MS, err, sizeof(err));
		if (r != NULL && json_is_boolean(json_object_get(r, "privileged")))
			verdict = json_is_true(json_object_get(r, "privileged")) ? '1' : '0';
		else
			(void)!write(2, err, strlen(err));
		json_decref(r);
	}
	(void)!write(fd, &verdict, 1);
	_exit(0);
}

static char
priv_verdict(const char *path, uid_t uid, gid_t gid, const gid_t *supp, size_t nsupp)
{
	char verdict = '?';
	pid_t pid;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		priv_child(path, uid, gid, supp, nsupp, p[1]);
	}
	close(p[1]);
	loop_until_readable(p[0]);
	ck_assert_int_eq(read(p[0], &verdict, 1), 1);
	close(p[0]);
	waitpid(pid, NULL, 0);
	return verdict;
}

START_TEST(test_privileged)
{
	struct passwd *pw;
	struct group *gr;
	struct control *c2;
	char *p2, err[256];
	uid_t nobody;
	gid_t nogroup, other = 4242;

	if (getuid() != 0 || (pw = getpwnam("nobody")) == NULL || (gr = getgrnam("nogroup")) == NULL) {
		fprintf(stderr, "check_control: test_privileged needs root, nobody and nogroup; skipped\n");
		return;
	}
	nobody = pw->pw_uid;
	nogroup = gr->gr_gid;
	if (pw->pw_gid != nogroup) {
		fprintf(stderr, "check_control: nobody's group is not nogroup; skipped\n");
		return;
	}
	/* nobody must reach the socket: through the directory and the group. */
	ck_assert_int_eq(chmod(tmpdir, 0711), 0);
	p2 = xasprintf("%s/priv.sock", tmpdir);
	c2 = control_new(base, p2, "nogroup", NULL, test_handler, NULL, err, sizeof(err));
	ck_assert_msg(c2 != NULL, "control_new: %s", err);

	/* No admin group: only root. */
	ck_assert_int_eq(priv_verdict(p2, nobody, nogroup, NULL, 0), '0');
	/* The admin group as the peer's primary group. */
	control_set_admin_group(c2, "nogroup");
	ck_assert_int_eq(priv_verdict(p2, nobody, nogroup, NULL, 0), '1');
	/* The peer runs with another primary group, but its user belongs to
	 * the admin group (here through its passwd entry). */
	ck_assert_int_eq(priv_verdict(p2, nobody, other, &nogroup, 1), '1');
	/* An admin group the user is not in. */
	control_set_admin_group(c2, "root");
	ck_assert_int_eq(priv_verdict(p2, nobody, nogroup, NULL, 0), '0');
	control_set_admin_group(c2, NULL);
	ck_assert_int_eq(priv_verdict(p2, nobody, nogroup, NULL, 0), '0');
	control_free(c2);
	free(p2);
}
END_TEST

/*
 * In a child: become UID/GID, serve on PATH (group GROUP) until STOP_FD
 * reads EOF, having written one byte on READY_FD once listening.
 */
static void
priv_server_child(const char *path, uid_t uid, gid_t gid, const char *group,
    int ready_fd, int stop_fd)
{
	struct event_base *b;
	struct control *c2;
	struct event *ev;
	char err[256];

	if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
		_exit(1);
	if ((b = event_base_new()) == NULL)
		_exit(1);
	c2 = control_new(b, path, group, NULL, test_handler, NULL, err, sizeof(err));
	if (c2 == NULL) {
		(void)!write(2, err, strlen(err));
		_exit(1);
	}
	ev = event_new(b, stop_fd, EV_READ, loop_done_cb, b);
	event_add(ev, NULL);
	(void)!write(ready_fd, "r", 1);
	event_base_dispatch(b);
	event_free(ev);
	control_free(c2);
	event_base_free(b);
	_exit(0);
}

/* The daemon's own user may change things, whoever that user is. */
START_TEST(test_privileged_own_uid)
{
	struct passwd *pw;
	struct group *gr;
	char *dir, *p2, ready_byte;
	uid_t nobody, stranger = 4243;
	gid_t nogroup;
	int ready[2], stop[2], status;
	pid_t pid;

	if (getuid() != 0 || (pw = getpwnam("nobody")) == NULL || (gr = getgrnam("nogroup")) == NULL) {
		fprintf(stderr, "check_control: test_privileged_own_uid needs root, nobody and nogroup; skipped\n");
		return;
	}
	nobody = pw->pw_uid;
	nogroup = gr->gr_gid;
	/* A directory nobody may create its socket in. */
	ck_assert_int_eq(chmod(tmpdir, 0711), 0);
	dir = xasprintf("%s/nobody", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(chown(dir, nobody, nogroup), 0);
	p2 = xasprintf("%s/own.sock", dir);

	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(stop, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ready[0]);
		close(stop[1]);
		priv_server_child(p2, nobody, nogroup, "nogroup", ready[1], stop[0]);
	}
	close(ready[1]);
	close(stop[0]);
	/* EOF instead of the byte: the server child failed (its reason on stderr). */
	ck_assert_int_eq(read(ready[0], &ready_byte, 1), 1);
	close(ready[0]);

	/* The server runs as nobody: nobody is its own user, root is root,
	 * another user of the socket's group is neither. */
	ck_assert_int_eq(priv_verdict(p2, nobody, nogroup, NULL, 0), '1');
	ck_assert_int_eq(priv_verdict(p2, 0, 0, NULL, 0), '1');
	ck_assert_int_eq(priv_verdict(p2, stranger, nogroup, NULL, 0), '0');

	close(stop[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(access(p2, F_OK), -1);
	free(p2);
	free(dir);
}
END_TEST

static Suite *
control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_good_request);
	tcase_add_test(tc, test_pipeline);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_early_close);
	tcase_add_test(tc, test_max_clients);
	tcase_add_test(tc, test_unread_replies);
	tcase_add_test(tc, test_socket_mode_and_group);
	tcase_add_test(tc, test_stale_socket_replaced);
	tcase_add_test(tc, test_live_socket_kept);
	tcase_add_test(tc, test_regular_file_refused);
	tcase_add_test(tc, test_parent_dir);
	tcase_add_test(tc, test_free_unlinks);
	tcase_add_test(tc, test_path_too_long);
	tcase_add_test(tc, test_call_errors);
	tcase_add_test(tc, test_call_timeout);
	tcase_add_test(tc, test_privileged);
	tcase_add_test(tc, test_privileged_own_uid);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
