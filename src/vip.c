#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "garp.h"
#include "log.h"
#include "util.h"
#include "vip.h"
#include "vip_netlink.h"

#define VIP_RETRY_MIN_MS 1000      /* first wait before putting a VIP back after a failure */
#define VIP_RETRY_MAX_MS 30000     /* longest wait between attempts */
#define VIP_RESTORE_QUIET_MS 1000  /* a VIP removed again this soon after a restore waits a back-off */

/* One VIP held here for a service. */
struct vip_hold {
	struct vip_manager *vm;
	char *service;
	struct vip_conf conf;    /* own copy: a reload frees the configuration */
	struct vip_announce ann;
	int ifindex;             /* where it was put; 0: not yet */
	bool present;            /* on its interface, as last seen */
	unsigned garp_left;      /* announcements still due in this burst */
	bool garp_warned;        /* a failed announcement was logged in this burst */
	struct event garp_ev;    /* the next announcement: burst or refresh */
	struct event retry_ev;   /* putting it back */
	uint64_t retry_ms;       /* back-off after a failed attempt; 0: none yet */
	uint64_t restored_us;    /* last put back (monotonic); 0: never */
	bool error_reported;     /* +vip-error sent for the current streak of failures */
};

/* The last failure for an address of a service, for status. */
struct vip_note {
	char *service;
	char *text;              /* the VIP, "192.0.2.100/24" */
	char msg[VIP_ERR_LEN];
};

static void vip_garp_cb(evutil_socket_t, short, void *);
static void vip_retry_cb(evutil_socket_t, short, void *);

