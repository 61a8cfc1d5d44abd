/*
 * Unit tests of the configuration parser: good files with their defaults,
 * every kind of error with its line, the value parsers, the equality
 * functions a reload relies on, and the hooks checked at load (against
 * files made for the purpose, with the modes and owners each case needs).
 */
#include "autoconf.h"

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define GOOD_DIR TEST_SRCDIR "/configs/good"
#define BAD_DIR TEST_SRCDIR "/configs/bad"

/* Load TEXT as "t.conf"; return what was printed to the error stream. */
static char *
load_text(const char *text, struct config **cfg, unsigned *nerrors)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(err);
	*cfg = config_load_string(text, "t.conf", err, nerrors);
	fclose(err);
	return buf;
}

/* TEXT must fail with exactly N errors, one of them containing WANT. */
static void
expect_error(const char *text, unsigned n, const char *want)
{
	struct config *cfg;
	unsigned nerrors = 12345;
	char *out = load_text(text, &cfg, &nerrors);

	ck_assert_msg(cfg == NULL, "accepted: %s", text);
	ck_assert_msg(strstr(out, want) != NULL, "wanted \"%s\" in:\n%s", want, out);
	ck_assert_msg(nerrors == n, "%u errors, wanted %u:\n%s", nerrors, n, out);
	free(out);
}

/* TEXT must load without a word on the error stream. */
static struct config *
expect_ok(const char *text)
{
	struct config *cfg;
	unsigned nerrors = 12345;
	char *out = load_text(text, &cfg, &nerrors);

	ck_assert_msg(cfg != NULL, "rejected:\n%s", out);
	ck_assert_uint_eq(nerrors, 0);
	ck_assert_str_eq(out, "");
	free(out);
	return cfg;
}

static struct config *
load_good(const char *name)
{
	char *path = xasprintf("%s/%s", GOOD_DIR, name);
	unsigned nerrors = 12345;
	struct config *cfg = config_load(path, stderr, &nerrors);

	ck_assert_msg(cfg != NULL, "%s rejected", path);
	ck_assert_uint_eq(nerrors, 0);
	ck_assert_str_eq(cfg->path, path);
	free(path);
	return cfg;
}

/* ---- good files ---- */

START_TEST(test_minimal_defaults)
{
	struct config *cfg = load_good("minimal.conf");
	char host[HOST_NAME_MAX + 1] = "";
	const struct service_conf *svc;
	const struct check_conf *c;

	gethostname(host, sizeof(host) - 1);
	ck_assert_str_eq(cfg->node, host);
	ck_assert_str_eq(cfg->control_socket, DEFAULT_CONTROL_SOCKET);
	ck_assert_str_eq(cfg->state_dir, DEFAULT_STATE_DIR);
	ck_assert_ptr_null(cfg->control_group);
	ck_assert_ptr_null(cfg->admin_group);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_INFO);
	ck_assert_uint_eq(cfg->n_services, 1);

	svc = &cfg->services[0];
	c = &svc->check;
	ck_assert_str_eq(svc->name, "web");
	ck_assert_uint_eq(svc->line, 2);
	ck_assert_int_eq(c->type, CHECK_TCP);
	ck_assert_uint_eq(c->interval_ms, DEFAULT_INTERVAL_MS);
	ck_assert_uint_eq(c->fastinter_ms, DEFAULT_INTERVAL_MS);
	ck_assert_uint_eq(c->downinter_ms, DEFAULT_INTERVAL_MS);
	ck_assert_uint_eq(c->timeout_ms, DEFAULT_TIMEOUT_MS);
	ck_assert_uint_eq(c->rise, DEFAULT_RISE);
	ck_assert_uint_eq(c->fall, DEFAULT_FALL);
	ck_assert_ptr_null(c->tcp_send);
	ck_assert_uint_eq(c->tcp_send_len, 0);
	ck_assert_ptr_null(c->tcp_expect);
	ck_assert_str_eq(c->http_method, "GET");
	ck_assert_str_eq(c->http_path, "/");
	ck_assert_ptr_null(c->http_host);
	ck_assert_uint_eq(c->n_http_expect_status, 1);
	ck_assert_int_eq(c->http_expect_status[0].lo, 200);
	ck_assert_int_eq(c->http_expect_status[0].hi, 399);
	ck_assert_ptr_null(c->http_expect_body);
	ck_assert(c->tls_verify);
	ck_assert_ptr_null(c->tls_ca_file);
	ck_assert_ptr_null(c->exec_argv);
	ck_assert_uint_eq(c->exec_kill_grace_ms, DEFAULT_EXEC_KILL_GRACE_MS);

	ck_assert_ptr_null(cfg->hook_user);
	ck_assert_ptr_null(svc->on_promote);
	ck_assert_ptr_null(svc->on_demote);
	ck_assert_ptr_null(svc->on_change);
	ck_assert_uint_eq(svc->hook_timeout_ms, 30000);
	ck_assert_uint_eq(svc->hook_kill_grace_ms, 5000);
	ck_assert(!svc->failback_auto);
	ck_assert_uint_eq(svc->failback_delay_ms, 30000);
	ck_assert_uint_eq(svc->failover_cooldown_ms, 30000);
	ck_assert_uint_eq(svc->promote_backoff_ms, 5000);
	ck_assert_ptr_null(svc->vips);
	ck_assert_uint_eq(svc->n_vips, 0);
	ck_assert_uint_eq(svc->garp_repeat, 3);
	ck_assert_uint_eq(svc->garp_interval_ms, 100);
	ck_assert_uint_eq(svc->garp_refresh_ms, 0);

	ck_assert_uint_eq(svc->n_members, 1);
	ck_assert_str_eq(svc->members[0].service, "web");
	ck_assert_str_eq(svc->members[0].name, "a");
	ck_assert_str_eq(svc->members[0].address, "127.0.0.1:8080");
	ck_assert_str_eq(svc->members[0].host, "127.0.0.1");
	ck_assert_str_eq(svc->members[0].port, "8080");
	ck_assert_ptr_null(svc->members[0].node);
	ck_assert_int_eq(svc->members[0].priority, 100);
	ck_assert_uint_eq(svc->members[0].line, 4);
	config_free(cfg);
}
END_TEST

START_TEST(test_full_every_key)
{
	struct config *cfg = load_good("full.conf");
	const struct service_conf *web, *redis, *script;
	const struct check_conf *c;

	ck_assert_str_eq(cfg->node, "node-1.example");
	ck_assert_str_eq(cfg->control_socket, "/tmp/spofd-test/spofd.sock");
	ck_assert_str_eq(cfg->control_group, "spofd");
	ck_assert_str_eq(cfg->admin_group, "wheel");
	ck_assert_str_eq(cfg->state_dir, "/tmp/spofd-test/state");
	ck_assert_int_eq(cfg->log_level, LOG_LVL_DEBUG);
	ck_assert_str_eq(cfg->hook_user, "nobody");
	ck_assert_uint_eq(cfg->n_services, 3);

	web = config_find_service(cfg, "web");
	ck_assert_ptr_eq(web, &cfg->services[0]);
	c = &web->check;
	ck_assert_int_eq(c->type, CHECK_HTTPS);
	ck_assert_uint_eq(c->interval_ms, 2000);
	ck_assert_uint_eq(c->fastinter_ms, 500);
	ck_assert_uint_eq(c->downinter_ms, 60000);
	ck_assert_uint_eq(c->timeout_ms, 1500);
	ck_assert_uint_eq(c->rise, 2);
	ck_assert_uint_eq(c->fall, 5);
	ck_assert_str_eq(c->http_method, "HEAD");
	ck_assert_str_eq(c->http_path, "/health?full=1");
	ck_assert_str_eq(c->http_host, "www.example.org");
	ck_assert_uint_eq(c->n_http_expect_status, 3);
	ck_assert_int_eq(c->http_expect_status[0].lo, 200);
	ck_assert_int_eq(c->http_expect_status[0].hi, 200);
	ck_assert_int_eq(c->http_expect_status[1].lo, 204);
	ck_assert_int_eq(c->http_expect_status[1].hi, 206);
	ck_assert_int_eq(c->http_expect_status[2].lo, 418);
	ck_assert_int_eq(c->http_expect_status[2].hi, 418);
	ck_assert_str_eq(c->http_expect_body, "all good");
	ck_assert(!c->tls_verify);
	/* relative to the directory of the file */
	ck_assert_str_eq(c->tls_ca_file, GOOD_DIR "/ca.pem");
	ck_assert_uint_eq(web->n_members, 2);
	ck_assert_str_eq(web->members[0].name, "a");
	ck_assert_str_eq(web->members[0].node, "node-1.example");
	ck_assert_int_eq(web->members[0].priority, 100);
	ck_assert_str_eq(web->members[1].name, "b");
	ck_assert_str_eq(web->members[1].address, "[::1]:80");
	ck_assert_str_eq(web->members[1].host, "::1");
	ck_assert_str_eq(web->members[1].port, "80");
	ck_assert_str_eq(web->members[1].node, "node-2");
	ck_assert_int_eq(web->members[1].priority, 0);
	ck_assert_str_eq(web->on_promote, "/usr/bin/env");
	ck_assert_str_eq(web->on_demote, "/usr/bin/test");
	ck_assert_str_eq(web->on_change, "/usr/bin/printf");
	ck_assert_uint_eq(web->hook_timeout_ms, 10000);
	ck_assert_uint_eq(web->hook_kill_grace_ms, 0);
	ck_assert(web->failback_auto);
	ck_assert_uint_eq(web->failback_delay_ms, 120000);
	ck_assert_uint_eq(web->failover_cooldown_ms, 0);
	ck_assert_uint_eq(web->promote_backoff_ms, 1500);
	ck_assert_uint_eq(web->n_vips, 2);
	ck_assert_int_eq(web->vips[0].family, AF_INET);
	ck_assert_mem_eq(web->vips[0].addr, "\xc0\x00\x02\x64", 4);
	ck_assert_uint_eq(web->vips[0].prefix, 24);
	ck_assert_str_eq(web->vips[0].dev, "br0");
	ck_assert_str_eq(web->vips[0].text, "192.0.2.100/24");
	ck_assert_int_eq(web->vips[1].family, AF_INET6);
	ck_assert_uint_eq(web->vips[1].prefix, 64);
	ck_assert_str_eq(web->vips[1].dev, "eth1.20");
	/* written back the way inet_ntop writes it */
	ck_assert_str_eq(web->vips[1].text, "2001:db8::100/64");
	ck_assert_uint_eq(web->garp_repeat, 5);
	ck_assert_uint_eq(web->garp_interval_ms, 250);
	ck_assert_uint_eq(web->garp_refresh_ms, 60000);

	redis = config_find_service(cfg, "redis");
	ck_assert_ptr_nonnull(redis);
	/* service keys are per service: redis has the defaults */
	ck_assert_ptr_null(redis->on_promote);
	ck_assert(!redis->failback_auto);
	ck_assert_uint_eq(redis->failover_cooldown_ms, DEFAULT_FAILOVER_COOLDOWN_MS);
	ck_assert_uint_eq(redis->n_vips, 0);
	ck_assert_uint_eq(redis->garp_repeat, DEFAULT_GARP_REPEAT);
	c = &redis->check;
	ck_assert_int_eq(c->type, CHECK_TCP);
	ck_assert_uint_eq(c->interval_ms, 3600 * 1000);
	ck_assert_uint_eq(c->timeout_ms, 3000);
	ck_assert_uint_eq(c->tcp_send_len, 6);
	ck_assert_mem_eq(c->tcp_send, "PING\r\n", 6);
	ck_assert_uint_eq(c->tcp_expect_len, 7);
	ck_assert_mem_eq(c->tcp_expect, "+PONG\r\n", 7);
	ck_assert_str_eq(redis->members[0].host, "localhost");
	ck_assert_str_eq(redis->members[0].port, "6379");

	script = config_find_service(cfg, "script");
	ck_assert_ptr_nonnull(script);
	c = &script->check;
	ck_assert_int_eq(c->type, CHECK_EXEC);
	ck_assert_uint_eq(argv_len(c->exec_argv), 4);
	ck_assert_str_eq(c->exec_argv[0], "/bin/sh");
	ck_assert_str_eq(c->exec_argv[1], "-c");
	ck_assert_str_eq(c->exec_argv[2], "test -e /tmp/ready");
	ck_assert_str_eq(c->exec_argv[3], "arg two");
	ck_assert_uint_eq(c->exec_kill_grace_ms, 250);
	ck_assert_uint_eq(script->n_members, 2);
	ck_assert_ptr_null(script->members[0].address);
	ck_assert_ptr_null(script->members[0].host);
	ck_assert_ptr_null(script->members[0].port);
	ck_assert_int_eq(script->members[0].priority, 1000);
	ck_assert_str_eq(script->members[1].address, "127.0.0.2:9");

	ck_assert_ptr_null(config_find_service(cfg, "nope"));
	config_free(cfg);
}
END_TEST

