#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "history.h"
#include "hook.h"
#include "log.h"
#include "monitor.h"
#include "service.h"
#include "state.h"
#include "supervisor.h"
#include "util.h"
#include "vip.h"

/*
 * One slot per service.  The slot outlives reloads that keep the service
 * (its state machine, hook queue and timer go on); the conf pointers in
 * it are swapped by supervisor_reconf.
 */
struct slot;

struct hook_tag {
	struct slot *slot;
	enum hook_kind kind;
};

struct slot {
	struct supervisor *sup;
	char *name;
	struct service *svc;
	struct hook_queue *hooks;
	struct event timer;
	uint64_t timer_at_us;   /* when the pending timer fires; 0: none */
	struct hook_tag tags[3]; /* done-callback args, one per hook kind */
	struct event fail_ev;   /* reports a hook that could not be queued */
	struct hook_result fail_result;
	enum hook_kind fail_kind;
	bool vips_started;      /* its VIPs were looked at once (start, or the reload that added it) */
};

struct supervisor {
	struct event_base *base;
	struct proc_table *procs;
	const struct config *cfg;
	const struct monitor *mon;
	struct history *hist;
	struct state state;
	struct slot **slots;
	size_t n_slots;
	struct vip_manager *vips;  /* NULL: no VIP is ever held */
};

static struct slot *
sup_slot(const struct supervisor *sup, const char *name)
{
	for (size_t i = 0; i < sup->n_slots; i++) {
		if (strcmp(sup->slots[i]->name, name) == 0)
			return sup->slots[i];
	}
	return NULL;
}

static uint64_t
ops_now(void *arg)
{
	return now_mono_us();
}

static uint64_t
ops_wall(void *arg)
{
	return now_wall_us();
}

static const struct health *
ops_health(void *arg, const char *service, const char *member)
{
	struct supervisor *sup = arg;

	return sup->mon != NULL ? monitor_health(sup->mon, service, member) : NULL;
}

/* Write the new (epoch, primary) before anything acts on it. */
static bool
ops_persist(void *arg, const char *service, uint64_t epoch, const char *primary)
{
	struct supervisor *sup = arg;
	const struct state_entry *e = state_find(&sup->state, service);
	uint64_t old_epoch = e ? e->epoch : 0, old_vote = e ? e->last_vote : 0;
	char *old_primary = e && e->primary ? xstrdup(e->primary) : NULL;
	char err[512];
	bool ok;

	state_set(&sup->state, service, epoch, primary, old_vote > epoch ? old_vote : epoch);
	ok = state_save(sup->cfg->state_dir, &sup->state, err, sizeof(err));
	if (!ok) {
		log_error("service %s: %s; epoch %llu not committed", service, err,
		    (unsigned long long)epoch);
		state_set(&sup->state, service, old_epoch, old_primary, old_vote);
	}
	free(old_primary);
	return ok;
}

/* Whether MEMBER of CONF runs on this node: while it is primary, CONF's VIPs are held here. */
static bool
sup_member_here(const struct supervisor *sup, const struct service_conf *conf, const char *member)
{
	for (size_t i = 0; member != NULL && i < conf->n_members; i++) {
		const struct member_conf *m = &conf->members[i];

		if (strcmp(m->name, member) == 0)
			return m->node != NULL && strcmp(m->node, sup->cfg->node) == 0;
	}
	return false;
}

static bool
sup_any_member_here(const struct supervisor *sup, const struct service_conf *conf)
{
	for (size_t i = 0; i < conf->n_members; i++) {
		if (sup_member_here(sup, conf, conf->members[i].name))
			return true;
	}
	return false;
}

/*
 * MEMBER becomes primary: if it runs here, the VIPs come here before its
 * on_promote runs.  A VIP that cannot be added fails the promotion.
 */
static bool
ops_acquire(void *arg, const char *service, const char *member, char *err, size_t errlen)
{
	struct supervisor *sup = arg;
	const struct service_conf *conf = config_find_service(sup->cfg, service);
	struct vip_announce ann;

	if (sup->vips == NULL || conf == NULL || conf->n_vips == 0 || !sup_member_here(sup, conf, member))
		return true;
	ann = vip_announce_of(conf);
	return vip_acquire(sup->vips, service, conf->vips, conf->n_vips, &ann, err, errlen);
}

/*
 * MEMBER stops being primary (before its on_demote, or after its failed
 * promotion): whatever this node holds for the service goes.  Only a
 * primary here holds anything, so the member need not be looked up.
 */
