/*
 * The client half of the admin socket, for spofctl: one request line out,
 * one reply line back, all of it within one deadline.  Blocking calls
 * bounded by poll() rather than an event loop: the client does nothing
 * else while it waits, and it links no event base.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "util.h"

#define CONTROL_CALL_REPLY_MAX (16 * 1024 * 1024) /* bytes of one reply read at most */

static int
control_remaining_ms(uint64_t deadline_us)
{
	uint64_t now = now_mono_us();

	if (now >= deadline_us)
		return 0;
	return (int)((deadline_us - now + 999) / 1000);
}

/* Wait for EVENTS on FD until the deadline.  0 when ready, -1 on timeout. */
static int
control_wait(int fd, short events, uint64_t deadline_us)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int ms = control_remaining_ms(deadline_us);
		int rc;

		if (ms == 0)
			return -1;
		rc = poll(&pfd, 1, ms);
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR)
			return 0;  /* let the next call report the error */
	}
}

static int
control_call_connect(const char *path, uint64_t deadline_us, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd, ms;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "cannot connect to %s: path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* A non-blocking connect to a Unix socket whose backlog is full fails
	 * with EAGAIN instead of completing later, so poll() cannot wait for
	 * it; a blocking connect bounded by SO_SNDTIMEO can. */
	/* At least 1 ms: a zero SO_SNDTIMEO would mean no limit at all. */
	if ((ms = control_remaining_ms(deadline_us)) == 0)
		ms = 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(fd);
		if (e == EAGAIN || e == EINPROGRESS)
			snprintf(err, errlen, "cannot connect to %s: timeout", path);
		else if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, errlen, "cannot connect to %s: %s (is spofd running?)",
			    path, strerror(e));
		else
			snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(e));
		return -1;
	}
	return fd;
}

json_t *
control_call(const char *path, const char *request, int timeout_ms, char *err, size_t errlen)
{
	uint64_t deadline = now_mono_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000u;
	char *buf = NULL, *out, *nl = NULL;
	size_t len = 0, cap = 0, out_len, sent = 0;
	bool send_failed = false;
	json_error_t jerr;
	json_t *reply = NULL;
	int fd;

	if (strchr(request, '\n') != NULL) {
		snprintf(err, errlen, "request contains a newline");
		return NULL;
	}
	if ((fd = control_call_connect(path, deadline, err, errlen)) == -1)
		return NULL;

	out = xasprintf("%s\n", request);
	out_len = strlen(out);
	while (sent < out_len) {
		ssize_t n;

		if (control_wait(fd, POLLOUT, deadline) == -1) {
			snprintf(err, errlen, "timeout");
			goto done;
		}
		n = send(fd, out + sent, out_len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			sent += (size_t)n;
		} else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			/* The daemon may have answered and hung up (too many
			 * clients, request too long): its reply is still there. */
			send_failed = true;
			break;
		}
	}

	while (nl == NULL) {
		ssize_t n;

		if (len == cap) {
			if (cap >= CONTROL_CALL_REPLY_MAX) {
				snprintf(err, errlen, "bad reply: longer than %d bytes",
				    CONTROL_CALL_REPLY_MAX);
				goto done;
			}
			cap = cap == 0 ? 4096 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		if (control_wait(fd, POLLIN, deadline) == -1) {
			snprintf(err, errlen, "timeout");
			goto done;
		}
		n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n <= 0) {
			if (len == 0 && (n == 0 || send_failed))
				snprintf(err, errlen, "bad reply: connection closed by spofd");
			else if (n == 0)
				snprintf(err, errlen, "bad reply: truncated");
			else
				snprintf(err, errlen, "bad reply: %s", strerror(errno));
			goto done;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	*nl = '\0';
	reply = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
	if (reply == NULL)
		snprintf(err, errlen, "bad reply: %s", jerr.text);
	else if (!json_is_object(reply)) {
		snprintf(err, errlen, "bad reply: not a JSON object");
		json_decref(reply);
		reply = NULL;
	}
done:
	free(out);
	free(buf);
	close(fd);
	return reply;
}
