#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Process-wide by nature: stderr is one stream. */
static enum log_level current_level = LOG_LVL_INFO;
static bool syslog_prefix;
static bool timestamps;

static const char *const level_names[] = { "error", "warn", "notice", "info", "debug" };
/* syslog priorities: err, warning, notice, info, debug */
static const int level_prio[] = { 3, 4, 5, 6, 7 };

void
log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level
log_get_level(void)
{
	return current_level;
}

bool
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_LVL_WARN;
		return true;
	}
	return false;
}

const char *
log_level_str(enum log_level level)
{
	return level_names[level];
}

void
log_set_syslog_prefix(bool on)
{
	syslog_prefix = on;
}

void
log_set_timestamps(bool on)
{
	timestamps = on;
}

bool
log_enabled(enum log_level level)
{
	return level <= current_level;
}

static void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char buf[2048];
	char stamp[40] = "";
	int saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (timestamps) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamp + n, sizeof(stamp) - n, ".%03ld ", ts.tv_nsec / 1000000);
	}
	if (syslog_prefix)
		fprintf(stderr, "<%d>%s%s: %s\n", level_prio[level], stamp, level_names[level], buf);
	else
		fprintf(stderr, "%s%s: %s\n", stamp, level_names[level], buf);
	errno = saved;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	abort();
}
