/*
 * What vip.c shares with vip_netlink.c, the rtnetlink side of the VIPs:
 * the two sockets, requests, address dumps and the reading of address
 * events.  Nothing outside the two files includes this.  Functions
 * returning int give 0 or an errno.
 */
#ifndef SPOFD_VIP_NETLINK_H
#define SPOFD_VIP_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vip.h"

struct event;
struct mnl_socket;
struct nlmsghdr;
struct vip_hold;
struct vip_note;

#define VIP_ERR_LEN 256

/* An address the kernel has, from a dump. */
struct vip_kaddr {
	int family;
	unsigned char addr[16];
	unsigned prefix;
	int ifindex;
	uint32_t flags;          /* IFA_F_* */
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

struct vip_dump {
	struct vip_kaddr *addrs;
	size_t n;
	bool interrupted;
};

/* In vip_netlink.c. */

/* Bytes of an address of FAMILY (AF_INET or AF_INET6). */
size_t vip_addr_len(int family);
/* Open both sockets if they are not yet; false with a message in ERR. */
bool vip_open(struct vip_manager *vm, char *err, size_t errlen);
/* An RTM_NEWADDR/RTM_DELADDR message into KA; false when it is not an address we could hold. */
bool vip_parse_addr(const struct nlmsghdr *nlh, struct vip_kaddr *ka);
/* Every IPv4 and IPv6 address into D (free d->addrs). */
int vip_nl_dump(struct vip_manager *vm, struct vip_dump *d);
/* ADDR of FAMILY in D, on IFINDEX (0: on any interface); NULL when absent. */
const struct vip_kaddr *vip_dump_find(const struct vip_dump *d, int family,
    const unsigned char *addr, int ifindex);
/* RTM_NEWADDR or RTM_DELADDR of ADDR/PREFIX on IFINDEX. */
int vip_nl_addr(struct vip_manager *vm, uint16_t type, int family, const unsigned char *addr,
    unsigned prefix, int ifindex);
/* DEV's index, or -errno. */
int vip_ifindex(const char *dev);
/* Remove ADDR/PREFIX from IFINDEX; already gone (or its interface gone) is success. */
int vip_del_at(struct vip_manager *vm, int family, const unsigned char *addr, unsigned prefix,
    int ifindex);

/* In vip.c, called by the reader of the address events. */

/* After lost notifications: compare every held VIP with what the kernel has. */
void vip_resync(struct vip_manager *vm);
/* One address event (an mnl_cb_t; DATA is the manager): a held VIP removed is put back. */
int vip_monitor_msg(const struct nlmsghdr *nlh, void *data);

#endif
