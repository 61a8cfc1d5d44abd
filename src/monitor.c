#include "autoconf.h"

#include <sys/timerfd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "log.h"
#include "monitor.h"
#include "probe.h"
#include "util.h"

/*
 * Every member has a due time and a reusable probe; the members waiting
 * for their due time sit in one binary min-heap of the monitor's, under
 * one timer on the shared event base (O(log n) per probe, and 4 bytes per
 * member where a libevent timer each would take 128).  Probes run at a
 * fixed rate against a schedule, not "interval after the last one
 * finished", so lateness can be measured and a slow backend does not
 * stretch the period.
 *
 * That one timer is a timerfd of CLOCK_MONOTONIC when the kernel has
 * them: libevent's own timers run on CLOCK_MONOTONIC_COARSE (one jiffy,
 * 4 ms at HZ=250), which made checks fire up to 4 ms off their schedule.
 */

/*
 * The timer wakes on a grid of this step: members due within one step
 * share a wake-up.  A wake-up per member (every 100 us with 10000 members
 * at 1 s) cost more CPU than the checks themselves on a virtual machine;
 * the step bounds what this adds to lateness.
 */
#define MONITOR_TIMER_GRAIN_US 1000

/* Lateness histogram: log-linear bins, 8 per power of two of microseconds. */
#define LATE_SUB_BITS 3
#define LATE_BINS (64 << LATE_SUB_BITS)

struct mon_member {
	struct monitor *m;
	const struct service_conf *svc;
	const struct member_conf *conf;
	struct health health;
	struct probe *probe; /* see monitor_probe_lasts: maybe only while a check runs */
	uint64_t due_us;     /* monotonic time the next probe is due */
	uint32_t heap_pos;   /* 1 + its place in the monitor's heap; 0: not waiting */
	bool split_brain;    /* flagged: a standby that says it is a primary */
};

struct monitor {
	struct event_base *base;
	struct probe_engine *eng;
	const struct config *cfg;
	struct mon_member *members;
	size_t n_members;
	uint32_t *index;     /* open addressing by (service, member) name: k + 1, 0 empty */
	size_t *find_next;   /* where the last lookup's successor is (see monitor_find); its own allocation */
	size_t index_mask;   /* slots - 1; slots a power of two >= 2 n_members */
	uint32_t *heap;      /* members waiting for their due time, soonest first */
	size_t heap_len;
	struct event *timer; /* fires at the soonest due time */
	int timer_fd;        /* its timerfd; -1: a libevent timer */
	uint64_t timer_at;   /* the due time it is armed for; 0: disarmed */
	monitor_change_fn on_change;
	void *arg;
	monitor_role_fn role_fn;
	void *role_arg;
	bool started;
	uint64_t probes;
	uint64_t late_max_us;
	uint64_t late_bins[LATE_BINS];
	uint64_t late_count;
};

static unsigned
late_bin(uint64_t us)
{
	unsigned msb, shift;

	if (us < (1u << LATE_SUB_BITS))
		return (unsigned)us;
	msb = 63 - (unsigned)__builtin_clzll(us);
	shift = msb - LATE_SUB_BITS;
	return ((shift + 1) << LATE_SUB_BITS) + (unsigned)((us >> shift) & ((1u << LATE_SUB_BITS) - 1));
}

/* Upper bound of a bin, in microseconds. */
static uint64_t
late_bin_upper(unsigned bin)
{
	unsigned shift, sub;

	if (bin < (1u << LATE_SUB_BITS))
		return bin;
	shift = (bin >> LATE_SUB_BITS) - 1;
	sub = bin & ((1u << LATE_SUB_BITS) - 1);
	return ((uint64_t)((1u << LATE_SUB_BITS) + sub + 1) << shift) - 1;
}

static uint64_t
late_percentile(const struct monitor *m, double q)
{
	uint64_t want, seen = 0;

	if (m->late_count == 0)
		return 0;
	want = (uint64_t)(q * (double)m->late_count);
	if (want >= m->late_count)
		want = m->late_count - 1;
	for (unsigned b = 0; b < LATE_BINS; b++) {
		seen += m->late_bins[b];
		if (seen > want) {
			uint64_t up = late_bin_upper(b);

			return up < m->late_max_us ? up : m->late_max_us;
		}
	}
	return m->late_max_us;
}

/* ---- the schedule: a binary min-heap of member indices by due time ---- */