static void vip_event(struct vip_manager *, const char *, const char *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
vip_event(struct vip_manager *vm, const char *service, const char *name, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (vm->event != NULL)
		vm->event(vm->event_arg, service, name, detail);
	else
		log_notice("%s %s: %s", name, service, detail);
}

struct vip_announce
vip_announce_of(const struct service_conf *svc)
{
	struct vip_announce a = {
		.repeat = svc->garp_repeat,
		.interval_ms = svc->garp_interval_ms,
		.refresh_ms = svc->garp_refresh_ms,
	};

	return a;
}

const char *
vip_strerror(int e, const struct vip_conf *v, char *buf, size_t len)
{
	switch (e) {
	case ENODEV:
	case ENXIO:
		snprintf(buf, len, "no such interface %s", v->dev);
		break;
	case EPERM:
	case EACCES:
		snprintf(buf, len, "permission denied (needs CAP_NET_ADMIN)");
		break;
	case EEXIST:
		snprintf(buf, len, "address already present");
		break;
	case EAFNOSUPPORT:
		snprintf(buf, len, "%s (is IPv6 disabled on %s?)", strerror(e), v->dev);
		break;
	case ETIMEDOUT:
		snprintf(buf, len, "no answer from the kernel");
		break;
	default:
		snprintf(buf, len, "%s", strerror(e));
		break;
	}
	return buf;
}

/* ---- notes: the last failure of each VIP, for status ---- */

static struct vip_note *
vip_note_find(const struct vip_manager *vm, const char *service, const char *text)
{
	for (size_t i = 0; i < vm->n_notes; i++) {
		if (strcmp(vm->notes[i].service, service) == 0 && strcmp(vm->notes[i].text, text) == 0)
			return &vm->notes[i];
	}
	return NULL;
}

static void
vip_note_set(struct vip_manager *vm, const char *service, const char *text, const char *msg)
{
	struct vip_note *n = vip_note_find(vm, service, text);

	if (n == NULL) {
		vm->notes = xrealloc(vm->notes, (vm->n_notes + 1) * sizeof(*vm->notes));
		n = &vm->notes[vm->n_notes++];
		n->service = xstrdup(service);
		n->text = xstrdup(text);
	}
	snprintf(n->msg, sizeof(n->msg), "%s", msg);
}

static void
vip_note_clear(struct vip_manager *vm, const char *service, const char *text)
{
	struct vip_note *n = vip_note_find(vm, service, text);

	if (n == NULL)
		return;
	free(n->service);
	free(n->text);
	*n = vm->notes[--vm->n_notes];
}

/* ---- holds ---- */

static struct vip_hold *
vip_hold_find(const struct vip_manager *vm, const char *service, const struct vip_conf *v)
{
	for (size_t i = 0; i < vm->n_holds; i++) {
		struct vip_hold *h = vm->holds[i];

		if (strcmp(h->service, service) == 0 && vip_conf_equal(&h->conf, v))
			return h;
	}
	return NULL;
}

/* A hold of any service on ADDR (of FAMILY), other than EXCEPT; NULL: none. */
static struct vip_hold *
vip_hold_of_address(const struct vip_manager *vm, int family, const unsigned char *addr,
    const struct vip_hold *except)
{
	for (size_t i = 0; i < vm->n_holds; i++) {
		struct vip_hold *h = vm->holds[i];

		if (h != except && h->conf.family == family &&
		    memcmp(h->conf.addr, addr, vip_addr_len(family)) == 0)
			return h;
	}
	return NULL;
}

static struct vip_hold *
vip_hold_new(struct vip_manager *vm, const char *service, const struct vip_conf *v,
    const struct vip_announce *ann)
{
	struct vip_hold *h = xcalloc(1, sizeof(*h));

	h->vm = vm;
	h->service = xstrdup(service);
	h->conf = *v;
	h->conf.dev = xstrdup(v->dev);
	h->conf.text = xstrdup(v->text);
	h->ann = *ann;
	evtimer_assign(&h->garp_ev, vm->base, vip_garp_cb, h);
	evtimer_assign(&h->retry_ev, vm->base, vip_retry_cb, h);
	vm->holds = xrealloc(vm->holds, (vm->n_holds + 1) * sizeof(*vm->holds));
	vm->holds[vm->n_holds++] = h;
	return h;
}

/* Forget H (timers stopped, nothing done to the kernel). */
static void
vip_hold_free(struct vip_hold *h)
{
	struct vip_manager *vm = h->vm;

	for (size_t i = 0; i < vm->n_holds; i++) {
		if (vm->holds[i] == h) {
			vm->holds[i] = vm->holds[--vm->n_holds];
			break;
		}
	}
	evtimer_del(&h->garp_ev);
	evtimer_del(&h->retry_ev);
	free(h->service);
	vip_conf_free(&h->conf);
	free(h);
}

static void
vip_arm(struct event *ev, uint64_t ms)
{
	struct timeval tv = us_to_tv(ms * 1000u);

	evtimer_add(ev, &tv);
}

/* One announcement of H; a failure is logged once per burst. */
static void
vip_announce_once(struct vip_hold *h)
{
	char err[VIP_ERR_LEN];

	switch (garp_send(h->conf.family, h->conf.addr, h->conf.dev, err, sizeof(err))) {
	case GARP_SENT:
		break;
	case GARP_SKIPPED:
		log_debug("service %s: %s dev %s: no neighbours to tell on this kind of link",
		    h->service, h->conf.text, h->conf.dev);
		break;
	case GARP_ERROR:
		if (!h->garp_warned)
			log_warn("service %s: %s dev %s: %s; neighbours learn the address when they ask",
			    h->service, h->conf.text, h->conf.dev, err);
		h->garp_warned = true;
		break;
	}
}

/* The first announcement now, the rest of the burst and the refreshes on timers. */
static void
vip_announce_start(struct vip_hold *h)
{
	h->garp_warned = false;
	h->garp_left = h->ann.repeat > 0 ? h->ann.repeat - 1 : 0;
	evtimer_del(&h->garp_ev);
	vip_announce_once(h);
	if (h->garp_left > 0)
		vip_arm(&h->garp_ev, h->ann.interval_ms);
	else if (h->ann.refresh_ms > 0)
		vip_arm(&h->garp_ev, h->ann.refresh_ms);
}

/* New announce settings for a VIP held all along (a reload): the refresh follows at once. */
static void
vip_announce_change(struct vip_hold *h, const struct vip_announce *ann)
{
	bool refresh_changed = h->ann.refresh_ms != ann->refresh_ms;

	h->ann = *ann;
	if (!refresh_changed || h->garp_left > 0)
		return; /* a burst under way arms the refresh when it ends */
	evtimer_del(&h->garp_ev);
	if (h->ann.refresh_ms > 0)
		vip_arm(&h->garp_ev, h->ann.refresh_ms);
}

static void
vip_garp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vip_hold *h = arg;

	if (!h->present)
		return; /* the restore starts a new burst */
	if (h->garp_left > 0)
		h->garp_left--;
	vip_announce_once(h);
	if (h->garp_left > 0)
		vip_arm(&h->garp_ev, h->ann.interval_ms);
	else if (h->ann.refresh_ms > 0)
		vip_arm(&h->garp_ev, h->ann.refresh_ms);
}

