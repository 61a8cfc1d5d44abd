/*
 * HTTP probe against the test backend (tests/testsrv) on loopback: every
 * verdict the probe can reach with a plain HTTP server, cancellation, and
 * many probes at once on one curl multi handle.
 */
#include "autoconf.h"

#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "probe.h"
#include "probe_testlib.h"
#include "util.h"

#define MAX_SERVERS 4
#define SLACK_US 1500000 /* scheduling slack allowed over a budget */

static struct event_base *base;
static struct probe_engine *eng;
static struct service_conf svc;
static struct member_conf mem;
static char hostbuf[64];
static char portbuf[16];
static pid_t srv_pids[MAX_SERVERS];
static size_t n_srv;
static char tmpdir[64];

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	eng = probe_engine_new(base, NULL);
	memset(&svc, 0, sizeof(svc));
	memset(&mem, 0, sizeof(mem));
	svc.name = "web";
	svc.check.type = CHECK_HTTP;
	svc.check.interval_ms = 2000;
	svc.check.fastinter_ms = 2000;
	svc.check.downinter_ms = 2000;
	svc.check.timeout_ms = 2000;
	svc.check.rise = 1;
	svc.check.fall = 1;
	svc.check.http_expect_status[0].lo = 200;
	svc.check.http_expect_status[0].hi = 399;
	svc.check.n_http_expect_status = 1;
	svc.check.tls_verify = true;
	mem.service = "web";
	mem.name = "a";
	snprintf(hostbuf, sizeof(hostbuf), "127.0.0.1");
	mem.host = hostbuf;
	mem.port = portbuf;
	n_srv = 0;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_probe_http.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char path[128];

	for (size_t i = 0; i < n_srv; i++) {
		kill(srv_pids[i], SIGTERM);
		waitpid(srv_pids[i], NULL, 0);
		snprintf(path, sizeof(path), "%s/ready.%zu", tmpdir, i);
		unlink(path);
	}
	n_srv = 0;
	snprintf(path, sizeof(path), "%s/cert.pem", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/key.pem", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	probe_engine_free(eng);
	event_base_free(base);
}

/* Start tests/testsrv on ADDR ("127.0.0.1", "[::1]") in MODE; port into portbuf. */
static void
start_testsrv_at(const char *addr, const char *mode)
{
	char ready[128];

	ck_assert_uint_lt(n_srv, MAX_SERVERS);
	snprintf(ready, sizeof(ready), "%s/ready.%zu", tmpdir, n_srv);
	srv_pids[n_srv] = testlib_testsrv(ready, addr, mode, portbuf, sizeof(portbuf));
	n_srv++;
}

static void
start_testsrv(const char *mode)
{
	start_testsrv_at("127.0.0.1", mode);
}

/* Run the loop until R has a verdict or SECS pass. */
static void
run_until(struct result *r, unsigned secs)
{
	testlib_run_until(base, r, secs);
}

/* Run the loop for US microseconds, whatever happens. */
static void
run_for(uint64_t us)
{
	struct timeval tv = us_to_tv(us);

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
run_one(struct result *r)
{
	testlib_run_one(base, eng, &svc, &mem, r, 10);
}

static const char *
reason(const struct result *r)
{
	static char buf[64];

	return probe_outcome_str(&r->o, buf, sizeof(buf));
}

/* A loopback port with nothing listening. */
static void
free_port(void)
{
	testlib_closed_port(portbuf, sizeof(portbuf));
}

START_TEST(test_ok)
{
	struct result r;

	start_testsrv("http");
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
	ck_assert_uint_gt(r.o.latency_us, 0);
	ck_assert_uint_lt(r.o.latency_us, 2000000);
	ck_assert_str_eq(r.o.detail, "status 200");
}
END_TEST

START_TEST(test_status_500)
{
	struct result r;

	start_testsrv("http:500");
	run_one(&r);
	ck_assert_int_eq(r.o.result, PROBE_HTTP_STATUS);
	ck_assert_int_eq(r.o.code, 500);
	ck_assert_str_eq(reason(&r), "http-status 500");
}
END_TEST

START_TEST(test_status_list_accepts_500)
{
	struct result r;

	start_testsrv("http:500");
	svc.check.http_expect_status[0].lo = 200;
	svc.check.http_expect_status[0].hi = 299;
	svc.check.http_expect_status[1].lo = 500;
	svc.check.http_expect_status[1].hi = 500;
	svc.check.n_http_expect_status = 2;
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
}
END_TEST

/* 301 is not followed; it is judged as the status it is. */
START_TEST(test_redirect_not_followed)
{
	struct result r;

	start_testsrv("http:301:moved\\n");
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok"); /* default 200-399 */
	svc.check.http_expect_status[0].hi = 299;
	run_one(&r);
	ck_assert_str_eq(reason(&r), "http-status 301");
}
END_TEST

START_TEST(test_body_mismatch)
{
	struct result r;

	start_testsrv("http:200:hello there\\n");
	svc.check.http_expect_body = "world";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "expect-mismatch");
	ck_assert_ptr_nonnull(strstr(r.o.detail, "world"));
}
END_TEST

