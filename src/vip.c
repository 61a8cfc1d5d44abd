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

/*
 * Two netlink sockets.  Requests go through a blocking one and their ACK
 * is read right after the send: rtnetlink handles a request inside the
 * sendmsg() call itself, so the answer is already queued when it returns
 * and the read does not wait (SO_RCVTIMEO bounds it all the same).  A
 * second, non-blocking socket joins the IPv4 and IPv6 address groups and
 * lives on the event loop: that is how a held VIP removed by someone else
 * is noticed.  If the kernel drops notifications (ENOBUFS), every held
 * VIP is checked against a fresh dump instead.
 */

#define VIP_NL_TIMEOUT_MS 2000     /* bound on one request's answer; never reached in practice */
#define VIP_NL_BUF 32768           /* a dump part is at most this big (libmnl's MNL_SOCKET_DUMP_SIZE) */
#define VIP_DUMP_TRIES 3           /* an interrupted dump (NLM_F_DUMP_INTR) is read again */
#define VIP_RETRY_MIN_MS 1000      /* first wait before putting a VIP back after a failure */
#define VIP_RETRY_MAX_MS 30000     /* longest wait between attempts */
#define VIP_RESTORE_QUIET_MS 1000  /* a VIP removed again this soon after a restore waits a back-off */
#define VIP_ERR_LEN 256

/* An address the kernel has, from a dump. */
struct vip_kaddr {
	int family;
	unsigned char addr[16];
	unsigned prefix;
	int ifindex;
	uint32_t flags;          /* IFA_F_* */
};

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

struct vip_manager {
	struct event_base *base;
	vip_event_fn event;
	void *event_arg;
	struct mnl_socket *nl;   /* requests; NULL until first needed */
	unsigned nl_portid;
	unsigned seq;
	struct mnl_socket *mon;  /* address events */
	struct event *mon_ev;
	struct vip_hold **holds;
	size_t n_holds;
	struct vip_note *notes;
	size_t n_notes;
};

static void vip_garp_cb(evutil_socket_t, short, void *);
static void vip_retry_cb(evutil_socket_t, short, void *);
static void vip_monitor_cb(evutil_socket_t, short, void *);

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

static size_t
vip_addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
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

/* ---- netlink ---- */