/* Put H back after it went missing or failed; a back-off after each failure. */
static void
vip_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vip_hold *h = arg;
	struct vip_manager *vm = h->vm;
	char msg[VIP_ERR_LEN];
	int e, ifindex;

	if (h->present)
		return;
	ifindex = vip_ifindex(h->conf.dev);
	e = ifindex < 0 ? -ifindex :
	    vip_nl_addr(vm, RTM_NEWADDR, h->conf.family, h->conf.addr, h->conf.prefix, ifindex);
	if (e != 0) {
		vip_strerror(e, &h->conf, msg, sizeof(msg));
		vip_note_set(vm, h->service, h->conf.text, msg);
		h->retry_ms = h->retry_ms == 0 ? VIP_RETRY_MIN_MS :
		    (h->retry_ms * 2 > VIP_RETRY_MAX_MS ? VIP_RETRY_MAX_MS : h->retry_ms * 2);
		if (!h->error_reported)
			vip_event(vm, h->service, "+vip-error", "%s dev %s is gone and cannot be put back: %s; "
			    "trying again every %d s at most", h->conf.text, h->conf.dev, msg,
			    VIP_RETRY_MAX_MS / 1000);
		else
			log_debug("service %s: %s dev %s still cannot be put back: %s", h->service,
			    h->conf.text, h->conf.dev, msg);
		h->error_reported = true;
		vip_arm(&h->retry_ev, h->retry_ms);
		return;
	}
	h->ifindex = ifindex;
	h->present = true;
	h->retry_ms = 0;
	h->error_reported = false;
	h->restored_us = now_mono_us();
	vip_note_clear(vm, h->service, h->conf.text);
	vip_event(vm, h->service, "+vip-restored", "%s dev %s was removed by someone else; put back",
	    h->conf.text, h->conf.dev);
	vip_announce_start(h);
}

/* H is no longer on its interface: put it back, at once unless it keeps going away. */
static void
vip_hold_lost(struct vip_hold *h, const char *how)
{
	uint64_t now = now_mono_us();

	if (!h->present)
		return;
	h->present = false;
	evtimer_del(&h->garp_ev);
	log_warn("service %s: held VIP %s dev %s %s", h->service, h->conf.text, h->conf.dev, how);
	if (h->restored_us != 0 && now - h->restored_us < VIP_RESTORE_QUIET_MS * 1000u) {
		h->retry_ms = h->retry_ms == 0 ? VIP_RETRY_MIN_MS :
		    (h->retry_ms * 2 > VIP_RETRY_MAX_MS ? VIP_RETRY_MAX_MS : h->retry_ms * 2);
		vip_arm(&h->retry_ev, h->retry_ms);
	} else {
		vip_arm(&h->retry_ev, 0);
	}
}

