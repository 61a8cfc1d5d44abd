/*
 * The failover state machine, driven by synthetic health, a fake clock
 * and hooks that the test finishes by hand.
 */
#include "autoconf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "service.h"
#include "util.h"

#define MAXM 4
#define MAXLOG 64

static struct service_conf conf;
static struct member_conf members[MAXM];
static struct health healths[MAXM];
static uint64_t clock_us;
static uint64_t armed_at;

struct hook_call {
	enum hook_kind kind;
	char event[16], old_primary[16], new_primary[16], reason[16], address[32], old_address[32];
	uint64_t epoch;
};
static struct hook_call hooks[MAXLOG];
static int n_hooks;
static char events[MAXLOG][32];
static int n_events;
static uint64_t persisted_epoch;
static char persisted_primary[16];
static bool persist_fails;
static struct service *svc;

static uint64_t fake_now(void *arg) { return clock_us; }
static uint64_t fake_wall(void *arg) { return 1700000000000000ull + clock_us; }

static const struct health *
fake_health(void *arg, const char *service, const char *member)
{
	for (int i = 0; i < MAXM; i++) {
		if (strcmp(members[i].name, member) == 0)
			return &healths[i];
	}
	return NULL;
}

static bool
fake_persist(void *arg, const char *service, uint64_t epoch, const char *primary)
{
	if (persist_fails)
		return false;
	persisted_epoch = epoch;
	snprintf(persisted_primary, sizeof(persisted_primary), "%s", primary);
	return true;
}

static void
fake_run_hook(void *arg, const char *service, const struct hook_job *job)
{
	struct hook_call *h = &hooks[n_hooks++];

	ck_assert_int_lt(n_hooks, MAXLOG);
	h->kind = job->kind;
	snprintf(h->event, sizeof(h->event), "%s", job->env.event);
	snprintf(h->old_primary, sizeof(h->old_primary), "%s", job->env.old_primary);
	snprintf(h->new_primary, sizeof(h->new_primary), "%s", job->env.new_primary);
	snprintf(h->reason, sizeof(h->reason), "%s", job->env.reason);
	snprintf(h->address, sizeof(h->address), "%s", job->env.new_primary_address);
	snprintf(h->old_address, sizeof(h->old_address), "%s", job->env.old_primary_address);
	h->epoch = job->env.epoch;
}

static void
fake_event(void *arg, const char *service, const char *name, const char *detail)
{
	if (n_events < MAXLOG)
		snprintf(events[n_events++], sizeof(events[0]), "%s", name);
}

static void
fake_arm(void *arg, const char *service, uint64_t at)
{
	if (armed_at == 0 || at < armed_at)
		armed_at = at;
}

static char refuse_acquire[16];  /* acquire fails for this member */
static char released[MAXLOG][16];
static int n_released;

static bool
fake_acquire(void *arg, const char *service, const char *member, char *err, size_t len)
{
	if (strcmp(member, refuse_acquire) == 0) {
		snprintf(err, len, "vip: no such device");
		return false;
	}
	return true;
}

static void
fake_release(void *arg, const char *service, const char *member)
{
	snprintf(released[n_released++], sizeof(released[0]), "%s", member);
}

static const struct service_ops ops = {
	.now = fake_now, .wall = fake_wall, .health = fake_health, .persist = fake_persist,
	.acquire = fake_acquire, .release = fake_release,
	.run_hook = fake_run_hook, .event = fake_event, .arm = fake_arm, .arg = NULL,
};

static void
setup(void)
{
	static char *names[MAXM] = { "a", "b", "c", "z" };
	static char *addrs[MAXM] = { "192.0.2.1:80", "192.0.2.2:80", "192.0.2.3:80", "192.0.2.9:80" };
	static int prios[MAXM] = { 100, 90, 80, 0 };

	memset(&conf, 0, sizeof(conf));
	conf.name = "web";
	conf.check.interval_ms = 1000;
	conf.check.fastinter_ms = 1000;
	conf.check.downinter_ms = 1000;
	conf.check.timeout_ms = 800;
	conf.check.rise = 2;
	conf.check.fall = 2;
	conf.on_promote = "/p";
	conf.on_demote = "/d";
	conf.on_change = "/c";
	conf.failover_cooldown_ms = 0;
	conf.promote_backoff_ms = 5000;
	conf.failback_delay_ms = 10000;
	conf.members = members;
	conf.n_members = MAXM;
	for (int i = 0; i < MAXM; i++) {
		memset(&members[i], 0, sizeof(members[i]));
		members[i].service = "web";
		members[i].name = names[i];
		members[i].address = addrs[i];
		members[i].priority = prios[i];
		memset(&healths[i], 0, sizeof(healths[i]));
	}
	clock_us = 1000000;
	armed_at = 0;
	n_hooks = n_events = 0;
	persisted_epoch = 0;
	persisted_primary[0] = '\0';
	persist_fails = false;
	refuse_acquire[0] = '\0';
	n_released = 0;
	svc = NULL;
}

