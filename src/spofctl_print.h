/*
 * What spofctl.c shares with spofctl_print.c: the human-readable forms of
 * the daemon's replies.  Both take an ok reply and write to stdout.
 */
#ifndef SPOFD_SPOFCTL_PRINT_H
#define SPOFD_SPOFCTL_PRINT_H

#include <jansson.h>

/*
 * Per service a line with its state, epoch, primary and VIPs, then its
 * members in a table (a "status" reply).
 */
void spofctl_print_status(const json_t *reply);
/* One line per event, times in local time (a "history" reply). */
void spofctl_print_history(const json_t *reply);

#endif
