/*
 * Telling the neighbours that an address has moved here: a gratuitous ARP
 * request (IPv4) or an unsolicited neighbour advertisement (IPv6), both
 * carrying the interface's own link-layer address, so that hosts on the
 * link replace the old owner's MAC in their caches at once instead of
 * after the entry expires.  One packet per call, sent at once: repeating
 * is the caller's business (timers on its event loop).
 */
#ifndef SPOFD_GARP_H
#define SPOFD_GARP_H

#include <stddef.h>
#include <stdint.h>

#define GARP_MAC_LEN 6  /* Ethernet */
#define GARP_ARP_LEN 28 /* an Ethernet/IPv4 ARP packet, without the Ethernet header */
#define GARP_NA_LEN 32  /* ICMPv6 NA with one target link-layer address option */

enum garp_result {
	GARP_SENT,
	GARP_SKIPPED, /* the interface has no ARP/ND (loopback, NOARP, not Ethernet) */
	GARP_ERROR,
};

/*
 * ARP request, sender = target = IP, sender hardware address MAC, target
 * hardware address zero (RFC 5227's announcement).  Returns the length.
 */
size_t garp_build_arp(uint8_t *buf, const uint8_t mac[GARP_MAC_LEN], const uint8_t ip[4]);
/*
 * ICMPv6 neighbour advertisement for target IP: Override set, Solicited
 * and Router clear, option 2 (target link-layer address) = MAC.  The
 * checksum is left 0: the kernel fills it in for raw ICMPv6 sockets.
 * Returns the length.
 */
size_t garp_build_na(uint8_t *buf, const uint8_t mac[GARP_MAC_LEN], const uint8_t ip[16]);

/*
 * Announce ADDR (FAMILY AF_INET: 4 bytes, AF_INET6: 16, which must be
 * assigned to DEV: it is the NA's source) on interface DEV: ARP broadcast
 * over an AF_PACKET socket, or NA to ff02::1 with hop limit 255 over a
 * raw ICMPv6 socket.  Needs CAP_NET_RAW.  GARP_ERROR: the reason in ERR.
 */
enum garp_result garp_send(int family, const uint8_t *addr, const char *dev, char *err,
    size_t errlen);

#endif