static void
ops_release(void *arg, const char *service, const char *member)
{
	struct supervisor *sup = arg;
	char why[CONFIG_NAME_MAX + 64];

	if (sup->vips == NULL || !vip_held(sup->vips, service))
		return;
	snprintf(why, sizeof(why), "%s is no longer primary", member != NULL ? member : "-");
	vip_release(sup->vips, service, why);
}

static void
slot_hook_done(void *arg, const struct hook_result *r)
{
	struct hook_tag *tag = arg;

	service_hook_done(tag->slot->svc, tag->kind, r);
}

static void
slot_fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot *sl = arg;

	service_hook_done(sl->svc, sl->fail_kind, &sl->fail_result);
}

static void
ops_run_hook(void *arg, const char *service, const struct hook_job *job)
{
	struct supervisor *sup = arg;
	struct slot *sl = sup_slot(sup, service);
	struct hook_job j = *job;
	static const struct timeval now = { 0, 0 };

	j.done = slot_hook_done;
	j.arg = &sl->tags[job->kind];
	if (hook_queue_push(sl->hooks, &j))
		return;
	if (job->kind == HOOK_CHANGE)
		return; /* a notice dropped, logged by the queue */
	/* A role change must never be left waiting: report it failed, from the loop. */
	memset(&sl->fail_result, 0, sizeof(sl->fail_result));
	sl->fail_result.ok = false;
	snprintf(sl->fail_result.summary, sizeof(sl->fail_result.summary), "hook queue full");
	sl->fail_kind = job->kind;
	evtimer_add(&sl->fail_ev, &now);
}

static void
ops_event(void *arg, const char *service, const char *name, const char *detail)
{
	supervisor_event(arg, service, name, detail);
}

static void
ops_arm(void *arg, const char *service, uint64_t at_us)
{
	struct supervisor *sup = arg;
	struct slot *sl = sup_slot(sup, service);
	uint64_t now = now_mono_us();
	struct timeval tv;

	if (sl->timer_at_us != 0 && sl->timer_at_us <= at_us && evtimer_pending(&sl->timer, NULL))
		return; /* an earlier tick comes anyway and re-arms what it still needs */
	sl->timer_at_us = at_us;
	tv = us_to_tv(at_us > now ? at_us - now : 0);
	evtimer_add(&sl->timer, &tv);
}

static void
slot_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot *sl = arg;

	sl->timer_at_us = 0;
	service_tick(sl->svc);
}

static struct slot *
slot_new(struct supervisor *sup, const struct service_conf *conf)
{
	struct slot *sl = xcalloc(1, sizeof(*sl));
	const struct state_entry *e = state_find(&sup->state, conf->name);
	struct service_ops ops = {
		.now = ops_now,
		.wall = ops_wall,
		.health = ops_health,
		.persist = ops_persist,
		.acquire = ops_acquire,
		.release = ops_release,
		.run_hook = ops_run_hook,
		.event = ops_event,
		.arm = ops_arm,
		.arg = sup,
	};

	sl->sup = sup;
	sl->name = xstrdup(conf->name);
	for (int k = 0; k < 3; k++) {
		sl->tags[k].slot = sl;
		sl->tags[k].kind = (enum hook_kind)k;
	}
	evtimer_assign(&sl->timer, sup->base, slot_timer_cb, sl);
	evtimer_assign(&sl->fail_ev, sup->base, slot_fail_cb, sl);
	sl->hooks = hook_queue_new(sup->base, sup->procs, conf->name, conf->hook_timeout_ms,
	    conf->hook_kill_grace_ms);
	/* The slot must be findable before the service can ask for anything. */
	sup->slots = xrealloc(sup->slots, (sup->n_slots + 1) * sizeof(*sup->slots));
	sup->slots[sup->n_slots++] = sl;
	sl->svc = service_new(conf, sup->cfg->node, e ? e->epoch : 0, e ? e->primary : NULL, &ops);
	if (e != NULL && e->primary != NULL)
		log_info("service %s: epoch %llu, primary %s (from the state file)", conf->name,
		    (unsigned long long)e->epoch, e->primary);
	return sl;
}

static void
slot_free(struct slot *sl)
{
	evtimer_del(&sl->timer);
	evtimer_del(&sl->fail_ev);
	hook_queue_free(sl->hooks);
	service_free(sl->svc);
	free(sl->name);
	free(sl);
}

