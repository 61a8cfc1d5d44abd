/*
 * Unit tests of the virtual IPs: the announcement packets byte by byte,
 * then, as root, the real thing in a network namespace of each test's own
 * (Check runs every test in a child process; the test unshares its
 * network namespace there): a veth pair v0/v1, VIPs added to v0 and
 * removed, IPv6 without DAD, a missing interface, a VIP removed behind
 * the manager's back and put back through the address events, and the
 * gratuitous ARPs and neighbour advertisements read off v1.
 *
 * Not root (or no namespaces here): the packet tests run, and the binary
 * exits 77 (skipped) when they pass, since the rest was not tested.
 */
#include "autoconf.h"

#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/if_ether.h>
#include <netinet/ip6.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/if_addr.h>

#include "config.h"
#include "garp.h"
#include "util.h"
#include "vip.h"

static const uint8_t test_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 };

/* ---- packets ---- */

START_TEST(test_arp_packet)
{
	static const uint8_t ip[4] = { 192, 0, 2, 100 };
	static const uint8_t want[GARP_ARP_LEN] = {
		0x00, 0x01,             /* hardware: Ethernet */
		0x08, 0x00,             /* protocol: IPv4 */
		6, 4,                   /* address lengths */
		0x00, 0x01,             /* request */
		0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, /* sender MAC */
		192, 0, 2, 100,         /* sender IP */
		0, 0, 0, 0, 0, 0,       /* target MAC: unknown */
		192, 0, 2, 100,         /* target IP = sender IP: an announcement */
	};
	uint8_t buf[64];

	memset(buf, 0xaa, sizeof(buf));
	ck_assert_uint_eq(garp_build_arp(buf, test_mac, ip), GARP_ARP_LEN);
	ck_assert_mem_eq(buf, want, GARP_ARP_LEN);
	ck_assert_uint_eq(buf[GARP_ARP_LEN], 0xaa);
}
END_TEST

START_TEST(test_na_packet)
{
	uint8_t ip[16], buf[64];
	uint8_t want[GARP_NA_LEN] = {
		136, 0,                 /* neighbour advertisement, code 0 */
		0, 0,                   /* checksum: the kernel's */
		0x20, 0, 0, 0,          /* Override; not Router, not Solicited */
	};

	inet_pton(AF_INET6, "2001:db8::100", ip);
	memcpy(want + 8, ip, 16);   /* target */
	want[24] = 2;               /* option: target link-layer address */
	want[25] = 1;               /* 8 bytes */
	memcpy(want + 26, test_mac, 6);
	memset(buf, 0xaa, sizeof(buf));
	ck_assert_uint_eq(garp_build_na(buf, test_mac, ip), GARP_NA_LEN);
	ck_assert_mem_eq(buf, want, GARP_NA_LEN);
	ck_assert_uint_eq(buf[GARP_NA_LEN], 0xaa);
}
END_TEST

START_TEST(test_strerror)
{
	struct vip_conf v;
	char buf[256], msg[128];

	ck_assert_ptr_null(config_parse_vip("192.0.2.100/24 dev eth9", &v, buf, sizeof(buf)));
	ck_assert_str_eq(vip_strerror(ENODEV, &v, msg, sizeof(msg)), "no such interface eth9");
	ck_assert_str_eq(vip_strerror(EPERM, &v, msg, sizeof(msg)), "permission denied (needs CAP_NET_ADMIN)");
	ck_assert_str_eq(vip_strerror(EEXIST, &v, msg, sizeof(msg)), "address already present");
	ck_assert_str_eq(vip_strerror(EINVAL, &v, msg, sizeof(msg)), strerror(EINVAL));
	vip_conf_free(&v);
}
END_TEST

