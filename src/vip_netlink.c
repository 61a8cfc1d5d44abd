#include "autoconf.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/event.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "util.h"
#include "vip.h"
#include "vip_netlink.h"

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

static void vip_monitor_cb(evutil_socket_t, short, void *);

size_t
vip_addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* ---- netlink ---- */

/* Open both sockets if they are not yet; false with a message. */
bool
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
bool
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
int
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

const struct vip_kaddr *
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
int
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

int
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
int
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

/* ---- address events ---- */

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