static bool
heap_before(const struct monitor *m, uint32_t a, uint32_t b)
{
	return m->members[a].due_us < m->members[b].due_us;
}

static void
heap_place(struct monitor *m, size_t pos, uint32_t k)
{
	m->heap[pos] = k;
	m->members[k].heap_pos = (uint32_t)pos + 1;
}

static void
heap_up(struct monitor *m, size_t pos)
{
	uint32_t k = m->heap[pos];

	while (pos > 0) {
		size_t parent = (pos - 1) / 2;

		if (!heap_before(m, k, m->heap[parent]))
			break;
		heap_place(m, pos, m->heap[parent]);
		pos = parent;
	}
	heap_place(m, pos, k);
}

static void
heap_down(struct monitor *m, size_t pos)
{
	uint32_t k = m->heap[pos];

	for (;;) {
		size_t child = 2 * pos + 1;

		if (child >= m->heap_len)
			break;
		if (child + 1 < m->heap_len && heap_before(m, m->heap[child + 1], m->heap[child]))
			child++;
		if (!heap_before(m, m->heap[child], k))
			break;
		heap_place(m, pos, m->heap[child]);
		pos = child;
	}
	heap_place(m, pos, k);
}

static struct mon_member *
heap_pop(struct monitor *m)
{
	struct mon_member *mm = &m->members[m->heap[0]];

	mm->heap_pos = 0;
	if (--m->heap_len > 0) {
		m->heap[0] = m->heap[m->heap_len];
		heap_down(m, 0);
	}
	return mm;
}

