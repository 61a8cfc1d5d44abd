/*
 * Virtual IP addresses on this node.  The supervisor decides when a
 * service's VIPs belong here (its primary runs on this node); this module
 * puts them on their interfaces through rtnetlink (libmnl), announces
 * them (gratuitous ARP, unsolicited neighbour advertisements: garp.h),
 * watches the kernel's address events to put back a held VIP that someone
 * else removed, and takes them away again.  Every step is reported as an
 * event: +vip-added, -vip-released, +vip-restored, +vip-error.
 */
#ifndef SPOFD_VIP_H
#define SPOFD_VIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"

struct event_base;
struct vip_manager;

/* A stable event name ("+vip-added") and its detail, for log and history. */
typedef void (*vip_event_fn)(void *arg, const char *service, const char *name, const char *detail);

/* How a service announces its VIPs (from its service_conf). */
struct vip_announce {
	unsigned repeat;      /* packets after adding, 1 or more */
	uint64_t interval_ms; /* between them */
	uint64_t refresh_ms;  /* one more every so often while held; 0: never */
};

/* The announce settings of SVC. */
struct vip_announce vip_announce_of(const struct service_conf *svc);

/*
 * Nothing is opened until a VIP is first needed: a daemon without VIPs
 * never touches netlink.  EVENT may be NULL (then events are only logged).
 */
struct vip_manager *vip_manager_new(struct event_base *base, vip_event_fn event, void *arg);
/* Stops timers and closes sockets; addresses stay where they are (see vip_release_all). */
void vip_manager_free(struct vip_manager *vm);

/*
 * SERVICE's VIPs are held here from now on: each is added to its
 * interface (already there is fine), announced, and put back whenever
 * someone else removes it.  VIPs held for SERVICE that VIPS no longer
 * lists are released first.  All or nothing: when one cannot be added,
 * what this call added is removed again and false comes back with the
 * kernel's reason in ERR ("cannot add 192.0.2.100/24 dev eth9: no such
 * interface eth9").
 */
bool vip_acquire(struct vip_manager *vm, const char *service, const struct vip_conf *vips,
    size_t n, const struct vip_announce *ann, char *err, size_t errlen);
/*
 * The same after a reload, best effort: what can be held is held, what
 * cannot is reported (+vip-error, status) and false comes back with the
 * first reason in ERR.
 */
bool vip_update(struct vip_manager *vm, const char *service, const struct vip_conf *vips,
    size_t n, const struct vip_announce *ann, char *err, size_t errlen);
/* Remove every VIP held for SERVICE (gone already is fine); WHY goes into the events. */
void vip_release(struct vip_manager *vm, const char *service, const char *why);
void vip_release_all(struct vip_manager *vm, const char *why);
/* Whether VIPs are held here for SERVICE (even one being put back). */
bool vip_held(const struct vip_manager *vm, const char *service);
/*
 * At start, for a service this node is not primary of: remove any of VIPS
 * found on its interface, "left behind by an earlier run".
 */
void vip_remove_stale(struct vip_manager *vm, const char *service, const struct vip_conf *vips,
    size_t n);
/*
 * [{"address": "192.0.2.100/24", "dev": "br0", "held": true}, ...] for
 * SERVICE's VIPS; held: held here and present on the interface.  A VIP
 * whose last attempt failed adds "error": "no such interface eth9".
 */
json_t *vip_status_json(const struct vip_manager *vm, const char *service,
    const struct vip_conf *vips, size_t n);

/*
 * The kernel side, one synchronous rtnetlink request each (also for the
 * tests).  0 or an errno.  Add replaces an identical address (present is
 * fine) and adds IPv6 with IFA_F_NODAD; del treats "not there" as done.
 */
int vip_kernel_add(struct vip_manager *vm, const struct vip_conf *v);
int vip_kernel_del(struct vip_manager *vm, const struct vip_conf *v);
/* 1: V's address is on V's interface (*FLAGS: its IFA_F_* flags), 0: it is not, <0: -errno. */
int vip_kernel_present(struct vip_manager *vm, const struct vip_conf *v, uint32_t *flags);
/* "no such interface eth9", "permission denied (needs CAP_NET_ADMIN)", ... */
const char *vip_strerror(int e, const struct vip_conf *v, char *buf, size_t len);

#endif
