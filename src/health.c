#include "autoconf.h"

#include <string.h>

#include "health.h"

/*
 * Rise/fall hysteresis with consecutive runs.  A member in `unknown` needs
 * `rise` successes in a row to go up or `fall` failures in a row to go
 * down; after that, the opposite run of the same length flips it.  One
 * odd result never flips anything, which is what keeps a bouncing member
 * from looking like a series of failures and recoveries.
 */

void
health_init(struct health *h, uint64_t now_mono, uint64_t now_wall)
{
	memset(h, 0, sizeof(*h));
	h->state = HEALTH_UNKNOWN;
	h->since_mono_us = now_mono;
	h->since_wall_us = now_wall;
}

bool
health_update(struct health *h, const struct check_conf *check,
    const struct probe_outcome *o, uint64_t now_mono, uint64_t now_wall)
{
	enum health_state next = h->state;

	h->checks++;
	h->last = *o;
	h->have_last = true;
	if (o->facts.role_known || o->facts.lsn_known) {
		h->facts = o->facts;
		h->facts_mono_us = now_mono;
	}
	if (o->result == PROBE_OK) {
		h->fail_run = 0;
		if (h->ok_run < check->rise)
			h->ok_run++;
		if (h->state != HEALTH_UP && h->ok_run >= check->rise)
			next = HEALTH_UP;
	} else {
		h->ok_run = 0;
		if (h->fail_run < check->fall)
			h->fail_run++;
		if (h->state != HEALTH_DOWN && h->fail_run >= check->fall)
			next = HEALTH_DOWN;
	}
	if (next == h->state)
		return false;
	h->state = next;
	h->cause = *o;
	h->since_mono_us = now_mono;
	h->since_wall_us = now_wall;
	return true;
}

bool
health_in_transition(const struct health *h)
{
	switch (h->state) {
	case HEALTH_UNKNOWN:
		return true;
	case HEALTH_UP:
		return h->fail_run > 0;
	case HEALTH_DOWN:
		return h->ok_run > 0;
	}
	return false;
}

uint64_t
health_next_interval_ms(const struct health *h, const struct check_conf *check)
{
	if (health_in_transition(h))
		return check->fastinter_ms;
	if (h->state == HEALTH_DOWN)
		return check->downinter_ms;
	return check->interval_ms;
}

const char *
health_state_str(enum health_state s)
{
	switch (s) {
	case HEALTH_UNKNOWN:
		return "unknown";
	case HEALTH_UP:
		return "up";
	case HEALTH_DOWN:
		return "down";
	}
	return "?";
}
