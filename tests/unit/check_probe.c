/*
 * TCP probe against real sockets on loopback: listeners made here (the
 * kernel completes handshakes without anyone accepting) and the test
 * backend for exchanges.
 */
#include "autoconf.h"

#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "probe.h"
#include "probe_testlib.h"
#include "util.h"

static struct event_base *base;
static struct probe_engine *eng;
static struct service_conf svc;
static struct member_conf mem;
static char portbuf[16];
static pid_t srv_pid = -1;
static char tmpdir[64];

static void
setup(void)
{
	base = event_base_new();
	eng = probe_engine_new(base, NULL);
	memset(&svc, 0, sizeof(svc));
	memset(&mem, 0, sizeof(mem));
	svc.name = "svc";
	svc.check.type = CHECK_TCP;
	svc.check.interval_ms = 1000;
	svc.check.fastinter_ms = 1000;
	svc.check.downinter_ms = 1000;
	svc.check.timeout_ms = 500;
	svc.check.rise = 1;
	svc.check.fall = 1;
	mem.service = "svc";
	mem.name = "m";
	mem.host = "127.0.0.1";
	mem.port = portbuf;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_probe.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char path[128];

	if (srv_pid > 0) {
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
		srv_pid = -1;
	}
	snprintf(path, sizeof(path), "%s/ready", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	probe_engine_free(eng);
	event_base_free(base);
}

/* A listening socket nobody accepts from; returns its fd, port in portbuf. */
static int
listener(int backlog)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	snprintf(portbuf, sizeof(portbuf), "%u", ntohs(sin.sin_port));
	return fd;
}

/* Start tests/testsrv with one listener in MODE; port into portbuf. */
static void
start_testsrv(const char *mode)
{
	char ready[128];

	snprintf(ready, sizeof(ready), "%s/ready", tmpdir);
	srv_pid = testlib_testsrv(ready, "127.0.0.1", mode, portbuf, sizeof(portbuf));
}

/* Run the loop until R has a verdict or 5 s pass. */
static void
run_until(struct result *r)
{
	testlib_run_until(base, r, 5);
}

static void
run_one(struct result *r)
{
	testlib_run_one(base, eng, &svc, &mem, r, 5);
}

START_TEST(test_connect_ok)
{
	int fd = listener(8);
	struct result r;

	run_one(&r);
	ck_assert_str_eq(probe_result_str(r.o.result), "ok");
	ck_assert_uint_gt(r.o.latency_us, 0);
	close(fd);
}
END_TEST

START_TEST(test_connect_refused)
{
	int fd = listener(8);
	struct result r;

	close(fd);
	run_one(&r);
	ck_assert_str_eq(probe_result_str(r.o.result), "refused");
	ck_assert_ptr_nonnull(strstr(r.o.detail, "refused"));
}
END_TEST

START_TEST(test_expect_ok)
{
	struct result r;

	start_testsrv("echo");
	svc.check.tcp_send = "PING\r\n";
	svc.check.tcp_send_len = 6;
	svc.check.tcp_expect = "PING";
	svc.check.tcp_expect_len = 4;
	run_one(&r);
	ck_assert_str_eq(probe_result_str(r.o.result), "ok");
}
END_TEST

START_TEST(test_banner_expect)
{
	struct result r;

	start_testsrv("banner:+OK ready\\r\\n");
	svc.check.tcp_expect = "+OK";
	svc.check.tcp_expect_len = 3;
	run_one(&r);
	ck_assert_str_eq(probe_result_str(r.o.result), "ok");
}
END_TEST

START_TEST(test_expect_timeout_when_silent)
{
	int fd = listener(8); /* handshake completes, nobody ever writes */
	struct result r;
	uint64_t t0 = now_mono_us();

	svc.check.tcp_expect = "HELLO";
	svc.check.tcp_expect_len = 5;
	svc.check.timeout_ms = 300;
	run_one(&r);
	ck_assert_str_eq(probe_result_str(r.o.result), "timeout");
	/* The budget holds: not before it is spent, not long after. */
	ck_assert_uint_ge(r.o.latency_us, 290000);
	ck_assert_uint_lt(now_mono_us() - t0, 3000000);
	close(fd);
}
END_TEST