START_TEST(test_body_match)
{
	struct result r;

	start_testsrv("http:200:hello world\\n");
	svc.check.http_expect_body = "world";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
}
END_TEST

/* A wrong status wins over the body: the body is not even read. */
START_TEST(test_status_before_body)
{
	struct result r;

	start_testsrv("http:503:world\\n");
	svc.check.http_expect_body = "world";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "http-status 503");
}
END_TEST

/* The body comes a byte at a time: the match spans many writes. */
START_TEST(test_body_match_split)
{
	struct result r;

	start_testsrv("trickle:abcdef needle-in-a-haystack xyz\\n");
	svc.check.http_expect_body = "needle-in-a-haystack";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
	svc.check.http_expect_body = "needle-in-a-haystacK";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "expect-mismatch");
	svc.check.http_expect_body = "\n";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
}
END_TEST

START_TEST(test_hang_timeout)
{
	struct result r;

	start_testsrv("hang");
	svc.check.timeout_ms = 300;
	run_one(&r);
	ck_assert_str_eq(reason(&r), "timeout");
	ck_assert_uint_ge(r.o.latency_us, 250000);
	ck_assert_uint_lt(r.o.latency_us, 300000 + SLACK_US);
}
END_TEST

START_TEST(test_slow_ok)
{
	struct result r;

	start_testsrv("slow:200");
	svc.check.timeout_ms = 1500;
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
	ck_assert_uint_ge(r.o.latency_us, 190000);
	svc.check.timeout_ms = 100;
	run_one(&r);
	ck_assert_str_eq(reason(&r), "timeout");
}
END_TEST

/* No body expected: the verdict comes with the head, the body is never read. */
START_TEST(test_endless_no_expect)
{
	struct result r;

	start_testsrv("endless");
	svc.check.timeout_ms = 3000;
	for (int i = 0; i < 5; i++) {
		run_one(&r);
		ck_assert_str_eq(reason(&r), "ok");
		ck_assert_uint_lt(r.o.latency_us, 1000000);
	}
}
END_TEST

static long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%*d %ld", &pages) != 1)
		pages = 0;
	fclose(f);
	return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/* An expected substring never comes: reading stops at the cap, well before the budget. */
START_TEST(test_endless_expect)
{
	struct result r;
	long before;

	start_testsrv("endless");
	svc.check.timeout_ms = 5000;
	svc.check.http_expect_body = "not in there";
	run_one(&r); /* warm up curl and the pool before measuring */
	ck_assert_str_eq(reason(&r), "body-too-large");
	before = rss_kib();
	for (int i = 0; i < 20; i++) {
		run_one(&r);
		ck_assert_str_eq(reason(&r), "body-too-large");
		ck_assert_uint_lt(r.o.latency_us, 4000000);
	}
#ifndef __SANITIZE_ADDRESS__
	/* 20 probes of an endless body: nothing of it may be kept. */
	ck_assert_int_lt(rss_kib() - before, 8 * 1024);
#else
	(void)before;
#endif
	svc.check.http_expect_body = "body\nendless";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
}
END_TEST

START_TEST(test_close)
{
	struct result r;

	start_testsrv("close");
	run_one(&r);
	ck_assert_msg(r.o.result == PROBE_CLOSED || r.o.result == PROBE_RESET ||
	    r.o.result == PROBE_HTTP_ERROR, "got %s (%s)", reason(&r), r.o.detail);
	ck_assert_str_ne(r.o.detail, "");
}
END_TEST

/* A server that is not HTTP at all. */
START_TEST(test_not_http)
{
	struct result r;

	start_testsrv("banner:SSH-2.0-OpenSSH_9.2\\r\\n");
	run_one(&r);
	ck_assert_str_eq(reason(&r), "http-error");
	ck_assert_str_ne(r.o.detail, "");
}
END_TEST

START_TEST(test_refused)
{
	struct result r;

	free_port();
	run_one(&r);
	ck_assert_str_eq(reason(&r), "refused");
	ck_assert_str_ne(r.o.detail, "");
}
END_TEST

