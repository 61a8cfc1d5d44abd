/*
 * The admin socket, server half (the client half, for spofctl, is
 * control_client.c).  Each client is a non-blocking Unix stream connection
 * with an input and an output evbuffer and two raw events: reading (with
 * the idle timeout) and writing (only while output is pending).  Raw events
 * rather than bufferevents because bufferevents write with writev(), which
 * raises SIGPIPE when a client has gone; send(MSG_NOSIGNAL) does not, so
 * this module works whatever the process does with that signal.
 *
 * Bounds: a request line is at most CONTROL_REQUEST_MAX bytes; a client
 * whose replies pile up (it sends but never reads) stops being read once
 * CONTROL_OUTPUT_HIGH bytes wait for it, and is dropped when even those do
 * not move for CONTROL_IDLE_TIMEOUT_MS.  So one client costs at most
 * CONTROL_OUTPUT_HIGH plus one reply of memory.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "control.h"
#include "log.h"
#include "util.h"

#define CONTROL_LISTEN_BACKLOG 128
#define CONTROL_READ_CHUNK 16384          /* bytes read per wakeup at most */
#define CONTROL_ACCEPT_BATCH 16           /* accepts per wakeup at most */
#define CONTROL_ACCEPT_BACKOFF_MS 100     /* listener pause when out of fds */
#define CONTROL_OUTPUT_HIGH (256 * 1024)  /* bytes queued before we stop reading */
#define CONTROL_REPLY_MAX (16 * 1024 * 1024) /* bytes of one reply at most */
#define CONTROL_REFUSED_LOG_US 1000000u   /* one "refusing" warning per second */

struct control_client {
	TAILQ_ENTRY(control_client) entry;
	struct control *ctl;
	int fd;
	struct event *ev_read;   /* persistent, idle timeout */
	struct event *ev_write;  /* armed while output is pending */
	struct evbuffer *in;
	struct evbuffer *out;
	uid_t uid;               /* SO_PEERCRED at accept */
	gid_t gid;
	pid_t pid;
	bool paused;             /* not reading: too much output queued */
	bool closing;            /* flush the output, then close */
};

TAILQ_HEAD(control_clients, control_client);

struct control {
	struct event_base *base;
	char *path;
	dev_t dev;               /* of the socket we bound, to unlink only ours */
	ino_t ino;
	int fd;                  /* listening socket */
	struct event *ev_accept;
	struct event *ev_backoff; /* re-arms ev_accept after EMFILE */
	char *admin_group;       /* NULL: root and our own uid only */
	control_handler_fn handler;
	void *arg;
	struct control_clients clients;
	size_t n_clients;
	struct control_stats stats;
	uint64_t refused_log_us;  /* monotonic time of the last "refusing" warning */
};

static void control_accept_cb(evutil_socket_t, short, void *);
static void control_backoff_cb(evutil_socket_t, short, void *);
static void control_read_cb(evutil_socket_t, short, void *);
static void control_write_cb(evutil_socket_t, short, void *);

/* ---- listening socket ---- */

static int
control_make_parent(const char *path, char *err, size_t errlen)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	struct stat st;
	int rc = 0;

	if (slash == NULL || slash == dir) {
		free(dir);
		return 0;  /* relative name in the cwd, or right under "/" */
	}
	*slash = '\0';
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s: not a directory", dir);
			rc = -1;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		rc = -1;
	} else if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		/* One level only, like systemd's RuntimeDirectory: a missing
		 * grandparent is more likely a typo than a wish. */
		snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
		rc = -1;
	} else if (chmod(dir, 0755) == -1) {
		/* Whatever the umask: spofctl users must reach the socket. */
		snprintf(err, errlen, "chmod %s: %s", dir, strerror(errno));
		rc = -1;
	} else {
		log_info("control: created directory %s", dir);
	}
	free(dir);
	return rc;
}

/*
 * Something is at PATH.  A socket nobody answers on is what a crashed
 * daemon leaves: remove it.  A live one or anything else stays.
 */