START_TEST(test_bom_crlf_indent)
{
	struct config *cfg = load_good("bom_crlf.conf");

	ck_assert_uint_eq(cfg->n_services, 1);
	ck_assert_str_eq(cfg->services[0].name, "db");
	ck_assert_uint_eq(cfg->services[0].line, 2);
	/* short interval, no timeout: the timeout follows the interval */
	ck_assert_uint_eq(cfg->services[0].check.interval_ms, 250);
	ck_assert_uint_eq(cfg->services[0].check.timeout_ms, 250);
	ck_assert_str_eq(cfg->services[0].members[0].address, "127.0.0.1:5432");
	ck_assert_str_eq(cfg->services[0].members[0].port, "5432");
	config_free(cfg);
}
END_TEST

START_TEST(test_file_order)
{
	struct config *cfg = load_good("order.conf");
	const struct service_conf *web, *api;

	ck_assert_uint_eq(cfg->n_services, 2);
	web = &cfg->services[0];
	api = &cfg->services[1];
	ck_assert_str_eq(web->name, "web");
	ck_assert_str_eq(api->name, "api");
	ck_assert_int_eq(web->check.type, CHECK_HTTP);
	ck_assert_uint_eq(web->n_members, 3);
	ck_assert_str_eq(web->members[0].name, "z");
	ck_assert_uint_eq(web->members[0].line, 2);
	ck_assert_str_eq(web->members[1].name, "a");
	ck_assert_str_eq(web->members[2].name, "m");
	ck_assert_uint_eq(api->n_members, 1);
	ck_assert_str_eq(api->members[0].name, "m1");
	ck_assert_str_eq(api->members[0].service, "api");
	config_free(cfg);
}
END_TEST

START_TEST(test_hook_user_last)
{
	struct config *cfg = load_good("hook_user_last.conf");

	ck_assert_str_eq(cfg->hook_user, "nobody");
	ck_assert_str_eq(cfg->services[0].on_promote, "/usr/bin/env");
	ck_assert_ptr_null(cfg->services[0].on_demote);
	ck_assert(!cfg->services[0].failback_auto);
	config_free(cfg);
}
END_TEST

START_TEST(test_string_variants)
{
	struct config *cfg;

	/* timeout defaults to 800ms, or to a shorter interval */
	cfg = expect_ok("[service s]\ninterval = 2s\n[member s/a]\naddress = 127.0.0.1:1\n");
	ck_assert_uint_eq(cfg->services[0].check.timeout_ms, 800);
	ck_assert_uint_eq(cfg->services[0].check.fastinter_ms, 2000);
	config_free(cfg);
	cfg = expect_ok("[service s]\ninterval = 300ms\n[member s/a]\naddress = 127.0.0.1:1\n");
	ck_assert_uint_eq(cfg->services[0].check.timeout_ms, 300);
	config_free(cfg);
	/* a timeout equal to the interval is fine */
	cfg = expect_ok("[service s]\ninterval = 1s\ntimeout = 1000ms\n[member s/a]\naddress = 127.0.0.1:1\n");
	ck_assert_uint_eq(cfg->services[0].check.timeout_ms, 1000);
	config_free(cfg);

	/* escapes, a NUL byte among them; inline comments are cut */
	cfg = expect_ok("[service s]\ntcp_send = a\\x00b\\\\\\t\\xfF ; comment\n"
	    "tcp_expect = x;y\n[member s/a]\naddress = 127.0.0.1:1\n");
	ck_assert_uint_eq(cfg->services[0].check.tcp_send_len, 6);
	ck_assert_mem_eq(cfg->services[0].check.tcp_send, "a\0b\\\t\xff", 6);
	ck_assert_uint_eq(cfg->services[0].check.tcp_expect_len, 3);
	ck_assert_str_eq(cfg->services[0].check.tcp_expect, "x;y");
	config_free(cfg);

	/* booleans */
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True" };
	static const char *const no[] = { "no", "false", "off", "0", "No", "OFF" };
	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		char *t = xasprintf("[service s]\ncheck = https\ntls_verify = %s\n"
		    "[member s/a]\naddress = 127.0.0.1:1\n", yes[i]);

		cfg = expect_ok(t);
		ck_assert(cfg->services[0].check.tls_verify);
		config_free(cfg);
		free(t);
		t = xasprintf("[service s]\ncheck = https\ntls_verify = %s\n"
		    "[member s/a]\naddress = 127.0.0.1:1\n", no[i]);
		cfg = expect_ok(t);
		ck_assert(!cfg->services[0].check.tls_verify);
		config_free(cfg);
		free(t);
	}

	/* names at their longest; a BOM and no final newline */
	cfg = expect_ok("\xEF\xBB\xBF[service "
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789_"
	    "]\n[member abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789_/"
	    "m.1-x_ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ01234]\n"
	    "address = 127.0.0.1:1");
	ck_assert_uint_eq(strlen(cfg->services[0].name), CONFIG_NAME_MAX - 1);
	ck_assert_uint_eq(strlen(cfg->services[0].members[0].name), CONFIG_NAME_MAX - 1);
	config_free(cfg);

	/* no section at all: defaults, no services */
	cfg = expect_ok("");
	ck_assert_uint_eq(cfg->n_services, 0);
	ck_assert_str_eq(cfg->control_socket, DEFAULT_CONTROL_SOCKET);
	config_free(cfg);
	cfg = expect_ok("; only a comment\n\n   \n# another\n[spofd]\nlog_level = warn\n");
	ck_assert_int_eq(cfg->log_level, LOG_LVL_WARN);
	config_free(cfg);
}
END_TEST

START_TEST(test_failover_keys)
{
	struct config *cfg;

	cfg = expect_ok("[service s]\nfailback = manual\nfailover_cooldown = 0ms\nhook_kill_grace = 0ms\n"
	    "failback_delay = 0ms\nhook_timeout = 1ms\npromote_backoff = 1ms\n"
	    "[member s/a]\naddress = 127.0.0.1:1\n");
	ck_assert(!cfg->services[0].failback_auto);
	ck_assert_uint_eq(cfg->services[0].failover_cooldown_ms, 0);
	ck_assert_uint_eq(cfg->services[0].hook_kill_grace_ms, 0);
	ck_assert_uint_eq(cfg->services[0].failback_delay_ms, 0);
	ck_assert_uint_eq(cfg->services[0].hook_timeout_ms, 1);
	ck_assert_uint_eq(cfg->services[0].promote_backoff_ms, 1);
	config_free(cfg);

	/* the keys apply to every check type, and "auto" to its service only */
	cfg = expect_ok("[service e]\ncheck = exec\nexec_command = /bin/true\nfailback = auto\n"
	    "failover_cooldown = 1h\n[member e/a]\n"
	    "[service h]\ncheck = http\nhook_timeout = 2m\n[member h/a]\naddress = 127.0.0.1:1\n");
	ck_assert(cfg->services[0].failback_auto);
	ck_assert_uint_eq(cfg->services[0].failover_cooldown_ms, 3600 * 1000);
	ck_assert(!cfg->services[1].failback_auto);
	ck_assert_uint_eq(cfg->services[1].hook_timeout_ms, 120000);
	ck_assert_uint_eq(cfg->services[1].failover_cooldown_ms, DEFAULT_FAILOVER_COOLDOWN_MS);
	config_free(cfg);

	/* root may always own hooks; naming it changes nothing */
	cfg = expect_ok("[spofd]\nhook_user = root\n");
	ck_assert_str_eq(cfg->hook_user, "root");
	config_free(cfg);
}
END_TEST