struct supervisor *
supervisor_new(struct event_base *base, struct proc_table *procs, const struct config *cfg,
    struct history *hist)
{
	struct supervisor *sup = xcalloc(1, sizeof(*sup));
	char err[1024];

	sup->base = base;
	sup->procs = procs;
	sup->cfg = cfg;
	sup->hist = hist;
	switch (state_load(cfg->state_dir, &sup->state, err, sizeof(err))) {
	case STATE_LOADED:
		break;
	case STATE_CORRUPT:
		log_error("%s; starting from the configuration", err);
		supervisor_event(sup, NULL, "+state-corrupt", err);
		break;
	case STATE_ERROR:
		log_error("%s; starting from the configuration", err);
		break;
	}
	for (size_t i = 0; i < cfg->n_services; i++)
		slot_new(sup, &cfg->services[i]);
	return sup;
}

void
supervisor_set_monitor(struct supervisor *sup, const struct monitor *mon)
{
	sup->mon = mon;
}

void
supervisor_set_vips(struct supervisor *sup, struct vip_manager *vips)
{
	sup->vips = vips;
}

/*
 * At start: the primary of the current epoch (adopted from the state file,
 * no hook runs) keeps its VIPs, or gets them back, if it runs here; any
 * other VIP of the service found here was left behind by an earlier run
 * (a crash, a kill -9) and goes, lest two nodes answer for it.
 */
static void
sup_vips_start(struct supervisor *sup, struct slot *sl)
{
	const struct service_conf *conf = config_find_service(sup->cfg, sl->name);
	const char *primary = service_primary(sl->svc);
	struct vip_announce ann;
	char err[512];

	sl->vips_started = true;
	if (sup->vips == NULL || conf == NULL || conf->n_vips == 0)
		return;
	if (!sup_any_member_here(sup, conf))
		log_debug("service %s: no member has node = %s, so its VIPs are never held here",
		    sl->name, sup->cfg->node);
	if (primary != NULL && sup_member_here(sup, conf, primary)) {
		ann = vip_announce_of(conf);
		if (!vip_update(sup->vips, sl->name, conf->vips, conf->n_vips, &ann, err, sizeof(err)))
			log_error("service %s: primary %s runs here but its VIPs are not all in place: %s",
			    sl->name, primary, err);
		return;
	}
	vip_remove_stale(sup->vips, sl->name, conf->vips, conf->n_vips);
}

/*
 * After a reload: a primary here holds exactly the VIPs now configured;
 * one that is no longer here (its node changed) holds none.  A role
 * change under way takes care of its own VIPs.
 */
static void
sup_vips_reconf(struct supervisor *sup, struct slot *sl, const struct service_conf *conf)
{
	const char *primary = service_primary(sl->svc);
	bool here = primary != NULL && sup_member_here(sup, conf, primary);
	bool held = vip_held(sup->vips, sl->name);
	enum service_state st = service_state(sl->svc);
	struct vip_announce ann = vip_announce_of(conf);
	char err[512];

	if (held && !here) {
		vip_release(sup->vips, sl->name, "its primary is no longer on this node");
		return;
	}
	if (!here || (!held && (conf->n_vips == 0 || st == SVC_FAILING_OVER || st == SVC_FAILED)))
		return;
	if (conf->n_vips > 0 && !sup_any_member_here(sup, conf))
		log_debug("service %s: no member has node = %s", sl->name, sup->cfg->node);
	if (!vip_update(sup->vips, sl->name, conf->vips, conf->n_vips, &ann, err, sizeof(err)))
		log_error("service %s: after the reload, not every VIP is in place: %s", sl->name, err);
}

void
supervisor_start(struct supervisor *sup)
{
	for (size_t i = 0; i < sup->n_slots; i++)
		sup_vips_start(sup, sup->slots[i]);
	for (size_t i = 0; i < sup->n_slots; i++)
		service_tick(sup->slots[i]->svc);
}

void
supervisor_member_changed(struct supervisor *sup, const struct member_conf *member,
    enum health_state from, const struct health *h)
{
	/*
	 * Evaluate once per loop turn, not once per change: an evaluation
	 * walks every member, and ten thousand members coming up at start
	 * would otherwise cost ten thousand squared.  The delay is one turn.
	 */
	if (sup_slot(sup, member->service) != NULL)
		ops_arm(sup, member->service, now_mono_us());
}

