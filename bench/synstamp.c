/*
 * synstamp: when did each target see its checks?  A packet socket on the
 * loopback of the current network namespace, with a BPF filter that keeps
 * only TCP SYNs (no ACK) to one port, timestamps every connection attempt
 * in the kernel and keys it by destination address.  For every target the
 * gap between two attempts is compared with the check interval:
 *
 *   late   = max(0, gap - interval)   how much later than "previous + interval"
 *   jitter = |gap - interval|
 *
 * This is the one lateness measure that applies to every contender alike,
 * whatever its scheduler; see bench/README.md for what it can and cannot
 * tell.  It runs for a fixed time and prints one line of key=value pairs.
 *
 * usage: synstamp -p PORT -i INTERVAL_MS -d SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define SUB_BITS 3                 /* log-linear bins: 8 per power of two */
#define BINS (64 << SUB_BITS)
#define KEYS 65536                 /* targets keyed by the low 16 bits of the address */

struct hist {
	uint64_t bins[BINS];
	uint64_t n, max;
};

static unsigned
bin_of(uint64_t us)
{
	unsigned msb, shift;

	if (us < (1u << SUB_BITS))
		return (unsigned)us;
	msb = 63 - (unsigned)__builtin_clzll(us);
	shift = msb - SUB_BITS;
	return ((shift + 1) << SUB_BITS) + (unsigned)((us >> shift) & ((1u << SUB_BITS) - 1));
}

static uint64_t
bin_upper(unsigned b)
{
	unsigned shift, sub;

	if (b < (1u << SUB_BITS))
		return b;
	shift = (b >> SUB_BITS) - 1;
	sub = b & ((1u << SUB_BITS) - 1);
	return ((uint64_t)((1u << SUB_BITS) + sub + 1) << shift) - 1;
}

static void
hist_add(struct hist *h, uint64_t us)
{
	h->bins[bin_of(us)]++;
	h->n++;
	if (us > h->max)
		h->max = us;
}

static uint64_t
hist_pct(const struct hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (unsigned b = 0; b < BINS; b++) {
		seen += h->bins[b];
		if (seen > want)
			return bin_upper(b) < h->max ? bin_upper(b) : h->max;
	}
	return h->max;
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int
main(int argc, char **argv)
{
	unsigned port = 0, secs = 0;
	uint64_t interval_us = 0;
	int opt, fd, one = 1;
	static uint64_t last[KEYS];
	static struct hist late, jitter;
	uint64_t syns = 0, targets = 0, gaps_missed = 0;

	while ((opt = getopt(argc, argv, "p:i:d:")) != -1) {
		switch (opt) {
		case 'p':
			port = (unsigned)atoi(optarg);
			break;
		case 'i':
			interval_us = (uint64_t)atoll(optarg) * 1000u;
			break;
		case 'd':
			secs = (unsigned)atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (port == 0 || port > 65535 || interval_us == 0 || secs == 0)
		goto usage;

	/*
	 * Offsets from the IP header (a SOCK_DGRAM packet socket strips the
	 * link header): protocol TCP, then through the IP header length to the
	 * destination port and the flags; SYN set, ACK clear.
	 */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 8),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 6, 0),  /* fragments: no */
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 3),
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x10, 1, 0),    /* ACK set: no */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x02, 1, 0),    /* SYN set: yes */
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 64),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	struct sockaddr_ll sll;

	fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
	if (fd < 0) {
		perror("synstamp: socket");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0) {
		perror("synstamp: setsockopt");
		return 1;
	}
	/* Loopback shows every packet twice, leaving and arriving: keep one. */
#ifdef PACKET_IGNORE_OUTGOING
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
#endif
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_ifindex = (int)if_nametoindex("lo");
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("synstamp: bind");
		return 1;
	}
	{
		int rcvbuf = 8 << 20;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	}
	printf("ready\n");
	fflush(stdout);

	uint64_t end = mono_us() + (uint64_t)secs * 1000000u;
	static unsigned char bufs[BATCH][64];
	static char ctl[BATCH][CMSG_SPACE(sizeof(struct timespec))];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll from[BATCH];

	for (;;) {
		uint64_t now = mono_us();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n;

		if (now >= end)
			break;
		if (poll(&pfd, 1, (int)((end - now) / 1000u) + 1) <= 0)
			continue;
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = ctl[i];
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("synstamp: recvmmsg");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct cmsghdr *cm;
			uint64_t t = 0, key;

			if (from[i].sll_pkttype == PACKET_OUTGOING || msgs[i].msg_len < 20)
				continue;
			for (cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm != NULL;
			    cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm)) {
				if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
					t = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
				}
			}
			if (t == 0)
				continue;
			/* Destination address, bytes 16..19 of the IP header. */
			key = ((uint64_t)bufs[i][18] << 8) | bufs[i][19];
			syns++;
			if (last[key] == 0) {
				targets++;
			} else if (t > last[key]) {
				uint64_t gap = t - last[key];

				hist_add(&late, gap > interval_us ? gap - interval_us : 0);
				hist_add(&jitter, gap > interval_us ? gap - interval_us : interval_us - gap);
				if (gap > interval_us + interval_us / 2)
					gaps_missed++;
			}
			last[key] = t;
		}
	}
	printf("syns=%llu targets=%llu gaps=%llu late_p50_us=%llu late_p99_us=%llu late_max_us=%llu "
	    "jitter_p50_us=%llu jitter_p99_us=%llu gaps_over_1.5x=%llu\n",
	    (unsigned long long)syns, (unsigned long long)targets, (unsigned long long)late.n,
	    (unsigned long long)hist_pct(&late, 0.50), (unsigned long long)hist_pct(&late, 0.99),
	    (unsigned long long)late.max, (unsigned long long)hist_pct(&jitter, 0.50),
	    (unsigned long long)hist_pct(&jitter, 0.99), (unsigned long long)gaps_missed);
	return 0;
usage:
	fprintf(stderr, "usage: synstamp -p PORT -i INTERVAL_MS -d SECONDS\n");
	return 2;
}
