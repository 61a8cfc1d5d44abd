/*
 * PostgreSQL probe.  Two kinds of backends:
 *
 * - a one-shot fake server made here, for the protocol mode's reading of
 *   replies byte by byte (every kind of ErrorResponse, bad lengths,
 *   garbage, a reply cut short), and tests/testsrv for what is not
 *   PostgreSQL at all (HTTP, silence, a closed connection);
 * - real PostgreSQL servers made by tests/pg_cluster.sh (a primary, a
 *   streaming standby and a standby with hot_standby = off, which answers
 *   "not accepting connections"), probed in both modes.
 *
 * The second kind needs the postgresql package (and root, to run the
 * servers as the postgres user, or any other user): without them those
 * tests are skipped and, if everything else passed, the program exits 77.
 */
#include "autoconf.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
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

#define PG_CLUSTER TEST_SRCDIR "/pg_cluster.sh"

static struct event_base *base;
static struct probe_engine *eng;
static struct service_conf svc;
static struct member_conf mem;
static char portbuf[16];
static pid_t srv_pid = -1;
static char tmpdir[64];

/* The real servers, made once for the whole run (unchecked fixture). */
static bool pg_ok;              /* servers are up */
static char pg_skip_why[400];
static char pg_base[256];       /* pg_cluster.sh's base directory */
static char pg_password[128];
static char pg_port_primary[16], pg_port_standby[16], pg_port_cold[16];

static void
setup(void)
{
	base = event_base_new();
	eng = probe_engine_new(base, NULL);
	memset(&svc, 0, sizeof(svc));
	memset(&mem, 0, sizeof(mem));
	svc.name = "db";
	svc.check.type = CHECK_POSTGRES;
	svc.check.interval_ms = 2000;
	svc.check.fastinter_ms = 2000;
	svc.check.downinter_ms = 2000;
	svc.check.timeout_ms = 2000;
	svc.check.rise = 1;
	svc.check.fall = 1;
	svc.check.pg_user = "postgres";
	svc.check.pg_database = "postgres";
	svc.max_lag_bytes = DEFAULT_MAX_LAG_BYTES;
	mem.service = "db";
	mem.name = "m";
	mem.host = "127.0.0.1";
	mem.port = portbuf;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_probe_pg.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char path[128];

	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
		srv_pid = -1;
	}
	snprintf(path, sizeof(path), "%s/ready", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	probe_engine_free(eng);
	event_base_free(base);
}

/* Run the loop until R has a verdict or 10 s pass. */
static void
run_until(struct result *r)
{
	testlib_run_until(base, r, 10);
}

static void
run_one(struct result *r)
{
	testlib_run_one(base, eng, &svc, &mem, r, 10);
}

#define ck_assert_result(r, want) \
	ck_assert_msg((r).o.result == (want), "result %s (%s), wanted %s", \
	    probe_result_str((r).o.result), (r).o.detail, probe_result_str(want))

static unsigned
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ---- backends that are not PostgreSQL, or pretend to be ---- */

/* Start tests/testsrv with one listener in MODE; port into portbuf. */
static void
start_testsrv(const char *mode)
{
	char ready[128];

	snprintf(ready, sizeof(ready), "%s/ready", tmpdir);
	srv_pid = testlib_testsrv(ready, "127.0.0.1", mode, portbuf, sizeof(portbuf));
}

/* A port where nothing listens (bound, then closed). */
static void
closed_port(void)
{
	testlib_closed_port(portbuf, sizeof(portbuf));
}

static bool
read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

enum fake_end { FAKE_CLOSE, FAKE_HOLD, FAKE_EXPECT_TERMINATE };

/*
 * A one-shot fake server: accepts one connection, reads the
 * StartupMessage, answers REPLY (one byte at a time with DRIBBLE), then
 * closes, holds the connection open, or waits for a Terminate.  Its exit
 * status says whether what it read was right (0) or not (2: startup
 * message, 3: no Terminate).
 */