/* After lost notifications: compare every held VIP with what the kernel has. */
void
vip_resync(struct vip_manager *vm)
{
	struct vip_dump d;
	int e;

	if ((e = vip_nl_dump(vm, &d)) != 0) {
		log_warn("cannot list the addresses to check the held VIPs: %s", strerror(e));
		return;
	}
	for (size_t i = 0; i < vm->n_holds; i++) {
		struct vip_hold *h = vm->holds[i];

		if (h->present && vip_dump_find(&d, h->conf.family, h->conf.addr, h->ifindex) == NULL)
			vip_hold_lost(h, "is missing");
	}
	free(d.addrs);
}

int
vip_monitor_msg(const struct nlmsghdr *nlh, void *data)
{
	struct vip_manager *vm = data;
	struct vip_kaddr ka;

	if ((nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR) ||
	    !vip_parse_addr(nlh, &ka))
		return MNL_CB_OK;
	for (size_t i = 0; i < vm->n_holds; i++) {
		struct vip_hold *h = vm->holds[i];

		if (h->conf.family != ka.family || h->ifindex != ka.ifindex ||
		    memcmp(h->conf.addr, ka.addr, vip_addr_len(ka.family)) != 0)
			continue;
		if (nlh->nlmsg_type == RTM_DELADDR)
			vip_hold_lost(h, "was removed by someone else");
		else if (!h->present)
			log_debug("service %s: %s dev %s is back", h->service, h->conf.text, h->conf.dev);
	}
	return MNL_CB_OK;
}

/* ---- the manager ---- */

struct vip_manager *
vip_manager_new(struct event_base *base, vip_event_fn event, void *arg)
{
	struct vip_manager *vm = xcalloc(1, sizeof(*vm));

	vm->base = base;
	vm->event = event;
	vm->event_arg = arg;
	return vm;
}

void
vip_manager_free(struct vip_manager *vm)
{
	if (vm == NULL)
		return;
	while (vm->n_holds > 0)
		vip_hold_free(vm->holds[vm->n_holds - 1]);
	free(vm->holds);
	for (size_t i = 0; i < vm->n_notes; i++) {
		free(vm->notes[i].service);
		free(vm->notes[i].text);
	}
	free(vm->notes);
	if (vm->mon_ev != NULL)
		event_free(vm->mon_ev);
	if (vm->mon != NULL)
		mnl_socket_close(vm->mon);
	if (vm->nl != NULL)
		mnl_socket_close(vm->nl);
	free(vm);
}

/* Take H off its interface and forget it. */
static void
vip_drop(struct vip_hold *h, const char *why)
{
	struct vip_manager *vm = h->vm;
	char *service = h->service, msg[VIP_ERR_LEN];
	struct vip_conf v = h->conf;
	/*
	 * A reload may move an address from one service to another: the
	 * service taking it over may already hold it, and it stays.
	 */
	bool kept = vip_hold_of_address(vm, v.family, v.addr, h) != NULL;
	int e = 0, ifindex;

	/* Forgotten first: the kernel's RTM_DELADDR echo must not look like a loss. */
	h->service = NULL;
	h->conf.dev = h->conf.text = NULL;
	vip_hold_free(h);
	ifindex = vip_ifindex(v.dev);
	if (ifindex > 0 && !kept)
		e = vip_del_at(vm, v.family, v.addr, v.prefix, ifindex);
	if (e != 0)
		vip_event(vm, service, "+vip-error", "cannot remove %s dev %s: %s", v.text, v.dev,
		    vip_strerror(e, &v, msg, sizeof(msg)));
	else
		vip_event(vm, service, "-vip-released", "%s dev %s (%s)", v.text, v.dev, why);
	free(service);
	vip_conf_free(&v);
}

/*
 * Put V in place for SERVICE; 0, or an errno with MSG set.  An address
 * already on another interface of this node is refused: two interfaces
 * answering for it would split the clients.
 */