START_TEST(test_expect_closed)
{
	struct result r;

	start_testsrv("close");
	svc.check.tcp_expect = "HELLO";
	svc.check.tcp_expect_len = 5;
	run_one(&r);
	ck_assert(r.o.result == PROBE_CLOSED || r.o.result == PROBE_RESET);
}
END_TEST

START_TEST(test_expect_mismatch_then_timeout)
{
	struct result r;

	start_testsrv("banner:NOPE\\r\\n");
	svc.check.tcp_expect = "+OK";
	svc.check.tcp_expect_len = 3;
	svc.check.timeout_ms = 300;
	run_one(&r);
	ck_assert_str_eq(probe_result_str(r.o.result), "timeout");
}
END_TEST

START_TEST(test_resolve_localhost)
{
	int fd = listener(8);
	struct result r;

	mem.host = "localhost";
	run_one(&r);
	/* localhost may resolve to ::1 first, where nothing listens. */
	ck_assert(r.o.result == PROBE_OK || r.o.result == PROBE_REFUSED);
	close(fd);
}
END_TEST

START_TEST(test_cancel_and_reuse)
{
	int fd = listener(8);
	struct result r;
	struct probe *p = probe_new(eng, &svc, &mem, done_cb, &r);

	svc.check.tcp_expect = "X";
	svc.check.tcp_expect_len = 1;
	memset(&r, 0, sizeof(r));
	probe_start(p);
	event_base_loop(base, EVLOOP_NONBLOCK);
	probe_cancel(p);
	ck_assert(!probe_running(p));
	/* Nothing fires after a cancel. */
	{
		uint64_t end = now_mono_us() + 700000;

		while (now_mono_us() < end)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	ck_assert_int_eq(r.calls, 0);
	svc.check.tcp_expect = NULL;
	svc.check.tcp_expect_len = 0;
	probe_start(p);
	run_until(&r);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.o.result, PROBE_OK);
	probe_free(p);
	close(fd);
}
END_TEST

START_TEST(test_many_concurrent)
{
	enum { N = 300 };
	int fd = listener(1024);
	struct result r[N];
	struct probe *p[N];
	struct probe_engine_stats st;
	int done;
	uint64_t end = now_mono_us() + 10000000;

	for (int i = 0; i < N; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		p[i] = probe_new(eng, &svc, &mem, done_cb, &r[i]);
		probe_start(p[i]);
	}
	do {
		event_base_loop(base, EVLOOP_ONCE);
		done = 0;
		for (int i = 0; i < N; i++)
			done += r[i].calls;
	} while (done < N && now_mono_us() < end);
	ck_assert_int_eq(done, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(r[i].o.result, PROBE_OK);
		probe_free(p[i]);
	}
	probe_engine_stats(eng, &st);
	ck_assert_uint_eq(st.started, N);
	ck_assert_uint_eq(st.completed, N);
	ck_assert_uint_eq(st.in_flight, 0);
	close(fd);
}
END_TEST

START_TEST(test_ipv6_loopback)
{
	struct sockaddr_in6 sin6;
	socklen_t len = sizeof(sin6);
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct result r;

	if (fd < 0)
		return; /* no IPv6 on this host */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) != 0) {
		close(fd);
		return;
	}
	listen(fd, 8);
	getsockname(fd, (struct sockaddr *)&sin6, &len);
	snprintf(portbuf, sizeof(portbuf), "%u", ntohs(sin6.sin6_port));
	mem.host = "::1";
	run_one(&r);
	ck_assert_int_eq(r.o.result, PROBE_OK);
	close(fd);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("probe_tcp");
	TCase *tc = tcase_create("tcp");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_connect_ok);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_expect_ok);
	tcase_add_test(tc, test_banner_expect);
	tcase_add_test(tc, test_expect_timeout_when_silent);
	tcase_add_test(tc, test_expect_closed);
	tcase_add_test(tc, test_expect_mismatch_then_timeout);
	tcase_add_test(tc, test_resolve_localhost);
	tcase_add_test(tc, test_cancel_and_reuse);
	tcase_add_test(tc, test_many_concurrent);
	tcase_add_test(tc, test_ipv6_loopback);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