static void
fake_server(const void *reply, size_t len, bool dribble, enum fake_end end)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &slen);
	snprintf(portbuf, sizeof(portbuf), "%u", ntohs(sin.sin_port));
	srv_pid = fork();
	ck_assert_int_ge(srv_pid, 0);
	if (srv_pid == 0) {
		unsigned char head[8], body[512], x[5];
		static const char want[] = "user\0postgres\0database\0postgres\0application_name\0spofd\0";
		uint32_t mlen;
		int fd = accept(lfd, NULL, NULL);
		int status = 0;

		if (fd < 0 || !read_full(fd, head, 8))
			_exit(2);
		mlen = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
		if (mlen < 9 || mlen - 8 > sizeof(body) || !read_full(fd, body, mlen - 8))
			_exit(2);
		if (head[4] != 0 || head[5] != 3 || head[6] != 0 || head[7] != 0 ||
		    mlen - 8 != sizeof(want) || memcmp(body, want, sizeof(want)) != 0)
			status = 2;
		if (dribble) {
			for (size_t i = 0; i < len; i++) {
				if (write(fd, (const char *)reply + i, 1) != 1)
					_exit(4);
				usleep(2000);
			}
		} else if (len > 0 && write(fd, reply, len) != (ssize_t)len) {
			_exit(4);
		}
		if (end == FAKE_HOLD)
			pause();
		if (end == FAKE_EXPECT_TERMINATE &&
		    (!read_full(fd, x, 5) || memcmp(x, "X\0\0\0\4", 5) != 0))
			status = status ? status : 3;
		close(fd);
		_exit(status);
	}
	close(lfd);
}

