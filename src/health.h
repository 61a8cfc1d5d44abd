/*
 * A member's health as this node sees it: rise/fall hysteresis over probe
 * outcomes, and how long to wait before the next probe (HAProxy's inter,
 * fastinter and downinter).  Pure: no clock, no I/O, so it is unit-tested
 * with synthetic outcomes.
 */
#ifndef SPOFD_HEALTH_H
#define SPOFD_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "probe.h"

enum health_state { HEALTH_UNKNOWN, HEALTH_UP, HEALTH_DOWN };

struct health {
	enum health_state state;
	unsigned ok_run;            /* consecutive successes */
	unsigned fail_run;          /* consecutive failures */
	struct probe_outcome last;  /* last outcome, whatever it was */
	bool have_last;
	struct probe_outcome cause; /* outcome that made the state (down: why) */
	uint64_t since_wall_us;     /* wall clock of the last state change */
	uint64_t since_mono_us;     /* monotonic time of the last state change */
	uint64_t checks;            /* outcomes seen */
	struct probe_facts facts;   /* last role/WAL facts a probe reported */
	uint64_t facts_mono_us;     /* when they came; 0: never */
};

void health_init(struct health *h, uint64_t now_mono_us, uint64_t now_wall_us);

/*
 * The one function every probe outcome goes through.  Returns true when
 * the state changed (unknown->up, up->down, ...); the caller logs and
 * tells the service layer then, and only then.
 */
bool health_update(struct health *h, const struct check_conf *check,
    const struct probe_outcome *o, uint64_t now_mono_us, uint64_t now_wall_us);

/* Milliseconds to wait before the next probe, given the state. */
uint64_t health_next_interval_ms(const struct health *h, const struct check_conf *check);
/* True while counting towards a change (a failure while up, a success while down, or unknown). */
bool health_in_transition(const struct health *h);

const char *health_state_str(enum health_state s);

#endif