/* Open both sockets if they are not yet; false with a message. */
static bool
vip_open(struct vip_manager *vm, char *err, size_t errlen)
{
	struct timeval tv = us_to_tv(VIP_NL_TIMEOUT_MS * 1000u);
	const char *step;

	if (vm->nl != NULL)
		return true;
	step = "netlink socket";
	if ((vm->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) == NULL)
		goto fail;
	step = "netlink bind";
	if (mnl_socket_bind(vm->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	vm->nl_portid = mnl_socket_get_portid(vm->nl);
	step = "netlink timeout";
	if (setsockopt(mnl_socket_get_fd(vm->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		goto fail;
	step = "netlink monitor socket";
	if ((vm->mon = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC)) == NULL)
		goto fail;
	step = "netlink monitor bind";
	if (mnl_socket_bind(vm->mon, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	vm->mon_ev = event_new(vm->base, mnl_socket_get_fd(vm->mon), EV_READ | EV_PERSIST,
	    vip_monitor_cb, vm);
	if (vm->mon_ev == NULL || event_add(vm->mon_ev, NULL) != 0)
		fatal("vip: cannot watch the netlink monitor socket");
	return true;
fail:
	snprintf(err, errlen, "%s: %s", step, strerror(errno));
	if (vm->mon != NULL)
		mnl_socket_close(vm->mon);
	if (vm->nl != NULL)
		mnl_socket_close(vm->nl);
	vm->mon = vm->nl = NULL;
	return false;
}

/* Send NLH on the request socket and read its ACK; 0 or an errno. */
static int
vip_nl_request(struct vip_manager *vm, struct nlmsghdr *nlh)
{
	char buf[VIP_NL_BUF];
	unsigned seq = ++vm->seq;
	ssize_t n;
	int rc;

	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(vm->nl, nlh, nlh->nlmsg_len) < 0)
		return errno;
	for (;;) {
		n = mnl_socket_recvfrom(vm->nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
		}
		rc = mnl_cb_run(buf, (size_t)n, seq, vm->nl_portid, NULL, NULL);
		if (rc == MNL_CB_ERROR) {
			if (errno == ESRCH)
				continue; /* the late answer to an earlier request */
			return errno;
		}
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

struct vip_dump {
	struct vip_kaddr *addrs;
	size_t n;
	bool interrupted;
};

static int
vip_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
		return MNL_CB_OK; /* an attribute newer than our headers */
	tb[type] = attr;
	return MNL_CB_OK;
}

/* An RTM_NEWADDR/RTM_DELADDR message into KA; false when it is not an address we could hold. */
static bool
vip_parse_addr(const struct nlmsghdr *nlh, struct vip_kaddr *ka)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1];
	const struct nlattr *a;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return false;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return false;
	memset(tb, 0, sizeof(tb));
	if (mnl_attr_parse(nlh, sizeof(*ifa), vip_attr_cb, tb) < 0)
		return false;
	/* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links. */
	a = tb[IFA_LOCAL] != NULL ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (a == NULL || mnl_attr_get_payload_len(a) != vip_addr_len(ifa->ifa_family))
		return false;
	memset(ka, 0, sizeof(*ka));
	ka->family = ifa->ifa_family;
	memcpy(ka->addr, mnl_attr_get_payload(a), vip_addr_len(ka->family));
	ka->prefix = ifa->ifa_prefixlen;
	ka->ifindex = (int)ifa->ifa_index;
	ka->flags = tb[IFA_FLAGS] != NULL && mnl_attr_get_payload_len(tb[IFA_FLAGS]) == 4 ?
	    mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	return true;
}

static int
vip_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct vip_dump *d = data;
	struct vip_kaddr ka;

	if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0)
		d->interrupted = true;
	if (nlh->nlmsg_type != RTM_NEWADDR || !vip_parse_addr(nlh, &ka))
		return MNL_CB_OK;
	d->addrs = xrealloc(d->addrs, (d->n + 1) * sizeof(*d->addrs));
	d->addrs[d->n++] = ka;
	return MNL_CB_OK;
}

/*
 * Every IPv4 and IPv6 address of this network namespace into D (free
 * d->addrs); 0 or an errno.  O(addresses), a few per interface.
 */
static int
vip_nl_dump(struct vip_manager *vm, struct vip_dump *d)
{
	char buf[VIP_NL_BUF];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	unsigned seq;
	ssize_t n;
	int rc;

	for (int tries = 0;; tries++) {
		memset(d, 0, sizeof(*d));
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETADDR;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = seq = ++vm->seq;
		ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = AF_UNSPEC;
		if (mnl_socket_sendto(vm->nl, nlh, nlh->nlmsg_len) < 0)
			return errno;
		rc = MNL_CB_OK;
		do {
			n = mnl_socket_recvfrom(vm->nl, buf, sizeof(buf));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				rc = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
				free(d->addrs);
				return rc;
			}
			rc = mnl_cb_run(buf, (size_t)n, seq, vm->nl_portid, vip_dump_cb, d);
			if (rc == MNL_CB_ERROR && errno == ESRCH)
				rc = MNL_CB_OK; /* the late answer to an earlier request */
			else if (rc == MNL_CB_ERROR) {
				rc = errno;
				free(d->addrs);
				return rc;
			}
		} while (rc > MNL_CB_STOP);
		if (!d->interrupted || tries + 1 == VIP_DUMP_TRIES)
			return 0;
		free(d->addrs);
	}
}

static const struct vip_kaddr *
vip_dump_find(const struct vip_dump *d, int family, const unsigned char *addr, int ifindex)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct vip_kaddr *ka = &d->addrs[i];

		if (ka->family == family && memcmp(ka->addr, addr, vip_addr_len(family)) == 0 &&
		    (ifindex == 0 || ka->ifindex == ifindex))
			return ka;
	}
	return NULL;
}

