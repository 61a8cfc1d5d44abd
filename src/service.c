#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "service.h"
#include "util.h"

/*
 * One service's failover state machine, Sentinel-style: one function per
 * state, one dispatcher (service_eval), every transition timestamped and
 * reported with a stable event name.  The monitoring half (health) is
 * read through ops->health; the acting half is a "role change": commit
 * (epoch+1, new primary) to disk first, then on_demote of the old
 * primary, then on_promote of the new one, then on_change.
 *
 * Member names held here (primary, the change's from/to, back-offs) are
 * copies, so a reload that removes a member leaves nothing dangling.
 */

#define SERVICE_EVAL_MAX 8 /* transitions in one evaluation; more means a bug */
#define SERVICE_BACKOFF_MAX_SHIFT 6 /* promote_backoff doubles per failure in a row, up to 64x */

struct backoff {
	char *member;       /* its on_promote failed */
	uint64_t until_us;  /* not a candidate before this */
};

struct change {
	bool active;
	const char *reason;  /* initial, failover, switchover, failback, retry */
	char *from;          /* old primary; NULL: none */
	char *to;            /* new primary */
	bool graceful;       /* a failed on_demote stops it (switchover, failback) */
	enum hook_kind step; /* HOOK_DEMOTE, then HOOK_PROMOTE */
	uint64_t started_us;
};

struct service {
	const struct service_conf *conf;
	char *node;
	struct service_ops ops;
	enum service_state state;
	uint64_t state_since_us;      /* monotonic */
	uint64_t state_since_wall_us;
	char state_reason[256];
	uint64_t epoch;
	char *primary;                /* NULL: none */
	bool maintenance;
	uint64_t hold_until_us;       /* stalled loop: no automatic change before */
	uint64_t electing_since_us;
	uint64_t last_change_us;      /* start of the last role change (cooldown) */
	bool have_last_change;
	bool stuck;                   /* failed in a way only an admin can clear */
	uint64_t retry_at_us;         /* FAILED: next attempt */
	unsigned failures_in_row;     /* failed promotions since the last success */
	struct change ch;
	struct backoff *backoffs;
	size_t n_backoffs;
	uint64_t primary_lsn;         /* last WAL position the primary reported */
	bool primary_lsn_known;
	char skip_note[160];          /* why the last pick passed over a member */
};

static const char *const state_names[SVC_STATE_MAX] = {
	[SVC_ELECTING] = "electing",
	[SVC_OK] = "ok",
	[SVC_PRIMARY_DOWN] = "primary-down",
	[SVC_FAILING_OVER] = "failing-over",
	[SVC_NO_CANDIDATE] = "no-candidate",
	[SVC_FAILED] = "failed",
	[SVC_MAINTENANCE] = "maintenance",
};

const char *
service_state_str(enum service_state st)
{
	if ((unsigned)st >= SVC_STATE_MAX)
		return "?";
	return state_names[st];
}

static uint64_t
svc_now(const struct service *s)
{
	return s->ops.now(s->ops.arg);
}