START_TEST(test_vip_keys)
{
	struct config *cfg;

	/* one VIP, blanks anywhere between the words; the limits of each count */
	cfg = expect_ok("[service s]\nvip =   198.51.100.7/32\tdev  e0  \ngarp_repeat = 1\n"
	    "garp_interval = 1ms\ngarp_refresh = 0ms\n[member s/a]\naddress = 127.0.0.1:1\n");
	ck_assert_uint_eq(cfg->services[0].n_vips, 1);
	ck_assert_str_eq(cfg->services[0].vips[0].text, "198.51.100.7/32");
	ck_assert_str_eq(cfg->services[0].vips[0].dev, "e0");
	ck_assert_uint_eq(cfg->services[0].garp_repeat, 1);
	ck_assert_uint_eq(cfg->services[0].garp_interval_ms, 1);
	ck_assert_uint_eq(cfg->services[0].garp_refresh_ms, 0);
	config_free(cfg);

	/* several, both families, in file order; a 15-character interface name */
	cfg = expect_ok("[service s]\nvip = 203.0.113.9/24 dev e0,2001:db8::1/128 dev abcdefghijklmno ,"
	    " 192.0.2.1/1 dev e0\ngarp_repeat = 100\n[member s/a]\naddress = 127.0.0.1:1\n"
	    "[service t]\nvip = 2001:db8::2/64 dev e0\n[member t/a]\naddress = 127.0.0.1:1\n");
	ck_assert_uint_eq(cfg->services[0].n_vips, 3);
	ck_assert_str_eq(cfg->services[0].vips[0].text, "203.0.113.9/24");
	ck_assert_str_eq(cfg->services[0].vips[1].text, "2001:db8::1/128");
	ck_assert_str_eq(cfg->services[0].vips[1].dev, "abcdefghijklmno");
	ck_assert_str_eq(cfg->services[0].vips[2].text, "192.0.2.1/1");
	ck_assert_uint_eq(cfg->services[0].garp_repeat, 100);
	ck_assert_uint_eq(cfg->services[1].n_vips, 1);
	ck_assert_uint_eq(cfg->services[1].garp_repeat, DEFAULT_GARP_REPEAT);
	config_free(cfg);
}
END_TEST

/* A file in DIR holding TEXT with MODE; returns its path (to free). */
static char *
pg_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