void
supervisor_reconf(struct supervisor *sup, const struct config *cfg)
{
	struct slot **old = sup->slots;
	size_t n_old = sup->n_slots;

	sup->cfg = cfg;
	sup->slots = NULL;
	sup->n_slots = 0;
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct service_conf *conf = &cfg->services[i];
		struct slot *sl = NULL;

		for (size_t j = 0; j < n_old; j++) {
			if (old[j] != NULL && strcmp(old[j]->name, conf->name) == 0) {
				sl = old[j];
				old[j] = NULL;
				break;
			}
		}
		if (sl == NULL) {
			slot_new(sup, conf);
			continue;
		}
		sup->slots = xrealloc(sup->slots, (sup->n_slots + 1) * sizeof(*sup->slots));
		sup->slots[sup->n_slots++] = sl;
		hook_queue_set_limits(sl->hooks, conf->hook_timeout_ms, conf->hook_kill_grace_ms);
	}
	for (size_t j = 0; j < n_old; j++) {
		if (old[j] == NULL)
			continue;
		if (hook_queue_busy(old[j]->hooks))
			log_warn("service %s removed while a hook runs: the hook is killed", old[j]->name);
		supervisor_event(sup, old[j]->name, "-service", "removed from the configuration");
		if (sup->vips != NULL && vip_held(sup->vips, old[j]->name))
			vip_release(sup->vips, old[j]->name, "its service was removed from the configuration");
		slot_free(old[j]);
	}
	free(old);
	/* Now every slot is in place, in configuration order: slots[i] is services[i]. */
	for (size_t i = 0; i < cfg->n_services; i++)
		service_reconf(sup->slots[i]->svc, &cfg->services[i], cfg->node);
	for (size_t i = 0; sup->vips != NULL && i < cfg->n_services; i++) {
		struct slot *sl = sup->slots[i];

		/* A service the reload added is looked at as if spofd had just started. */
		if (!sl->vips_started)
			sup_vips_start(sup, sl);
		else
			sup_vips_reconf(sup, sl, &cfg->services[i]);
	}
}

void
supervisor_hold(struct supervisor *sup, uint64_t until_us)
{
	for (size_t i = 0; i < sup->n_slots; i++)
		service_hold(sup->slots[i]->svc, until_us);
}

struct service *
supervisor_find(struct supervisor *sup, const char *name)
{
	struct slot *sl = sup_slot(sup, name);

	return sl != NULL ? sl->svc : NULL;
}

const char *
supervisor_primary(void *arg, const char *service, bool *enforce)
{
	struct slot *sl = sup_slot(arg, service);

	if (sl == NULL) {
		*enforce = false;
		return NULL;
	}
	*enforce = service_state(sl->svc) == SVC_OK;
	return service_primary(sl->svc);
}

void
supervisor_status_json(const struct supervisor *sup, json_t *services)
{
	size_t i;
	json_t *o;

	json_array_foreach(services, i, o) {
		const char *name = json_string_value(json_object_get(o, "name"));
		struct slot *sl = name != NULL ? sup_slot(sup, name) : NULL;

		if (sl != NULL) {
			const struct service_conf *conf = config_find_service(sup->cfg, name);

			service_status_json(sl->svc, o);
			json_object_set_new(o, "hooks_waiting",
			    json_integer((json_int_t)hook_queue_waiting(sl->hooks)));
			json_object_set_new(o, "hook_running", json_boolean(hook_queue_busy(sl->hooks)));
			if (sup->vips != NULL && conf != NULL)
				json_object_set_new(o, "vips",
				    vip_status_json(sup->vips, name, conf->vips, conf->n_vips));
			else
				json_object_set_new(o, "vips", json_array());
		}
	}
}

void
supervisor_event(struct supervisor *sup, const char *service, const char *name, const char *detail)
{
	if (service != NULL)
		log_notice("%s %s: %s", name, service, detail);
	else
		log_notice("%s %s", name, detail);
	history_add(sup->hist, now_wall_us(), service, name, "%s", detail);
}

void
supervisor_shutdown(struct supervisor *sup)
{
	if (sup->vips != NULL)
		vip_release_all(sup->vips, "spofd is stopping");
}

void
supervisor_free(struct supervisor *sup)
{
	if (sup == NULL)
		return;
	for (size_t i = 0; i < sup->n_slots; i++)
		slot_free(sup->slots[i]);
	free(sup->slots);
	state_free(&sup->state);
	free(sup);
}
