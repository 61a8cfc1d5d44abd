#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/if_ether.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "garp.h"

/*
 * A socket per announcement: a burst is a handful of packets per role
 * change (garp_repeat), so keeping sockets open per interface would buy
 * nothing and would have to follow interfaces that come and go.
 */

#define GARP_HOP_LIMIT 255 /* receivers drop ND packets with any other (RFC 4861 7.1.2) */

size_t
garp_build_arp(uint8_t *buf, const uint8_t mac[GARP_MAC_LEN], const uint8_t ip[4])
{
	struct ether_arp arp;

	memset(&arp, 0, sizeof(arp));
	arp.arp_hrd = htons(ARPHRD_ETHER);
	arp.arp_pro = htons(ETHERTYPE_IP);
	arp.arp_hln = GARP_MAC_LEN;
	arp.arp_pln = 4;
	/*
	 * A request, not a reply: every stack takes sender = target as an
	 * announcement, and Linux overrides an existing entry with it even
	 * inside the lock time of the entry (arp_is_garp).
	 */
	arp.arp_op = htons(ARPOP_REQUEST);
	memcpy(arp.arp_sha, mac, GARP_MAC_LEN);
	memcpy(arp.arp_spa, ip, 4);
	memcpy(arp.arp_tpa, ip, 4);
	memcpy(buf, &arp, sizeof(arp));
	return sizeof(arp);
}

size_t
garp_build_na(uint8_t *buf, const uint8_t mac[GARP_MAC_LEN], const uint8_t ip[16])
{
	struct nd_neighbor_advert na;
	struct nd_opt_hdr opt;
	size_t n = 0;

	memset(&na, 0, sizeof(na));
	na.nd_na_type = ND_NEIGHBOR_ADVERT;
	na.nd_na_code = 0;
	/* Override: replace the cached address; not solicited: nobody asked. */
	na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
	memcpy(&na.nd_na_target, ip, 16);
	memcpy(buf, &na, sizeof(na));
	n += sizeof(na);
	opt.nd_opt_type = ND_OPT_TARGET_LINKADDR;
	opt.nd_opt_len = 1; /* in units of 8 bytes: type, length and 6 bytes of MAC */
	memcpy(buf + n, &opt, sizeof(opt));
	n += sizeof(opt);
	memcpy(buf + n, mac, GARP_MAC_LEN);
	n += GARP_MAC_LEN;
	return n;
}

static void
garp_error(char *err, size_t errlen, const char *what, const char *dev, int e)
{
	switch (e) {
	case EPERM:
	case EACCES:
		snprintf(err, errlen, "%s on %s: permission denied (needs CAP_NET_RAW)", what, dev);
		break;
	case ENODEV:
	case ENXIO:
		snprintf(err, errlen, "%s: no such interface %s", what, dev);
		break;
	case ENETDOWN:
		snprintf(err, errlen, "%s: interface %s is down", what, dev);
		break;
	default:
		snprintf(err, errlen, "%s on %s: %s", what, dev, strerror(e));
		break;
	}
}

/*
 * DEV's index and Ethernet address through FD; GARP_SKIPPED when there is
 * no neighbour to tell (loopback, NOARP, a link without Ethernet addresses).
 */
static enum garp_result
garp_link(int fd, const char *dev, int *ifindex, uint8_t mac[GARP_MAC_LEN], const char *what,
    char *err, size_t errlen)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (strlen(dev) >= sizeof(ifr.ifr_name)) {
		snprintf(err, errlen, "%s: interface name %s too long", what, dev);
		return GARP_ERROR;
	}
	memcpy(ifr.ifr_name, dev, strlen(dev));
	if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) {
		garp_error(err, errlen, what, dev, errno);
		return GARP_ERROR;
	}
	*ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
		garp_error(err, errlen, what, dev, errno);
		return GARP_ERROR;
	}
	if ((ifr.ifr_flags & (IFF_LOOPBACK | IFF_NOARP)) != 0)
		return GARP_SKIPPED;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) {
		garp_error(err, errlen, what, dev, errno);
		return GARP_ERROR;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return GARP_SKIPPED;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, GARP_MAC_LEN);
	return GARP_SENT;
}

static enum garp_result
garp_send_arp(const uint8_t ip[4], const char *dev, char *err, size_t errlen)
{
	static const char what[] = "gratuitous ARP";
	uint8_t mac[GARP_MAC_LEN], pkt[GARP_ARP_LEN];
	struct sockaddr_ll to;
	enum garp_result r;
	size_t len;
	int fd, ifindex = 0;

	/* Protocol 0: this socket sends only, the kernel queues nothing to it. */
	if ((fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		garp_error(err, errlen, what, dev, errno);
		return GARP_ERROR;
	}
	if ((r = garp_link(fd, dev, &ifindex, mac, what, err, errlen)) != GARP_SENT) {
		close(fd);
		return r;
	}
	len = garp_build_arp(pkt, mac, ip);
	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETHERTYPE_ARP);
	to.sll_ifindex = ifindex;
	to.sll_halen = GARP_MAC_LEN;
	memset(to.sll_addr, 0xff, GARP_MAC_LEN); /* broadcast */
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		garp_error(err, errlen, what, dev, errno);
		close(fd);
		return GARP_ERROR;
	}
	close(fd);
	return GARP_SENT;
}

static enum garp_result
garp_send_na(const uint8_t ip[16], const char *dev, char *err, size_t errlen)
{
	static const char what[] = "unsolicited neighbour advertisement";
	uint8_t mac[GARP_MAC_LEN], pkt[GARP_NA_LEN];
	struct sockaddr_in6 from, to;
	enum garp_result r;
	int fd, ifindex = 0, hops = GARP_HOP_LIMIT;
	size_t len;

	if ((fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6)) < 0) {
		garp_error(err, errlen, what, dev, errno);
		return GARP_ERROR;
	}
	if ((r = garp_link(fd, dev, &ifindex, mac, what, err, errlen)) != GARP_SENT) {
		close(fd);
		return r;
	}
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) != 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) != 0) {
		garp_error(err, errlen, what, dev, errno);
		close(fd);
		return GARP_ERROR;
	}
	/* The source is the VIP itself: it is assigned here (added with NODAD, never tentative). */
	memset(&from, 0, sizeof(from));
	from.sin6_family = AF_INET6;
	memcpy(&from.sin6_addr, ip, 16);
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0) {
		char a[INET6_ADDRSTRLEN], w[96];

		inet_ntop(AF_INET6, ip, a, sizeof(a));
		snprintf(w, sizeof(w), "%s from %s", what, a);
		garp_error(err, errlen, w, dev, errno);
		close(fd);
		return GARP_ERROR;
	}
	len = garp_build_na(pkt, mac, ip);
	memset(&to, 0, sizeof(to));
	to.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr); /* all nodes on the link */
	to.sin6_scope_id = (uint32_t)ifindex;
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		garp_error(err, errlen, what, dev, errno);
		close(fd);
		return GARP_ERROR;
	}
	close(fd);
	return GARP_SENT;
}

enum garp_result
garp_send(int family, const uint8_t *addr, const char *dev, char *err, size_t errlen)
{
	if (family == AF_INET)
		return garp_send_arp(addr, dev, err, errlen);
	if (family == AF_INET6)
		return garp_send_na(addr, dev, err, errlen);
	snprintf(err, errlen, "address family %d cannot be announced", family);
	return GARP_ERROR;
}