static void
teardown(void)
{
	service_free(svc);
}

static void
set_health(int i, enum health_state st)
{
	healths[i].state = st;
	healths[i].since_mono_us = clock_us;
	if (svc != NULL)
		service_tick(svc); /* as the supervisor does on every change */
}

static void
advance(uint64_t ms)
{
	clock_us += ms * 1000u;
	if (armed_at != 0 && armed_at <= clock_us) {
		armed_at = 0;
		service_tick(svc);
	}
}

static void
finish_hook(int idx, bool ok)
{
	struct hook_result r;

	memset(&r, 0, sizeof(r));
	r.ok = ok;
	snprintf(r.summary, sizeof(r.summary), ok ? "exit 0" : "exit 1");
	service_hook_done(svc, hooks[idx].kind, &r);
}

static bool
had_event(const char *name)
{
	for (int i = 0; i < n_events; i++) {
		if (strcmp(events[i], name) == 0)
			return true;
	}
	return false;
}

/* Elect a (all up), run its hooks: the common start of most tests. */
static void
start_with_a(void)
{
	for (int i = 0; i < MAXM; i++)
		healths[i].state = HEALTH_UP;
	svc = service_new(&conf, "n1", 0, NULL, &ops);
	service_tick(svc);
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_int_eq(hooks[0].kind, HOOK_PROMOTE);
	finish_hook(0, true);
	ck_assert_int_eq(service_state(svc), SVC_OK);
	ck_assert_str_eq(service_primary(svc), "a");
	n_hooks = 0;
	n_events = 0;
}

START_TEST(test_initial_election)
{
	svc = service_new(&conf, "n1", 0, NULL, &ops);
	service_tick(svc);
	ck_assert_int_eq(service_state(svc), SVC_ELECTING);
	/* b is up first, but a (higher priority) is still undecided: wait. */
	set_health(1, HEALTH_UP);
	ck_assert_int_eq(n_hooks, 0);
	set_health(2, HEALTH_UP);
	set_health(3, HEALTH_UP);
	set_health(0, HEALTH_UP);
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_str_eq(hooks[0].event, "promote");
	ck_assert_str_eq(hooks[0].new_primary, "a");
	ck_assert_str_eq(hooks[0].old_primary, "");
	ck_assert_str_eq(hooks[0].reason, "initial");
	ck_assert_str_eq(hooks[0].address, "192.0.2.1:80");
	ck_assert_uint_eq(hooks[0].epoch, 1);
	ck_assert_uint_eq(persisted_epoch, 1);
	ck_assert_str_eq(persisted_primary, "a");
	ck_assert_int_eq(service_state(svc), SVC_FAILING_OVER);
	finish_hook(0, true);
	ck_assert_int_eq(service_state(svc), SVC_OK);
	ck_assert_int_eq(n_hooks, 2);
	ck_assert_int_eq(hooks[1].kind, HOOK_CHANGE);
	ck_assert(had_event("+elected"));
	ck_assert(had_event("+promoted"));
}
END_TEST

START_TEST(test_election_deadline)
{
	svc = service_new(&conf, "n1", 0, NULL, &ops);
	set_health(1, HEALTH_UP);
	ck_assert_int_eq(n_hooks, 0);
	ck_assert_uint_gt(armed_at, 0);
	advance(60000); /* a never answers: after the deadline b is chosen */
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_str_eq(hooks[0].new_primary, "b");
}
END_TEST