START_TEST(test_pg_keys)
{
	char dir[] = "/tmp/check_config_pg.XXXXXX";
	struct config *cfg, *again;
	const struct check_conf *c;
	char *pw, *text;

	cfg = load_good("postgres.conf");
	ck_assert_str_eq(cfg->services[0].check.pg_user, "monitor");
	ck_assert_str_eq(cfg->services[0].check.pg_database, "monitor");
	ck_assert_uint_eq(cfg->services[0].max_lag_bytes, 0);
	ck_assert(cfg->services[1].check.pg_query);
	ck_assert_str_eq(cfg->services[1].check.pg_conninfo, "sslmode=prefer application_name=spofd-n1 keepalives=0");
	ck_assert_uint_eq(cfg->services[1].max_lag_bytes, 1048576);
	config_free(cfg);

	/* defaults: the postgres user and database, no login, 16 MiB of lag */
	cfg = expect_ok("[service db]\ncheck = postgres\n[member db/a]\naddress = 127.0.0.1:5432\n");
	c = &cfg->services[0].check;
	ck_assert_int_eq(c->type, CHECK_POSTGRES);
	ck_assert_str_eq(c->pg_user, "postgres");
	ck_assert_str_eq(c->pg_database, "postgres");
	ck_assert(!c->pg_query);
	ck_assert_ptr_null(c->pg_conninfo);
	ck_assert_ptr_null(c->pg_password_file);
	ck_assert_ptr_null(c->pg_password);
	ck_assert_uint_eq(cfg->services[0].max_lag_bytes, 16777216);
	config_free(cfg);

	/* the database follows the user unless given; 0 bytes: no limit */
	cfg = expect_ok("[service db]\ncheck = postgres\npg_user = app user\nmax_lag_bytes = 0\n"
	    "[member db/a]\naddress = 127.0.0.1:5432\n"
	    "[service db2]\ncheck = postgres\npg_user = app\npg_database = appdb\n"
	    "max_lag_bytes = 4611686018427387904\n[member db2/a]\naddress = 127.0.0.1:5432\n");
	ck_assert_str_eq(cfg->services[0].check.pg_user, "app user");
	ck_assert_str_eq(cfg->services[0].check.pg_database, "app user");
	ck_assert_uint_eq(cfg->services[0].max_lag_bytes, 0);
	ck_assert_str_eq(cfg->services[1].check.pg_database, "appdb");
	ck_assert_uint_eq(cfg->services[1].max_lag_bytes, 4611686018427387904ULL);
	config_free(cfg);

	/* logging in: a password file others cannot read, libpq keywords */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	pw = pg_file(dir, "pw", "s3cr3t word\n", 0640);
	text = xasprintf("[service db]\ncheck = postgres\npg_query = yes\npg_password_file = %s\n"
	    "pg_conninfo = sslmode=disable application_name='spofd on n1'\n"
	    "[member db/a]\naddress = 127.0.0.1:5432\n", pw);
	cfg = expect_ok(text);
	c = &cfg->services[0].check;
	ck_assert(c->pg_query);
	ck_assert_str_eq(c->pg_password_file, pw);
	ck_assert_str_eq(c->pg_password, "s3cr3t word");
	ck_assert_str_eq(c->pg_conninfo, "sslmode=disable application_name='spofd on n1'");
	/* a new password in the same file probes differently: a reload must notice */
	free(pg_file(dir, "pw", "other\r\n", 0600));
	again = expect_ok(text);
	ck_assert_str_eq(again->services[0].check.pg_password, "other");
	ck_assert(!check_conf_equal(&cfg->services[0].check, &again->services[0].check));
	config_free(again);
	config_free(cfg);
	free(text);

	/* max_lag_bytes acts on failover, not on probing */
	cfg = expect_ok("[service db]\ncheck = postgres\n[member db/a]\naddress = 127.0.0.1:5432\n");
	again = expect_ok("[service db]\ncheck = postgres\nmax_lag_bytes = 1\n"
	    "[member db/a]\naddress = 127.0.0.1:5432\n");
	ck_assert(check_conf_equal(&cfg->services[0].check, &again->services[0].check));
	config_free(again);
	config_free(cfg);

	/* refused files; the message never shows what is in them */
	static const struct {
		const char *text;
		mode_t mode;
		const char *want;
	} bad[] = {
		{ "s3cr3t\n", 0644, "is readable by others (mode 0644; chmod o-rwx it)" },
		{ "s3cr3t\n", 0604, "is readable by others (mode 0604" },
		{ "", 0600, "is empty" },
		{ "\n", 0600, "is empty" },
		{ "s3cr3t\nsecond line\n", 0600, "must hold the password alone, on one line" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char *path = pg_file(dir, "bad", bad[i].text, bad[i].mode), *want, *out;
		unsigned nerrors;

		text = xasprintf("[service db]\ncheck = postgres\npg_query = yes\npg_password_file = %s\n"
		    "[member db/a]\naddress = 127.0.0.1:5432\n", path);
		out = load_text(text, &cfg, &nerrors);
		want = xasprintf("t.conf:4: pg_password_file: \"%s\" %s", path, bad[i].want);
		ck_assert_ptr_null(cfg);
		ck_assert_uint_eq(nerrors, 1);
		ck_assert_msg(strstr(out, want) != NULL, "wanted \"%s\" in:\n%s", want, out);
		ck_assert_ptr_null(strstr(out, "s3cr3t"));
		free(want);
		free(out);
		free(text);
		unlink(path);
		free(path);
	}
	{
		/* longer than 1024 bytes */
		char big[1100];
		char *path, *out;
		unsigned nerrors;

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		path = pg_file(dir, "big", big, 0600);
		text = xasprintf("[service db]\ncheck = postgres\npg_query = yes\npg_password_file = %s\n"
		    "[member db/a]\naddress = 127.0.0.1:5432\n", path);
		out = load_text(text, &cfg, &nerrors);
		ck_assert_ptr_null(cfg);
		ck_assert_ptr_nonnull(strstr(out, "is too long for a password (at most 1024 bytes)"));
		free(out);
		free(text);
		unlink(path);
		free(path);
	}
	/* without pg_query, a password file is refused even when it is fine */
	text = xasprintf("[service db]\ncheck = postgres\npg_password_file = %s\n"
	    "[member db/a]\naddress = 127.0.0.1:5432\n", pw);
	expect_error(text, 1, "t.conf:3: pg_password_file: applies only with pg_query = yes");
	free(text);
	unlink(pw);
	free(pw);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_line_length_limit)
{
	/* 199 characters fit, 200 do not */
	char line[256];
	struct config *cfg;
	char *text;
	int head;

	head = snprintf(line, sizeof(line), "http_expect_body = ");
	memset(line + head, 'x', 199 - (size_t)head);
	line[199] = '\0';
	text = xasprintf("[service s]\ncheck = http\n%s\n[member s/a]\naddress = 127.0.0.1:1\n", line);
	cfg = expect_ok(text);
	ck_assert_uint_eq(strlen(cfg->services[0].check.http_expect_body), 199 - (size_t)head);
	config_free(cfg);
	free(text);

	line[199] = 'x';
	line[200] = '\0';
	text = xasprintf("[service s]\ncheck = http\n%s\n[member s/a]\naddress = 127.0.0.1:1\n", line);
	expect_error(text, 1, "t.conf:3: syntax: line too long (200 characters, at most 199)");
	free(text);
}
END_TEST

/* ---- errors ---- */

#define SVC "[service s]\n"
#define MEM "[member s/a]\naddress = 127.0.0.1:1\n"

static const struct {
	const char *text;
	const char *want;
} error_cases[] = {
	/* syntax */
	{ SVC "check tcp\n" MEM, "t.conf:2: syntax: expected 'key = value', got \"check tcp\"" },
	{ SVC "  just words\n" MEM, "t.conf:2: syntax: expected 'key = value'" },
	{ SVC "check: tcp\n" MEM, "t.conf:2: syntax: expected 'key = value'" },
	{ SVC "= tcp\n" MEM, "t.conf:2: syntax: expected 'key = value'" },
	{ SVC MEM "[member s/b\naddress = 127.0.0.1:1\n", "t.conf:4: syntax: missing ']'" },
	{ SVC MEM "[member s/b] x\n", "t.conf:4: syntax: unexpected text after ']'" },
	{ SVC "[]\n" MEM, "t.conf:2: syntax: empty section header" },
	{ "interval = 1s\n" SVC MEM, "t.conf:1: interval: key outside of any section" },
	/* sections */
	{ SVC MEM "[cluster]\n", "t.conf:4: cluster: unknown section" },
	{ SVC MEM "[spofd x]\n", "t.conf:4: spofd: [spofd] takes no name" },
	{ "[service]\n", "t.conf:1: service: missing name" },
	{ "[service a/b]\n", "t.conf:1: service: bad service name \"a/b\"" },
	{ "[service " "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789_x]\n",
	  "t.conf:1: service: bad service name" },
	{ SVC MEM "[member s]\n", "t.conf:4: member: expected [member SERVICE/NAME]" },
	{ SVC MEM "[member s/]\n", "t.conf:4: member: expected [member SERVICE/NAME]" },
	{ SVC MEM "[member /a]\n", "t.conf:4: member: expected [member SERVICE/NAME]" },
	{ SVC MEM "[member s/a b]\n", "t.conf:4: member: bad member name \"a b\"" },
	{ SVC MEM "[member s$/a]\n", "t.conf:4: member: bad service name \"s$\"" },
	{ SVC MEM "[member s/-]\n", "t.conf:4: member: bad member name \"-\"" },
	{ SVC MEM "[member s/.hidden]\n", "t.conf:4: member: bad member name \".hidden\"" },
	{ SVC MEM "\n[member s/a]\n", "t.conf:5: member: duplicate member \"s/a\" (first at line 2)" },
	{ SVC MEM SVC, "t.conf:4: service: service \"s\" given twice (first at line 1)" },
	{ "[spofd]\n" SVC MEM "[spofd]\n", "t.conf:5: spofd: section [spofd] given twice (first at line 1)" },
	{ SVC MEM "[member x/b]\naddress = 127.0.0.1:1\n",
	  "t.conf:4: member: member \"x/b\" of unknown service \"x\"" },
	{ SVC MEM "[service empty]\n", "t.conf:4: service: service \"empty\" has no members" },
	/* keys */
	{ SVC "intervall = 1s\n" MEM, "t.conf:2: intervall: unknown key in [service]" },
	{ "[spofd]\ncheck = tcp\n", "t.conf:2: check: unknown key in [spofd]" },
	{ SVC MEM "rise = 2\n", "t.conf:4: rise: unknown key in [member]" },
	{ SVC "Check = tcp\n" MEM, "t.conf:2: Check: unknown key" },
	{ SVC "rise = 2\n\nrise = 2\n" MEM, "t.conf:4: rise: given twice in this section (first at line 2)" },
	{ "[spofd]\nnode = a b\n", "t.conf:2: node: bad name \"a b\"" },
	{ "[spofd]\nnode =\n", "t.conf:2: node: empty value" },
	{ "[spofd]\nlog_level = verbose\n", "t.conf:2: log_level: unknown level \"verbose\"" },
	{ "[spofd]\ncontrol_group = two words\n", "t.conf:2: control_group: \"two words\" must not contain blanks" },
	{ "[spofd]\nhook_user = spofd-no-such-user\n", "t.conf:2: hook_user: unknown user \"spofd-no-such-user\"" },
	{ "[spofd]\nhook_user =\n", "t.conf:2: hook_user: empty value" },
	{ SVC "hook_user = root\n" MEM, "t.conf:2: hook_user: unknown key in [service]" },
	{ "[spofd]\nfailback = auto\n", "t.conf:2: failback: unknown key in [spofd]" },
	{ SVC "failback = auto\nfailback = manual\n" MEM, "t.conf:3: failback: given twice in this section (first at line 2)" },
	/* durations */
	{ SVC "interval = 5x\n" MEM,
	  "t.conf:2: interval: bad duration \"5x\" (use a number with ms, s, m or h)" },
	{ SVC "interval = 5\n" MEM, "t.conf:2: interval: missing unit \"5\" (use ms, s, m or h)" },
	{ SVC "interval = s\n" MEM, "t.conf:2: interval: bad duration \"s\"" },
	{ SVC "interval = -1s\n" MEM, "t.conf:2: interval: bad duration \"-1s\"" },
	{ SVC "interval = 1.5s\n" MEM, "t.conf:2: interval: bad duration \"1.5s\"" },
	{ SVC "interval = 0s\n" MEM, "t.conf:2: interval: must be longer than 0" },
	{ SVC "downinter = 0ms\n" MEM, "t.conf:2: downinter: must be longer than 0" },
	{ SVC "timeout = 0ms\n" MEM, "t.conf:2: timeout: must be longer than 0" },
	{ SVC "interval = 100000h\n" MEM, "t.conf:2: interval: duration too long \"100000h\"" },
	{ SVC "timeout = 2s\n" MEM, "t.conf:2: timeout: 2s is longer than interval 1s" },
	{ SVC "timeout = 1001ms\ninterval = 1s\n" MEM, "t.conf:2: timeout: 1001ms is longer than interval 1s" },
	{ SVC "hook_timeout = 0ms\n" MEM, "t.conf:2: hook_timeout: must be longer than 0" },
	{ SVC "hook_timeout = 30\n" MEM, "t.conf:2: hook_timeout: missing unit \"30\" (use ms, s, m or h)" },
	{ SVC "hook_kill_grace = 1.5s\n" MEM, "t.conf:2: hook_kill_grace: bad duration \"1.5s\"" },
	{ SVC "failback_delay = 100000h\n" MEM, "t.conf:2: failback_delay: duration too long \"100000h\"" },
	{ SVC "failover_cooldown = soon\n" MEM, "t.conf:2: failover_cooldown: bad duration \"soon\"" },
	{ SVC "promote_backoff = 0s\n" MEM, "t.conf:2: promote_backoff: must be longer than 0" },
	{ SVC "promote_backoff = -5s\n" MEM, "t.conf:2: promote_backoff: bad duration \"-5s\"" },
	/* failover */
	{ SVC "failback = sometimes\n" MEM, "t.conf:2: failback: expected manual or auto, not \"sometimes\"" },
	{ SVC "failback = Auto\n" MEM, "t.conf:2: failback: expected manual or auto, not \"Auto\"" },
	{ SVC "failback = yes\n" MEM, "t.conf:2: failback: expected manual or auto" },
	/* hooks (those needing files of their own are in the "hooks" case) */
	{ SVC "on_promote = hooks/promote\n" MEM, "t.conf:2: on_promote: " },
	{ SVC "on_demote = /nonexistent/spofd-test/hook\n" MEM, "t.conf:2: on_demote: " },
	{ SVC "on_change =\n" MEM, "t.conf:2: on_change: empty value" },
	{ SVC "on_change = /\n" MEM, "t.conf:2: on_change: " },
	/* counts */
	{ SVC "rise = 0\n" MEM, "t.conf:2: rise: \"0\" is out of range (use a whole number from 1 to 1000)" },
	{ SVC "fall = 0\n" MEM, "t.conf:2: fall: \"0\" is out of range" },
	{ SVC "fall = 1001\n" MEM, "t.conf:2: fall: \"1001\" is out of range" },
	{ SVC "rise = x\n" MEM, "t.conf:2: rise: \"x\" is not a number" },
	{ SVC "rise = -1\n" MEM, "t.conf:2: rise: \"-1\" is not a number" },
	{ SVC "rise = 99999999999999999999999\n" MEM, "t.conf:2: rise: \"99999999999999999999999\" is out of range" },
	{ SVC MEM "priority = 1001\n", "t.conf:4: priority: \"1001\" is out of range (use a whole number from 0 to 1000)" },
	{ SVC MEM "priority = high\n", "t.conf:4: priority: \"high\" is not a number" },
	/* check types and what applies to them */
	{ SVC "check = icmp\n" MEM, "t.conf:2: check: unknown check type \"icmp\" (use tcp, http, https, postgres or exec)" },
	{ SVC "check = HTTP\n" MEM, "t.conf:2: check: unknown check type \"HTTP\"" },
	{ SVC "http_path = /x\n" MEM, "t.conf:2: http_path: does not apply to check tcp" },
	{ SVC "http_method = HEAD\ncheck = exec\nexec_command = /bin/true\n[member s/a]\n",
	  "t.conf:2: http_method: does not apply to check exec" },
	{ SVC "check = http\ntls_ca_file = /dev/null\n" MEM, "t.conf:3: tls_ca_file: does not apply to check http" },
	{ SVC "check = http\ntcp_send = x\n" MEM, "t.conf:3: tcp_send: does not apply to check http" },
	{ SVC "exec_kill_grace = 1s\n" MEM, "t.conf:2: exec_kill_grace: does not apply to check tcp" },
	{ SVC "check = exec\n[member s/a]\n", "t.conf:1: exec_command: missing in [service s] (required for check exec)" },
	{ SVC "check = exec\nexec_command = a 'b\n[member s/a]\n",
	  "t.conf:3: exec_command: cannot split \"a 'b\" into words: unterminated quote" },
	{ SVC "check = exec\nexec_command = a\\\n[member s/a]\n", "t.conf:3: exec_command: cannot split" },
	/* http */
	{ SVC "check = http\nhttp_expect_status = 200-\n" MEM, "t.conf:3: http_expect_status: bad status list \"200-\"" },
	{ SVC "check = http\nhttp_expect_status = 99\n" MEM, "t.conf:3: http_expect_status: bad status list" },
	{ SVC "check = http\nhttp_expect_status = 200 300\n" MEM, "t.conf:3: http_expect_status: bad status list" },
	{ SVC "check = http\nhttp_expect_status = 300-200\n" MEM, "a range must go upwards" },
	{ SVC "check = http\nhttp_expect_status = 200,,300\n" MEM, "t.conf:3: http_expect_status: bad status list" },
	{ SVC "check = http\nhttp_path = health\n" MEM, "t.conf:3: http_path: bad path \"health\"" },
	{ SVC "check = http\nhttp_path = /a b\n" MEM, "t.conf:3: http_path: bad path \"/a b\"" },
	{ SVC "check = http\nhttp_method = GET X\n" MEM, "t.conf:3: http_method: \"GET X\" must not contain blanks" },
	{ SVC "check = https\ntls_verify = maybe\n" MEM, "t.conf:3: tls_verify: expected yes or no, not \"maybe\"" },
	{ SVC "check = https\ntls_ca_file = /nonexistent/ca.pem\n" MEM,
	  "t.conf:3: tls_ca_file: cannot read \"/nonexistent/ca.pem\": No such file or directory" },
	/* tcp */
	{ SVC "tcp_send = a\\qb\n" MEM, "t.conf:2: tcp_send: bad escape \"\\q\"" },
	{ SVC "tcp_expect = a\\x4\n" MEM, "t.conf:2: tcp_expect: bad escape \"\\x4\"" },
	{ SVC "tcp_expect = a\\xZZ\n" MEM, "t.conf:2: tcp_expect: bad escape \"\\xZZ\"" },
	{ SVC "tcp_expect = a\\\n" MEM, "t.conf:2: tcp_expect: bad escape \"\\\"" },
	/* addresses */
	{ SVC "[member s/a]\naddress = 127.0.0.1\n", "t.conf:3: address: bad address \"127.0.0.1\": missing port" },
	{ SVC "[member s/a]\naddress = 127.0.0.1:\n", "t.conf:3: address: bad address \"127.0.0.1:\": missing port" },
	{ SVC "[member s/a]\naddress = :80\n", "t.conf:3: address: bad address \":80\": missing host" },
	{ SVC "[member s/a]\naddress = h:0\n", "t.conf:3: address: bad address \"h:0\": port out of range" },
	{ SVC "[member s/a]\naddress = h:70000\n", "t.conf:3: address: bad address \"h:70000\": port out of range" },
	{ SVC "[member s/a]\naddress = h:http\n", "t.conf:3: address: bad address \"h:http\": port is not a number" },
	{ SVC "[member s/a]\naddress = [::1:80\n", "t.conf:3: address: bad address \"[::1:80\": missing ']'" },
	{ SVC "[member s/a]\naddress = [::1]80\n", "t.conf:3: address: bad address \"[::1]80\": expected ':'" },
	{ SVC "[member s/a]\naddress = [::1]\n", "t.conf:3: address: bad address \"[::1]\": missing port" },
	{ SVC "[member s/a]\naddress = []:80\n", "t.conf:3: address: bad address \"[]:80\": empty host" },
	{ SVC "[member s/a]\naddress = ::1]:80\n", "t.conf:3: address: bad address \"::1]:80\": ']' without '['" },
	{ SVC "[member s/a]\naddress = ::1:80\n", "t.conf:3: address: bad address \"::1:80\": an IPv6 address must be in brackets" },
	{ SVC "[member s/a]\naddress = a b:80\n", "t.conf:3: address: bad address \"a b:80\": bad character in host" },
	{ SVC "[member s/a]\npriority = 1\n", "t.conf:2: address: missing in [member s/a] (required for check tcp)" },
	{ SVC "[member s/a]\nnode = n 2\naddress = h:1\n", "t.conf:3: node: bad name \"n 2\"" },
	/* virtual IPs */
	{ SVC "vip =\n" MEM, "t.conf:2: vip: empty value" },
	{ SVC "vip = 192.0.2.1 dev e0\n" MEM,
	  "t.conf:2: vip: missing prefix length after \"192.0.2.1\" (use ADDRESS/PREFIX dev IFACE)" },
	{ SVC "vip = 192.0.2.256/24 dev e0\n" MEM, "t.conf:2: vip: bad IPv4 address \"192.0.2.256\"" },
	{ SVC "vip = 192.0.2/24 dev e0\n" MEM, "t.conf:2: vip: bad IPv4 address \"192.0.2\"" },
	{ SVC "vip = web.example/24 dev e0\n" MEM, "t.conf:2: vip: bad IPv4 address \"web.example\"" },
	{ SVC "vip = 2001:db8::g/64 dev e0\n" MEM, "t.conf:2: vip: bad IPv6 address \"2001:db8::g\"" },
	{ SVC "vip = fe80::1%e0/64 dev e0\n" MEM, "t.conf:2: vip: bad IPv6 address \"fe80::1%e0\"" },
	{ SVC "vip = [2001:db8::1]/64 dev e0\n" MEM, "t.conf:2: vip: bad IPv6 address" },
	{ SVC "vip = 192.0.2.1/33 dev e0\n" MEM,
	  "t.conf:2: vip: prefix length \"33\" of 192.0.2.1 is out of range (use 1 to 32)" },
	{ SVC "vip = 192.0.2.1/0 dev e0\n" MEM, "t.conf:2: vip: prefix length \"0\" of 192.0.2.1 is out of range" },
	{ SVC "vip = 2001:db8::1/129 dev e0\n" MEM,
	  "t.conf:2: vip: prefix length \"129\" of 2001:db8::1 is out of range (use 1 to 128)" },
	{ SVC "vip = 192.0.2.1/ dev e0\n" MEM, "t.conf:2: vip: prefix length \"\" of 192.0.2.1 is not a number" },
	{ SVC "vip = 192.0.2.1/2x dev e0\n" MEM, "t.conf:2: vip: prefix length \"2x\" of 192.0.2.1 is not a number" },
	{ SVC "vip = 192.0.2.1/24\n" MEM,
	  "t.conf:2: vip: missing \"dev IFACE\" after 192.0.2.1/24 (use ADDRESS/PREFIX dev IFACE)" },
	{ SVC "vip = 192.0.2.1/24 dev\n" MEM, "t.conf:2: vip: missing \"dev IFACE\" after 192.0.2.1/24" },
	{ SVC "vip = 192.0.2.1/24 on e0\n" MEM, "t.conf:2: vip: missing \"dev IFACE\" after 192.0.2.1/24" },
	{ SVC "vip = 192.0.2.1/24 dev abcdefghijklmnop\n" MEM,
	  "t.conf:2: vip: interface name \"abcdefghijklmnop\" too long (at most 15 characters)" },
	{ SVC "vip = 192.0.2.1/24 dev a/b\n" MEM, "t.conf:2: vip: bad interface name \"a/b\"" },
	{ SVC "vip = 192.0.2.1/24 dev e0:1\n" MEM, "t.conf:2: vip: bad interface name \"e0:1\"" },
	{ SVC "vip = 192.0.2.1/24 dev ..\n" MEM, "t.conf:2: vip: bad interface name \"..\"" },
	{ SVC "vip = 192.0.2.1/24 dev e0 192.0.2.2/24 dev e0\n" MEM,
	  "t.conf:2: vip: unexpected \"192.0.2.2/24\" after \"dev e0\" (separate VIPs with commas)" },
	{ SVC "vip = 192.0.2.1/24 dev e0,\n" MEM, "t.conf:2: vip: empty item in the list" },
	{ SVC "vip = , 192.0.2.1/24 dev e0\n" MEM, "t.conf:2: vip: empty item in the list" },
	{ SVC "vip = 192.0.2.1/24 dev e0, ,192.0.2.2/24 dev e0\n" MEM, "t.conf:2: vip: empty item in the list" },
	{ SVC "vip = 0.0.0.0/8 dev e0\n" MEM, "t.conf:2: vip: 0.0.0.0 is not a unicast address" },
	{ SVC "vip = 224.0.0.1/4 dev e0\n" MEM, "t.conf:2: vip: 224.0.0.1 is not a unicast address" },
	{ SVC "vip = 255.255.255.255/32 dev e0\n" MEM, "t.conf:2: vip: 255.255.255.255 is not a unicast address" },
	{ SVC "vip = ::/64 dev e0\n" MEM, "t.conf:2: vip: :: is not a unicast address" },
	{ SVC "vip = ff02::1/64 dev e0\n" MEM, "t.conf:2: vip: ff02::1 is not a unicast address" },
	{ SVC "vip = 192.0.2.1/24 dev e0, 192.0.2.1/32 dev e1\n" MEM, "t.conf:2: vip: 192.0.2.1/32 given twice" },
	{ SVC "vip = 2001:db8::1/64 dev e0, 2001:DB8:0::1/64 dev e0\n" MEM,
	  "t.conf:2: vip: 2001:db8::1/64 given twice" },
	{ SVC "vip = 192.0.2.1/24 dev e0\nvip = 192.0.2.2/24 dev e0\n" MEM,
	  "t.conf:3: vip: given twice in this section (first at line 2)" },
	{ SVC "vip = 192.0.2.1/24 dev e0\n" MEM "[service t]\n\nvip = 192.0.2.1/32 dev e1\n[member t/a]\naddress = h:1\n",
	  "t.conf:7: vip: 192.0.2.1/32 is already a VIP of service s (line 1)" },
	{ "[spofd]\nvip = 192.0.2.1/24 dev e0\n", "t.conf:2: vip: unknown key in [spofd]" },
	{ SVC MEM "vip = 192.0.2.1/24 dev e0\n", "t.conf:4: vip: unknown key in [member]" },
	{ SVC "garp_repeat = 0\n" MEM, "t.conf:2: garp_repeat: \"0\" is out of range (use a whole number from 1 to 100)" },
	{ SVC "garp_repeat = 101\n" MEM, "t.conf:2: garp_repeat: \"101\" is out of range" },
	{ SVC "garp_interval = 0ms\n" MEM, "t.conf:2: garp_interval: must be longer than 0" },
	{ SVC "garp_interval = 100\n" MEM, "t.conf:2: garp_interval: missing unit \"100\"" },
	{ SVC "garp_refresh = often\n" MEM, "t.conf:2: garp_refresh: bad duration \"often\"" },
	/* postgres */
#define PG "[service s]\ncheck = postgres\n"
	{ SVC "pg_user = app\n" MEM, "t.conf:2: pg_user: does not apply to check tcp" },
	{ SVC "check = http\nmax_lag_bytes = 1\n" MEM, "t.conf:3: max_lag_bytes: does not apply to check http" },
	{ SVC "check = exec\nexec_command = /bin/true\npg_query = yes\n[member s/a]\n",
	  "t.conf:4: pg_query: does not apply to check exec" },
	{ PG "pg_query = maybe\n" MEM, "t.conf:3: pg_query: expected yes or no, not \"maybe\"" },
	{ PG "pg_user =\n" MEM, "t.conf:3: pg_user: empty value" },
	{ PG "max_lag_bytes = -1\n" MEM,
	  "t.conf:3: max_lag_bytes: \"-1\" is not a number (use a whole number of bytes, 0 for no limit)" },
	{ PG "max_lag_bytes = 16MB\n" MEM, "t.conf:3: max_lag_bytes: \"16MB\" is not a number" },
	{ PG "max_lag_bytes = 1.5\n" MEM, "t.conf:3: max_lag_bytes: \"1.5\" is not a number" },
	{ PG "max_lag_bytes = 99999999999999999999\n" MEM, "t.conf:3: max_lag_bytes: \"99999999999999999999\" is out of range" },
	{ PG "pg_conninfo = sslmode=disable\n" MEM,
	  "t.conf:3: pg_conninfo: applies only with pg_query = yes (without it the probe does not log in)" },
	{ PG "pg_password_file = /nonexistent/spofd-test/pw\npg_query = yes\n" MEM,
	  "t.conf:3: pg_password_file: cannot read \"/nonexistent/spofd-test/pw\": No such file or directory" },
	{ PG "pg_password_file = /dev/null\npg_query = yes\n" MEM,
	  "t.conf:3: pg_password_file: \"/dev/null\" is not a regular file" },
	{ PG "pg_query = yes\npg_conninfo = host=db.example\n" MEM,
	  "t.conf:4: pg_conninfo: \"host\" is not allowed here (spofd sets it from the member's address" },
	{ PG "pg_query = yes\npg_conninfo = sslmode=require password=x\n" MEM,
	  "t.conf:4: pg_conninfo: \"password\" is not allowed here" },
	{ PG "pg_query = yes\npg_conninfo = port=5433\n" MEM, "t.conf:4: pg_conninfo: \"port\" is not allowed here" },
	{ PG "pg_query = yes\npg_conninfo = dbname=x\n" MEM, "t.conf:4: pg_conninfo: \"dbname\" is not allowed here" },
	{ PG "pg_query = yes\npg_conninfo = replication=true\n" MEM,
	  "t.conf:4: pg_conninfo: \"replication\" is not allowed here" },
	{ PG "pg_query = yes\npg_conninfo = postgresql://h\n" MEM, "t.conf:4: pg_conninfo: \"host\" is not allowed here" },
	{ PG "pg_query = yes\npg_conninfo = bogus=1\n" MEM,
	  "t.conf:4: pg_conninfo: bad libpq connection string: invalid connection option \"bogus\"" },
	{ PG "pg_query = yes\npg_conninfo = application_name='x\n" MEM,
	  "t.conf:4: pg_conninfo: bad libpq connection string: " },
#undef PG
};

START_TEST(test_error_kind)
{
	expect_error(error_cases[_i].text, 1, error_cases[_i].want);
}
END_TEST

START_TEST(test_errors_all_reported)
{
	static const char text[] =
	    "[spofd]\n"                         /* 1 */
	    "log_level = loud\n"                /* 2 */
	    "[member web/a]\n"                  /* 3 */
	    "address = 127.0.0.1:99999\n"       /* 4 */
	    "bogus line\n"                      /* 5 */
	    "[service web]\n"                   /* 6 */
	    "fastinter = 5\n"                   /* 7 */
	    "rise = 0\n"                        /* 8 */
	    "http_path = /x\n"                  /* 9 */
	    "timeout = 2s\n"                    /* 10 */
	    "[member db/a]\n"                   /* 11 */
	    "address = 127.0.0.1:5432\n"        /* 12 */
	    "[what ever]\n"                     /* 13 */
	    "key = ignored in an unknown section\n" /* 14 */
	    "[member web/b]\n";                 /* 15 */
	static const char *const want[] = {
		"t.conf:2: log_level: ",
		"t.conf:4: address: ",
		"t.conf:5: syntax: ",
		"t.conf:7: fastinter: missing unit",
		"t.conf:8: rise: ",
		"t.conf:9: http_path: does not apply to check tcp",
		"t.conf:10: timeout: 2s is longer than interval 1s",
		"t.conf:11: member: member \"db/a\" of unknown service \"db\"",
		"t.conf:13: what: unknown section",
		"t.conf:15: address: missing in [member web/b]",
	};
	struct config *cfg;
	unsigned nerrors;
	char *out = load_text(text, &cfg, &nerrors);
	char *line, *save = NULL;
	size_t i = 0;

	ck_assert_ptr_null(cfg);
	ck_assert_msg(nerrors == ARRAY_LEN(want), "%u errors:\n%s", nerrors, out);
	/* one line each, in the order of the file */
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save), i++) {
		ck_assert_uint_lt(i, ARRAY_LEN(want));
		ck_assert_msg(strncmp(line, want[i], strlen(want[i])) == 0, "line %zu: \"%s\", wanted \"%s\"",
		    i, line, want[i]);
	}
	ck_assert_uint_eq(i, ARRAY_LEN(want));
	free(out);
}
END_TEST