static int
vip_put(struct vip_manager *vm, const struct vip_conf *v, int *ifindexp, bool *was_there,
    char *msg, size_t msglen)
{
	const struct vip_kaddr *ka;
	struct vip_dump d;
	char name[IF_NAMESIZE];
	int ifindex, e;

	if ((ifindex = vip_ifindex(v->dev)) < 0) {
		vip_strerror(-ifindex, v, msg, msglen);
		return -ifindex;
	}
	if ((e = vip_nl_dump(vm, &d)) != 0) {
		snprintf(msg, msglen, "cannot list the addresses: %s", strerror(e));
		return e;
	}
	*was_there = vip_dump_find(&d, v->family, v->addr, ifindex) != NULL;
	ka = vip_dump_find(&d, v->family, v->addr, 0);
	if (!*was_there && ka != NULL) {
		snprintf(msg, msglen, "the address is already on %s of this node",
		    if_indextoname((unsigned)ka->ifindex, name) != NULL ? name : "another interface");
		free(d.addrs);
		return EEXIST;
	}
	free(d.addrs);
	if ((e = vip_nl_addr(vm, RTM_NEWADDR, v->family, v->addr, v->prefix, ifindex)) != 0) {
		vip_strerror(e, v, msg, msglen);
		return e;
	}
	*ifindexp = ifindex;
	return 0;
}

static bool
vip_take(struct vip_manager *vm, const char *service, const struct vip_conf *vips, size_t n,
    const struct vip_announce *ann, bool all_or_nothing, char *err, size_t errlen)
{
	struct vip_hold **added = xcalloc(n + 1, sizeof(*added));
	size_t n_added = 0;
	bool ok = true;
	char msg[VIP_ERR_LEN];

	if (errlen > 0)
		err[0] = '\0';
	/* What SERVICE holds but no longer lists goes first. */
	for (size_t i = 0; i < vm->n_holds;) {
		struct vip_hold *h = vm->holds[i];
		bool listed = false;

		for (size_t j = 0; j < n && !listed; j++)
			listed = vip_conf_equal(&h->conf, &vips[j]);
		if (strcmp(h->service, service) == 0 && !listed)
			vip_drop(h, "no longer configured"); /* the array shrank: same I again */
		else
			i++;
	}
	if (n > 0 && !vip_open(vm, msg, sizeof(msg))) {
		snprintf(err, errlen, "cannot use netlink: %s", msg);
		for (size_t j = 0; j < n; j++)
			vip_note_set(vm, service, vips[j].text, err);
		vip_event(vm, service, "+vip-error", "%s", err);
		free(added);
		return false;
	}
	for (size_t j = 0; j < n; j++) {
		const struct vip_conf *v = &vips[j];
		struct vip_hold *h = vip_hold_find(vm, service, v);
		bool was_there = false;
		int ifindex = 0;

		if (h != NULL && h->present) {
			vip_announce_change(h, ann);
			continue;
		}
		if (vip_put(vm, v, &ifindex, &was_there, msg, sizeof(msg)) != 0) {
			vip_note_set(vm, service, v->text, msg);
			vip_event(vm, service, "+vip-error", "cannot add %s dev %s: %s", v->text, v->dev, msg);
			if (ok)
				snprintf(err, errlen, "cannot add %s dev %s: %s", v->text, v->dev, msg);
			ok = false;
			if (all_or_nothing)
				break;
			continue;
		}
		if (h == NULL) {
			h = vip_hold_new(vm, service, v, ann);
			added[n_added++] = h;
		}
		evtimer_del(&h->retry_ev);
		h->ann = *ann;
		h->ifindex = ifindex;
		h->present = true;
		h->retry_ms = 0;
		h->error_reported = false;
		vip_note_clear(vm, service, v->text);
		vip_event(vm, service, "+vip-added", "%s dev %s%s", v->text, v->dev,
		    was_there ? " (it was already there)" : "");
		vip_announce_start(h);
	}
	if (!ok && all_or_nothing) {
		for (size_t i = 0; i < n_added; i++)
			vip_drop(added[i], "the promotion failed");
	}
	free(added);
	return ok;
}