START_TEST(test_failover)
{
	start_with_a();
	set_health(0, HEALTH_DOWN);
	ck_assert_int_eq(service_state(svc), SVC_FAILING_OVER);
	ck_assert_uint_eq(service_epoch(svc), 2);
	ck_assert_uint_eq(persisted_epoch, 2);
	ck_assert_str_eq(persisted_primary, "b");
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_str_eq(hooks[0].event, "demote");
	ck_assert_str_eq(hooks[0].old_primary, "a");
	ck_assert_str_eq(hooks[0].old_address, "192.0.2.1:80");
	ck_assert_str_eq(hooks[0].new_primary, "b");
	ck_assert_str_eq(hooks[0].reason, "failover");
	/* The old primary is dead: a failed fence does not stop the promotion. */
	finish_hook(0, false);
	ck_assert_int_eq(n_hooks, 2);
	ck_assert_str_eq(hooks[1].event, "promote");
	ck_assert_uint_eq(hooks[1].epoch, 2);
	finish_hook(1, true);
	ck_assert_int_eq(service_state(svc), SVC_OK);
	ck_assert_str_eq(service_primary(svc), "b");
	ck_assert(had_event("+failover-start"));
	ck_assert(had_event("+demote-failed"));
	ck_assert(had_event("+promoted"));
}
END_TEST

START_TEST(test_health_during_failover_waits)
{
	start_with_a();
	set_health(0, HEALTH_DOWN);
	set_health(1, HEALTH_DOWN); /* the chosen one dies mid-change: no second change yet */
	ck_assert_int_eq(n_hooks, 1);
	finish_hook(0, true);
	finish_hook(1, true);
	/* Then b is down: fail over again, to c. */
	ck_assert_str_eq(service_primary(svc), "c");
	ck_assert_uint_eq(service_epoch(svc), 3);
}
END_TEST

START_TEST(test_no_candidate)
{
	start_with_a();
	set_health(1, HEALTH_DOWN);
	set_health(2, HEALTH_DOWN);
	set_health(0, HEALTH_DOWN);
	ck_assert_int_eq(service_state(svc), SVC_NO_CANDIDATE);
	ck_assert_int_eq(n_hooks, 0);
	ck_assert(had_event("+no-candidate"));
	/* Priority 0 is never promoted, even if it is the only one up. */
	ck_assert_int_eq(healths[3].state, HEALTH_UP);
	set_health(2, HEALTH_UP);
	ck_assert_int_eq(service_state(svc), SVC_FAILING_OVER);
	ck_assert_str_eq(service_primary(svc), "c");
}
END_TEST

START_TEST(test_primary_back_before_candidate)
{
	start_with_a();
	set_health(1, HEALTH_DOWN);
	set_health(2, HEALTH_DOWN);
	set_health(0, HEALTH_DOWN);
	set_health(0, HEALTH_UP);
	ck_assert_int_eq(service_state(svc), SVC_OK);
	ck_assert_str_eq(service_primary(svc), "a");
	ck_assert_uint_eq(service_epoch(svc), 1);
}
END_TEST

START_TEST(test_cooldown)
{
	conf.failover_cooldown_ms = 30000;
	start_with_a();
	set_health(0, HEALTH_DOWN);
	finish_hook(0, true);
	finish_hook(1, true);
	ck_assert_str_eq(service_primary(svc), "b");
	n_hooks = 0;
	advance(1000);
	set_health(1, HEALTH_DOWN);
	ck_assert_int_eq(service_state(svc), SVC_PRIMARY_DOWN);
	ck_assert_int_eq(n_hooks, 0);
	advance(20000);
	ck_assert_int_eq(n_hooks, 0);
	advance(10000);
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_str_eq(service_primary(svc), "c");
}
END_TEST

START_TEST(test_failback_manual)
{
	start_with_a();
	set_health(0, HEALTH_DOWN);
	finish_hook(0, true);
	finish_hook(1, true);
	n_hooks = 0;
	set_health(0, HEALTH_UP);
	advance(600000);
	ck_assert_int_eq(n_hooks, 0);
	ck_assert_str_eq(service_primary(svc), "b");
}
END_TEST

START_TEST(test_failback_auto_waits_and_ignores_flaps)
{
	conf.failback_auto = true;
	start_with_a();
	set_health(0, HEALTH_DOWN);
	finish_hook(0, true);
	finish_hook(1, true);
	n_hooks = 0;
	/* a bounces: each return restarts its failback_delay */
	for (int i = 0; i < 5; i++) {
		set_health(0, HEALTH_UP);
		advance(5000);
		set_health(0, HEALTH_DOWN);
		advance(1000);
	}
	ck_assert_int_eq(n_hooks, 0);
	set_health(0, HEALTH_UP);
	advance(9000);
	ck_assert_int_eq(n_hooks, 0);
	advance(1000);
	ck_assert_int_eq(n_hooks, 1);
	/* Graceful: demote b first. */
	ck_assert_str_eq(hooks[0].event, "demote");
	ck_assert_str_eq(hooks[0].old_primary, "b");
	ck_assert_str_eq(hooks[0].reason, "failback");
	finish_hook(0, true);
	ck_assert_str_eq(hooks[1].event, "promote");
	ck_assert_str_eq(hooks[1].new_primary, "a");
	finish_hook(1, true);
	ck_assert_str_eq(service_primary(svc), "a");
	ck_assert(had_event("+failback"));
}
END_TEST