START_TEST(test_missing_file)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&buf, &len);
	unsigned nerrors = 0;
	struct config *cfg = config_load(TEST_SRCDIR "/configs/no-such.conf", err, &nerrors);

	fclose(err);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(nerrors, 1);
	ck_assert_str_eq(buf, TEST_SRCDIR "/configs/no-such.conf: cannot open: No such file or directory\n");
	free(buf);

	/* a directory opens but cannot be read */
	err = open_memstream(&buf, &len);
	cfg = config_load(TEST_SRCDIR "/configs", err, &nerrors);
	fclose(err);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(nerrors, 1);
	ck_assert_ptr_nonnull(strstr(buf, TEST_SRCDIR "/configs: "));
	free(buf);

	/* NULL stream and counter are allowed */
	ck_assert_ptr_null(config_load_string("x", "t.conf", NULL, NULL));
}
END_TEST

/* Every file of the corpus fails with the error its first line names. */
START_TEST(test_bad_corpus)
{
	DIR *dir = opendir(BAD_DIR);
	struct dirent *de;
	unsigned files = 0;

	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir)) != NULL) {
		char *path, *want, *out = NULL, expect[256];
		size_t len = 0;
		FILE *f, *err;
		struct config *cfg;
		unsigned nerrors;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", BAD_DIR, de->d_name);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_msg(fgets(expect, sizeof(expect), f) != NULL, "%s is empty", path);
		fclose(f);
		ck_assert_msg(strncmp(expect, "# expect: ", 10) == 0, "%s: no '# expect: ' line", path);
		expect[strcspn(expect, "\n")] = '\0';
		want = xasprintf("%s%s", path, expect + 10);

		err = open_memstream(&out, &len);
		cfg = config_load(path, err, &nerrors);
		fclose(err);
		ck_assert_msg(cfg == NULL, "%s accepted", path);
		ck_assert_uint_ge(nerrors, 1);
		ck_assert_msg(strstr(out, want) != NULL, "wanted \"%s\" in:\n%s", want, out);
		free(out);
		free(want);
		free(path);
		files++;
	}
	closedir(dir);
	ck_assert_uint_ge(files, 20);
}
END_TEST

