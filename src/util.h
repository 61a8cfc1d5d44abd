/*
 * Small helpers shared by every module: allocation that never returns NULL,
 * the monotonic and wall clocks, and string utilities.
 */
#ifndef SPOFD_UTIL_H
#define SPOFD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh buffer; never NULL. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic clock in microseconds: the only clock timers may use. */
uint64_t now_mono_us(void);
/* Wall clock in microseconds since the epoch: only for display. */
uint64_t now_wall_us(void);
/*
 * Wall-clock microseconds as ISO 8601 UTC: "2026-12-04T21:00:00Z", or
 * with MILLIS "2026-12-04T21:00:00.123Z" (cut, not rounded).  Returns BUF.
 */
char *format_utc(uint64_t wall_us, bool millis, char *buf, size_t len);
/* Microseconds to a struct timeval for libevent. */
struct timeval us_to_tv(uint64_t us);

/* Trim leading and trailing white space in place; returns s. */
char *str_trim(char *s);

/*
 * Split a command line into argv without a shell: words are separated by
 * white space, "double" or 'single' quotes group, a backslash escapes the
 * next character.  Returns a NULL-terminated vector (free with argv_free),
 * or NULL with *err set to a static message.
 */
char **argv_split(const char *line, const char **err);
void argv_free(char **argv);
size_t argv_len(char *const *argv);

#endif