START_TEST(test_maintenance)
{
	char msg[256];

	start_with_a();
	ck_assert(service_maintenance(svc, true, msg, sizeof(msg)));
	ck_assert(!service_maintenance(svc, true, msg, sizeof(msg)));
	ck_assert_int_eq(service_state(svc), SVC_MAINTENANCE);
	set_health(0, HEALTH_DOWN);
	ck_assert_int_eq(n_hooks, 0);
	ck_assert_int_eq(service_state(svc), SVC_MAINTENANCE);
	ck_assert(service_maintenance(svc, false, msg, sizeof(msg)));
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_str_eq(hooks[0].new_primary, "b");
}
END_TEST

START_TEST(test_promote_failure_tries_next)
{
	start_with_a();
	set_health(0, HEALTH_DOWN);
	finish_hook(0, true);   /* demote a */
	finish_hook(1, false);  /* promote b fails */
	ck_assert_int_eq(service_state(svc), SVC_FAILED);
	ck_assert(had_event("+promote-failed"));
	ck_assert_int_eq(n_hooks, 2);
	advance(4000);
	ck_assert_int_eq(n_hooks, 2); /* back-off */
	advance(1000);
	ck_assert_int_eq(service_state(svc), SVC_FAILING_OVER);
	ck_assert_uint_eq(service_epoch(svc), 3);
	ck_assert_str_eq(hooks[2].event, "demote");
	ck_assert_str_eq(hooks[2].old_primary, "b");
	ck_assert_str_eq(hooks[2].reason, "retry");
	finish_hook(2, true);
	ck_assert_str_eq(hooks[3].new_primary, "c");
	finish_hook(3, true);
	ck_assert_int_eq(service_state(svc), SVC_OK);
	ck_assert_str_eq(service_primary(svc), "c");
}
END_TEST

START_TEST(test_acquire_failure_is_a_failed_promotion)
{
	start_with_a();
	snprintf(refuse_acquire, sizeof(refuse_acquire), "b");
	set_health(0, HEALTH_DOWN);
	ck_assert_int_eq(n_released, 1);
	ck_assert_str_eq(released[0], "a"); /* released before on_demote */
	finish_hook(0, true);
	/* b cannot take the VIP: no on_promote for it, b released, c next. */
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_int_eq(service_state(svc), SVC_FAILED);
	ck_assert(had_event("+promote-failed"));
	ck_assert_str_eq(released[1], "b");
	advance(5000);
	ck_assert_int_eq(n_hooks, 2);
	ck_assert_str_eq(hooks[1].event, "demote");
	finish_hook(1, true);
	ck_assert_str_eq(hooks[2].event, "promote");
	ck_assert_str_eq(hooks[2].new_primary, "c");
}
END_TEST

static void
set_lsn(int i, bool in_recovery, uint64_t lsn)
{
	healths[i].facts.role_known = true;
	healths[i].facts.in_recovery = in_recovery;
	healths[i].facts.lsn_known = true;
	healths[i].facts.lsn = lsn;
}

START_TEST(test_wal_ranking_breaks_priority_ties)
{
	members[1].priority = 80; /* b and c tie */
	start_with_a();
	set_lsn(0, false, 5000);
	set_lsn(1, true, 4000);
	set_lsn(2, true, 4900); /* c has lost less */
	service_tick(svc);
	set_health(0, HEALTH_DOWN);
	ck_assert_str_eq(service_primary(svc), "c");
}
END_TEST

START_TEST(test_lagging_standby_not_promoted)
{
	char msg[256];

	conf.max_lag_bytes = 1000;
	start_with_a();
	set_lsn(0, false, 100000);
	set_lsn(1, true, 50000);
	set_lsn(2, true, 60000);
	service_tick(svc); /* the primary's position is noted while it is up */
	set_health(0, HEALTH_DOWN);
	ck_assert_int_eq(service_state(svc), SVC_NO_CANDIDATE);
	ck_assert_int_eq(n_hooks, 0);
	/* An admin may accept the loss, and only knowingly. */
	ck_assert(!service_switchover(svc, "b", false, msg, sizeof(msg)));
	ck_assert_ptr_nonnull(strstr(msg, "lags"));
	ck_assert(service_switchover(svc, "b", true, msg, sizeof(msg)));
	ck_assert_str_eq(service_primary(svc), "b");
}
END_TEST