/* ---- hooks ---- */

/*
 * Each test gets a fresh directory of its own (mode 0755, so that only
 * what a test changes on purpose can make a hook unsafe) and every file
 * made in it is removed afterwards.  The hooks are checked by
 * hook_check_path(); these tests hold the parser to calling it for every
 * hook, with the hook_user of the file, and to reporting at the hook's
 * line.  Messages themselves are hook.c's to word.
 */
#define HOOK_FILES_MAX 16

static char *hook_dir;
static char *hook_made[HOOK_FILES_MAX]; /* to remove, last first */
static size_t hook_n_made;

static void
hook_setup(void)
{
	char tmpl[] = TEST_BUILDDIR "/config-hooks-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_int_eq(chmod(tmpl, 0755), 0);
	hook_dir = xstrdup(tmpl);
	hook_n_made = 0;
}

static void
hook_teardown(void)
{
	while (hook_n_made > 0) {
		char *path = hook_made[--hook_n_made];
		struct stat st;

		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rmdir(path);
		else
			unlink(path);
		free(path);
	}
	rmdir(hook_dir);
	free(hook_dir);
	hook_dir = NULL;
}

static char *
hook_remember(char *path)
{
	ck_assert_uint_lt(hook_n_made, HOOK_FILES_MAX);
	hook_made[hook_n_made++] = path;
	return path;
}