START_TEST(test_status_nothing_held)
{
	struct event_base *base = event_base_new();
	struct vip_manager *vm = vip_manager_new(base, NULL, NULL);
	struct vip_conf v;
	char buf[256];
	json_t *a;

	ck_assert_ptr_null(config_parse_vip("2001:db8::100/64 dev br0", &v, buf, sizeof(buf)));
	a = vip_status_json(vm, "web", &v, 1);
	ck_assert_uint_eq(json_array_size(a), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "address")),
	    "2001:db8::100/64");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "dev")), "br0");
	ck_assert(json_is_false(json_object_get(json_array_get(a, 0), "held")));
	ck_assert_ptr_null(json_object_get(json_array_get(a, 0), "error"));
	ck_assert(!vip_held(vm, "web"));
	/* nothing held: releasing is a no-op, and no socket was ever needed */
	vip_release(vm, "web", "test");
	vip_release_all(vm, "test");
	json_decref(a);
	vip_conf_free(&v);
	vip_manager_free(vm);
	event_base_free(base);
}
END_TEST

/* ---- in a network namespace of the test's own ---- */

#define EVENTS_MAX 32

struct recorder {
	size_t n;
	char name[EVENTS_MAX][32];
	char detail[EVENTS_MAX][256];
};

static void
rec_event(void *arg, const char *service, const char *name, const char *detail)
{
	struct recorder *r = arg;

	ck_assert(strcmp(service, "web") == 0 || strcmp(service, "api") == 0);
	if (r->n < EVENTS_MAX) {
		snprintf(r->name[r->n], sizeof(r->name[0]), "%s", name);
		snprintf(r->detail[r->n], sizeof(r->detail[0]), "%s", detail);
		r->n++;
	}
}

/* How many events NAME were recorded whose detail contains WHAT. */
static size_t
rec_count(const struct recorder *r, const char *name, const char *what)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->name[i], name) == 0 && strstr(r->detail[i], what) != NULL)
			n++;
	}
	return n;
}

static struct event_base *base;
static struct vip_manager *vm;
static struct recorder rec;

static void
run(const char *cmd)
{
	int rc = system(cmd);

	ck_assert_msg(rc == 0, "%s: exit %d", cmd, rc);
}

/*
 * Wait until DEV is operationally up: until the kernel's link watch has
 * seen the carrier, the device drops what is sent through it.
 */
static void
wait_running(const char *dev)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;

	ck_assert_int_ge(fd, 0);
	for (int i = 0;; i++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
		ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
		if ((ifr.ifr_flags & IFF_RUNNING) != 0)
			break;
		ck_assert_msg(i < 500, "%s not running after 5 s", dev);
		usleep(10000);
	}
	close(fd);
}

/* A fresh network namespace with v0 <-> v1 up (veth: this kernel may have no dummy driver). */
static void
netns_setup(void)
{
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare: %s", strerror(errno));
	run("ip link set lo up && ip link add v0 type veth peer name v1 && "
	    "ip link set v0 address 02:00:5e:10:20:30 && ip link set v0 up && ip link set v1 up");
	wait_running("v0");
	wait_running("v1");
	memset(&rec, 0, sizeof(rec));
	base = event_base_new();
	vm = vip_manager_new(base, rec_event, &rec);
}

static void
netns_teardown(void)
{
	vip_manager_free(vm);
	event_base_free(base);
}

static struct vip_conf
vip(const char *text)
{
	struct vip_conf v;
	char buf[256];

	ck_assert_msg(config_parse_vip(text, &v, buf, sizeof(buf)) == NULL, "%s: %s", text, buf);
	return v;
}

/* Run the loop for MS milliseconds. */
static void
spin(unsigned ms)
{
	struct timeval tv = us_to_tv(ms * 1000u);

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static const struct vip_announce quiet = { 1, 100, 0 };

START_TEST(test_add_del_v4)
{
	struct vip_conf v = vip("192.0.2.100/24 dev v0");
	uint32_t flags = 0;

	ck_assert_int_eq(vip_kernel_present(vm, &v, &flags), 0);
	ck_assert_int_eq(vip_kernel_add(vm, &v), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &v, &flags), 1);
	/* present already: fine */
	ck_assert_int_eq(vip_kernel_add(vm, &v), 0);
	ck_assert_int_eq(vip_kernel_del(vm, &v), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &v, &flags), 0);
	/* gone already: fine */
	ck_assert_int_eq(vip_kernel_del(vm, &v), 0);
	vip_conf_free(&v);
}
END_TEST