/* TLS spoken to a plain HTTP server fails the handshake. */
START_TEST(test_tls_error)
{
	struct result r;

	start_testsrv("http");
	svc.check.type = CHECK_HTTPS;
	svc.check.tls_verify = false;
	run_one(&r);
	ck_assert_str_eq(reason(&r), "tls-error");
}
END_TEST

START_TEST(test_head)
{
	struct result r;

	start_testsrv("http-method:HEAD");
	svc.check.http_method = "HEAD";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
	svc.check.http_method = NULL;
	run_one(&r);
	ck_assert_str_eq(reason(&r), "http-status 405");
	svc.check.http_method = "OPTIONS";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "http-status 405");
}
END_TEST

START_TEST(test_custom_method)
{
	struct result r;

	start_testsrv("http-method:OPTIONS");
	svc.check.http_method = "OPTIONS";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
}
END_TEST

START_TEST(test_host_header)
{
	struct result r;

	start_testsrv("http-host");
	svc.check.http_expect_body = "www.example.test\n";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "expect-mismatch"); /* Host is the address */
	ck_assert_ptr_null(strchr(r.o.detail, '\n')); /* details stay on one line */
	svc.check.http_host = "www.example.test";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
	/* A host with its own port. */
	svc.check.http_host = "www.example.test:8080";
	svc.check.http_expect_body = "www.example.test:8080\n";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
	/* Not a plain authority: sent as written, the path left alone. */
	svc.check.http_host = "odd/host";
	svc.check.http_expect_body = "odd/host\n";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
}
END_TEST

START_TEST(test_path)
{
	struct result r;

	start_testsrv("http");
	svc.check.http_path = "/health?full=1";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
}
END_TEST

static bool
have_ipv6_loopback(void)
{
	struct sockaddr_in6 sin6;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

START_TEST(test_ipv6)
{
	struct result r;

	if (!have_ipv6_loopback())
		return; /* no ::1 here: nothing to test */
	start_testsrv_at("[::1]", "http-host");
	snprintf(hostbuf, sizeof(hostbuf), "::1");
	svc.check.http_expect_body = "[::1]:";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
	svc.check.http_host = "v6.example.test";
	svc.check.http_expect_body = "v6.example.test\n";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
}
END_TEST

/*
 * A TLS server: openssl s_server with a fresh self-signed certificate for
 * www.example.test.  False (test skipped) without the openssl tool.
 */
static bool
start_tls_server(char *cert, size_t len)
{
	char cmd[512], key[128], accept[64];
	pid_t pid;
	int rc;

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		return false;
	snprintf(cert, len, "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	    "-nodes -days 1 -subj /CN=www.example.test -addext subjectAltName=DNS:www.example.test "
	    "-keyout %s -out %s >/dev/null 2>&1", key, cert);
	rc = system(cmd);
	ck_assert_int_eq(rc, 0);
	free_port();
	snprintf(accept, sizeof(accept), "127.0.0.1:%s", portbuf);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
#ifdef __linux__
		prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
		execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept,
		    "-cert", cert, "-key", key, (char *)NULL);
		_exit(127);
	}
	srv_pids[n_srv++] = pid;
	for (int i = 0; i < 250; i++) {
		struct sockaddr_in sin;
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)atoi(portbuf));
		rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		close(fd);
		if (rc == 0)
			return true;
		ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
		usleep(20000);
	}
	ck_abort_msg("openssl s_server did not start");
	return false;
}

START_TEST(test_https)
{
	struct result r;
	char cert[128];

	if (!start_tls_server(cert, sizeof(cert)))
		return;
	svc.check.type = CHECK_HTTPS;
	/* Self-signed: refused when verifying against the system's CAs. */
	run_one(&r);
	ck_assert_str_eq(reason(&r), "tls-error");
	svc.check.tls_verify = false;
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
	/* Verified with its CA, but the certificate does not name 127.0.0.1. */
	svc.check.tls_verify = true;
	svc.check.tls_ca_file = cert;
	run_one(&r);
	ck_assert_str_eq(reason(&r), "tls-error");
	/* http_host is the name checked (and sent as SNI), the member the address dialled. */
	svc.check.http_host = "www.example.test";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
	svc.check.http_host = "other.example.test";
	run_one(&r);
	ck_assert_str_eq(reason(&r), "tls-error");
}
END_TEST

/* A name, resolved off the loop by curl (from /etc/hosts: no DNS traffic). */
START_TEST(test_name)
{
	struct result r;

	start_testsrv("http");
	snprintf(hostbuf, sizeof(hostbuf), "localhost");
	run_one(&r);
	ck_assert_str_eq(reason(&r), "ok");
}
END_TEST