static void svc_event(struct service *s, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
svc_event(struct service *s, const char *name, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	s->ops.event(s->ops.arg, s->conf->name, name, detail);
}

static void svc_set_state(struct service *s, enum service_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Enter ST (or stay, with a new reason); the time is kept for status. */
static void
svc_set_state(struct service *s, enum service_state st, const char *fmt, ...)
{
	char reason[sizeof(s->state_reason)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (st == s->state && strcmp(reason, s->state_reason) == 0)
		return;
	if (st != s->state) {
		log_info("service %s: %s -> %s: %s", s->conf->name, service_state_str(s->state),
		    service_state_str(st), reason);
		s->state_since_us = svc_now(s);
		s->state_since_wall_us = s->ops.wall(s->ops.arg);
	}
	s->state = st;
	memcpy(s->state_reason, reason, sizeof(reason));
}

static void
svc_arm(struct service *s, uint64_t at_us)
{
	s->ops.arm(s->ops.arg, s->conf->name, at_us);
}

static const struct member_conf *
svc_member(const struct service *s, const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < s->conf->n_members; i++) {
		if (strcmp(s->conf->members[i].name, name) == 0)
			return &s->conf->members[i];
	}
	return NULL;
}

static enum health_state
svc_health(const struct service *s, const char *member)
{
	const struct health *h = s->ops.health(s->ops.arg, s->conf->name, member);

	return h != NULL ? h->state : HEALTH_UNKNOWN;
}

static uint64_t
svc_backoff_until(const struct service *s, const char *member)
{
	for (size_t i = 0; i < s->n_backoffs; i++) {
		if (strcmp(s->backoffs[i].member, member) == 0)
			return s->backoffs[i].until_us;
	}
	return 0;
}

static void
svc_backoff_set(struct service *s, const char *member, uint64_t until)
{
	for (size_t i = 0; i < s->n_backoffs; i++) {
		if (strcmp(s->backoffs[i].member, member) == 0) {
			s->backoffs[i].until_us = until;
			return;
		}
	}
	s->backoffs = xrealloc(s->backoffs, (s->n_backoffs + 1) * sizeof(*s->backoffs));
	s->backoffs[s->n_backoffs].member = xstrdup(member);
	s->backoffs[s->n_backoffs].until_us = until;
	s->n_backoffs++;
}

/*
 * The best member to promote: up, priority above 0, not EXCLUDE, not in a
 * back-off (with SKIP_FAILED: not failed since the last success at all);
 * highest priority, then name.  O(members), fine for the tens of members
 * a service has.
 */
/* WAL position a member last reported; false when it never did. */
static bool
svc_member_lsn(const struct service *s, const char *member, uint64_t *lsn)
{
	const struct health *h = s->ops.health(s->ops.arg, s->conf->name, member);

	if (h == NULL || !h->facts.lsn_known)
		return false;
	*lsn = h->facts.lsn;
	return true;
}

/* Priority first; then the most advanced WAL position (less to lose); then name. */
static bool
svc_better(const struct service *s, const struct member_conf *m, const struct member_conf *best)
{
	uint64_t lm, lb;

	if (best == NULL || m->priority != best->priority)
		return best == NULL || m->priority > best->priority;
	if (svc_member_lsn(s, m->name, &lm) && svc_member_lsn(s, best->name, &lb) && lm != lb)
		return lm > lb;
	return strcmp(m->name, best->name) < 0;
}

/*
 * The primary's WAL position: what it reports now while it reports itself
 * a primary, else the last it reported (noted at every evaluation, so a
 * dead primary's last word is the yardstick).  False when never known.
 */
static bool
svc_primary_lsn(const struct service *s, uint64_t *lsn)
{
	const struct health *h = s->primary != NULL && !s->ch.active
	    ? s->ops.health(s->ops.arg, s->conf->name, s->primary) : NULL;
	bool live = h != NULL && h->facts.lsn_known && h->facts.role_known && !h->facts.in_recovery;

	if (!live && !s->primary_lsn_known)
		return false;
	*lsn = s->primary_lsn_known ? s->primary_lsn : 0;
	if (live && h->facts.lsn > *lsn)
		*lsn = h->facts.lsn;
	return true;
}

/* Bytes M is behind the primary's WAL position; 0 when either is unknown. */
static uint64_t
svc_lag(const struct service *s, const char *member)
{
	uint64_t lsn, plsn;

	if (!svc_primary_lsn(s, &plsn) || !svc_member_lsn(s, member, &lsn) || lsn >= plsn)
		return 0;
	return plsn - lsn;
}

static bool
svc_reports_primary(const struct service *s, const char *member)
{
	const struct health *h = s->ops.health(s->ops.arg, s->conf->name, member);

	return h != NULL && h->facts.role_known && !h->facts.in_recovery;
}

static const struct member_conf *
svc_pick(struct service *s, const char *exclude, bool skip_failed, bool allow_lag)
{
	const struct member_conf *best = NULL;
	uint64_t now = svc_now(s);

	s->skip_note[0] = '\0';
	for (size_t i = 0; i < s->conf->n_members; i++) {
		const struct member_conf *m = &s->conf->members[i];
		uint64_t lag;

		if (m->priority <= 0)
			continue;
		if (exclude != NULL && strcmp(m->name, exclude) == 0)
			continue;
		if (svc_health(s, m->name) != HEALTH_UP)
			continue;
		if (svc_backoff_until(s, m->name) > (skip_failed ? 0 : now))
			continue;
		lag = svc_lag(s, m->name);
		if (!allow_lag && s->conf->max_lag_bytes > 0 && lag > s->conf->max_lag_bytes) {
			snprintf(s->skip_note, sizeof(s->skip_note),
			    "; %s lags %llu bytes behind (max_lag_bytes %llu)", m->name,
			    (unsigned long long)lag, (unsigned long long)s->conf->max_lag_bytes);
			continue;
		}
		if (svc_better(s, m, best))
			best = m;
	}
	return best;
}

static const struct member_conf *
svc_best_candidate(struct service *s, const char *exclude)
{
	return svc_pick(s, exclude, false, false);
}

/* Keep the primary's WAL position: the yardstick of a standby's lag. */
static void
svc_note_primary_lsn(struct service *s)
{
	uint64_t lsn;

	if (svc_primary_lsn(s, &lsn)) {
		s->primary_lsn = lsn;
		s->primary_lsn_known = true;
	}
}

/* Forget failed promotions: after a success, everyone is a candidate again. */
static void
svc_backoff_clear(struct service *s)
{
	for (size_t i = 0; i < s->n_backoffs; i++)
		free(s->backoffs[i].member);
	free(s->backoffs);
	s->backoffs = NULL;
	s->n_backoffs = 0;
}

static void
svc_push_hook(struct service *s, enum hook_kind kind, const char *reason, const char *from,
    const char *to)
{
	const struct member_conf *tm = svc_member(s, to);
	const struct member_conf *fm = svc_member(s, from);
	struct hook_job job;

	memset(&job, 0, sizeof(job));
	job.kind = kind;
	switch (kind) {
	case HOOK_PROMOTE:
		job.path = s->conf->on_promote;
		job.env.event = "promote";
		break;
	case HOOK_DEMOTE:
		job.path = s->conf->on_demote;
		job.env.event = "demote";
		break;
	case HOOK_CHANGE:
		job.path = s->conf->on_change;
		job.env.event = "change";
		break;
	}
	job.env.service = s->conf->name;
	job.env.epoch = s->epoch;
	job.env.old_primary = from ? from : "";
	job.env.new_primary = to ? to : "";
	job.env.new_primary_address = tm != NULL && tm->address != NULL ? tm->address : "";
	job.env.old_primary_address = fm != NULL && fm->address != NULL ? fm->address : "";
	job.env.node = s->node;
	job.env.reason = reason;
	s->ops.run_hook(s->ops.arg, s->conf->name, &job);
}

/* on_demote of the change's old primary, after giving up what it held here. */
static void
svc_demote(struct service *s)
{
	s->ch.step = HOOK_DEMOTE;
	if (s->ops.release != NULL)
		s->ops.release(s->ops.arg, s->conf->name, s->ch.from);
	svc_push_hook(s, HOOK_DEMOTE, s->ch.reason, s->ch.from, s->ch.to);
}

static void svc_promote_failed(struct service *s, const char *summary);

/* on_promote of the change's new primary, once what goes with it is here. */
static void
svc_promote(struct service *s)
{
	char err[256] = "";

	s->ch.step = HOOK_PROMOTE;
	if (s->ops.acquire != NULL && !s->ops.acquire(s->ops.arg, s->conf->name, s->ch.to, err, sizeof(err))) {
		svc_promote_failed(s, err);
		return;
	}
	svc_push_hook(s, HOOK_PROMOTE, s->ch.reason, s->ch.from, s->ch.to);
}

static void
svc_change_clear(struct service *s)
{
	free(s->ch.from);
	free(s->ch.to);
	memset(&s->ch, 0, sizeof(s->ch));
}

/*
 * Commit (epoch+1, TO) and run the hooks of the change.  Nothing is done
 * when the commit cannot be written: an epoch that is not on disk could
 * be handed out twice after a restart.
 */
static void
svc_start_change(struct service *s, const char *reason, const char *to, bool graceful)
{
	uint64_t now = svc_now(s);
	uint64_t epoch = s->epoch + 1;
	char *from = s->primary != NULL && strcmp(s->primary, to) != 0 ? xstrdup(s->primary) : NULL;

	if (!s->ops.persist(s->ops.arg, s->conf->name, epoch, to)) {
		free(from);
		s->retry_at_us = now + s->conf->promote_backoff_ms * 1000u;
		svc_set_state(s, SVC_FAILED, "cannot write the state file: %s to %s not started", reason, to);
		svc_arm(s, s->retry_at_us);
		return;
	}
	s->epoch = epoch;
	free(s->primary);
	s->primary = xstrdup(to);
	s->primary_lsn_known = false; /* the new primary's own position is the yardstick now */
	s->ch.active = true;
	s->ch.reason = reason;
	s->ch.from = from;
	s->ch.to = xstrdup(to);
	s->ch.graceful = graceful;
	s->ch.started_us = now;
	if (strcmp(reason, "initial") != 0) {
		/* The cooldown runs from the last change of primary, not from the first election. */
		s->last_change_us = now;
		s->have_last_change = true;
	}
	s->stuck = false;
	if (strcmp(reason, "initial") == 0)
		svc_event(s, "+elected", "%s, epoch %llu", to, (unsigned long long)epoch);
	else if (strcmp(reason, "switchover") == 0)
		svc_event(s, "+switchover", "%s -> %s, epoch %llu", from ? from : "-", to,
		    (unsigned long long)epoch);
	else if (strcmp(reason, "failback") == 0)
		svc_event(s, "+failback", "%s -> %s, epoch %llu", from ? from : "-", to,
		    (unsigned long long)epoch);
	else
		svc_event(s, "+failover-start", "%s -> %s, epoch %llu (%s)", from ? from : "-", to,
		    (unsigned long long)epoch, reason);
	svc_set_state(s, SVC_FAILING_OVER, "%s: %s -> %s", reason, from ? from : "-", to);
	if (from != NULL && svc_member(s, from) != NULL)
		svc_demote(s);
	else
		svc_promote(s);
}

/* The primary is down (or missing): fail over now, or say why not. */
static void
svc_primary_lost(struct service *s)
{
	uint64_t now = svc_now(s);
	const struct member_conf *cand;

	if (now < s->hold_until_us) {
		svc_set_state(s, SVC_PRIMARY_DOWN, "event loop stalled: no failover for %llu ms",
		    (unsigned long long)((s->hold_until_us - now) / 1000u));
		svc_arm(s, s->hold_until_us);
		return;
	}
	if (s->have_last_change && s->conf->failover_cooldown_ms > 0 &&
	    now < s->last_change_us + s->conf->failover_cooldown_ms * 1000u) {
		uint64_t until = s->last_change_us + s->conf->failover_cooldown_ms * 1000u;

		svc_set_state(s, SVC_PRIMARY_DOWN, "failover cooldown: next failover possible in %llu ms",
		    (unsigned long long)((until - now) / 1000u));
		svc_arm(s, until);
		return;
	}
	cand = svc_best_candidate(s, s->primary);
	if (cand == NULL) {
		if (s->state != SVC_NO_CANDIDATE)
			svc_event(s, "+no-candidate", "primary %s is down and no standby is up",
			    s->primary ? s->primary : "-");
		svc_set_state(s, SVC_NO_CANDIDATE, "primary %s down, no standby up with priority above 0%s",
		    s->primary ? s->primary : "-", s->skip_note);
		return;
	}
	svc_start_change(s, "failover", cand->name, false);
}

/* How long an election waits for members' first verdicts. */
static uint64_t
svc_election_wait_us(const struct service *s)
{
	const struct check_conf *c = &s->conf->check;
	uint64_t step = c->fastinter_ms > c->timeout_ms ? c->fastinter_ms : c->timeout_ms;

	return (c->interval_ms + (uint64_t)(c->rise + c->fall) * step) * 1000u;
}

static void
st_electing(struct service *s)
{
	uint64_t now = svc_now(s);
	uint64_t deadline = s->electing_since_us + svc_election_wait_us(s);
	const struct member_conf *cand;
	bool undecided = false;

	if (s->primary != NULL) {
		/* Adopted from the state file: wait for its verdict, run no hook. */
		switch (svc_health(s, s->primary)) {
		case HEALTH_UP:
			svc_set_state(s, SVC_OK, "primary %s is up", s->primary);
			return;
		case HEALTH_DOWN:
			svc_primary_lost(s);
			return;
		case HEALTH_UNKNOWN:
			svc_set_state(s, SVC_ELECTING, "waiting for the first verdict on primary %s", s->primary);
			return;
		}
	}
	for (size_t i = 0; i < s->conf->n_members; i++) {
		const struct member_conf *m = &s->conf->members[i];

		if (m->priority > 0 && svc_health(s, m->name) == HEALTH_UNKNOWN)
			undecided = true;
	}
	if (undecided && now < deadline) {
		/* Choosing now could pass over a better member not yet probed. */
		svc_set_state(s, SVC_ELECTING, "waiting for first verdicts on the members");
		svc_arm(s, deadline);
		return;
	}
	if (now < s->hold_until_us) {
		svc_set_state(s, SVC_ELECTING, "event loop stalled: no election for %llu ms",
		    (unsigned long long)((s->hold_until_us - now) / 1000u));
		svc_arm(s, s->hold_until_us);
		return;
	}
	cand = svc_best_candidate(s, NULL);
	/*
	 * A backend that reports its role (PostgreSQL) already has a primary
	 * at the first election: take it, whatever the priorities say, rather
	 * than promote a standby beside it.
	 */
	for (size_t i = 0; i < s->conf->n_members; i++) {
		const struct member_conf *m = &s->conf->members[i];

		if (m->priority > 0 && svc_health(s, m->name) == HEALTH_UP &&
		    svc_reports_primary(s, m->name) && (cand == NULL || !svc_reports_primary(s, cand->name) ||
		    svc_better(s, m, cand)))
			cand = m;
	}
	if (cand == NULL) {
		if (s->state != SVC_NO_CANDIDATE)
			svc_event(s, "+no-candidate", "no member is up with priority above 0");
		svc_set_state(s, SVC_NO_CANDIDATE, "no member up with priority above 0%s", s->skip_note);
		return;
	}
	svc_start_change(s, "initial", cand->name, false);
}

/* failback = auto: give the role back to a better member once it is stable. */
static void
svc_consider_failback(struct service *s)
{
	const struct member_conf *cur = svc_member(s, s->primary);
	const struct member_conf *best;
	const struct health *h;
	uint64_t now = svc_now(s), stable_at;

	if (!s->conf->failback_auto || cur == NULL)
		return;
	best = svc_best_candidate(s, NULL);
	if (best == NULL || best == cur || best->priority <= cur->priority)
		return;
	h = s->ops.health(s->ops.arg, s->conf->name, best->name);
	stable_at = h->since_mono_us + s->conf->failback_delay_ms * 1000u;
	if (now < stable_at) {
		svc_arm(s, stable_at);
		return;
	}
	if (now < s->hold_until_us) {
		svc_arm(s, s->hold_until_us);
		return;
	}
	svc_start_change(s, "failback", best->name, true);
}

static void
st_ok(struct service *s)
{
	enum health_state h = svc_health(s, s->primary);

	if (h == HEALTH_DOWN) {
		svc_primary_lost(s);
		return;
	}
	svc_set_state(s, SVC_OK, "primary %s is %s", s->primary, health_state_str(h));
	svc_consider_failback(s);
}

static void
st_waiting(struct service *s)
{
	/* primary-down and no-candidate: the primary may come back, or a standby may. */
	if (s->primary == NULL) {
		st_electing(s);
		return;
	}
	if (svc_health(s, s->primary) == HEALTH_UP) {
		svc_set_state(s, SVC_OK, "primary %s is up again", s->primary);
		return;
	}
	svc_primary_lost(s);
}

static void
st_failed(struct service *s)
{
	uint64_t now = svc_now(s);
	const struct member_conf *cand;

	if (s->stuck)
		return; /* only an admin's switchover clears it */
	if (now < s->retry_at_us) {
		svc_arm(s, s->retry_at_us);
		return;
	}
	if (now < s->hold_until_us) {
		svc_arm(s, s->hold_until_us);
		return;
	}
	/* Members not yet failed first; a failed one again only when none is left. */
	cand = svc_pick(s, NULL, true, false);
	if (cand == NULL)
		cand = svc_best_candidate(s, NULL);
	if (cand == NULL) {
		svc_set_state(s, SVC_NO_CANDIDATE, "no member fit to promote after a failed promotion%s",
		    s->skip_note);
		return;
	}
	svc_start_change(s, "retry", cand->name, false);
}

/* The dispatcher: run the current state's function until it settles. */
static void
service_eval(struct service *s)
{
	for (int i = 0; i < SERVICE_EVAL_MAX; i++) {
		enum service_state before = s->state;

		if (s->ch.active)
			return; /* hooks in flight; their results drive what follows */
		svc_note_primary_lsn(s);
		if (s->maintenance) {
			svc_set_state(s, SVC_MAINTENANCE, "maintenance: observing only");
			return;
		}
		switch (s->state) {
		case SVC_ELECTING:
			st_electing(s);
			break;
		case SVC_OK:
			st_ok(s);
			break;
		case SVC_PRIMARY_DOWN:
		case SVC_NO_CANDIDATE:
			st_waiting(s);
			break;
		case SVC_FAILED:
			st_failed(s);
			break;
		case SVC_MAINTENANCE:
			/* Leaving maintenance: look at the world afresh. */
			svc_set_state(s, s->primary != NULL ? SVC_OK : SVC_ELECTING, "maintenance ended");
			break;
		case SVC_FAILING_OVER:
			/* A change just ended: judge the new primary. */
			svc_set_state(s, SVC_OK, "role change done");
			break;
		case SVC_STATE_MAX:
			fatal("service %s in an impossible state", s->conf->name);
		}
		if (s->state == before)
			return;
	}
	log_warn("service %s: state did not settle after %d transitions", s->conf->name, SERVICE_EVAL_MAX);
}

struct service *
service_new(const struct service_conf *svc, const char *node, uint64_t epoch, const char *primary,
    const struct service_ops *ops)
{
	struct service *s = xcalloc(1, sizeof(*s));

	s->conf = svc;
	s->node = xstrdup(node);
	s->ops = *ops;
	s->epoch = epoch;
	s->state = SVC_ELECTING;
	s->state_since_us = svc_now(s);
	s->state_since_wall_us = s->ops.wall(s->ops.arg);
	s->electing_since_us = s->state_since_us;
	snprintf(s->state_reason, sizeof(s->state_reason), "starting");
	if (primary != NULL) {
		if (svc_member(s, primary) != NULL)
			s->primary = xstrdup(primary);
		else
			log_warn("service %s: persisted primary %s is no longer a member; electing anew",
			    svc->name, primary);
	}
	if (s->primary == NULL)
		svc_arm(s, s->electing_since_us + svc_election_wait_us(s));
	return s;
}

void
service_reconf(struct service *s, const struct service_conf *svc, const char *node)
{
	s->conf = svc;
	free(s->node);
	s->node = xstrdup(node);
	if (s->primary != NULL && svc_member(s, s->primary) == NULL) {
		svc_event(s, "+primary-removed", "%s is no longer a member", s->primary);
		free(s->primary);
		s->primary = NULL;
		if (!s->ch.active) {
			s->electing_since_us = svc_now(s);
			svc_set_state(s, SVC_ELECTING, "primary removed from the configuration");
		}
	}
	service_eval(s);
}

void
service_free(struct service *s)
{
	if (s == NULL)
		return;
	svc_change_clear(s);
	svc_backoff_clear(s);
	free(s->primary);
	free(s->node);
	free(s);
}

const char *
service_name(const struct service *s)
{
	return s->conf->name;
}

void
service_tick(struct service *s)
{
	service_eval(s);
}

void
service_hold(struct service *s, uint64_t until_us)
{
	if (until_us > s->hold_until_us)
		s->hold_until_us = until_us;
	service_eval(s);
}

void
service_hook_done(struct service *s, enum hook_kind kind, const struct hook_result *r)
{
	if (kind == HOOK_CHANGE) {
		if (!r->ok)
			log_warn("service %s: on_change failed: %s", s->conf->name, r->summary);
		return;
	}
	if (!s->ch.active || kind != s->ch.step)
		return; /* not the step we wait for: a stale result */
	if (kind == HOOK_DEMOTE) {
		if (r->ok) {
			svc_event(s, "+demoted", "%s (%s)", s->ch.from, r->summary);
		} else {
			svc_event(s, "+demote-failed", "%s: %s", s->ch.from, r->summary);
			if (s->ch.graceful) {
				svc_set_state(s, SVC_FAILED,
				    "on_demote of %s failed (%s); %s not promoted: fix it and run a switchover",
				    s->ch.from, r->summary, s->ch.to);
				s->stuck = true;
				svc_change_clear(s);
				return;
			}
			/* The old primary is down: fencing it is best effort. */
		}
		svc_promote(s);
		return;
	}
	if (r->ok) {
		svc_event(s, "+promoted", "%s, epoch %llu, %s (%s)", s->ch.to, (unsigned long long)s->epoch,
		    s->ch.reason, r->summary);
		svc_push_hook(s, HOOK_CHANGE, s->ch.reason, s->ch.from, s->ch.to);
		svc_change_clear(s);
		svc_backoff_clear(s);
		s->failures_in_row = 0;
		service_eval(s);
		return;
	}
	svc_promote_failed(s, r->summary);
}

/* The new primary could not take over: try the next one after a back-off. */
static void
svc_promote_failed(struct service *s, const char *summary)
{
	uint64_t now = svc_now(s);
	unsigned shift = s->failures_in_row < SERVICE_BACKOFF_MAX_SHIFT ? s->failures_in_row
	    : SERVICE_BACKOFF_MAX_SHIFT;
	/* Doubling: a hook that always fails must not burn an epoch every few seconds. */
	uint64_t wait_ms = s->conf->promote_backoff_ms << shift;

	s->failures_in_row++;
	svc_event(s, "+promote-failed", "%s: %s", s->ch.to, summary);
	if (s->ops.release != NULL)
		s->ops.release(s->ops.arg, s->conf->name, s->ch.to);
	svc_backoff_set(s, s->ch.to, now + wait_ms * 1000u);
	s->retry_at_us = now + wait_ms * 1000u;
	svc_set_state(s, SVC_FAILED, "promotion of %s failed (%s); next attempt in %llu ms",
	    s->ch.to, summary, (unsigned long long)wait_ms);
	svc_change_clear(s);
	svc_arm(s, s->retry_at_us);
}

bool
service_switchover(struct service *s, const char *to, bool force, char *msg, size_t msglen)
{
	const struct member_conf *target;

	if (s->ch.active) {
		snprintf(msg, msglen, "%s: a role change is running (%s -> %s); try again when it is done",
		    s->conf->name, s->ch.from ? s->ch.from : "-", s->ch.to);
		return false;
	}
	if (to != NULL) {
		target = svc_member(s, to);
		if (target == NULL) {
			snprintf(msg, msglen, "%s has no member named '%s'", s->conf->name, to);
			return false;
		}
		if (target->priority <= 0) {
			snprintf(msg, msglen, "%s/%s has priority 0 and is never promoted", s->conf->name, to);
			return false;
		}
		/* Only a failed change may be redone onto the member it named. */
		if (s->primary != NULL && strcmp(s->primary, to) == 0 && s->state != SVC_FAILED) {
			snprintf(msg, msglen, "%s/%s is already the primary", s->conf->name, to);
			return false;
		}
		if (svc_health(s, to) != HEALTH_UP) {
			snprintf(msg, msglen, "%s/%s is %s; only an up member can take over", s->conf->name, to,
			    health_state_str(svc_health(s, to)));
			return false;
		}
		if (!force && s->conf->max_lag_bytes > 0 && svc_lag(s, to) > s->conf->max_lag_bytes) {
			snprintf(msg, msglen, "%s/%s lags %llu bytes behind (max_lag_bytes %llu); force it to "
			    "accept the loss", s->conf->name, to, (unsigned long long)svc_lag(s, to),
			    (unsigned long long)s->conf->max_lag_bytes);
			return false;
		}
	} else {
		target = svc_pick(s, s->primary, false, force);
		if (target == NULL) {
			snprintf(msg, msglen, "%s: no standby is up to take over%s", s->conf->name, s->skip_note);
			return false;
		}
	}
	/* An admin's explicit order: no cooldown, and any back-off is forgiven. */
	svc_backoff_set(s, target->name, 0);
	svc_start_change(s, "switchover", target->name, true);
	if (!s->ch.active) {
		snprintf(msg, msglen, "%s: %s", s->conf->name, s->state_reason);
		return false;
	}
	snprintf(msg, msglen, "%s: switchover to %s started (epoch %llu)", s->conf->name, target->name,
	    (unsigned long long)s->epoch);
	return true;
}

bool
service_maintenance(struct service *s, bool on, char *msg, size_t msglen)
{
	if (s->maintenance == on) {
		snprintf(msg, msglen, "%s: maintenance is already %s", s->conf->name, on ? "on" : "off");
		return false;
	}
	s->maintenance = on;
	svc_event(s, on ? "+maintenance" : "-maintenance", "%s", on ? "automatic failover suspended"
	    : "automatic failover resumed");
	service_eval(s);
	snprintf(msg, msglen, "%s: maintenance %s%s", s->conf->name, on ? "on" : "off",
	    on && s->ch.active ? " (after the running role change)" : "");
	return true;
}

enum service_state
service_state(const struct service *s)
{
	return s->state;
}

uint64_t
service_epoch(const struct service *s)
{
	return s->epoch;
}

const char *
service_primary(const struct service *s)
{
	return s->primary;
}

static json_t *
service_time_json(uint64_t wall_us)
{
	char buf[48];

	return json_string(format_utc(wall_us, false, buf, sizeof(buf)));
}

void
service_status_json(const struct service *s, json_t *o)
{
	json_t *members = json_object_get(o, "members");
	size_t i;
	json_t *m;

	json_object_set_new(o, "state", json_string(service_state_str(s->state)));
	json_object_set_new(o, "state_since", service_time_json(s->state_since_wall_us));
	json_object_set_new(o, "state_reason", json_string(s->state_reason));
	json_object_set_new(o, "epoch", json_integer((json_int_t)s->epoch));
	json_object_set_new(o, "primary", s->primary ? json_string(s->primary) : json_null());
	json_object_set_new(o, "maintenance", json_boolean(s->maintenance));
	json_array_foreach(members, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		bool primary = name != NULL && s->primary != NULL && strcmp(name, s->primary) == 0;

		json_object_set_new(m, "role", json_string(primary ? "primary" : "standby"));
		if (!primary && name != NULL) {
			uint64_t lsn, plsn;

			if (svc_member_lsn(s, name, &lsn) && svc_primary_lsn(s, &plsn))
				json_object_set_new(m, "lag_bytes", json_integer((json_int_t)svc_lag(s, name)));
		}
	}
}