START_TEST(test_promote_backoff_doubles)
{
	start_with_a();
	members[2].priority = 0; /* b is the only candidate */
	set_health(0, HEALTH_DOWN);
	finish_hook(0, true);
	finish_hook(1, false);           /* 1st failure: 5 s */
	advance(5000);
	ck_assert_int_eq(n_hooks, 3);    /* retry: promote b again (from = to: no demote) */
	ck_assert_str_eq(hooks[2].event, "promote");
	finish_hook(2, false);           /* 2nd failure: 10 s */
	advance(9000);
	ck_assert_int_eq(n_hooks, 3);
	advance(1000);
	ck_assert_int_eq(n_hooks, 4);
	finish_hook(3, false);           /* 3rd: 20 s */
	advance(19000);
	ck_assert_int_eq(n_hooks, 4);
	advance(1000);
	ck_assert_int_eq(n_hooks, 5);
	finish_hook(4, true);
	ck_assert_int_eq(service_state(svc), SVC_OK);
}
END_TEST

START_TEST(test_initial_election_takes_reported_primary)
{
	for (int i = 0; i < MAXM; i++)
		healths[i].state = HEALTH_UP;
	set_lsn(0, true, 900);  /* a: higher priority, but a standby */
	set_lsn(1, false, 1000); /* b: already the primary */
	set_lsn(2, true, 800);
	svc = service_new(&conf, "n1", 0, NULL, &ops);
	service_tick(svc);
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_str_eq(hooks[0].new_primary, "b");
}
END_TEST

START_TEST(test_lag_follows_the_live_primary)
{
	json_t *o = json_object(), *ms = json_array(), *m2 = json_object();

	start_with_a();
	set_lsn(0, false, 1000);
	set_lsn(1, true, 1000);
	service_tick(svc);
	set_lsn(0, false, 9000); /* the primary moves on, no evaluation in between */
	json_object_set_new(m2, "name", json_string("b"));
	json_array_append_new(ms, m2);
	json_object_set_new(o, "members", ms);
	service_status_json(svc, o);
	ck_assert_int_eq(json_integer_value(json_object_get(m2, "lag_bytes")), 8000);
	json_decref(o);
}
END_TEST

START_TEST(test_switchover)
{
	char msg[256];

	start_with_a();
	ck_assert(!service_switchover(svc, "nosuch", false, msg, sizeof(msg)));
	ck_assert(!service_switchover(svc, "z", false, msg, sizeof(msg))); /* priority 0 */
	ck_assert(!service_switchover(svc, "a", false, msg, sizeof(msg))); /* already */
	set_health(2, HEALTH_DOWN);
	ck_assert(!service_switchover(svc, "c", false, msg, sizeof(msg))); /* down */
	ck_assert(service_switchover(svc, "b", false, msg, sizeof(msg)));
	ck_assert(!service_switchover(svc, "a", false, msg, sizeof(msg))); /* one at a time */
	ck_assert_str_eq(hooks[0].event, "demote");
	ck_assert_str_eq(hooks[0].reason, "switchover");
	finish_hook(0, true);
	finish_hook(1, true);
	ck_assert_str_eq(service_primary(svc), "b");
	ck_assert_uint_eq(service_epoch(svc), 2);
	/* With no target: the best standby. */
	ck_assert(service_switchover(svc, NULL, false, msg, sizeof(msg)));
	ck_assert_str_eq(service_primary(svc), "a");
}
END_TEST

START_TEST(test_switchover_demote_failure_stops)
{
	char msg[256];

	start_with_a();
	ck_assert(service_switchover(svc, "b", false, msg, sizeof(msg)));
	finish_hook(0, false);
	ck_assert_int_eq(service_state(svc), SVC_FAILED);
	ck_assert_int_eq(n_hooks, 1); /* b was not promoted */
	advance(600000);
	ck_assert_int_eq(n_hooks, 1); /* and nothing automatic follows */
	ck_assert(service_switchover(svc, "b", false, msg, sizeof(msg)));
}
END_TEST