bool
vip_acquire(struct vip_manager *vm, const char *service, const struct vip_conf *vips, size_t n,
    const struct vip_announce *ann, char *err, size_t errlen)
{
	return vip_take(vm, service, vips, n, ann, true, err, errlen);
}

bool
vip_update(struct vip_manager *vm, const char *service, const struct vip_conf *vips, size_t n,
    const struct vip_announce *ann, char *err, size_t errlen)
{
	return vip_take(vm, service, vips, n, ann, false, err, errlen);
}

void
vip_release(struct vip_manager *vm, const char *service, const char *why)
{
	for (size_t i = 0; i < vm->n_holds;) {
		if (strcmp(vm->holds[i]->service, service) == 0)
			vip_drop(vm->holds[i], why); /* the array shrank: same I again */
		else
			i++;
	}
}

void
vip_release_all(struct vip_manager *vm, const char *why)
{
	while (vm->n_holds > 0)
		vip_drop(vm->holds[0], why);
}

bool
vip_held(const struct vip_manager *vm, const char *service)
{
	for (size_t i = 0; i < vm->n_holds; i++) {
		if (strcmp(vm->holds[i]->service, service) == 0)
			return true;
	}
	return false;
}

void
vip_remove_stale(struct vip_manager *vm, const char *service, const struct vip_conf *vips,
    size_t n)
{
	struct vip_dump d;
	char msg[VIP_ERR_LEN];
	int e;

	if (n == 0)
		return;
	if (!vip_open(vm, msg, sizeof(msg))) {
		vip_event(vm, service, "+vip-error", "cannot check for VIPs left behind: %s", msg);
		return;
	}
	if ((e = vip_nl_dump(vm, &d)) != 0) {
		vip_event(vm, service, "+vip-error", "cannot check for VIPs left behind: %s", strerror(e));
		return;
	}
	for (size_t j = 0; j < n; j++) {
		const struct vip_conf *v = &vips[j];
		const struct vip_kaddr *ka;
		int ifindex = vip_ifindex(v->dev);

		/* Held here, by this service or (after a reload moved it) another one: not stale. */
		if (ifindex < 0 || vip_hold_of_address(vm, v->family, v->addr, NULL) != NULL)
			continue;
		if ((ka = vip_dump_find(&d, v->family, v->addr, ifindex)) == NULL)
			continue;
		/* Its own prefix length: the kernel matches it when deleting. */
		if ((e = vip_del_at(vm, ka->family, ka->addr, ka->prefix, ifindex)) != 0)
			vip_event(vm, service, "+vip-error", "cannot remove %s dev %s left behind by an "
			    "earlier run: %s", v->text, v->dev, vip_strerror(e, v, msg, sizeof(msg)));
		else
			vip_event(vm, service, "-vip-released", "%s dev %s (left behind by an earlier run)",
			    v->text, v->dev);
	}
	free(d.addrs);
}

json_t *
vip_status_json(const struct vip_manager *vm, const char *service, const struct vip_conf *vips,
    size_t n)
{
	json_t *a = json_array();

	for (size_t j = 0; j < n; j++) {
		const struct vip_hold *h = vip_hold_find(vm, service, &vips[j]);
		const struct vip_note *note = vip_note_find(vm, service, vips[j].text);
		bool held = h != NULL && h->present;
		json_t *o = json_object();

		json_object_set_new(o, "address", json_string(vips[j].text));
		json_object_set_new(o, "dev", json_string(vips[j].dev));
		json_object_set_new(o, "held", json_boolean(held));
		if (!held && note != NULL)
			json_object_set_new(o, "error", json_string(note->msg));
		json_array_append_new(a, o);
	}
	return a;
}
