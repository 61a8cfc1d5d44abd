/*
 * Logging to stderr with levels (systemd's journal adds the time; the
 * "<N>" prefix tells it the priority when SPOFD_LOG_PREFIX is on).
 */
#ifndef SPOFD_LOG_H
#define SPOFD_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_NOTICE, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error|warn|notice|info|debug"; false when unknown. */
bool log_level_parse(const char *s, enum log_level *out);
const char *log_level_str(enum log_level level);
/* Prefix each line with a syslog priority "<N>" (journald reads it). */
void log_set_syslog_prefix(bool on);
/* Prefix each line with the wall-clock time (when not under journald). */
void log_set_timestamps(bool on);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...)  log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)  do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

/* Broken invariant: log and abort. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