START_TEST(test_adopt_persisted_primary)
{
	for (int i = 0; i < MAXM; i++)
		healths[i].state = HEALTH_UNKNOWN;
	svc = service_new(&conf, "n1", 7, "b", &ops);
	service_tick(svc);
	ck_assert_int_eq(service_state(svc), SVC_ELECTING);
	set_health(0, HEALTH_UP);
	set_health(1, HEALTH_UP);
	ck_assert_int_eq(service_state(svc), SVC_OK);
	ck_assert_str_eq(service_primary(svc), "b");
	ck_assert_uint_eq(service_epoch(svc), 7);
	ck_assert_int_eq(n_hooks, 0); /* a restart runs no hook, reverses nothing */
}
END_TEST

START_TEST(test_persisted_primary_gone)
{
	for (int i = 0; i < MAXM; i++)
		healths[i].state = HEALTH_UP;
	svc = service_new(&conf, "n1", 7, "removed", &ops);
	service_tick(svc);
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_uint_eq(hooks[0].epoch, 8); /* epochs never go back */
}
END_TEST

START_TEST(test_persist_failure_blocks_change)
{
	start_with_a();
	persist_fails = true;
	set_health(0, HEALTH_DOWN);
	ck_assert_int_eq(n_hooks, 0);
	ck_assert_int_eq(service_state(svc), SVC_FAILED);
	ck_assert_uint_eq(service_epoch(svc), 1);
	persist_fails = false;
	advance(5000);
	ck_assert_int_eq(n_hooks, 1);
	ck_assert_uint_eq(service_epoch(svc), 2);
}
END_TEST

START_TEST(test_stalled_loop_holds)
{
	start_with_a();
	service_hold(svc, clock_us + 30000000);
	set_health(0, HEALTH_DOWN);
	ck_assert_int_eq(service_state(svc), SVC_PRIMARY_DOWN);
	ck_assert_int_eq(n_hooks, 0);
	advance(29000);
	ck_assert_int_eq(n_hooks, 0);
	advance(1000);
	ck_assert_int_eq(n_hooks, 1);
}
END_TEST

START_TEST(test_status_json)
{
	json_t *o = json_object(), *ms = json_array(), *m1 = json_object(), *m2 = json_object();

	start_with_a();
	json_object_set_new(m1, "name", json_string("a"));
	json_object_set_new(m2, "name", json_string("b"));
	json_array_append_new(ms, m1);
	json_array_append_new(ms, m2);
	json_object_set_new(o, "members", ms);
	service_status_json(svc, o);
	ck_assert_str_eq(json_string_value(json_object_get(o, "state")), "ok");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "epoch")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "primary")), "a");
	ck_assert_str_eq(json_string_value(json_object_get(m1, "role")), "primary");
	ck_assert_str_eq(json_string_value(json_object_get(m2, "role")), "standby");
	ck_assert(json_is_false(json_object_get(o, "maintenance")));
	json_decref(o);
	for (int st = 0; st < SVC_STATE_MAX; st++)
		ck_assert_str_ne(service_state_str((enum service_state)st), "?");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("service");
	TCase *tc = tcase_create("state machine");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_initial_election);
	tcase_add_test(tc, test_election_deadline);
	tcase_add_test(tc, test_failover);
	tcase_add_test(tc, test_health_during_failover_waits);
	tcase_add_test(tc, test_no_candidate);
	tcase_add_test(tc, test_primary_back_before_candidate);
	tcase_add_test(tc, test_cooldown);
	tcase_add_test(tc, test_failback_manual);
	tcase_add_test(tc, test_failback_auto_waits_and_ignores_flaps);
	tcase_add_test(tc, test_maintenance);
	tcase_add_test(tc, test_promote_failure_tries_next);
	tcase_add_test(tc, test_acquire_failure_is_a_failed_promotion);
	tcase_add_test(tc, test_wal_ranking_breaks_priority_ties);
	tcase_add_test(tc, test_lagging_standby_not_promoted);
	tcase_add_test(tc, test_promote_backoff_doubles);
	tcase_add_test(tc, test_initial_election_takes_reported_primary);
	tcase_add_test(tc, test_lag_follows_the_live_primary);
	tcase_add_test(tc, test_switchover);
	tcase_add_test(tc, test_switchover_demote_failure_stops);
	tcase_add_test(tc, test_adopt_persisted_primary);
	tcase_add_test(tc, test_persisted_primary_gone);
	tcase_add_test(tc, test_persist_failure_blocks_change);
	tcase_add_test(tc, test_stalled_loop_holds);
	tcase_add_test(tc, test_status_json);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