static int
control_clear_path(const char *path, const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not removing it", path);
		return -1;
	}
	/* A blocking connect to a Unix socket does not wait on the network:
	 * it succeeds, or fails at once (or waits for a full backlog, which
	 * only a live listener has; the non-blocking flag makes that EAGAIN). */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN) {
		close(fd);
		snprintf(err, errlen, "another spofd is listening on %s", path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "cannot check %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	log_info("control: removing stale socket %s", path);
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
control_listen(struct control *c, const char *group, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	gid_t gid = (gid_t)-1;
	mode_t old_mask;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(c->path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long (at most %zu bytes)",
		    c->path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, c->path, strlen(c->path) + 1);

	if (group != NULL) {
		struct group *gr = getgrnam(group);

		if (gr == NULL) {
			snprintf(err, errlen, "control group %s: no such group", group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (control_make_parent(c->path, err, errlen) == -1)
		return -1;
	if (control_clear_path(c->path, &sun, err, errlen) == -1)
		return -1;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Born 0600 so that no one outside can connect before the chown and
	 * chmod below; umask is process-wide but the daemon is one thread. */
	old_mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (rc == -1) {
		snprintf(err, errlen, "bind %s: %s", c->path, strerror(errno));
		close(fd);
		return -1;
	}
	if (stat(c->path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", c->path, strerror(errno));
		goto fail;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (gid != (gid_t)-1 && chown(c->path, (uid_t)-1, gid) == -1) {
		snprintf(err, errlen, "chown %s to group %s: %s", c->path, group, strerror(errno));
		goto fail;
	}
	if (chmod(c->path, 0660) == -1) {
		snprintf(err, errlen, "chmod %s: %s", c->path, strerror(errno));
		goto fail;
	}
	if (listen(fd, CONTROL_LISTEN_BACKLOG) == -1) {
		snprintf(err, errlen, "listen %s: %s", c->path, strerror(errno));
		goto fail;
	}
	c->fd = fd;
	return 0;
fail:
	close(fd);
	unlink(c->path);
	return -1;
}

struct control *
control_new(struct event_base *base, const char *path, const char *group,
    const char *admin_group, control_handler_fn handler, void *arg,
    char *err, size_t errlen)
{
	struct control *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->path = xstrdup(path);
	c->fd = -1;
	c->handler = handler;
	c->arg = arg;
	TAILQ_INIT(&c->clients);
	if (admin_group != NULL && getgrnam(admin_group) == NULL) {
		snprintf(err, errlen, "admin group %s: no such group", admin_group);
		goto fail;
	}
	c->admin_group = admin_group != NULL ? xstrdup(admin_group) : NULL;
	if (control_listen(c, group, err, errlen) == -1)
		goto fail;
	c->ev_accept = event_new(base, c->fd, EV_READ | EV_PERSIST, control_accept_cb, c);
	c->ev_backoff = evtimer_new(base, control_backoff_cb, c);
	if (c->ev_accept == NULL || c->ev_backoff == NULL)
		fatal("control: event_new failed");
	event_add(c->ev_accept, NULL);
	log_info("control: listening on %s", path);
	return c;
fail:
	free(c->admin_group);
	free(c->path);
	free(c);
	return NULL;
}

void
control_set_admin_group(struct control *c, const char *admin_group)
{
	/* Not fatal on a reload: the old socket stays up, root still works. */
	if (admin_group != NULL && getgrnam(admin_group) == NULL)
		log_warn("control: admin group %s: no such group; only root and the "
		    "daemon's own user may change things", admin_group);
	free(c->admin_group);
	c->admin_group = admin_group != NULL ? xstrdup(admin_group) : NULL;
}

void
control_stats(const struct control *c, struct control_stats *out)
{
	*out = c->stats;
}

/* ---- clients ---- */

static void
control_client_free(struct control_client *cl)
{
	struct control *c = cl->ctl;

	TAILQ_REMOVE(&c->clients, cl, entry);
	c->n_clients--;
	event_free(cl->ev_read);
	event_free(cl->ev_write);
	evbuffer_free(cl->in);
	evbuffer_free(cl->out);
	close(cl->fd);
	free(cl);
}

void
control_free(struct control *c)
{
	struct control_client *cl;
	struct stat st;

	if (c == NULL)
		return;
	while ((cl = TAILQ_FIRST(&c->clients)) != NULL)
		control_client_free(cl);
	event_free(c->ev_accept);
	event_free(c->ev_backoff);
	close(c->fd);
	/* Someone may have started another daemon on the same path since:
	 * its socket is not ours to remove. */
	if (stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c->admin_group);
	free(c->path);
	free(c);
}

static const struct timeval *
control_idle_tv(void)
{
	static const struct timeval tv = {
		.tv_sec = CONTROL_IDLE_TIMEOUT_MS / 1000,
		.tv_usec = (CONTROL_IDLE_TIMEOUT_MS % 1000) * 1000,
	};

	return &tv;
}

static void
control_refuse(struct control *c, int fd)
{
	static const char msg[] = "{\"ok\":false,\"error\":\"too many clients\"}\n";

	/* Best effort: a fresh socket has room for one short line. */
	(void)!send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	c->stats.clients_refused++;
	/* A flood of connections must not become a flood of log lines. */
	if (c->refused_log_us == 0 || now_mono_us() - c->refused_log_us >= CONTROL_REFUSED_LOG_US) {
		c->refused_log_us = now_mono_us();
		log_warn("control: refusing clients over the limit of %d (%" PRIu64 " so far)",
		    CONTROL_MAX_CLIENTS, c->stats.clients_refused);
	}
}

static void
control_accept_one(struct control *c, int fd)
{
	struct control_client *cl;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (c->n_clients >= CONTROL_MAX_CLIENTS) {
		control_refuse(c, fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("control: SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	cl = xcalloc(1, sizeof(*cl));
	cl->ctl = c;
	cl->fd = fd;
	cl->uid = cred.uid;
	cl->gid = cred.gid;
	cl->pid = cred.pid;
	cl->in = evbuffer_new();
	cl->out = evbuffer_new();
	cl->ev_read = event_new(c->base, fd, EV_READ | EV_PERSIST, control_read_cb, cl);
	cl->ev_write = event_new(c->base, fd, EV_WRITE, control_write_cb, cl);
	if (cl->in == NULL || cl->out == NULL || cl->ev_read == NULL || cl->ev_write == NULL)
		fatal("control: out of memory for a client");
	TAILQ_INSERT_TAIL(&c->clients, cl, entry);
	c->n_clients++;
	event_add(cl->ev_read, control_idle_tv());
	log_debug("control: client pid %ld uid %lu connected", (long)cl->pid, (unsigned long)cl->uid);
}

static void
control_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct control *c = arg;

	for (int i = 0; i < CONTROL_ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			control_accept_one(c, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* The pending connection stays pending: a level-triggered
			 * listener would spin.  Pause it a little. */
			struct timeval tv = us_to_tv(CONTROL_ACCEPT_BACKOFF_MS * 1000u);

			log_warn("control: accept: %s; pausing %d ms", strerror(errno),
			    CONTROL_ACCEPT_BACKOFF_MS);
			event_del(c->ev_accept);
			evtimer_add(c->ev_backoff, &tv);
			return;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("control: accept: %s", strerror(errno));
		return;
	}
}

static void
control_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;

	event_add(c->ev_accept, NULL);
}

/*
 * Root; the daemon's own user, who may signal or kill it anyway (a daemon
 * run unprivileged, by a user for their own services or in a test); or
 * the admin group as the peer's primary group or one of the supplementary
 * groups of its user.  The group database is read at each
 * request: admin requests are rare, and a change of /etc/group or of the
 * configured group then needs no restart.  A slow NSS backend (LDAP) would
 * stall the loop here; keep admin groups local.
 */
static bool
control_privileged(const struct control *c, uid_t uid, gid_t gid)
{
	struct group *gr;
	struct passwd *pw;
	gid_t admin, *groups;
	int n = 32;
	bool found = false;

	if (uid == 0 || uid == geteuid())
		return true;
	if (c->admin_group == NULL || (gr = getgrnam(c->admin_group)) == NULL)
		return false;
	admin = gr->gr_gid;
	if (gid == admin)
		return true;
	if ((pw = getpwuid(uid)) == NULL)
		return false;
	groups = xcalloc((size_t)n, sizeof(*groups));
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1) {
		/* n now says how many there are. */
		groups = xrealloc(groups, (size_t)n * sizeof(*groups));
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
			n = 0;
	}
	for (int i = 0; i < n && !found; i++)
		found = groups[i] == admin;
	free(groups);
	return found;
}

/* Queue REPLY (consumed) and count it. */
static void
control_client_reply(struct control_client *cl, json_t *reply)
{
	struct control *c = cl->ctl;
	char *text = NULL;
	size_t len;

	if (reply != NULL && json_is_object(reply))
		text = json_dumps(reply, JSON_COMPACT);
	if (text != NULL && strlen(text) > CONTROL_REPLY_MAX) {
		log_warn("control: reply of %zu bytes over the %d byte limit", strlen(text),
		    CONTROL_REPLY_MAX);
		free(text);
		json_decref(reply);
		reply = json_pack("{s:b,s:s}", "ok", 0, "error", "reply too large");
		text = json_dumps(reply, JSON_COMPACT);
	}
	if (text == NULL) {
		log_warn("control: the handler gave no JSON object to send");
		json_decref(reply);
		reply = json_pack("{s:b,s:s}", "ok", 0, "error", "internal error");
		text = json_dumps(reply, JSON_COMPACT);
		if (text == NULL)
			fatal("control: cannot encode an error reply");
	}
	c->stats.requests++;
	if (!json_is_true(json_object_get(reply, "ok")))
		c->stats.rejected++;
	len = strlen(text);
	text[len] = '\n';  /* over the NUL: evbuffer_add takes a length */
	evbuffer_add(cl->out, text, len + 1);
	free(text);
	json_decref(reply);
}

static void
control_client_error(struct control_client *cl, const char *msg)
{
	log_debug("control: pid %ld: %s", (long)cl->pid, msg);
	control_client_reply(cl, json_pack("{s:b,s:s}", "ok", 0, "error", msg));
}

/*
 * Text a request may hold: printable ASCII, tab, and well-formed UTF-8
 * (no overlong forms, no surrogates, nothing past U+10FFFF, no C1
 * controls).  Returns NULL when fine, else why not.
 */
static const char *
control_check_text(const unsigned char *s, size_t len)
{
	if (len == 0)
		return "empty request";
	if (memchr(s, '\0', len) != NULL)
		return "request contains a NUL byte";
	for (size_t i = 0; i < len;) {
		unsigned c = s[i];
		unsigned need, cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return "request contains a control character";
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return "request is not valid UTF-8";
		}
		if (len - i <= need)
			return "request is not valid UTF-8";
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return "request is not valid UTF-8";
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return "request is not valid UTF-8";
		if (cp >= 0x80 && cp <= 0x9f)
			return "request contains a control character";
		i += need + 1;
	}
	return NULL;
}

static void
control_client_line(struct control_client *cl, char *line, size_t len)
{
	struct control *c = cl->ctl;
	struct control_request req;
	const char *why;
	char **argv;
	char *msg;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if ((why = control_check_text((const unsigned char *)line, len)) != NULL) {
		control_client_error(cl, why);
		return;
	}
	if ((argv = argv_split(line, &why)) == NULL) {
		msg = xasprintf("bad request: %s", why);
		control_client_error(cl, msg);
		free(msg);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.argv = argv;
	req.argc = argv_len(argv);
	req.uid = cl->uid;
	req.gid = cl->gid;
	req.pid = cl->pid;
	req.privileged = control_privileged(c, cl->uid, cl->gid);
	log_debug("control: pid %ld uid %lu: %s", (long)cl->pid, (unsigned long)cl->uid, line);
	control_client_reply(cl, c->handler(c->arg, &req));
	argv_free(argv);
}

/* Answer, then hang up: what is left of the line is not worth reading. */
static void
control_client_too_long(struct control_client *cl)
{
	control_client_error(cl, "request too long");
	cl->closing = true;
	event_del(cl->ev_read);
	evbuffer_drain(cl->in, evbuffer_get_length(cl->in));
}

/*
 * Answer the complete lines in the input until none is left, the client is
 * being closed, or CONTROL_OUTPUT_HIGH bytes of replies wait.  True in that
 * last case: there may be more to do once the output drains.
 */
static bool
control_client_lines(struct control_client *cl)
{
	while (!cl->closing) {
		struct evbuffer_ptr eol;
		size_t eol_len, len;
		char *line;

		if (evbuffer_get_length(cl->out) >= CONTROL_OUTPUT_HIGH)
			return true;
		eol = evbuffer_search_eol(cl->in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			/* +1: the line may end in "\r" with its "\n" to come. */
			if (evbuffer_get_length(cl->in) > CONTROL_REQUEST_MAX + 1)
				control_client_too_long(cl);
			return false;
		}
		len = (size_t)eol.pos;
		if (len > CONTROL_REQUEST_MAX + 1) {
			control_client_too_long(cl);
			return false;
		}
		line = xmalloc(len + 1);
		evbuffer_remove(cl->in, line, len);
		evbuffer_drain(cl->in, eol_len);
		line[len] = '\0';
		if (len > CONTROL_REQUEST_MAX && line[len - 1] != '\r')
			control_client_too_long(cl);
		else
			control_client_line(cl, line, len);
		free(line);
	}
	return false;
}

/*
 * Write what the socket takes.  Returns 0 when all is written, 1 when some
 * waits for the socket (the write event is armed), -1 when CL was freed: a
 * write error, or everything written to a client being closed.
 */
static int
control_client_write(struct control_client *cl)
{
	while (evbuffer_get_length(cl->out) > 0) {
		struct evbuffer_iovec v;
		ssize_t n;

		if (evbuffer_peek(cl->out, -1, NULL, &v, 1) < 1)
			break;
		n = send(cl->fd, v.iov_base, v.iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			evbuffer_drain(cl->out, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(cl->ev_write, control_idle_tv());
			return 1;
		}
		log_debug("control: pid %ld: write: %s", (long)cl->pid, strerror(errno));
		control_client_free(cl);
		return -1;
	}
	event_del(cl->ev_write);
	if (cl->closing) {
		control_client_free(cl);
		return -1;
	}
	return 0;
}

/* Answer what can be answered now and write it out. */
static void
control_client_process(struct control_client *cl)
{
	for (;;) {
		bool more = control_client_lines(cl);

		if (control_client_write(cl) == -1 || cl->closing || !more)
			return;
		if (evbuffer_get_length(cl->out) >= CONTROL_OUTPUT_HIGH) {
			/* Stop reading: let the socket fill up on the client's
			 * side rather than our memory.  The write event resumes. */
			event_del(cl->ev_read);
			cl->paused = true;
			return;
		}
	}
}

static void
control_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *cl = arg;
	int n;

	if (what & EV_TIMEOUT) {
		log_debug("control: pid %ld: idle, closing", (long)cl->pid);
		control_client_free(cl);
		return;
	}
	n = evbuffer_read(cl->in, fd, CONTROL_READ_CHUNK);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		/* The client is done sending; an unterminated last line is
		 * dropped.  Replies still queued may be read after a
		 * shutdown(SHUT_WR), so flush before closing. */
		if (n == -1)
			log_debug("control: pid %ld: read: %s", (long)cl->pid, strerror(errno));
		cl->closing = true;
		event_del(cl->ev_read);
		control_client_write(cl);
		return;
	}
	control_client_process(cl);
}

static void
control_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_client *cl = arg;

	if (what & EV_TIMEOUT) {
		log_warn("control: pid %ld does not read its replies; dropping it", (long)cl->pid);
		control_client_free(cl);
		return;
	}
	if (control_client_write(cl) != 0 || !cl->paused)
		return;
	cl->paused = false;
	event_add(cl->ev_read, control_idle_tv());
	/* Lines read before the pause wait in the input. */
	control_client_process(cl);
}