START_TEST(test_add_v6_nodad)
{
	struct vip_conf v = vip("2001:db8::100/64 dev v0");
	uint32_t flags = 0;

	ck_assert_int_eq(vip_kernel_add(vm, &v), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &v, &flags), 1);
	ck_assert_msg((flags & IFA_F_NODAD) != 0, "flags %#x", flags);
	/* usable at once: not waiting for duplicate address detection */
	ck_assert_msg((flags & IFA_F_TENTATIVE) == 0, "flags %#x", flags);
	ck_assert_int_eq(vip_kernel_del(vm, &v), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &v, NULL), 0);
	vip_conf_free(&v);
}
END_TEST

START_TEST(test_missing_interface)
{
	struct vip_conf v[2] = { vip("192.0.2.100/24 dev v0"), vip("198.51.100.7/24 dev nosuch0") };
	char err[256];
	json_t *st;

	ck_assert_int_eq(vip_kernel_add(vm, &v[1]), ENODEV);
	ck_assert_int_eq(vip_kernel_del(vm, &v[1]), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &v[1], NULL), 0);

	/* all or nothing: the first one is taken back */
	ck_assert(!vip_acquire(vm, "web", v, 2, &quiet, err, sizeof(err)));
	ck_assert_str_eq(err, "cannot add 198.51.100.7/24 dev nosuch0: no such interface nosuch0");
	ck_assert_int_eq(vip_kernel_present(vm, &v[0], NULL), 0);
	ck_assert(!vip_held(vm, "web"));
	ck_assert_uint_eq(rec_count(&rec, "+vip-added", "192.0.2.100/24 dev v0"), 1);
	ck_assert_uint_eq(rec_count(&rec, "+vip-error", "no such interface nosuch0"), 1);
	ck_assert_uint_eq(rec_count(&rec, "-vip-released", "192.0.2.100/24 dev v0 (the promotion failed)"), 1);

	st = vip_status_json(vm, "web", v, 2);
	ck_assert(json_is_false(json_object_get(json_array_get(st, 0), "held")));
	ck_assert(json_is_false(json_object_get(json_array_get(st, 1), "held")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(st, 1), "error")),
	    "no such interface nosuch0");
	json_decref(st);

	/* best effort (a reload): what can be held is */
	ck_assert(!vip_update(vm, "web", v, 2, &quiet, err, sizeof(err)));
	ck_assert_int_eq(vip_kernel_present(vm, &v[0], NULL), 1);
	ck_assert(vip_held(vm, "web"));
	st = vip_status_json(vm, "web", v, 2);
	ck_assert(json_is_true(json_object_get(json_array_get(st, 0), "held")));
	ck_assert_ptr_null(json_object_get(json_array_get(st, 0), "error"));
	ck_assert(json_is_false(json_object_get(json_array_get(st, 1), "held")));
	json_decref(st);
	vip_release_all(vm, "test");
	ck_assert_int_eq(vip_kernel_present(vm, &v[0], NULL), 0);
	vip_conf_free(&v[0]);
	vip_conf_free(&v[1]);
}
END_TEST

