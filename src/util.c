#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		fatal("out of memory (%zu bytes)", size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
		fatal("out of memory (%zu bytes)", size);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory (vasprintf)");
	va_end(ap);
	return s;
}

uint64_t
now_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
now_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

char *
format_utc(uint64_t wall_us, bool millis, char *buf, size_t len)
{
	time_t secs = (time_t)(wall_us / 1000000u);
	struct tm tm;
	char stamp[40];

	if (gmtime_r(&secs, &tm) == NULL || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "1970-01-01T00:00:00");
	if (millis)
		snprintf(buf, len, "%s.%03uZ", stamp, (unsigned)(wall_us % 1000000u / 1000u));
	else
		snprintf(buf, len, "%sZ", stamp);
	return buf;
}

struct timeval
us_to_tv(uint64_t us)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(us / 1000000u);
	tv.tv_usec = (suseconds_t)(us % 1000000u);
	return tv;
}

char *
str_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	*end = '\0';
	return s;
}

void
argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **a = argv; *a != NULL; a++)
		free(*a);
	free(argv);
}

size_t
argv_len(char *const *argv)
{
	size_t n = 0;

	while (argv != NULL && argv[n] != NULL)
		n++;
	return n;
}

char **
argv_split(const char *line, const char **err)
{
	size_t cap = 8, n = 0, wlen = 0;
	char **argv = xcalloc(cap, sizeof(*argv));
	char *word = xmalloc(strlen(line) + 1);
	const char *s = line;
	char quote = 0;
	int in_word = 0;

	for (;; s++) {
		char c = *s;

		if (c == '\0' && quote != 0) {
			*err = "unterminated quote";
			goto fail;
		}
		if (quote == 0 && (c == '\0' || c == ' ' || c == '\t')) {
			if (in_word) {
				if (n + 2 > cap) {
					cap *= 2;
					argv = xrealloc(argv, cap * sizeof(*argv));
				}
				argv[n++] = xstrndup(word, wlen);
				argv[n] = NULL;
				wlen = 0;
				in_word = 0;
			}
			if (c == '\0')
				break;
			continue;
		}
		in_word = 1;
		if (c == '\\' && quote != '\'') {
			if (s[1] == '\0') {
				*err = "trailing backslash";
				goto fail;
			}
			word[wlen++] = *++s;
		} else if (quote == 0 && (c == '"' || c == '\'')) {
			quote = c;
		} else if (quote != 0 && c == quote) {
			quote = 0;
		} else {
			word[wlen++] = c;
		}
	}
	free(word);
	if (n == 0) {
		*err = "empty command";
		argv_free(argv);
		return NULL;
	}
	return argv;
fail:
	free(word);
	argv[n] = NULL;
	argv_free(argv);
	return NULL;
}