/* The timer for the soonest due time. */
static void
monitor_rearm(struct monitor *m)
{
	uint64_t now, due;
	struct timeval tv;

	due = m->heap_len > 0 ? m->members[m->heap[0]].due_us : 0;
	if (m->timer_fd >= 0) {
		struct itimerspec its;

		memset(&its, 0, sizeof(its));
		if (due > 0) {
			due = (due + MONITOR_TIMER_GRAIN_US - 1) / MONITOR_TIMER_GRAIN_US * MONITOR_TIMER_GRAIN_US;
			if (due == m->timer_at)
				return;
			/* An absolute time: a due time already past fires at once. */
			its.it_value.tv_sec = (time_t)(due / 1000000u);
			its.it_value.tv_nsec = (long)(due % 1000000u) * 1000;
		}
		if (timerfd_settime(m->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
			fatal("timerfd_settime: %s", strerror(errno));
		m->timer_at = due;
		return;
	}
	if (due == 0) {
		evtimer_del(m->timer);
		return;
	}
	now = now_mono_us();
	tv = us_to_tv(due > now ? due - now : 0);
	evtimer_add(m->timer, &tv);
}

/* MM waits for its due time. */
static void
monitor_arm(struct mon_member *mm)
{
	struct monitor *m = mm->m;
	size_t k = (size_t)(mm - m->members);

	m->heap[m->heap_len] = (uint32_t)k;
	heap_up(m, m->heap_len++);
	if (m->heap[0] == k)
		monitor_rearm(m); /* the new soonest */
}

static void
monitor_log_change(const struct mon_member *mm, enum health_state from)
{
	const struct health *h = &mm->health;
	char reason[64];

	probe_outcome_str(&h->cause, reason, sizeof(reason));
	if (h->state == HEALTH_DOWN)
		log_notice("+sdown %s/%s: %s%s%s", mm->svc->name, mm->conf->name, reason,
		    h->cause.detail[0] ? " - " : "", h->cause.detail);
	else if (from == HEALTH_DOWN)
		log_notice("-sdown %s/%s: up again after %u successful checks", mm->svc->name,
		    mm->conf->name, h->ok_run);
	else
		log_notice("+up %s/%s: %s in %llu us", mm->svc->name, mm->conf->name, reason,
		    (unsigned long long)h->cause.latency_us);
}

/*
 * A backend that reports its role must report the one it has: a primary
 * in recovery serves no writes, and a standby that says it is a primary
 * is a second primary.  Both become failures here, so they go through
 * the same hysteresis as any other failed check.
 */
static const struct probe_outcome *
monitor_judge_role(struct mon_member *mm, const struct probe_outcome *o, struct probe_outcome *buf)
{
	const char *primary;
	bool enforce = false, is_primary;

	if (o->result != PROBE_OK || !o->facts.role_known || mm->m->role_fn == NULL)
		return o;
	primary = mm->m->role_fn(mm->m->role_arg, mm->svc->name, &enforce);
	if (!enforce || primary == NULL)
		return o;
	is_primary = strcmp(primary, mm->conf->name) == 0;
	if (is_primary && o->facts.in_recovery) {
		*buf = *o;
		buf->result = PROBE_IN_RECOVERY;
		snprintf(buf->detail, sizeof(buf->detail), "the primary reports itself in recovery (a standby)");
		return buf;
	}
	if (!is_primary && !o->facts.in_recovery) {
		if (!mm->split_brain)
			log_warn("+split-brain-suspect %s/%s: a standby reports itself a primary; it is never "
			    "accepted as one", mm->svc->name, mm->conf->name);
		mm->split_brain = true;
		*buf = *o;
		buf->result = PROBE_SPLIT_BRAIN;
		snprintf(buf->detail, sizeof(buf->detail), "a standby reports itself a primary");
		return buf;
	}
	mm->split_brain = false;
	return o;
}

/*
 * tcp and http probes keep nothing between checks, so their members hold
 * a probe (about 300 bytes with its allocation) only while a check runs:
 * with 10000 members about one is running at any time.  Others (exec,
 * postgres) keep state from one check to the next and keep their probe.
 */
static bool
monitor_probe_lasts(const struct service_conf *svc)
{
	switch (svc->check.type) {
	case CHECK_TCP:
	case CHECK_HTTP:
	case CHECK_HTTPS:
		return false;
	default:
		return true;
	}
}

static void
monitor_probe_done(void *arg, const struct probe_outcome *o_in)
{
	struct mon_member *mm = arg;
	struct probe_outcome judged;
	const struct probe_outcome *o = monitor_judge_role(mm, o_in, &judged);
	struct monitor *m = mm->m;
	enum health_state from = mm->health.state;
	uint64_t now = now_mono_us();
	uint64_t next;

	m->probes++;
	if (log_enabled(LOG_LVL_DEBUG)) {
		char reason[64];

		log_debug("check %s/%s: %s in %llu us%s%s", mm->svc->name, mm->conf->name,
		    probe_outcome_str(o, reason, sizeof(reason)), (unsigned long long)o->latency_us,
		    o->detail[0] ? " - " : "", o->detail);
	}
	if (health_update(&mm->health, &mm->svc->check, o, now, now_wall_us())) {
		monitor_log_change(mm, from);
		if (m->on_change != NULL)
			m->on_change(m->arg, mm->conf, from, &mm->health);
	}
	next = health_next_interval_ms(&mm->health, &mm->svc->check) * 1000u;
	mm->due_us += next;
	if (mm->due_us < now)
		mm->due_us = now + next; /* the check overran its slot: start a new phase */
	monitor_arm(mm);
	if (!monitor_probe_lasts(mm->svc)) {
		/* Its verdict is in and nothing of it is used after this call. */
		probe_free(mm->probe);
		mm->probe = NULL;
	}
}

/* MM's due time came: account for how late, start its probe. */
static void
monitor_due(struct mon_member *mm, uint64_t now)
{
	struct monitor *m = mm->m;
	uint64_t late = now > mm->due_us ? now - mm->due_us : 0;

	m->late_bins[late_bin(late)]++;
	m->late_count++;
	if (late > m->late_max_us)
		m->late_max_us = late;
	if (mm->probe != NULL && probe_running(mm->probe)) {
		/* Only possible when fastinter is shorter than timeout: skip a beat. */
		mm->due_us = now + health_next_interval_ms(&mm->health, &mm->svc->check) * 1000u;
		monitor_arm(mm);
		return;
	}
	if (mm->probe == NULL)
		mm->probe = probe_new(m->eng, mm->svc, mm->conf, monitor_probe_done, mm);
	probe_start(mm->probe);
}

static void
monitor_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct monitor *m = arg;

	/*
	 * A timerfd is watched edge-triggered: every expiry is a new edge,
	 * so its counter need not be read, a system call saved per wake-up.
	 */
	m->timer_at = 0;

	/* Every member due by now; the clock is read again for each, as starting a probe takes time. */
	for (;;) {
		uint64_t now = now_mono_us();

		if (m->heap_len == 0 || m->members[m->heap[0]].due_us > now)
			break;
		monitor_due(heap_pop(m), now);
	}
	monitor_rearm(m);
}

/*
 * The service layer looks members up by name on every change of any
 * member's health, and walks all of a service's members when it does: a
 * linear search here made each change O(n) and a start with n members
 * O(n^2) lookups (seconds at 1000 members, most of an hour at 10000).
 */
static uint64_t
monitor_hash(const char *service, const char *member)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */

	for (const char *s = service; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h = (h ^ '/') * 1099511628211ull; /* names hold no '/' */
	for (const char *s = member; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void
monitor_index_build(struct monitor *m)
{
	size_t slots = 16;

	while (slots < 2 * m->n_members)
		slots *= 2;
	m->index = xcalloc(slots, sizeof(*m->index));
	m->find_next = xcalloc(1, sizeof(*m->find_next));
	m->index_mask = slots - 1;
	for (size_t k = 0; k < m->n_members; k++) {
		const struct mon_member *mm = &m->members[k];
		size_t i = monitor_hash(mm->svc->name, mm->conf->name) & m->index_mask;

		while (m->index[i] != 0)
			i = (i + 1) & m->index_mask;
		m->index[i] = (uint32_t)(k + 1);
	}
}

/*
 * The service layer walks its members in configuration order, which is
 * the order of m->members, and asks with the configuration's own name
 * strings: the member after the last one found, compared by pointer,
 * answers most lookups without hashing (a start with 10000 members makes
 * about 10^8 of them).  find_next is a cache that changes under a const
 * monitor, hence its own allocation.
 */
static const struct mon_member *
monitor_find(const struct monitor *m, const char *service, const char *member)
{
	size_t next = *m->find_next, i;

	if (next < m->n_members && m->members[next].conf->name == member &&
	    m->members[next].svc->name == service) {
		*m->find_next = next + 1;
		return &m->members[next];
	}
	i = monitor_hash(service, member) & m->index_mask;

	for (; m->index[i] != 0; i = (i + 1) & m->index_mask) {
		const struct mon_member *mm = &m->members[m->index[i] - 1];

		if (strcmp(mm->conf->name, member) == 0 && strcmp(mm->svc->name, service) == 0) {
			*m->find_next = (size_t)(mm - m->members) + 1;
			return mm;
		}
	}
	return NULL;
}

struct monitor *
monitor_new(struct event_base *base, struct probe_engine *eng, const struct config *cfg,
    const struct monitor *old, monitor_change_fn on_change, void *arg)
{
	struct monitor *m = xcalloc(1, sizeof(*m));
	uint64_t mono = now_mono_us(), wall = now_wall_us();
	size_t n = 0, k = 0;

	m->base = base;
	m->eng = eng;
	m->cfg = cfg;
	m->on_change = on_change;
	m->arg = arg;
	for (size_t s = 0; s < cfg->n_services; s++)
		n += cfg->services[s].n_members;
	m->members = xcalloc(n, sizeof(*m->members));
	m->n_members = n;
	m->heap = xcalloc(n > 0 ? n : 1, sizeof(*m->heap));
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->timer_fd >= 0)
		m->timer = event_new(base, m->timer_fd, EV_READ | EV_PERSIST | EV_ET, monitor_timer_cb, m);
	else {
		log_warn("timerfd_create: %s; checks are scheduled to libevent's clock (a few ms)",
		    strerror(errno));
		m->timer = evtimer_new(base, monitor_timer_cb, m);
	}
	if (m->timer == NULL)
		fatal("cannot make the monitor's timer");
	for (size_t s = 0; s < cfg->n_services; s++) {
		const struct service_conf *svc = &cfg->services[s];

		for (size_t i = 0; i < svc->n_members; i++, k++) {
			struct mon_member *mm = &m->members[k];
			const struct mon_member *prev = NULL;

			mm->m = m;
			mm->svc = svc;
			mm->conf = &svc->members[i];
			if (old != NULL)
				prev = monitor_find(old, svc->name, mm->conf->name);
			if (prev != NULL && member_conf_equal(prev->conf, mm->conf) &&
			    check_conf_equal(&prev->svc->check, &svc->check))
				mm->health = prev->health;
			else
				health_init(&mm->health, mono, wall);
			if (monitor_probe_lasts(svc))
				mm->probe = probe_new(eng, svc, mm->conf, monitor_probe_done, mm);
		}
	}
	monitor_index_build(m);
	return m;
}

void
monitor_start(struct monitor *m)
{
	uint64_t now = now_mono_us();

	/* Spread first probes over one interval so members never fire together. */
	for (size_t k = 0; k < m->n_members; k++) {
		struct mon_member *mm = &m->members[k];
		uint64_t interval = mm->svc->check.interval_ms * 1000u;

		mm->due_us = now + (m->n_members > 1 ? interval * k / m->n_members : 0);
		monitor_arm(mm);
	}
	if (m->timer_fd >= 0)
		event_add(m->timer, NULL);
	m->started = true;
}

void
monitor_stop(struct monitor *m)
{
	m->heap_len = 0;
	monitor_rearm(m);
	if (m->timer_fd >= 0)
		event_del(m->timer);
	for (size_t k = 0; k < m->n_members; k++) {
		struct mon_member *mm = &m->members[k];

		mm->heap_pos = 0;
		if (mm->probe == NULL)
			continue;
		probe_cancel(mm->probe);
		if (!monitor_probe_lasts(mm->svc)) {
			probe_free(mm->probe);
			mm->probe = NULL;
		}
	}
	m->started = false;
}

void
monitor_free(struct monitor *m)
{
	if (m == NULL)
		return;
	monitor_stop(m);
	for (size_t k = 0; k < m->n_members; k++)
		probe_free(m->members[k].probe);
	free(m->members);
	free(m->index);
	free(m->find_next);
	free(m->heap);
	event_free(m->timer);
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	free(m);
}

const struct health *
monitor_health(const struct monitor *m, const char *service, const char *member)
{
	const struct mon_member *mm = monitor_find(m, service, member);

	return mm != NULL ? &mm->health : NULL;
}

void
monitor_set_role_fn(struct monitor *m, monitor_role_fn fn, void *arg)
{
	m->role_fn = fn;
	m->role_arg = arg;
}

void
monitor_stats(const struct monitor *m, struct monitor_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->probes = m->probes;
	out->late_p50_us = late_percentile(m, 0.50);
	out->late_p99_us = late_percentile(m, 0.99);
	out->late_max_us = m->late_max_us;
}

static json_t *
monitor_time_json(uint64_t wall_us)
{
	char buf[48];

	return json_string(format_utc(wall_us, false, buf, sizeof(buf)));
}

static json_t *
monitor_member_json(const struct mon_member *mm)
{
	const struct health *h = &mm->health;
	json_t *o = json_object();
	char reason[64];

	json_object_set_new(o, "name", json_string(mm->conf->name));
	json_object_set_new(o, "address", mm->conf->address ? json_string(mm->conf->address) : json_null());
	json_object_set_new(o, "node", mm->conf->node ? json_string(mm->conf->node) : json_null());
	json_object_set_new(o, "priority", json_integer(mm->conf->priority));
	json_object_set_new(o, "health", json_string(health_state_str(h->state)));
	if (h->have_last) {
		json_object_set_new(o, "reason", json_string(probe_outcome_str(&h->last, reason, sizeof(reason))));
		json_object_set_new(o, "detail", json_string(h->last.detail));
		json_object_set_new(o, "latency_us", json_integer((json_int_t)h->last.latency_us));
	} else {
		json_object_set_new(o, "reason", json_null());
		json_object_set_new(o, "detail", json_null());
		json_object_set_new(o, "latency_us", json_null());
	}
	if (h->facts.role_known)
		json_object_set_new(o, "reported_role", json_string(h->facts.in_recovery ? "standby" : "primary"));
	if (h->facts.lsn_known)
		json_object_set_new(o, "lsn", json_integer((json_int_t)h->facts.lsn));
	json_object_set_new(o, "since", monitor_time_json(h->since_wall_us));
	json_object_set_new(o, "checks", json_integer((json_int_t)h->checks));
	return o;
}

json_t *
monitor_status_json(const struct monitor *m, const char *service)
{
	json_t *services = json_array();
	bool found = false;

	for (size_t s = 0; s < m->cfg->n_services; s++) {
		const struct service_conf *svc = &m->cfg->services[s];
		json_t *so, *members;

		if (service != NULL && strcmp(service, svc->name) != 0)
			continue;
		found = true;
		so = json_object();
		members = json_array();
		json_object_set_new(so, "name", json_string(svc->name));
		json_object_set_new(so, "check", json_string(check_type_str(svc->check.type)));
		for (size_t k = 0; k < m->n_members; k++) {
			if (m->members[k].svc == svc)
				json_array_append_new(members, monitor_member_json(&m->members[k]));
		}
		json_object_set_new(so, "members", members);
		json_array_append_new(services, so);
	}
	if (service != NULL && !found) {
		json_decref(services);
		return NULL;
	}
	return services;
}