START_TEST(test_cancel)
{
	struct result r;
	struct probe *p;

	start_testsrv("hang");
	svc.check.timeout_ms = 400;
	memset(&r, 0, sizeof(r));
	p = probe_new(eng, &svc, &mem, done_cb, &r);
	probe_start(p);
	run_for(100000);
	ck_assert(probe_running(p));
	probe_cancel(p);
	ck_assert(!probe_running(p));
	run_for(700000); /* past the budget: nothing may be reported */
	ck_assert_int_eq(r.calls, 0);
	/* The probe is reusable after a cancel. */
	probe_start(p);
	run_until(&r, 5);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_str_eq(reason(&r), "timeout");
	/* Cancel right after start, before curl ran at all; then free. */
	probe_start(p);
	probe_cancel(p);
	run_for(50000);
	ck_assert_int_eq(r.calls, 1);
	probe_start(p);
	probe_free(p); /* free while running cancels */
	run_for(50000);
	ck_assert_int_eq(r.calls, 1);
}
END_TEST

/* Cancelled before the loop ever ran: curl never reports it. */
START_TEST(test_cancel_at_once)
{
	struct result r;
	struct probe *p;

	free_port();
	memset(&r, 0, sizeof(r));
	p = probe_new(eng, &svc, &mem, done_cb, &r);
	probe_start(p);
	probe_cancel(p);
	run_for(300000);
	ck_assert_int_eq(r.calls, 0);
	probe_free(p);
}
END_TEST

struct many {
	int done;
	int ok;
	int restarts;          /* restarts left, done from the done callback */
	struct probe *p;
	struct many *all;
};

static void
many_done_cb(void *arg, const struct probe_outcome *o)
{
	struct many *m = arg;

	if (o->result == PROBE_OK)
		m->all->ok++;
	if (m->restarts > 0) {
		m->restarts--;
		probe_start(m->p);
		return;
	}
	m->all->done++;
}

static void
run_many(int n, int restarts)
{
	struct many *ms = xcalloc((size_t)n + 1, sizeof(*ms));
	struct many *all = &ms[n];
	uint64_t end = now_mono_us() + 20000000ull;
	struct probe_engine_stats st;

	for (int i = 0; i < n; i++) {
		ms[i].all = all;
		ms[i].restarts = restarts;
		ms[i].p = probe_new(eng, &svc, &mem, many_done_cb, &ms[i]);
	}
	for (int i = 0; i < n; i++)
		probe_start(ms[i].p);
	probe_engine_stats(eng, &st);
	ck_assert_uint_eq(st.in_flight, (unsigned)n);
	while (all->done < n && now_mono_us() < end)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(all->done, n);
	ck_assert_int_eq(all->ok, n * (restarts + 1));
	probe_engine_stats(eng, &st);
	ck_assert_uint_eq(st.in_flight, 0);
	for (int i = 0; i < n; i++)
		probe_free(ms[i].p);
	free(ms);
}

START_TEST(test_many_concurrent)
{
	start_testsrv("http");
	svc.check.timeout_ms = 10000;
	run_many(200, 0);
	/* Restarting from inside the done callback, reusing pooled handles. */
	run_many(50, 3);
}
END_TEST

START_TEST(test_many_slow)
{
	start_testsrv("slow:100");
	svc.check.timeout_ms = 10000;
	run_many(200, 0);
}
END_TEST

static Suite *
probe_http_suite(void)
{
	Suite *s = suite_create("probe_http");
	TCase *tc = tcase_create("http");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ok);
	tcase_add_test(tc, test_status_500);
	tcase_add_test(tc, test_status_list_accepts_500);
	tcase_add_test(tc, test_redirect_not_followed);
	tcase_add_test(tc, test_body_mismatch);
	tcase_add_test(tc, test_body_match);
	tcase_add_test(tc, test_status_before_body);
	tcase_add_test(tc, test_body_match_split);
	tcase_add_test(tc, test_hang_timeout);
	tcase_add_test(tc, test_slow_ok);
	tcase_add_test(tc, test_endless_no_expect);
	tcase_add_test(tc, test_endless_expect);
	tcase_add_test(tc, test_close);
	tcase_add_test(tc, test_not_http);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_tls_error);
	tcase_add_test(tc, test_https);
	tcase_add_test(tc, test_head);
	tcase_add_test(tc, test_custom_method);
	tcase_add_test(tc, test_host_header);
	tcase_add_test(tc, test_path);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_name);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_cancel_at_once);
	tcase_add_test(tc, test_many_concurrent);
	tcase_add_test(tc, test_many_slow);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	Suite *s = probe_http_suite();
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