START_TEST(test_acquire_release)
{
	struct vip_conf v[2] = { vip("192.0.2.100/24 dev v0"), vip("2001:db8::100/64 dev v0") };
	struct vip_conf other = vip("203.0.113.5/24 dev v0");
	char err[256];
	json_t *st;

	ck_assert(vip_acquire(vm, "web", v, 2, &quiet, err, sizeof(err)));
	ck_assert_str_eq(err, "");
	ck_assert(vip_held(vm, "web"));
	ck_assert(!vip_held(vm, "api"));
	ck_assert_int_eq(vip_kernel_present(vm, &v[0], NULL), 1);
	ck_assert_int_eq(vip_kernel_present(vm, &v[1], NULL), 1);
	ck_assert_uint_eq(rec_count(&rec, "+vip-added", "192.0.2.100/24 dev v0"), 1);
	ck_assert_uint_eq(rec_count(&rec, "+vip-added", "2001:db8::100/64 dev v0"), 1);
	st = vip_status_json(vm, "web", v, 2);
	ck_assert(json_is_true(json_object_get(json_array_get(st, 0), "held")));
	ck_assert(json_is_true(json_object_get(json_array_get(st, 1), "held")));
	json_decref(st);
	/* held by web, not by another service */
	st = vip_status_json(vm, "api", v, 1);
	ck_assert(json_is_false(json_object_get(json_array_get(st, 0), "held")));
	json_decref(st);

	/* acquiring again changes nothing */
	ck_assert(vip_acquire(vm, "web", v, 2, &quiet, err, sizeof(err)));
	ck_assert_uint_eq(rec_count(&rec, "+vip-added", ""), 2);

	/* a new list: what is no longer listed goes */
	ck_assert(vip_update(vm, "web", &other, 1, &quiet, err, sizeof(err)));
	ck_assert_int_eq(vip_kernel_present(vm, &v[0], NULL), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &v[1], NULL), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &other, NULL), 1);
	ck_assert_uint_eq(rec_count(&rec, "-vip-released", "(no longer configured)"), 2);

	vip_release(vm, "web", "demoted");
	ck_assert(!vip_held(vm, "web"));
	ck_assert_int_eq(vip_kernel_present(vm, &other, NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, "-vip-released", "203.0.113.5/24 dev v0 (demoted)"), 1);
	vip_conf_free(&v[0]);
	vip_conf_free(&v[1]);
	vip_conf_free(&other);
}
END_TEST

START_TEST(test_already_elsewhere)
{
	struct vip_conf v = vip("192.0.2.100/24 dev v0");
	struct vip_conf there = vip("192.0.2.100/24 dev v1");
	char err[256];

	ck_assert_int_eq(vip_kernel_add(vm, &there), 0);
	ck_assert(!vip_acquire(vm, "web", &v, 1, &quiet, err, sizeof(err)));
	ck_assert_str_eq(err, "cannot add 192.0.2.100/24 dev v0: the address is already on v1 of this node");
	ck_assert_int_eq(vip_kernel_present(vm, &v, NULL), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &there, NULL), 1);
	vip_conf_free(&v);
	vip_conf_free(&there);
}
END_TEST

START_TEST(test_moved_between_services)
{
	struct vip_conf v = vip("192.0.2.100/24 dev v0");
	char err[256];

	/* a reload moves the address from web to api: api takes it while web still holds it */
	ck_assert(vip_acquire(vm, "web", &v, 1, &quiet, err, sizeof(err)));
	ck_assert(vip_acquire(vm, "api", &v, 1, &quiet, err, sizeof(err)));
	ck_assert_uint_eq(rec_count(&rec, "+vip-added", "192.0.2.100/24 dev v0 (it was already there)"), 1);
	vip_release(vm, "web", "no longer configured");
	ck_assert_int_eq(vip_kernel_present(vm, &v, NULL), 1);
	ck_assert(vip_held(vm, "api"));
	/* and it is nobody's leftover */
	vip_remove_stale(vm, "web", &v, 1);
	ck_assert_int_eq(vip_kernel_present(vm, &v, NULL), 1);
	spin(200);
	ck_assert_uint_eq(rec_count(&rec, "+vip-restored", ""), 0);
	vip_release(vm, "api", "test");
	ck_assert_int_eq(vip_kernel_present(vm, &v, NULL), 0);
	vip_conf_free(&v);
}
END_TEST

