/*
 * The last events of the daemon (a bounded ring in memory), for
 * `spofctl history`.  Every event also goes to the log; this is only the
 * recent part an admin asks for.
 */
#ifndef SPOFD_HISTORY_H
#define SPOFD_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define HISTORY_DEFAULT_SIZE 256 /* events kept */

struct history;

struct history *history_new(size_t capacity);
/* Record EVENT ("+promoted") of SERVICE (may be NULL) at wall time WALL_US. */
void history_add(struct history *h, uint64_t wall_us, const char *service, const char *event,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/*
 * Oldest first: [{"time": "2026-12-04T21:00:00.123Z", "service": ..., "event": ...,
 * "detail": ...}], only SERVICE's when not NULL, at most LIMIT (0: all).
 */
json_t *history_json(const struct history *h, const char *service, size_t limit);
size_t history_count(const struct history *h);
void history_free(struct history *h);

#endif