/* A script NAME (relative to the test's directory) with exactly MODE. */
static const char *
hook_make(const char *name, mode_t mode)
{
	char *path = hook_remember(xasprintf("%s/%s", hook_dir, name));
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs("#!/bin/sh\nexit 0\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0); /* whatever the umask */
	return path;
}

static const char *
hook_mkdir(const char *name, mode_t mode)
{
	char *path = hook_remember(xasprintf("%s/%s", hook_dir, name));

	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

/*
 * Root's own group may write to a hook, so a file meant to be writable by
 * "the group" must belong to another one.  Not root, the files already
 * belong to the user's group (and if that is root's, nothing can be done).
 */
static const char *
hook_other_group(const char *path)
{
	const struct passwd *nobody;

	if (geteuid() == 0) {
		ck_assert_ptr_nonnull(nobody = getpwnam("nobody"));
		ck_assert_int_eq(chown(path, (uid_t)-1, nobody->pw_gid), 0);
	}
	return path;
}

/*
 * Who the test files belong to.  Root may own hooks anyway; anyone else
 * must name himself as hook_user for his own files to pass.
 */
static const char *
hook_self(void)
{
	const struct passwd *pw = getpwuid(geteuid());

	ck_assert_ptr_nonnull(pw);
	return pw->pw_name;
}

/* A service with HOOK = PATH, and [spofd] hook_user = USER after it (NULL: none). */
static char *
hook_text(const char *hook, const char *path, const char *user)
{
	return xasprintf("[service s]\n%s = %s\n[member s/a]\naddress = 127.0.0.1:1\n"
	    "[spofd]\n%s%s\n", hook, path, user != NULL ? "hook_user = " : "",
	    user != NULL ? user : "");
}

/* HOOK = PATH must be refused at line 2, and nothing else. */
static void
hook_expect_refused(const char *hook, const char *path, const char *user)
{
	char *text = hook_text(hook, path, user);
	char *want = xasprintf("t.conf:2: %s: ", hook);

	expect_error(text, 1, want);
	free(want);
	free(text);
}

START_TEST(test_hook_accepted)
{
	const char *path = hook_make("promote", 0755);
	const char *ro = hook_make("read-only", 0555);
	char *text = xasprintf("[service s]\non_promote = %s\non_demote = %s\non_change = %s\n"
	    "[member s/a]\naddress = 127.0.0.1:1\n[spofd]\nhook_user = %s\n", path, ro, path,
	    hook_self());
	struct config *cfg = expect_ok(text);

	ck_assert_str_eq(cfg->services[0].on_promote, path);
	ck_assert_str_eq(cfg->services[0].on_demote, ro);
	ck_assert_str_eq(cfg->services[0].on_change, path);
	ck_assert_str_eq(cfg->hook_user, hook_self());
	config_free(cfg);
	free(text);
}
END_TEST

START_TEST(test_hook_refused)
{
	const char *user = hook_self();
	char *missing = xasprintf("%s/missing", hook_dir);
	char cwd[PATH_MAX];

	/* not absolute, even where the name would find the file */
	hook_make("relative", 0755);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(hook_dir), 0);
	hook_expect_refused("on_promote", "relative", user);
	hook_expect_refused("on_promote", "./relative", user);
	ck_assert_int_eq(chdir(cwd), 0);
	/* missing, not a file */
	hook_expect_refused("on_demote", missing, user);
	hook_expect_refused("on_change", hook_dir, user);
	/* not executable */
	hook_expect_refused("on_promote", hook_make("plain", 0644), user);
	hook_expect_refused("on_promote", hook_make("private", 0600), user);
	/* writable by the group or by others */
	hook_expect_refused("on_promote", hook_other_group(hook_make("group-writable", 0775)), user);
	hook_expect_refused("on_demote", hook_make("world-writable", 0757), user);
	hook_expect_refused("on_change", hook_make("all-writable", 0777), user);
	/* or in a directory others may write to (and so replace the hook in) */
	hook_mkdir("open", 0777);
	hook_expect_refused("on_promote", hook_make("open/hook", 0755), user);
	hook_other_group(hook_mkdir("group", 0775));
	hook_expect_refused("on_promote", hook_make("group/hook", 0755), user);
	free(missing);
}
END_TEST

/* Ownership: root, or hook_user, wherever [spofd] is in the file. */
START_TEST(test_hook_owner)
{
	const struct passwd *nobody;
	const char *path;
	struct config *cfg;
	char *text;

	if (geteuid() != 0) {
		fprintf(stderr, "test_hook_owner: not root, cannot give a file away: skipped\n");
		return;
	}
	nobody = getpwnam("nobody");
	ck_assert_ptr_nonnull(nobody);
	path = hook_make("nobodys", 0755);
	ck_assert_int_eq(chown(path, nobody->pw_uid, nobody->pw_gid), 0);
	ck_assert_int_eq(chmod(path, 0755), 0); /* chown may clear bits */

	/* owned by someone else */
	hook_expect_refused("on_promote", path, NULL);
	hook_expect_refused("on_promote", path, "root");
	/* unless that someone is hook_user, given after the service */
	text = hook_text("on_promote", path, "nobody");
	cfg = expect_ok(text);
	ck_assert_str_eq(cfg->services[0].on_promote, path);
	ck_assert_str_eq(cfg->hook_user, "nobody");
	config_free(cfg);
	free(text);
	/* and still not when writable by others */
	ck_assert_int_eq(chmod(path, 0757), 0);
	hook_expect_refused("on_promote", path, "nobody");
	ck_assert_int_eq(chmod(path, 0755), 0);

	/* a hook_user that does not exist is an error of its own; its hooks are held to root */
	text = hook_text("on_promote", path, "spofd-no-such-user");
	expect_error(text, 2, "t.conf:2: on_promote: ");
	expect_error(text, 2, "t.conf:6: hook_user: unknown user \"spofd-no-such-user\"");
	free(text);
}
END_TEST

/* Every hook error at its own line, in file order, hook_user coming last. */
START_TEST(test_hook_lines)
{
	const char *good = hook_make("good", 0755);
	const char *noexec = hook_make("noexec", 0644);
	char *text = xasprintf(
	    "[service a]\n"                     /* 1 */
	    "on_promote = %s\n"                 /* 2 */
	    "on_demote = %s/missing\n"          /* 3 */
	    "[member a/x]\n"                    /* 4 */
	    "address = 127.0.0.1:1\n"           /* 5 */
	    "[service b]\n"                     /* 6 */
	    "on_promote = %s\n"                 /* 7 */
	    "on_change = %s\n"                  /* 8 */
	    "failback = never\n"                /* 9 */
	    "[member b/x]\n"                    /* 10 */
	    "address = 127.0.0.1:2\n"           /* 11 */
	    "[spofd]\n"                         /* 12 */
	    "hook_user = %s\n",                 /* 13 */
	    good, hook_dir, good, noexec, hook_self());
	static const char *const want[] = {
		"t.conf:3: on_demote: ",
		"t.conf:8: on_change: ",
		"t.conf:9: failback: expected manual or auto, not \"never\"",
	};
	struct config *cfg;
	unsigned nerrors;
	char *out = load_text(text, &cfg, &nerrors);
	char *line, *save = NULL;
	size_t i = 0;

	ck_assert_ptr_null(cfg);
	ck_assert_msg(nerrors == ARRAY_LEN(want), "%u errors:\n%s", nerrors, out);
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save), i++) {
		ck_assert_uint_lt(i, ARRAY_LEN(want));
		ck_assert_msg(strncmp(line, want[i], strlen(want[i])) == 0, "line %zu: \"%s\", wanted \"%s\"",
		    i, line, want[i]);
	}
	ck_assert_uint_eq(i, ARRAY_LEN(want));
	free(out);
	free(text);
}
END_TEST

/* ---- value parsers ---- */

START_TEST(test_parse_duration)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
		{ "0ms", 0 }, { "1ms", 1 }, { "250ms", 250 }, { "2s", 2000 }, { "1m", 60000 },
		{ "90m", 5400000 }, { "1h", 3600000 }, { "168h", 604800000 }, { "007s", 7000 },
	};
	static const char *const bad[] = {
		"", "5", "s", "ms", "5 s", " 5s", "5s ", "5S", "5sec", "5d", "1.5s", "-1s", "+1s",
		"0x10s", "169h", "604800001ms", "99999999999999999999999ms",
	};
	uint64_t ms;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		ms = 12345;
		ck_assert_msg(config_parse_duration(good[i].s, &ms) == NULL, "%s rejected", good[i].s);
		ck_assert_uint_eq(ms, good[i].ms);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		ms = 12345;
		ck_assert_msg(config_parse_duration(bad[i], &ms) != NULL, "\"%s\" accepted", bad[i]);
		ck_assert_uint_eq(ms, 12345);
	}
	ck_assert_ptr_nonnull(strstr(config_parse_duration("5", &ms), "missing unit"));
	ck_assert_ptr_nonnull(strstr(config_parse_duration("5x", &ms), "bad duration"));
}
END_TEST

