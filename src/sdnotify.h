/*
 * systemd's notification protocol (sd_notify) over $NOTIFY_SOCKET, and the
 * watchdog interval it asks for.  A no-op when not run by systemd.
 */
#ifndef SPOFD_SDNOTIFY_H
#define SPOFD_SDNOTIFY_H

#include <stdint.h>

/* Send STATE ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...").  Returns 0, or -errno. */
int sdnotify_send(const char *state);
/* Watchdog period in microseconds asked for by systemd (WATCHDOG_USEC for our pid), 0 if none. */
uint64_t sdnotify_watchdog_us(void);

#endif
