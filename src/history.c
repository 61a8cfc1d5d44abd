/*
 * The event ring.  Fixed capacity, allocated once: adding an event when it
 * is full frees the oldest event's strings and reuses its slot, so memory
 * is bounded by capacity x (names + HISTORY_DETAIL_MAX) whatever happens.
 *
 * Strings are made valid UTF-8 on the way in (an invalid byte becomes '?')
 * because jansson refuses to build a JSON string from anything else, and a
 * detail may quote a hook's output or a remote peer.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "log.h"
#include "util.h"

#define HISTORY_DETAIL_MAX 512   /* bytes of detail kept per event */
#define HISTORY_NAME_MAX 128     /* bytes of service and event names kept */

struct history_event {
	uint64_t wall_us;   /* wall clock, microseconds since the epoch */
	char *service;      /* NULL: not about one service */
	char *event;        /* "+promoted" */
	char *detail;
};

struct history {
	struct history_event *ring;
	size_t capacity;    /* slots; 0 keeps nothing */
	size_t first;       /* slot of the oldest event */
	size_t n;           /* events held */
};

struct history *
history_new(size_t capacity)
{
	struct history *h = xcalloc(1, sizeof(*h));

	h->capacity = capacity;
	if (capacity > 0)
		h->ring = xcalloc(capacity, sizeof(*h->ring));
	return h;
}

/* Length of the valid UTF-8 sequence at S (at most AVAIL bytes), 0 if invalid. */
static size_t
history_utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > avail)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * A copy of S as valid UTF-8 of at most MAX bytes, cut on a character
 * boundary so that the cut never makes it invalid.
 */
static char *
history_clean(const char *s, size_t max)
{
	const unsigned char *in = (const unsigned char *)s;
	size_t len = strlen(s), o = 0;
	char *out = xmalloc((len < max ? len : max) + 1);

	for (size_t i = 0; i < len;) {
		size_t cl = history_utf8_len(in + i, len - i);

		if (o + (cl ? cl : 1) > max)
			break;
		if (cl == 0) {
			out[o++] = '?';
			i++;
		} else {
			memcpy(out + o, in + i, cl);
			o += cl;
			i += cl;
		}
	}
	out[o] = '\0';
	return out;
}

void
history_add(struct history *h, uint64_t wall_us, const char *service, const char *event,
    const char *fmt, ...)
{
	struct history_event *e;
	char detail[HISTORY_DETAIL_MAX * 2];
	va_list ap;

	if (h->capacity == 0)
		return;
	/* Twice the cap so that history_clean can cut on a character boundary. */
	detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	if (h->n == h->capacity) {
		e = &h->ring[h->first];
		free(e->service);
		free(e->event);
		free(e->detail);
		h->first = (h->first + 1) % h->capacity;
	} else {
		e = &h->ring[(h->first + h->n) % h->capacity];
		h->n++;
	}
	e->wall_us = wall_us;
	e->service = service != NULL ? history_clean(service, HISTORY_NAME_MAX) : NULL;
	e->event = history_clean(event != NULL ? event : "", HISTORY_NAME_MAX);
	e->detail = history_clean(detail, HISTORY_DETAIL_MAX);
}

/* "2026-12-04T21:00:00.123Z": milliseconds, cut rather than rounded. */
static json_t *
history_time_json(uint64_t wall_us)
{
	char buf[48];

	return json_string(format_utc(wall_us, true, buf, sizeof(buf)));
}

static bool
history_match(const struct history_event *e, const char *service)
{
	return service == NULL || (e->service != NULL && strcmp(e->service, service) == 0);
}

json_t *
history_json(const struct history *h, const char *service, size_t limit)
{
	json_t *arr = json_array();
	size_t matches = 0, skip = 0;

	if (arr == NULL)
		fatal("out of memory (json)");
	for (size_t i = 0; i < h->n; i++)
		matches += history_match(&h->ring[(h->first + i) % h->capacity], service);
	/* LIMIT keeps the newest: skip the oldest matches beyond it. */
	if (limit > 0 && matches > limit)
		skip = matches - limit;
	for (size_t i = 0; i < h->n; i++) {
		const struct history_event *e = &h->ring[(h->first + i) % h->capacity];
		json_t *o;

		if (!history_match(e, service))
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		o = json_object();
		if (o == NULL)
			fatal("out of memory (json)");
		json_object_set_new(o, "time", history_time_json(e->wall_us));
		json_object_set_new(o, "service", e->service != NULL ? json_string(e->service) :
		    json_null());
		json_object_set_new(o, "event", json_string(e->event));
		json_object_set_new(o, "detail", json_string(e->detail));
		json_array_append_new(arr, o);
	}
	return arr;
}

size_t
history_count(const struct history *h)
{
	return h->n;
}

void
history_free(struct history *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++) {
		struct history_event *e = &h->ring[(h->first + i) % h->capacity];

		free(e->service);
		free(e->event);
		free(e->detail);
	}
	free(h->ring);
	free(h);
}