/* The fake server's verdict on what the probe sent. */
static int
fake_status(void)
{
	int st;

	ck_assert_int_eq(waitpid(srv_pid, &st, 0), srv_pid);
	srv_pid = -1;
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* An ErrorResponse with fields given as "Sseverity\0C12345\0Mmessage\0" (the final NUL added). */
static size_t
error_response(unsigned char *buf, const char *fields, size_t flen)
{
	uint32_t len = (uint32_t)(4 + flen + 1);

	buf[0] = 'E';
	buf[1] = (unsigned char)(len >> 24);
	buf[2] = (unsigned char)(len >> 16);
	buf[3] = (unsigned char)(len >> 8);
	buf[4] = (unsigned char)len;
	memcpy(buf + 5, fields, flen);
	buf[5 + flen] = '\0';
	return 5 + flen + 1;
}

#define FIELDS(s) s, sizeof(s) - 1

START_TEST(test_wire_auth_request_ok)
{
	/* AuthenticationSASL with one mechanism */
	static const unsigned char sasl[] = "R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0";
	struct result r;

	fake_server(sasl, sizeof(sasl), false, FAKE_CLOSE);
	run_one(&r);
	ck_assert_result(r, PROBE_OK);
	ck_assert_ptr_nonnull(strstr(r.o.detail, "SCRAM"));
	ck_assert(!r.o.facts.role_known);
	ck_assert_int_eq(fake_status(), 0);
}
END_TEST

START_TEST(test_wire_auth_md5_dribbled)
{
	static const unsigned char md5[] = { 'R', 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4 };
	struct result r;

	fake_server(md5, sizeof(md5), true, FAKE_CLOSE);
	run_one(&r);
	ck_assert_result(r, PROBE_OK);
	ck_assert_ptr_nonnull(strstr(r.o.detail, "MD5"));
	ck_assert_int_eq(fake_status(), 0);
}
END_TEST

START_TEST(test_wire_trust_terminates)
{
	static const unsigned char ok[] = { 'R', 0, 0, 0, 8, 0, 0, 0, 0 };
	struct result r;

	fake_server(ok, sizeof(ok), false, FAKE_EXPECT_TERMINATE);
	run_one(&r);
	ck_assert_result(r, PROBE_OK);
	ck_assert_int_eq(fake_status(), 0); /* it got a Terminate */
}
END_TEST

static const struct {
	const char *fields;
	size_t len;
	enum probe_result want;
	const char *detail;     /* a part of the detail */
} wire_errors[] = {
	{ FIELDS("SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0"),
	  PROBE_PG_UNAVAILABLE, "57P03: the database system is starting up" },
	{ FIELDS("SFATAL\0C57P03\0Mthe database system is shutting down\0"),
	  PROBE_PG_UNAVAILABLE, "shutting down" },
	{ FIELDS("SFATAL\0C53300\0Msorry, too many clients already\0"),
	  PROBE_PG_UNAVAILABLE, "53300: sorry, too many clients already" },
	{ FIELDS("SFATAL\0C57P01\0Mterminating connection due to administrator command\0"),
	  PROBE_PG_UNAVAILABLE, "57P01" },
	{ FIELDS("SPANIC\0CXX000\0Msomething broke\0"), PROBE_PG_UNAVAILABLE, "XX000" },
	{ FIELDS("SFATAL\0C58030\0Mcould not open file\0"), PROBE_PG_UNAVAILABLE, "58030" },
	/* about this probe only: the server is up */
	{ FIELDS("SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host \"127.0.0.1\"\0"),
	  PROBE_OK, "FATAL 28000: no pg_hba.conf entry" },
	{ FIELDS("SFATAL\0C28P01\0Mpassword authentication failed for user \"postgres\"\0"),
	  PROBE_OK, "28P01" },
	{ FIELDS("SFATAL\0C3D000\0Mdatabase \"postgres\" does not exist\0"), PROBE_OK, "3D000" },
	{ FIELDS("SFATAL\0C0A000\0Munsupported frontend protocol 3.0\0"), PROBE_OK, "0A000" },
	/* unknown field types are skipped; control characters shown as '?' */
	{ FIELDS("SFATAL\0Rsomewhere\0L12\0C57P03\0Mline\nbreak\x01\0"), PROBE_PG_UNAVAILABLE,
	  "57P03: line break?" },
	/* malformed: no SQLSTATE, a SQLSTATE of the wrong length */
	{ FIELDS("SFATAL\0Mno code\0"), PROBE_PROTOCOL_ERROR, "malformed ErrorResponse" },
	{ FIELDS("SFATAL\0C5\0Mshort code\0"), PROBE_PROTOCOL_ERROR, "malformed" },
};

START_TEST(test_wire_error_response)
{
	unsigned char buf[512];
	size_t n = error_response(buf, wire_errors[_i].fields, wire_errors[_i].len);
	struct result r;

	fake_server(buf, n, false, FAKE_CLOSE);
	run_one(&r);
	ck_assert_result(r, wire_errors[_i].want);
	ck_assert_msg(strstr(r.o.detail, wire_errors[_i].detail) != NULL, "detail \"%s\" lacks \"%s\"",
	    r.o.detail, wire_errors[_i].detail);
	ck_assert_int_eq(fake_status(), 0);
}
END_TEST

static const struct {
	const unsigned char *reply;
	size_t len;
	enum fake_end end;
	enum probe_result want;
	const char *detail;
} wire_bad[] = {
	/* lengths: below 4, over 64 KiB, an 'R' too short for its code */
	{ (const unsigned char *)"E\0\0\0\3xxxx", 9, FAKE_CLOSE, PROBE_PROTOCOL_ERROR, "bad length 3" },
	{ (const unsigned char *)"E\0\x01\0\x01xxxx", 9, FAKE_CLOSE, PROBE_PROTOCOL_ERROR, "bad length 65537" },
	{ (const unsigned char *)"R\0\0\0\4", 5, FAKE_HOLD, PROBE_PROTOCOL_ERROR, "bad length 4" },
	{ (const unsigned char *)"\xff\xff\xff\xff\xff", 5, FAKE_CLOSE, PROBE_PROTOCOL_ERROR, "\\xff" },
	/* another protocol */
	{ (const unsigned char *)"HTTP/1.1 400 Bad Request\r\n", 26, FAKE_CLOSE, PROBE_PROTOCOL_ERROR,
	  "not a PostgreSQL reply: \"HTTP/" },
	{ (const unsigned char *)"+OK ready\r\n", 11, FAKE_CLOSE, PROBE_PROTOCOL_ERROR, "+OK r" },
	/* an ErrorResponse whose last field lacks its NUL */
	{ (const unsigned char *)"E\0\0\0\x0a" "C57P03", 11, FAKE_CLOSE, PROBE_PROTOCOL_ERROR, "malformed" },
	/* cut short: closed inside the header, inside the body; nothing at all */
	{ (const unsigned char *)"E\0\0", 3, FAKE_CLOSE, PROBE_CLOSED, "inside a reply (3 bytes in)" },
	{ (const unsigned char *)"E\0\0\0\x20SFATAL\0", 12, FAKE_CLOSE, PROBE_CLOSED, "inside a reply" },
	{ (const unsigned char *)"", 0, FAKE_CLOSE, PROBE_CLOSED, "without a reply" },
	/* a body announced and never sent */
	{ (const unsigned char *)"E\0\0\0\x20", 5, FAKE_HOLD, PROBE_TIMEOUT, "first reply" },
};

START_TEST(test_wire_bad_reply)
{
	struct result r;

	svc.check.timeout_ms = 300;
	fake_server(wire_bad[_i].reply, wire_bad[_i].len, false, wire_bad[_i].end);
	run_one(&r);
	ck_assert_result(r, wire_bad[_i].want);
	ck_assert_msg(strstr(r.o.detail, wire_bad[_i].detail) != NULL, "detail \"%s\" lacks \"%s\"",
	    r.o.detail, wire_bad[_i].detail);
}
END_TEST

/* Both modes against what is not PostgreSQL. */
START_TEST(test_not_postgres)
{
	struct result r;

	svc.check.pg_query = _i == 1;
	svc.check.timeout_ms = 400;

	start_testsrv("http");
	run_one(&r);
	ck_assert_result(r, PROBE_PROTOCOL_ERROR);
	kill(srv_pid, SIGTERM);
	waitpid(srv_pid, NULL, 0);

	start_testsrv("hang");
	run_one(&r);
	ck_assert_result(r, PROBE_TIMEOUT);
	ck_assert_uint_ge(r.o.latency_us, 390000);
	kill(srv_pid, SIGTERM);
	waitpid(srv_pid, NULL, 0);

	start_testsrv("close");
	run_one(&r);
	ck_assert_msg(r.o.result == PROBE_CLOSED || r.o.result == PROBE_RESET, "%s: %s",
	    probe_result_str(r.o.result), r.o.detail);
	kill(srv_pid, SIGTERM);
	waitpid(srv_pid, NULL, 0);
	srv_pid = -1;

	closed_port();
	run_one(&r);
	ck_assert_result(r, PROBE_REFUSED);
}
END_TEST

START_TEST(test_resolve_name)
{
	static const unsigned char sasl[] = "R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0";
	struct result r;

	/* localhost may be ::1 first, where the fake server does not listen */
	fake_server(sasl, sizeof(sasl), false, FAKE_CLOSE);
	mem.host = "localhost";
	run_one(&r);
	ck_assert_msg(r.o.result == PROBE_OK || r.o.result == PROBE_REFUSED, "%s: %s",
	    probe_result_str(r.o.result), r.o.detail);
	mem.host = "no-such-host.invalid";
	run_one(&r);
	ck_assert_msg(r.o.result == PROBE_RESOLVE || r.o.result == PROBE_TIMEOUT, "%s: %s",
	    probe_result_str(r.o.result), r.o.detail);
}
END_TEST

START_TEST(test_cancel_wire)
{
	struct result r;
	struct probe *p;

	start_testsrv("hang");
	p = probe_new(eng, &svc, &mem, done_cb, &r);
	memset(&r, 0, sizeof(r));
	probe_start(p);
	event_base_loop(base, EVLOOP_NONBLOCK);
	probe_cancel(p);
	ck_assert(!probe_running(p));
	{
		uint64_t end = now_mono_us() + 300000;

		while (now_mono_us() < end)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	ck_assert_int_eq(r.calls, 0);
	probe_free(p);
}
END_TEST

/* ---- real PostgreSQL ---- */

/* Run pg_cluster.sh with ARGS; its first output line into OUT (may be NULL). */
static int
pg_cluster(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
pg_cluster(char *out, size_t outlen, const char *fmt, ...)
{
	char *args, *cmd, line[512] = "";
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	if (vasprintf(&args, fmt, ap) < 0)
		abort();
	va_end(ap);
	cmd = xasprintf("sh '%s' %s", PG_CLUSTER, args);
	free(args);
	f = popen(cmd, "r");
	free(cmd);
	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	while (getc(f) != EOF)
		;
	st = pclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (out != NULL)
		snprintf(out, outlen, "%s", line);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
pg_setup(void)
{
	FILE *f;
	char path[300];
	int rc;

	rc = pg_cluster(pg_base, sizeof(pg_base), "new");
	if (rc == 77) {
		snprintf(pg_skip_why, sizeof(pg_skip_why), "PostgreSQL cannot run here");
		return;
	}
	if (rc != 0 || pg_base[0] != '/') {
		snprintf(pg_skip_why, sizeof(pg_skip_why), "pg_cluster.sh new failed");
		pg_base[0] = '\0';
		return;
	}
	if (pg_cluster(NULL, 0, "primary '%s' p", pg_base) != 0 ||
	    pg_cluster(NULL, 0, "standby '%s' s p", pg_base) != 0 ||
	    pg_cluster(NULL, 0, "standby '%s' cold p 'hot_standby = off'", pg_base) != 0 ||
	    pg_cluster(pg_port_primary, sizeof(pg_port_primary), "port '%s' p", pg_base) != 0 ||
	    pg_cluster(pg_port_standby, sizeof(pg_port_standby), "port '%s' s", pg_base) != 0 ||
	    pg_cluster(pg_port_cold, sizeof(pg_port_cold), "port '%s' cold", pg_base) != 0) {
		snprintf(pg_skip_why, sizeof(pg_skip_why), "could not make the PostgreSQL servers");
		return;
	}
	snprintf(path, sizeof(path), "%s/password", pg_base);
	if ((f = fopen(path, "r")) == NULL || fgets(pg_password, sizeof(pg_password), f) == NULL) {
		snprintf(pg_skip_why, sizeof(pg_skip_why), "cannot read %s", path);
		if (f != NULL)
			fclose(f);
		return;
	}
	fclose(f);
	pg_password[strcspn(pg_password, "\n")] = '\0';
	pg_ok = true;
}

static void
pg_teardown(void)
{
	if (pg_base[0] != '\0')
		pg_cluster(NULL, 0, "destroy '%s'", pg_base);
}

/* Probe the real server NAME ("p", "s", "cold") with the password, or without. */
static void
pg_target(const char *port, bool query, const char *password)
{
	if (!pg_ok)
		return;
	snprintf(portbuf, sizeof(portbuf), "%s", port);
	svc.check.pg_query = query;
	svc.check.pg_password = (char *)(uintptr_t)password;
}

#define PG_NEEDED() do { if (!pg_ok) return; } while (0)

START_TEST(test_pg_wire_primary_and_standby)
{
	struct result r;

	PG_NEEDED();
	pg_target(pg_port_primary, false, NULL);
	run_one(&r);
	ck_assert_result(r, PROBE_OK);
	ck_assert_ptr_nonnull(strstr(r.o.detail, "SCRAM"));
	ck_assert(!r.o.facts.role_known);
	pg_target(pg_port_standby, false, NULL);
	run_one(&r);
	ck_assert_result(r, PROBE_OK);
	/* a user that does not exist still gets asked for a password: up */
	svc.check.pg_user = "nobody_here";
	svc.check.pg_database = "nothing";
	run_one(&r);
	ck_assert_result(r, PROBE_OK);
}
END_TEST

START_TEST(test_pg_wire_not_accepting)
{
	struct result r;

	PG_NEEDED();
	pg_target(pg_port_cold, false, NULL);
	run_one(&r);
	ck_assert_result(r, PROBE_PG_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(r.o.detail, "57P03"));
	ck_assert_ptr_nonnull(strstr(r.o.detail, "not accepting connections"));
}
END_TEST

START_TEST(test_pg_query_primary)
{
	struct result r;

	PG_NEEDED();
	pg_target(pg_port_primary, true, pg_password);
	run_one(&r);
	ck_assert_result(r, PROBE_OK);
	ck_assert(r.o.facts.role_known);
	ck_assert(!r.o.facts.in_recovery);
	ck_assert(r.o.facts.lsn_known);
	ck_assert_uint_gt(r.o.facts.lsn, 0);
	ck_assert_ptr_nonnull(strstr(r.o.detail, "primary, WAL at "));
	ck_assert_ptr_null(strstr(r.o.detail, pg_password));
}
END_TEST

START_TEST(test_pg_query_standby)
{
	struct result rp, rs;

	PG_NEEDED();
	pg_target(pg_port_standby, true, pg_password);
	run_one(&rs);
	ck_assert_result(rs, PROBE_OK);
	ck_assert(rs.o.facts.role_known);
	ck_assert(rs.o.facts.in_recovery);
	ck_assert(rs.o.facts.lsn_known);
	ck_assert_uint_gt(rs.o.facts.lsn, 0);
	ck_assert_ptr_nonnull(strstr(rs.o.detail, "standby"));
	/* the standby never runs ahead of its primary */
	pg_target(pg_port_primary, true, pg_password);
	run_one(&rp);
	ck_assert_result(rp, PROBE_OK);
	ck_assert_uint_le(rs.o.facts.lsn, rp.o.facts.lsn);
}
END_TEST

START_TEST(test_pg_query_conninfo)
{
	struct result r;

	PG_NEEDED();
	pg_target(pg_port_primary, true, pg_password);
	svc.check.pg_conninfo = "sslmode=disable application_name=spofd-test";
	run_one(&r);
	ck_assert_result(r, PROBE_OK);
	/* a database that does not exist: the role query cannot run */
	svc.check.pg_conninfo = NULL;
	svc.check.pg_database = "no_such_db";
	run_one(&r);
	ck_assert_result(r, PROBE_PG_ERROR);
	ck_assert_ptr_nonnull(strstr(r.o.detail, "no_such_db"));
}
END_TEST

START_TEST(test_pg_query_wrong_password)
{
	struct result r;

	PG_NEEDED();
	pg_target(pg_port_primary, true, "not-the-password");
	run_one(&r);
	ck_assert_result(r, PROBE_AUTH_FAILED);
	ck_assert_ptr_nonnull(strstr(r.o.detail, "password authentication failed"));
	ck_assert_ptr_null(strstr(r.o.detail, "not-the-password"));
	ck_assert(!r.o.facts.role_known);
	/* no password at all (PGPASSWORD is unset in main) */
	pg_target(pg_port_primary, true, NULL);
	run_one(&r);
	ck_assert_result(r, PROBE_AUTH_FAILED);
	ck_assert_ptr_nonnull(strstr(r.o.detail, "password"));
}
END_TEST

START_TEST(test_pg_query_password_from_environment)
{
	struct result r;

	PG_NEEDED();
	pg_target(pg_port_primary, true, NULL);
	setenv("PGPASSWORD", pg_password, 1);
	run_one(&r);
	unsetenv("PGPASSWORD");
	ck_assert_result(r, PROBE_OK);
	ck_assert(r.o.facts.role_known);
}
END_TEST

START_TEST(test_pg_query_not_accepting)
{
	struct result r;

	PG_NEEDED();
	pg_target(pg_port_cold, true, pg_password);
	run_one(&r);
	ck_assert_result(r, PROBE_PG_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(r.o.detail, "not accepting connections"));
}
END_TEST

/* A frozen postmaster: the budget ends the check in both modes. */
START_TEST(test_pg_frozen_postmaster)
{
	struct result r;
	char pid[32];
	pid_t p;

	PG_NEEDED();
	ck_assert_int_eq(pg_cluster(pid, sizeof(pid), "pid '%s' s", pg_base), 0);
	p = (pid_t)atoi(pid);
	ck_assert_int_gt(p, 1);
	ck_assert_int_eq(kill(p, SIGSTOP), 0);
	svc.check.timeout_ms = 300;
	pg_target(pg_port_standby, false, NULL);
	run_one(&r);
	pg_target(pg_port_standby, true, pg_password);
	{
		struct result rq;

		run_one(&rq);
		kill(p, SIGCONT);
		ck_assert_result(r, PROBE_TIMEOUT);
		ck_assert_result(rq, PROBE_TIMEOUT);
		ck_assert_uint_ge(rq.o.latency_us, 290000);
	}
	svc.check.timeout_ms = 2000;
	run_one(&r);
	ck_assert_result(r, PROBE_OK);
}
END_TEST

/* Cancelled while logging in, then used again: no socket is left behind. */
START_TEST(test_pg_query_cancel_and_reuse)
{
	struct result r;
	struct probe *p;
	unsigned fds;

	PG_NEEDED();
	pg_target(pg_port_primary, true, pg_password);
	p = probe_new(eng, &svc, &mem, done_cb, &r);
	/* one check first: libpq opens what it keeps for good (none expected) */
	memset(&r, 0, sizeof(r));
	probe_start(p);
	run_until(&r);
	ck_assert_result(r, PROBE_OK);
	fds = open_fds();
	for (int i = 0; i < 5; i++) {
		memset(&r, 0, sizeof(r));
		probe_start(p);
		for (int k = 0; k <= i; k++)
			event_base_loop(base, EVLOOP_NONBLOCK);
		probe_cancel(p);
		ck_assert(!probe_running(p));
	}
	ck_assert_int_eq(r.calls, 0);
	ck_assert_uint_eq(open_fds(), fds);
	memset(&r, 0, sizeof(r));
	probe_start(p);
	run_until(&r);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_result(r, PROBE_OK);
	probe_free(p);
	ck_assert_uint_eq(open_fds(), fds);
}
END_TEST

START_TEST(test_pg_query_many_concurrent)
{
	enum { N = 12 };
	struct result r[N];
	struct probe *p[N];
	int done;
	uint64_t end = now_mono_us() + 20000000;

	PG_NEEDED();
	pg_target(pg_port_primary, true, pg_password);
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
		ck_assert_result(r[i], PROBE_OK);
		probe_free(p[i]);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("probe_pg");
	TCase *tc;
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	/* The tests choose their passwords; libpq must not find another. */
	unsetenv("PGPASSWORD");
	unsetenv("PGPASSFILE");
	setenv("PGPASSFILE", "/nonexistent/spofd-test/pgpass", 1);
	unsetenv("PGSSLMODE");

	tc = tcase_create("wire");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_wire_auth_request_ok);
	tcase_add_test(tc, test_wire_auth_md5_dribbled);
	tcase_add_test(tc, test_wire_trust_terminates);
	tcase_add_loop_test(tc, test_wire_error_response, 0, (int)ARRAY_LEN(wire_errors));
	tcase_add_loop_test(tc, test_wire_bad_reply, 0, (int)ARRAY_LEN(wire_bad));
	tcase_add_loop_test(tc, test_not_postgres, 0, 2);
	tcase_add_test(tc, test_resolve_name);
	tcase_add_test(tc, test_cancel_wire);
	suite_add_tcase(s, tc);

	tc = tcase_create("postgres");
	tcase_add_unchecked_fixture(tc, pg_setup, pg_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pg_wire_primary_and_standby);
	tcase_add_test(tc, test_pg_wire_not_accepting);
	tcase_add_test(tc, test_pg_query_primary);
	tcase_add_test(tc, test_pg_query_standby);
	tcase_add_test(tc, test_pg_query_conninfo);
	tcase_add_test(tc, test_pg_query_wrong_password);
	tcase_add_test(tc, test_pg_query_password_from_environment);
	tcase_add_test(tc, test_pg_query_not_accepting);
	tcase_add_test(tc, test_pg_frozen_postmaster);
	tcase_add_test(tc, test_pg_query_cancel_and_reuse);
	tcase_add_test(tc, test_pg_query_many_concurrent);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed != 0)
		return EXIT_FAILURE;
	if (!pg_ok) {
		printf("SKIP: the tests against real PostgreSQL servers: %s\n", pg_skip_why);
		return 77;
	}
	return EXIT_SUCCESS;
}
