/*
 * What the probe unit tests share: a verdict box, the loop driven until
 * a verdict, one probe from start to verdict, the test backend
 * (tests/testsrv) as a child, and a loopback port where nothing listens.
 */
#ifndef SPOFD_PROBE_TESTLIB_H
#define SPOFD_PROBE_TESTLIB_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "probe.h"

struct event_base;

struct result {
	int calls;
	struct probe_outcome o;
};

/* probe_done_fn filling a struct result. */
void done_cb(void *arg, const struct probe_outcome *o);
/* Run BASE's loop until R has a verdict or SECS pass. */
void testlib_run_until(struct event_base *base, struct result *r, unsigned secs);
/* One check of MEM: exactly one verdict, never from inside probe_start, within SECS. */
void testlib_run_one(struct event_base *base, struct probe_engine *eng, const struct service_conf *svc,
    const struct member_conf *mem, struct result *r, unsigned secs);
/*
 * Start tests/testsrv with one listener ADDR:0=MODE, its ready file at
 * READY; its port into PORT (16 bytes at least).  The server dies with
 * the test process.
 */
pid_t testlib_testsrv(const char *ready, const char *addr, const char *mode, char *port, size_t portlen);
/* A loopback port where nothing listens (bound, then closed), into PORT. */
void testlib_closed_port(char *port, size_t portlen);

#endif