/* Spin until V is present (or MS pass); whether it is. */
static bool
wait_present(const struct vip_conf *v, unsigned ms)
{
	for (unsigned t = 0; t < ms; t += 50) {
		spin(50);
		if (vip_kernel_present(vm, v, NULL) == 1)
			return true;
	}
	return false;
}

START_TEST(test_restored)
{
	struct vip_conf v[2] = { vip("192.0.2.100/24 dev v0"), vip("2001:db8::100/64 dev v0") };
	struct vip_manager *other = vip_manager_new(base, NULL, NULL);
	char err[256];

	ck_assert(vip_acquire(vm, "web", v, 2, &quiet, err, sizeof(err)));
	for (int i = 0; i < 2; i++) {
		/* someone else removes it: the address events tell, and it is put back */
		ck_assert_int_eq(vip_kernel_del(other, &v[i]), 0);
		ck_assert_int_eq(vip_kernel_present(vm, &v[i], NULL), 0);
		ck_assert_msg(wait_present(&v[i], 3000), "%s not put back", v[i].text);
		ck_assert_uint_eq(rec_count(&rec, "+vip-restored", v[i].text), 1);
	}
	/* what the manager removes itself is not put back */
	vip_release(vm, "web", "demoted");
	spin(300);
	ck_assert_int_eq(vip_kernel_present(vm, &v[0], NULL), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &v[1], NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, "+vip-restored", ""), 2);
	vip_manager_free(other);
	vip_conf_free(&v[0]);
	vip_conf_free(&v[1]);
}
END_TEST

START_TEST(test_interface_comes_back)
{
	struct vip_conf v = vip("192.0.2.100/24 dev v0");
	char err[256];
	json_t *st;

	ck_assert(vip_acquire(vm, "web", &v, 1, &quiet, err, sizeof(err)));
	/* the interface goes, and the address with it: an error, then a retry */
	run("ip link del v0");
	spin(300);
	ck_assert_uint_eq(rec_count(&rec, "+vip-error", "no such interface v0"), 1);
	st = vip_status_json(vm, "web", &v, 1);
	ck_assert(json_is_false(json_object_get(json_array_get(st, 0), "held")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(st, 0), "error")),
	    "no such interface v0");
	json_decref(st);
	ck_assert(vip_held(vm, "web"));
	run("ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up");
	ck_assert(wait_present(&v, 5000));
	ck_assert_uint_eq(rec_count(&rec, "+vip-restored", "192.0.2.100/24 dev v0"), 1);
	st = vip_status_json(vm, "web", &v, 1);
	ck_assert(json_is_true(json_object_get(json_array_get(st, 0), "held")));
	ck_assert_ptr_null(json_object_get(json_array_get(st, 0), "error"));
	json_decref(st);
	vip_conf_free(&v);
}
END_TEST

START_TEST(test_stale)
{
	struct vip_conf v[2] = { vip("192.0.2.100/24 dev v0"), vip("2001:db8::100/64 dev v0") };
	struct vip_conf other_prefix = vip("192.0.2.100/28 dev v0");
	struct vip_conf elsewhere = vip("2001:db8::100/64 dev v1");

	/* left by an earlier run, the IPv4 one with another prefix length */
	ck_assert_int_eq(vip_kernel_add(vm, &other_prefix), 0);
	ck_assert_int_eq(vip_kernel_add(vm, &v[1]), 0);
	ck_assert_int_eq(vip_kernel_add(vm, &elsewhere), 0);
	vip_remove_stale(vm, "web", v, 2);
	ck_assert_int_eq(vip_kernel_present(vm, &v[0], NULL), 0);
	ck_assert_int_eq(vip_kernel_present(vm, &v[1], NULL), 0);
	ck_assert_uint_eq(rec_count(&rec, "-vip-released", "(left behind by an earlier run)"), 2);
	/* not on the configured interface: not ours to remove */
	ck_assert_int_eq(vip_kernel_present(vm, &elsewhere, NULL), 1);
	vip_conf_free(&v[0]);
	vip_conf_free(&v[1]);
	vip_conf_free(&other_prefix);
	vip_conf_free(&elsewhere);
}
END_TEST