/* RTM_NEWADDR or RTM_DELADDR of ADDR/PREFIX on IFINDEX; 0 or an errno. */
static int
vip_nl_addr(struct vip_manager *vm, uint16_t type, int family, const unsigned char *addr,
    unsigned prefix, int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	/* REPLACE: an identical address already here is success, not EEXIST. */
	if (type == RTM_NEWADDR)
		nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, vip_addr_len(family), addr);
	if (type == RTM_NEWADDR && family == AF_INET)
		mnl_attr_put(nlh, IFA_ADDRESS, 4, addr);
	if (type == RTM_NEWADDR && family == AF_INET6) {
		/*
		 * No duplicate address detection: the address must answer at
		 * once (the NA is sent from it), and a VIP is expected to have
		 * been elsewhere a moment ago, which DAD would take for a clash.
		 */
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	}
	return vip_nl_request(vm, nlh);
}

static int
vip_ifindex(const char *dev)
{
	unsigned i = if_nametoindex(dev);

	return i == 0 ? -(errno != 0 ? errno : ENODEV) : (int)i;
}

int
vip_kernel_add(struct vip_manager *vm, const struct vip_conf *v)
{
	char err[VIP_ERR_LEN];
	int ifindex;

	if (!vip_open(vm, err, sizeof(err)))
		return errno != 0 ? errno : EIO;
	if ((ifindex = vip_ifindex(v->dev)) < 0)
		return -ifindex;
	return vip_nl_addr(vm, RTM_NEWADDR, v->family, v->addr, v->prefix, ifindex);
}

/* Remove ADDR/PREFIX from IFINDEX; already gone (or its interface gone) is success. */
static int
vip_del_at(struct vip_manager *vm, int family, const unsigned char *addr, unsigned prefix,
    int ifindex)
{
	int e = vip_nl_addr(vm, RTM_DELADDR, family, addr, prefix, ifindex);

	return e == ENOENT || e == EADDRNOTAVAIL || e == ENODEV ? 0 : e;
}

int
vip_kernel_del(struct vip_manager *vm, const struct vip_conf *v)
{
	char err[VIP_ERR_LEN];
	int ifindex;

	if (!vip_open(vm, err, sizeof(err)))
		return errno != 0 ? errno : EIO;
	if ((ifindex = vip_ifindex(v->dev)) < 0)
		return 0; /* no interface, no address */
	return vip_del_at(vm, v->family, v->addr, v->prefix, ifindex);
}

int
vip_kernel_present(struct vip_manager *vm, const struct vip_conf *v, uint32_t *flags)
{
	const struct vip_kaddr *ka;
	struct vip_dump d;
	char err[VIP_ERR_LEN];
	int ifindex, e, found = 0;

	if (!vip_open(vm, err, sizeof(err)))
		return -(errno != 0 ? errno : EIO);
	if ((ifindex = vip_ifindex(v->dev)) < 0)
		return 0;
	if ((e = vip_nl_dump(vm, &d)) != 0)
		return -e;
	if ((ka = vip_dump_find(&d, v->family, v->addr, ifindex)) != NULL) {
		if (flags != NULL)
			*flags = ka->flags;
		found = 1;
	}
	free(d.addrs);
	return found;
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
static void
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

static int
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

static void
vip_monitor_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vip_manager *vm = arg;
	char buf[VIP_NL_BUF];
	ssize_t n;

	for (;;) {
		n = mnl_socket_recvfrom(vm->mon, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* The kernel dropped events: what was removed meanwhile is unknown. */
				log_warn("netlink address events were lost; checking every held VIP");
				vip_resync(vm);
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("netlink address events: %s", strerror(errno));
			return;
		}
		/* Notifications carry sequence and port 0: nothing to check. */
		if (mnl_cb_run(buf, (size_t)n, 0, 0, vip_monitor_msg, vm) == MNL_CB_ERROR)
			log_debug("netlink address events: %s", strerror(errno));
	}
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