START_TEST(test_parse_status_list)
{
	struct status_range r[CONFIG_MAX_EXPECT_STATUS];
	size_t n = 0;
	static const char *const bad[] = {
		"", " ", "abc", "99", "600", "1000", "200-", "-200", "300-200", "200,", ",200",
		"200,,300", "200 300", "200-300-400", "2OO", "200;300",
	};

	ck_assert_ptr_null(config_parse_status_list("200", r, ARRAY_LEN(r), &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(r[0].lo, 200);
	ck_assert_int_eq(r[0].hi, 200);
	ck_assert_ptr_null(config_parse_status_list(" 200-399 , 418,500 - 504 ", r, ARRAY_LEN(r), &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(r[0].lo, 200);
	ck_assert_int_eq(r[0].hi, 399);
	ck_assert_int_eq(r[1].lo, 418);
	ck_assert_int_eq(r[1].hi, 418);
	ck_assert_int_eq(r[2].lo, 500);
	ck_assert_int_eq(r[2].hi, 504);
	ck_assert_ptr_null(config_parse_status_list("100-599", r, ARRAY_LEN(r), &n));
	ck_assert_uint_eq(n, 1);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		n = 77;
		ck_assert_msg(config_parse_status_list(bad[i], r, ARRAY_LEN(r), &n) != NULL,
		    "\"%s\" accepted", bad[i]);
		ck_assert_uint_eq(n, 77);
	}
	/* the limit on ranges */
	ck_assert_ptr_null(config_parse_status_list("200,201,202", r, 3, &n));
	ck_assert_ptr_nonnull(config_parse_status_list("200,201,202,203", r, 3, &n));
}
END_TEST

START_TEST(test_parse_address)
{
	static const struct {
		const char *s, *host, *port;
	} good[] = {
		{ "127.0.0.1:80", "127.0.0.1", "80" },
		{ "[::1]:80", "::1", "80" },
		{ "[fe80::1%eth0]:8080", "fe80::1%eth0", "8080" },
		{ "localhost:65535", "localhost", "65535" },
		{ "db-1.example_x:1", "db-1.example_x", "1" },
		{ "h:0080", "h", "80" },
	};
	static const char *const bad[] = {
		"", "127.0.0.1", "127.0.0.1:", ":80", "h:0", "h:65536", "h:-1", "h:8o", "h: 80",
		"[::1", "[::1:80", "[::1]", "[::1]80", "[]:80", "::1:80", "::1]:80", "a b:80",
		"h/x:80", "[::1]:", "[::1]:99999",
	};
	char *host, *port;

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		host = port = NULL;
		ck_assert_msg(config_parse_address(good[i].s, &host, &port) == NULL, "%s rejected", good[i].s);
		ck_assert_str_eq(host, good[i].host);
		ck_assert_str_eq(port, good[i].port);
		free(host);
		free(port);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		host = port = NULL;
		ck_assert_msg(config_parse_address(bad[i], &host, &port) != NULL, "\"%s\" accepted", bad[i]);
		ck_assert_ptr_null(host);
		ck_assert_ptr_null(port);
	}
}
END_TEST

START_TEST(test_parse_vip)
{
	struct vip_conf v;
	char buf[256];

	ck_assert_ptr_null(config_parse_vip("192.0.2.100/24 dev br0", &v, buf, sizeof(buf)));
	ck_assert_int_eq(v.family, AF_INET);
	ck_assert_mem_eq(v.addr, "\xc0\x00\x02\x64", 4);
	ck_assert_uint_eq(v.prefix, 24);
	ck_assert_str_eq(v.dev, "br0");
	ck_assert_str_eq(v.text, "192.0.2.100/24");
	vip_conf_free(&v);
	ck_assert_ptr_null(v.dev);

	ck_assert_ptr_null(config_parse_vip("2001:0DB8::0:100/128 dev e-1.2", &v, buf, sizeof(buf)));
	ck_assert_int_eq(v.family, AF_INET6);
	ck_assert_mem_eq(v.addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\x01\x00", 16);
	ck_assert_uint_eq(v.prefix, 128);
	ck_assert_str_eq(v.text, "2001:db8::100/128");
	vip_conf_free(&v);

	/* a failure leaves nothing to free, and says why in BUF */
	ck_assert_ptr_eq(config_parse_vip("192.0.2.1/24", &v, buf, sizeof(buf)), buf);
	ck_assert_ptr_null(v.dev);
	ck_assert_ptr_null(v.text);
	ck_assert_ptr_nonnull(strstr(buf, "dev IFACE"));
	ck_assert_ptr_eq(config_parse_vip("", &v, buf, sizeof(buf)), buf);
	ck_assert_ptr_eq(config_parse_vip("192.0.2.1/24 dev e0 extra", &v, buf, sizeof(buf)), buf);
}
END_TEST

START_TEST(test_vip_conf_equal)
{
	static const char *const same[][2] = {
		{ "192.0.2.1/24 dev e0", "192.0.2.1/24 dev e0" },
		{ "2001:db8::1/64 dev e0", "2001:DB8:0:0::1/64 dev e0" },
	};
	static const char *const differ[][2] = {
		{ "192.0.2.1/24 dev e0", "192.0.2.2/24 dev e0" },
		{ "192.0.2.1/24 dev e0", "192.0.2.1/25 dev e0" },
		{ "192.0.2.1/24 dev e0", "192.0.2.1/24 dev e1" },
		{ "192.0.2.1/24 dev e0", "::ffff:192.0.2.1/120 dev e0" },
	};
	struct vip_conf a, b;
	char buf[256];

	for (size_t i = 0; i < ARRAY_LEN(same); i++) {
		ck_assert_ptr_null(config_parse_vip(same[i][0], &a, buf, sizeof(buf)));
		ck_assert_ptr_null(config_parse_vip(same[i][1], &b, buf, sizeof(buf)));
		ck_assert_msg(vip_conf_equal(&a, &b), "%s != %s", same[i][0], same[i][1]);
		vip_conf_free(&a);
		vip_conf_free(&b);
	}
	for (size_t i = 0; i < ARRAY_LEN(differ); i++) {
		ck_assert_ptr_null(config_parse_vip(differ[i][0], &a, buf, sizeof(buf)));
		ck_assert_ptr_null(config_parse_vip(differ[i][1], &b, buf, sizeof(buf)));
		ck_assert_msg(!vip_conf_equal(&a, &b), "%s == %s", differ[i][0], differ[i][1]);
		vip_conf_free(&a);
		vip_conf_free(&b);
	}
}
END_TEST

START_TEST(test_check_type_str)
{
	ck_assert_str_eq(check_type_str(CHECK_TCP), "tcp");
	ck_assert_str_eq(check_type_str(CHECK_HTTP), "http");
	ck_assert_str_eq(check_type_str(CHECK_HTTPS), "https");
	ck_assert_str_eq(check_type_str(CHECK_EXEC), "exec");
	ck_assert_str_eq(check_type_str(CHECK_POSTGRES), "postgres");
}
END_TEST

/* ---- equality ---- */

#define EQ_BASE \
	"[service s]\n" \
	"check = %s\n" \
	"%s\n" \
	"[member s/a]\n" \
	"address = 127.0.0.1:1\n"

static struct config *
load_variant(const char *check, const char *extra)
{
	char *text = xasprintf(EQ_BASE, check, extra);
	struct config *cfg = expect_ok(text);

	free(text);
	return cfg;
}

/* Each line differs from the base of its check type in exactly one field. */
static const struct {
	const char *check, *line;
} check_variants[] = {
	{ "tcp", "interval = 2s" },
	{ "tcp", "fastinter = 500ms" },
	{ "tcp", "downinter = 5s" },
	{ "tcp", "timeout = 700ms" },
	{ "tcp", "rise = 4" },
	{ "tcp", "fall = 1" },
	{ "tcp", "tcp_send = ping" },
	{ "tcp", "tcp_expect = pong" },
	{ "http", "http_method = HEAD" },
	{ "http", "http_path = /health" },
	{ "http", "http_host = example.org" },
	{ "http", "http_expect_status = 200" },
	{ "http", "http_expect_status = 200-398" },
	{ "http", "http_expect_status = 200-399, 404" },
	{ "http", "http_expect_body = ok" },
	{ "https", "tls_verify = no" },
	{ "https", "tls_ca_file = /dev/null" },
	{ "exec", "exec_command = /bin/true x" },
	{ "exec", "exec_command = /bin/truex" },
	{ "exec", "exec_command = /bin/true\nexec_kill_grace = 2s" },
	{ "postgres", "pg_user = app" },
	{ "postgres", "pg_database = other" },
	{ "postgres", "pg_query = yes" },
	{ "postgres", "interval = 2s" },
};

static const char *
check_base_line(const char *check)
{
	return strcmp(check, "exec") == 0 ? "exec_command = /bin/true" : "";
}

START_TEST(test_check_conf_equal)
{
	struct config *a = load_variant(check_variants[_i].check, check_base_line(check_variants[_i].check));
	struct config *b = load_variant(check_variants[_i].check, check_base_line(check_variants[_i].check));
	struct config *v = load_variant(check_variants[_i].check, check_variants[_i].line);

	ck_assert(check_conf_equal(&a->services[0].check, &a->services[0].check));
	ck_assert(check_conf_equal(&a->services[0].check, &b->services[0].check));
	ck_assert_msg(!check_conf_equal(&a->services[0].check, &v->services[0].check),
	    "equal despite \"%s\"", check_variants[_i].line);
	ck_assert(!check_conf_equal(&v->services[0].check, &a->services[0].check));
	config_free(a);
	config_free(b);
	config_free(v);
}
END_TEST

/* How a service acts on its members' health is no part of how they are probed. */
START_TEST(test_check_conf_equal_ignores_actions)
{
	struct config *a = load_variant("tcp", "");
	struct config *v = load_variant("tcp", "on_promote = /usr/bin/env\non_demote = /usr/bin/env\n"
	    "on_change = /usr/bin/env\nhook_timeout = 1s\nhook_kill_grace = 1s\nfailback = auto\n"
	    "failback_delay = 1s\nfailover_cooldown = 1s\npromote_backoff = 1s\n");

	ck_assert(v->services[0].failback_auto);
	ck_assert(check_conf_equal(&a->services[0].check, &v->services[0].check));
	ck_assert(member_conf_equal(&a->services[0].members[0], &v->services[0].members[0]));
	config_free(a);
	config_free(v);
}
END_TEST

START_TEST(test_check_conf_equal_types)
{
	struct config *tcp = load_variant("tcp", "");
	struct config *http = load_variant("http", "");
	struct config *https = load_variant("https", "");

	ck_assert(!check_conf_equal(&tcp->services[0].check, &http->services[0].check));
	ck_assert(!check_conf_equal(&http->services[0].check, &https->services[0].check));
	config_free(tcp);
	config_free(http);
	config_free(https);
}
END_TEST

START_TEST(test_member_conf_equal)
{
	static const char *const variants[] = {
		"[service s]\n[member s/b]\naddress = 127.0.0.1:1\n",
		"[service s]\n[member s/a]\naddress = 127.0.0.2:1\n",
		"[service s]\n[member s/a]\naddress = 127.0.0.1:2\n",
		"[service s]\n[member s/a]\naddress = 127.0.0.1:01\n",
		"[service s]\n[member s/a]\naddress = 127.0.0.1:1\nnode = n1\n",
		"[service s]\n[member s/a]\naddress = 127.0.0.1:1\npriority = 7\n",
		"[service t]\n[member t/a]\naddress = 127.0.0.1:1\n",
	};
	static const char base[] = "[service s]\n[member s/a]\naddress = 127.0.0.1:1\n";
	/* the same member further down the file is still the same member */
	static const char moved[] = "; moved\n\n[service s]\n\n\n[member s/a]\naddress = 127.0.0.1:1\n";
	struct config *a = expect_ok(base), *b = expect_ok(moved);

	ck_assert(member_conf_equal(&a->services[0].members[0], &b->services[0].members[0]));
	for (size_t i = 0; i < ARRAY_LEN(variants); i++) {
		struct config *v = expect_ok(variants[i]);

		ck_assert_msg(!member_conf_equal(&a->services[0].members[0], &v->services[0].members[0]),
		    "equal to variant %zu", i);
		config_free(v);
	}
	config_free(a);
	config_free(b);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("good");
	tcase_add_test(tc, test_minimal_defaults);
	tcase_add_test(tc, test_full_every_key);
	tcase_add_test(tc, test_bom_crlf_indent);
	tcase_add_test(tc, test_file_order);
	tcase_add_test(tc, test_hook_user_last);
	tcase_add_test(tc, test_string_variants);
	tcase_add_test(tc, test_failover_keys);
	tcase_add_test(tc, test_vip_keys);
	tcase_add_test(tc, test_pg_keys);
	tcase_add_test(tc, test_line_length_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_error_kind, 0, (int)ARRAY_LEN(error_cases));
	tcase_add_test(tc, test_errors_all_reported);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_bad_corpus);
	suite_add_tcase(s, tc);

	tc = tcase_create("hooks");
	tcase_add_checked_fixture(tc, hook_setup, hook_teardown);
	tcase_add_test(tc, test_hook_accepted);
	tcase_add_test(tc, test_hook_refused);
	tcase_add_test(tc, test_hook_owner);
	tcase_add_test(tc, test_hook_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("parsers");
	tcase_add_test(tc, test_parse_duration);
	tcase_add_test(tc, test_parse_status_list);
	tcase_add_test(tc, test_parse_address);
	tcase_add_test(tc, test_parse_vip);
	tcase_add_test(tc, test_vip_conf_equal);
	tcase_add_test(tc, test_check_type_str);
	suite_add_tcase(s, tc);

	tc = tcase_create("equal");
	tcase_add_loop_test(tc, test_check_conf_equal, 0, (int)ARRAY_LEN(check_variants));
	tcase_add_test(tc, test_check_conf_equal_ignores_actions);
	tcase_add_test(tc, test_check_conf_equal_types);
	tcase_add_test(tc, test_member_conf_equal);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