/* A socket that receives every frame of ETHERTYPE arriving on v1. */
static int
sniff(uint16_t ethertype)
{
	struct sockaddr_ll sll;
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, htons(ethertype));

	ck_assert_int_ge(fd, 0);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ethertype);
	sll.sll_ifindex = (int)if_nametoindex("v1");
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

START_TEST(test_garp_sent)
{
	struct vip_conf v = vip("192.0.2.100/24 dev v0");
	const struct vip_announce ann = { 3, 50, 0 };
	int fd = sniff(ETHERTYPE_ARP);
	uint8_t pkt[256];
	unsigned seen = 0;
	char err[256];
	ssize_t n;

	ck_assert(vip_acquire(vm, "web", &v, 1, &ann, err, sizeof(err)));
	spin(400);
	while ((n = recv(fd, pkt, sizeof(pkt), 0)) > 0) {
		struct ether_arp arp;

		if ((size_t)n < sizeof(arp))
			continue;
		memcpy(&arp, pkt, sizeof(arp));
		if (memcmp(arp.arp_spa, v.addr, 4) != 0)
			continue;
		ck_assert_uint_eq(ntohs(arp.arp_op), ARPOP_REQUEST);
		ck_assert_mem_eq(arp.arp_tpa, v.addr, 4);
		ck_assert_mem_eq(arp.arp_sha, test_mac, 6);
		seen++;
	}
	ck_assert_uint_eq(seen, 3);
	close(fd);
	vip_conf_free(&v);
}
END_TEST

/* Count the NAs for V's address arriving on v1 (and check each) until the loop has run MS. */
static unsigned
count_na(int fd, const struct vip_conf *v)
{
	uint8_t pkt[512], allnodes[16];
	unsigned seen = 0;
	ssize_t n;

	inet_pton(AF_INET6, "ff02::1", allnodes);
	while ((n = recv(fd, pkt, sizeof(pkt), 0)) > 0) {
		struct ip6_hdr ip6;
		const uint8_t *icmp = pkt + sizeof(ip6);

		if ((size_t)n < sizeof(ip6) + GARP_NA_LEN)
			continue;
		memcpy(&ip6, pkt, sizeof(ip6));
		if (ip6.ip6_nxt != IPPROTO_ICMPV6 || icmp[0] != ND_NEIGHBOR_ADVERT ||
		    memcmp(icmp + 8, v->addr, 16) != 0)
			continue;
		ck_assert_uint_eq(ip6.ip6_hlim, 255);
		ck_assert_mem_eq(&ip6.ip6_src, v->addr, 16);
		ck_assert_mem_eq(&ip6.ip6_dst, allnodes, 16);
		ck_assert_uint_eq(icmp[4] & 0xe0, 0x20); /* Override only */
		ck_assert_uint_eq(icmp[24], ND_OPT_TARGET_LINKADDR);
		ck_assert_uint_eq(icmp[25], 1);
		ck_assert_mem_eq(icmp + 26, test_mac, 6);
		seen++;
	}
	return seen;
}

START_TEST(test_na_sent)
{
	struct vip_conf v = vip("2001:db8::100/64 dev v0");
	const struct vip_announce ann = { 2, 50, 0 };
	int fd = sniff(ETHERTYPE_IPV6);
	char err[256];

	ck_assert(vip_acquire(vm, "web", &v, 1, &ann, err, sizeof(err)));
	spin(400);
	ck_assert_uint_eq(count_na(fd, &v), 2);
	close(fd);
	vip_conf_free(&v);
}
END_TEST

START_TEST(test_refresh)
{
	struct vip_conf v = vip("2001:db8::100/64 dev v0");
	const struct vip_announce ann = { 1, 1000, 100 };
	int fd = sniff(ETHERTYPE_IPV6);
	unsigned seen;
	char err[256];

	ck_assert(vip_acquire(vm, "web", &v, 1, &ann, err, sizeof(err)));
	spin(450);
	/* one at once, then one every 100 ms: 5 in 450 ms, fewer on a loaded machine */
	seen = count_na(fd, &v);
	ck_assert_msg(seen >= 2 && seen <= 6, "%u announcements", seen);
	/* released: no more */
	vip_release(vm, "web", "test");
	count_na(fd, &v);
	spin(250);
	ck_assert_uint_eq(count_na(fd, &v), 0);
	close(fd);
	vip_conf_free(&v);
}
END_TEST

START_TEST(test_refresh_set_by_update)
{
	struct vip_conf v = vip("2001:db8::100/64 dev v0");
	const struct vip_announce none = { 1, 1000, 0 }, every = { 1, 1000, 100 };
	int fd = sniff(ETHERTYPE_IPV6);
	unsigned seen;
	char err[256];

	ck_assert(vip_acquire(vm, "web", &v, 1, &none, err, sizeof(err)));
	spin(250);
	ck_assert_uint_eq(count_na(fd, &v), 1);
	/* a reload turns the refresh on for a VIP held all along: no new burst, the refresh starts */
	ck_assert(vip_update(vm, "web", &v, 1, &every, err, sizeof(err)));
	spin(350);
	seen = count_na(fd, &v);
	ck_assert_msg(seen >= 1 && seen <= 4, "%u announcements", seen);
	ck_assert_uint_eq(rec_count(&rec, "+vip-added", ""), 1);
	close(fd);
	vip_conf_free(&v);
}
END_TEST

/* Can this process make network namespaces and veth pairs? Tried in a child. */
static bool
netns_possible(void)
{
	pid_t pid;
	int st;

	if (geteuid() != 0)
		return false;
	if ((pid = fork()) < 0)
		return false;
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) != 0)
			_exit(1);
		_exit(system("ip link add v0 type veth peer name v1 >/dev/null 2>&1") == 0 ? 0 : 1);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static Suite *
vip_suite(bool netns)
{
	Suite *s = suite_create("vip");
	TCase *tc;

	tc = tcase_create("packets");
	tcase_add_test(tc, test_arp_packet);
	tcase_add_test(tc, test_na_packet);
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_status_nothing_held);
	suite_add_tcase(s, tc);

	if (netns) {
		tc = tcase_create("netns");
		tcase_add_checked_fixture(tc, netns_setup, netns_teardown);
		tcase_add_test(tc, test_add_del_v4);
		tcase_add_test(tc, test_add_v6_nodad);
		tcase_add_test(tc, test_missing_interface);
		tcase_add_test(tc, test_acquire_release);
		tcase_add_test(tc, test_already_elsewhere);
		tcase_add_test(tc, test_moved_between_services);
		tcase_add_test(tc, test_restored);
		tcase_add_test(tc, test_interface_comes_back);
		tcase_add_test(tc, test_stale);
		tcase_add_test(tc, test_garp_sent);
		tcase_add_test(tc, test_na_sent);
		tcase_add_test(tc, test_refresh);
		tcase_add_test(tc, test_refresh_set_by_update);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	bool netns = netns_possible();
	SRunner *sr = srunner_create(vip_suite(netns));
	int failed;

	/* Every test unshares its own network namespace: that needs a child per test. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed != 0)
		return EXIT_FAILURE;
	if (!netns) {
		printf("vip: not root, or no network namespaces here: the netlink tests were skipped\n");
		return 77;
	}
	return EXIT_SUCCESS;
}
