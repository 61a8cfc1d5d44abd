/*
 * Configuration parser.
 *
 * inih does the splitting into sections, keys and values, but Debian's
 * build of it gives the handler no line numbers, stops counting errors at
 * the first one, truncates section names at 50 bytes and treats indented
 * lines as continuations.  So inih reads through config_read_line(), which
 * reads whole lines itself, counts them, checks their syntax and hands inih
 * only lines it will understand the same way: leading white space removed,
 * section headers replaced by "[N]", N indexing our own table of sections,
 * and every broken line replaced by an empty one after reporting it.  inih
 * calls the handler for a line before it asks for the next one, so the
 * reader's line counter is the line of the key being handled.
 *
 * Errors are collected, sorted by line and printed at the end as
 * "file:line: key: message", so one run shows every error in file order.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "config_value.h"
#include "hook.h"
#include "util.h"

#define CONFIG_RISE_FALL_MAX 1000   /* consecutive results, a sane bound */
#define CONFIG_PRIORITY_MAX 1000
#define CONFIG_DEFAULT_PRIORITY 100 /* 0 would mean "never promote" */
#define CONFIG_SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum config_section_kind {
	SECTION_SPOFD,
	SECTION_SERVICE,
	SECTION_MEMBER,
	SECTION_IGNORED,  /* broken or repeated header: its keys are skipped */
};

/* How a key's value is read. */
enum config_value {
	VAL_DURATION,     /* uint64_t milliseconds, more than 0 */
	VAL_DURATION0,    /* uint64_t milliseconds, 0 allowed */
	VAL_COUNT,        /* unsigned in [lo, hi] */
	VAL_INT,          /* int in [lo, hi] */
	VAL_STRING,       /* char *, not empty */
	VAL_TOKEN,        /* char *, no white space or control characters */
	VAL_NAME,         /* char *, a node name */
	VAL_SOCKET,       /* char *, fits in sun_path */
	VAL_FILE,         /* char *, a readable file */
	VAL_HTTP_PATH,    /* char *, starts with '/' */
	VAL_ESCAPED,      /* char * and size_t length, C escapes decoded */
	VAL_BOOL,
	VAL_CHECK,
	VAL_LOG_LEVEL,
	VAL_STATUS,
	VAL_ARGV,
	VAL_ADDRESS,
	VAL_USER,         /* char *, a user known to the system */
	VAL_VIPS,         /* struct vip_conf array, "ADDRESS/PREFIX dev IFACE, ..." */
	VAL_FAILBACK,     /* bool, manual or auto */
	VAL_HOOK,         /* char *, checked with hook_check_path() once hook_user is known */
	VAL_BYTES,        /* uint64_t, a number of bytes, 0 allowed */
	VAL_CONNINFO,     /* char *, libpq keywords that do not say where or who */
	VAL_SECRET,       /* char *, a file holding a password (read into check.pg_password) */
};

#define FOR_TCP   (1u << CHECK_TCP)
#define FOR_HTTP  ((1u << CHECK_HTTP) | (1u << CHECK_HTTPS))
#define FOR_HTTPS (1u << CHECK_HTTPS)
#define FOR_EXEC  (1u << CHECK_EXEC)
#define FOR_PG    (1u << CHECK_POSTGRES)

struct config_key {
	const char *name;
	enum config_section_kind section;
	enum config_value type;
	size_t offset;     /* of the field in struct config, service_conf or member_conf */
	size_t len_offset; /* of the length field, VAL_ESCAPED only */
	long lo, hi;       /* range of VAL_COUNT and VAL_INT */
	unsigned applies;  /* bit per check type it makes sense for; 0: all */
};

#define SPOFD_KEY(n, t) { #n, SECTION_SPOFD, t, offsetof(struct config, n), 0, 0, 0, 0 }
#define CHECK_KEY(n, f, t, ap) \
	{ n, SECTION_SERVICE, t, offsetof(struct service_conf, check.f), 0, 0, 0, ap }
#define COUNT_KEY(n, f) { n, SECTION_SERVICE, VAL_COUNT, offsetof(struct service_conf, check.f), \
	0, 1, CONFIG_RISE_FALL_MAX, 0 }
#define BYTES_KEY(n, f) { n, SECTION_SERVICE, VAL_ESCAPED, offsetof(struct service_conf, check.f), \
	offsetof(struct service_conf, check.f##_len), 0, 0, FOR_TCP }
#define SERVICE_KEY(n, f, t) { n, SECTION_SERVICE, t, offsetof(struct service_conf, f), 0, 0, 0, 0 }
#define SERVICE_COUNT_KEY(n, f, lo, hi) \
	{ n, SECTION_SERVICE, VAL_COUNT, offsetof(struct service_conf, f), 0, lo, hi, 0 }
#define MEMBER_KEY(n, t, hi) { #n, SECTION_MEMBER, t, offsetof(struct member_conf, n), 0, 0, hi, 0 }

static const struct config_key config_keys[] = {
	SPOFD_KEY(node, VAL_NAME),
	SPOFD_KEY(control_socket, VAL_SOCKET),
	SPOFD_KEY(control_group, VAL_TOKEN),
	SPOFD_KEY(admin_group, VAL_TOKEN),
	SPOFD_KEY(state_dir, VAL_STRING),
	SPOFD_KEY(log_level, VAL_LOG_LEVEL),
	SPOFD_KEY(hook_user, VAL_USER),
	CHECK_KEY("check", type, VAL_CHECK, 0),
	CHECK_KEY("interval", interval_ms, VAL_DURATION, 0),
	CHECK_KEY("fastinter", fastinter_ms, VAL_DURATION, 0),
	CHECK_KEY("downinter", downinter_ms, VAL_DURATION, 0),
	CHECK_KEY("timeout", timeout_ms, VAL_DURATION, 0),
	COUNT_KEY("rise", rise),
	COUNT_KEY("fall", fall),
	BYTES_KEY("tcp_send", tcp_send),
	BYTES_KEY("tcp_expect", tcp_expect),
	CHECK_KEY("http_method", http_method, VAL_TOKEN, FOR_HTTP),
	CHECK_KEY("http_path", http_path, VAL_HTTP_PATH, FOR_HTTP),
	CHECK_KEY("http_host", http_host, VAL_TOKEN, FOR_HTTP),
	CHECK_KEY("http_expect_status", http_expect_status, VAL_STATUS, FOR_HTTP),
	CHECK_KEY("http_expect_body", http_expect_body, VAL_STRING, FOR_HTTP),
	CHECK_KEY("tls_verify", tls_verify, VAL_BOOL, FOR_HTTPS),
	CHECK_KEY("tls_ca_file", tls_ca_file, VAL_FILE, FOR_HTTPS),
	CHECK_KEY("exec_command", exec_argv, VAL_ARGV, FOR_EXEC),
	CHECK_KEY("exec_kill_grace", exec_kill_grace_ms, VAL_DURATION0, FOR_EXEC),
	CHECK_KEY("pg_user", pg_user, VAL_STRING, FOR_PG),
	CHECK_KEY("pg_database", pg_database, VAL_STRING, FOR_PG),
	CHECK_KEY("pg_query", pg_query, VAL_BOOL, FOR_PG),
	CHECK_KEY("pg_conninfo", pg_conninfo, VAL_CONNINFO, FOR_PG),
	CHECK_KEY("pg_password_file", pg_password_file, VAL_SECRET, FOR_PG),
	{ "max_lag_bytes", SECTION_SERVICE, VAL_BYTES, offsetof(struct service_conf, max_lag_bytes),
	  0, 0, 0, FOR_PG },
	SERVICE_KEY("on_promote", on_promote, VAL_HOOK),
	SERVICE_KEY("on_demote", on_demote, VAL_HOOK),
	SERVICE_KEY("on_change", on_change, VAL_HOOK),
	SERVICE_KEY("hook_timeout", hook_timeout_ms, VAL_DURATION),
	SERVICE_KEY("hook_kill_grace", hook_kill_grace_ms, VAL_DURATION0),
	SERVICE_KEY("failback", failback_auto, VAL_FAILBACK),
	/* 0: a recovered member (already up for `rise` probes) gets its role back at once */
	SERVICE_KEY("failback_delay", failback_delay_ms, VAL_DURATION0),
	SERVICE_KEY("failover_cooldown", failover_cooldown_ms, VAL_DURATION0),
	/* never 0: a hook failing at once would otherwise cycle through the members */
	SERVICE_KEY("promote_backoff", promote_backoff_ms, VAL_DURATION),
	SERVICE_KEY("vip", vips, VAL_VIPS),
	SERVICE_COUNT_KEY("garp_repeat", garp_repeat, 1, CONFIG_GARP_REPEAT_MAX),
	SERVICE_KEY("garp_interval", garp_interval_ms, VAL_DURATION),
	SERVICE_KEY("garp_refresh", garp_refresh_ms, VAL_DURATION0),
	MEMBER_KEY(address, VAL_ADDRESS, 0),
	MEMBER_KEY(node, VAL_NAME, 0),
	MEMBER_KEY(priority, VAL_INT, CONFIG_PRIORITY_MAX),
};
#define CONFIG_N_KEYS ARRAY_LEN(config_keys)

/* One [section] of the file as met while parsing. */
struct config_section {
	enum config_section_kind kind;
	unsigned line;          /* of the header */
	size_t index;           /* into cfg->services or parser->members */
	unsigned key_line[CONFIG_N_KEYS]; /* where each key was given; 0: not given */
	bool key_ok[CONFIG_N_KEYS];       /* and was parsed without error */
};

struct config_message {
	unsigned line;          /* 0: about the whole file */
	size_t seq;             /* order of reporting, to keep the sort stable */
	char *text;
};

struct config_parser {
	struct config *cfg;
	const char *path;       /* as named in messages */
	/* input: a stream or a string */
	FILE *fp;
	const char *text;
	char *buf;              /* the current line, from getline */
	size_t bufsize;
	unsigned lineno;
	int read_errno;         /* why reading the stream stopped early; 0: it did not */
	/* sections met so far; the last one is current */
	struct config_section *sections;
	size_t n_sections;
	/* members in file order, attached to their service at the end */
	struct member_conf *members;
	size_t n_members;
	struct config_message *messages;
	size_t n_messages;
};

static void config_error(struct config_parser *, unsigned, const char *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
config_error(struct config_parser *p, unsigned line, const char *key, const char *fmt, ...)
{
	struct config_message *m;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal("out of memory (vasprintf)");
	va_end(ap);
	p->messages = xrealloc(p->messages, (p->n_messages + 1) * sizeof(*p->messages));
	m = &p->messages[p->n_messages];
	m->line = line;
	m->seq = p->n_messages++;
	if (line == 0)
		m->text = xasprintf("%s: %s", p->path, msg);
	else
		m->text = xasprintf("%s:%u: %s: %s", p->path, line, key, msg);
	free(msg);
}

static int
config_message_cmp(const void *a, const void *b)
{
	const struct config_message *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

const char *
check_type_str(enum check_type t)
{
	switch (t) {
	case CHECK_TCP:
		return "tcp";
	case CHECK_HTTP:
		return "http";
	case CHECK_HTTPS:
		return "https";
	case CHECK_EXEC:
		return "exec";
	case CHECK_POSTGRES:
		return "postgres";
	}
	return "unknown";
}

static bool
config_check_type_parse(const char *s, enum check_type *t)
{
	static const enum check_type all[] = { CHECK_TCP, CHECK_HTTP, CHECK_HTTPS, CHECK_EXEC,
		CHECK_POSTGRES };

	for (size_t i = 0; i < ARRAY_LEN(all); i++) {
		if (strcmp(s, check_type_str(all[i])) == 0) {
			*t = all[i];
			return true;
		}
	}
	return false;
}

/* ---- sections ---- */

static struct config_section *
config_current(struct config_parser *p)
{
	return p->n_sections == 0 ? NULL : &p->sections[p->n_sections - 1];
}

static struct config_section *
config_section_add(struct config_parser *p, enum config_section_kind kind)
{
	struct config_section *sec;

	p->sections = xrealloc(p->sections, (p->n_sections + 1) * sizeof(*p->sections));
	sec = &p->sections[p->n_sections++];
	memset(sec, 0, sizeof(*sec));
	sec->kind = kind;
	sec->line = p->lineno;
	return sec;
}

static const struct config_section *
config_section_find(const struct config_parser *p, enum config_section_kind kind,
    const char *service, const char *member)
{
	for (size_t i = 0; i < p->n_sections; i++) {
		const struct config_section *sec = &p->sections[i];

		if (sec->kind != kind)
			continue;
		if (kind == SECTION_SPOFD)
			return sec;
		if (kind == SECTION_SERVICE && strcmp(p->cfg->services[sec->index].name, service) == 0)
			return sec;
		if (kind == SECTION_MEMBER && strcmp(p->members[sec->index].service, service) == 0 &&
		    strcmp(p->members[sec->index].name, member) == 0)
			return sec;
	}
	return NULL;
}

/* The key NAME of a KIND of section; CONFIG_N_KEYS when there is none. */
static size_t
config_key_index(enum config_section_kind kind, const char *name)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		if (config_keys[i].section == kind && strcmp(config_keys[i].name, name) == 0)
			return i;
	}
	return CONFIG_N_KEYS;
}

/* The index of a key this file names by itself: a typo there is a bug. */
static size_t
config_known_key(const struct config_section *sec, const char *name)
{
	size_t k = config_key_index(sec->kind, name);

	if (k == CONFIG_N_KEYS)
		fatal("config: no key \"%s\" in this kind of section", name);
	return k;
}

/* Where a key was given in SEC, or the section header when it was not. */
static unsigned
config_key_line(const struct config_section *sec, const char *name)
{
	size_t k = config_known_key(sec, name);

	return sec->key_line[k] != 0 ? sec->key_line[k] : sec->line;
}

static bool
config_key_given(const struct config_section *sec, const char *name)
{
	return sec->key_line[config_known_key(sec, name)] != 0;
}

static bool
config_key_valid(const struct config_section *sec, const char *name)
{
	size_t k = config_known_key(sec, name);

	return sec->key_line[k] != 0 && sec->key_ok[k];
}

/* Defaults that later keys of the section may override. */
static void
config_service_init(struct service_conf *svc, const char *name, unsigned line)
{
	memset(svc, 0, sizeof(*svc));
	svc->name = xstrdup(name);
	svc->line = line;
	svc->check.type = CHECK_TCP;
	svc->check.interval_ms = DEFAULT_INTERVAL_MS;
	svc->check.timeout_ms = DEFAULT_TIMEOUT_MS;
	svc->check.rise = DEFAULT_RISE;
	svc->check.fall = DEFAULT_FALL;
	svc->check.tls_verify = true;
	svc->check.exec_kill_grace_ms = DEFAULT_EXEC_KILL_GRACE_MS;
	svc->hook_timeout_ms = DEFAULT_HOOK_TIMEOUT_MS;
	svc->hook_kill_grace_ms = DEFAULT_HOOK_KILL_GRACE_MS;
	svc->garp_repeat = DEFAULT_GARP_REPEAT;
	svc->garp_interval_ms = DEFAULT_GARP_INTERVAL_MS;
	svc->garp_refresh_ms = DEFAULT_GARP_REFRESH_MS;
	svc->failback_auto = false;
	svc->failback_delay_ms = DEFAULT_FAILBACK_DELAY_MS;
	svc->failover_cooldown_ms = DEFAULT_FAILOVER_COOLDOWN_MS;
	svc->promote_backoff_ms = DEFAULT_PROMOTE_BACKOFF_MS;
	svc->max_lag_bytes = DEFAULT_MAX_LAG_BYTES;
}

/*
 * A password or libpq keywords only matter once spofd logs in (pg_query =
 * yes); without it they would silently check nothing, so they are refused.
 */
static void
config_service_finish_pg(struct config_parser *p, const struct config_section *sec)
{
	struct check_conf *c = &p->cfg->services[sec->index].check;
	static const char *const login_keys[] = { "pg_conninfo", "pg_password_file" };

	if (c->type != CHECK_POSTGRES || c->pg_query)
		return;
	for (size_t i = 0; i < ARRAY_LEN(login_keys); i++) {
		if (config_key_given(sec, login_keys[i]))
			config_error(p, config_key_line(sec, login_keys[i]), login_keys[i],
			    "applies only with pg_query = yes (without it the probe does not log in)");
	}
}

/* Checks that need the whole [service] section: done when it ends. */
static void
config_service_finish(struct config_parser *p, const struct config_section *sec)
{
	struct service_conf *svc = &p->cfg->services[sec->index];
	struct check_conf *c = &svc->check;
	char b1[32], b2[32];

	if (!config_key_given(sec, "timeout")) {
		/* A short interval drags the default budget along with it. */
		if (c->interval_ms < c->timeout_ms)
			c->timeout_ms = c->interval_ms;
	} else if (config_key_valid(sec, "timeout") && c->timeout_ms > c->interval_ms &&
	    (!config_key_given(sec, "interval") || config_key_valid(sec, "interval"))) {
		config_error(p, config_key_line(sec, "timeout"), "timeout",
		    "%s is longer than interval %s (a probe must end before the next one)",
		    config_duration_str(c->timeout_ms, b1, sizeof(b1)),
		    config_duration_str(c->interval_ms, b2, sizeof(b2)));
	}
	if (!config_key_given(sec, "fastinter"))
		c->fastinter_ms = c->interval_ms;
	if (!config_key_given(sec, "downinter"))
		c->downinter_ms = c->interval_ms;
	if (c->http_method == NULL)
		c->http_method = xstrdup("GET");
	if (c->http_path == NULL)
		c->http_path = xstrdup("/");
	if (c->n_http_expect_status == 0) {
		c->http_expect_status[0].lo = 200;
		c->http_expect_status[0].hi = 399;
		c->n_http_expect_status = 1;
	}
	if (c->pg_user == NULL)
		c->pg_user = xstrdup(DEFAULT_PG_USER);
	if (c->pg_database == NULL)
		c->pg_database = xstrdup(c->pg_user);

	/* With an unknown check type, "does not apply" would only add noise. */
	if (config_key_given(sec, "check") && !config_key_valid(sec, "check"))
		return;
	for (size_t k = 0; k < CONFIG_N_KEYS; k++) {
		if (sec->key_line[k] == 0 || config_keys[k].applies == 0)
			continue;
		if ((config_keys[k].applies & (1u << c->type)) == 0)
			config_error(p, sec->key_line[k], config_keys[k].name,
			    "does not apply to check %s", check_type_str(c->type));
	}
	if (c->type == CHECK_EXEC && !config_key_given(sec, "exec_command"))
		config_error(p, sec->line, "exec_command",
		    "missing in [service %s] (required for check exec)", svc->name);
	config_service_finish_pg(p, sec);
}

static void
config_section_finish(struct config_parser *p)
{
	struct config_section *sec = config_current(p);

	if (sec != NULL && sec->kind == SECTION_SERVICE)
		config_service_finish(p, sec);
}

static void
config_header_spofd(struct config_parser *p, const char *arg)
{
	const struct config_section *prev;

	if (*arg != '\0') {
		config_error(p, p->lineno, "spofd", "[spofd] takes no name");
		config_section_add(p, SECTION_IGNORED);
	} else if ((prev = config_section_find(p, SECTION_SPOFD, NULL, NULL)) != NULL) {
		config_error(p, p->lineno, "spofd", "section [spofd] given twice (first at line %u)",
		    prev->line);
		config_section_add(p, SECTION_IGNORED);
	} else {
		config_section_add(p, SECTION_SPOFD);
	}
}

static void
config_header_service(struct config_parser *p, const char *name)
{
	struct config *cfg = p->cfg;
	const struct config_section *prev;
	struct config_section *sec;

	if (*name == '\0') {
		config_error(p, p->lineno, "service", "missing name (expected [service NAME])");
		config_section_add(p, SECTION_IGNORED);
	} else if (!config_name_valid(name)) {
		config_error(p, p->lineno, "service", "bad service name \"%s\" (" CONFIG_NAME_RULE ")",
		    name);
		config_section_add(p, SECTION_IGNORED);
	} else if ((prev = config_section_find(p, SECTION_SERVICE, name, NULL)) != NULL) {
		config_error(p, p->lineno, "service", "service \"%s\" given twice (first at line %u)",
		    name, prev->line);
		config_section_add(p, SECTION_IGNORED);
	} else {
		sec = config_section_add(p, SECTION_SERVICE);
		cfg->services = xrealloc(cfg->services, (cfg->n_services + 1) * sizeof(*cfg->services));
		sec->index = cfg->n_services++;
		config_service_init(&cfg->services[sec->index], name, p->lineno);
	}
}

/* ARG is "SERVICE/NAME"; it is cut at the slash. */
static void
config_header_member(struct config_parser *p, char *arg)
{
	char *slash = strchr(arg, '/'), *name;
	const struct config_section *prev;
	struct config_section *sec;
	struct member_conf *m;

	if (slash == NULL || slash == arg || slash[1] == '\0') {
		config_error(p, p->lineno, "member", "expected [member SERVICE/NAME]");
		config_section_add(p, SECTION_IGNORED);
		return;
	}
	*slash = '\0';
	name = slash + 1;
	if (!config_name_valid(arg)) {
		config_error(p, p->lineno, "member", "bad service name \"%s\" (" CONFIG_NAME_RULE ")", arg);
		config_section_add(p, SECTION_IGNORED);
	} else if (!config_name_valid(name)) {
		config_error(p, p->lineno, "member", "bad member name \"%s\" (" CONFIG_NAME_RULE ")", name);
		config_section_add(p, SECTION_IGNORED);
	} else if ((prev = config_section_find(p, SECTION_MEMBER, arg, name)) != NULL) {
		config_error(p, p->lineno, "member", "duplicate member \"%s/%s\" (first at line %u)",
		    arg, name, prev->line);
		config_section_add(p, SECTION_IGNORED);
	} else {
		sec = config_section_add(p, SECTION_MEMBER);
		p->members = xrealloc(p->members, (p->n_members + 1) * sizeof(*p->members));
		sec->index = p->n_members++;
		m = &p->members[sec->index];
		memset(m, 0, sizeof(*m));
		m->service = xstrdup(arg);
		m->name = xstrdup(name);
		m->line = p->lineno;
		m->priority = CONFIG_DEFAULT_PRIORITY;
	}
}

/*
 * A "[...]" line, white space already stripped from its start.  Starts a
 * new section (an ignored one when the header is wrong, so that its keys
 * add no errors of their own) and reports any problem at this line.
 */
static void
config_header(struct config_parser *p, const char *line)
{
	const char *close = strchr(line, ']');
	const char *rest;
	char *inner, *kind, *arg;

	config_section_finish(p);
	if (close == NULL) {
		config_error(p, p->lineno, "syntax", "missing ']' at the end of the section header");
		config_section_add(p, SECTION_IGNORED);
		return;
	}
	rest = close + 1 + strspn(close + 1, " \t");
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		config_error(p, p->lineno, "syntax", "unexpected text after ']'");
		config_section_add(p, SECTION_IGNORED);
		return;
	}

	inner = xstrndup(line + 1, (size_t)(close - line - 1));
	kind = str_trim(inner);
	arg = kind + strcspn(kind, " \t");
	if (*arg != '\0')
		*arg++ = '\0';
	arg = str_trim(arg);

	if (strcmp(kind, "spofd") == 0)
		config_header_spofd(p, arg);
	else if (strcmp(kind, "service") == 0)
		config_header_service(p, arg);
	else if (strcmp(kind, "member") == 0)
		config_header_member(p, arg);
	else if (*kind == '\0') {
		config_error(p, p->lineno, "syntax", "empty section header");
		config_section_add(p, SECTION_IGNORED);
	} else {
		config_error(p, p->lineno, kind,
		    "unknown section (use [spofd], [service NAME] or [member SERVICE/NAME])");
		config_section_add(p, SECTION_IGNORED);
	}
	free(inner);
}

/* ---- keys ---- */

static void *
config_key_target(struct config_parser *p, const struct config_section *sec)
{
	switch (sec->kind) {
	case SECTION_SPOFD:
		return p->cfg;
	case SECTION_SERVICE:
		return &p->cfg->services[sec->index];
	case SECTION_MEMBER:
		return &p->members[sec->index];
	case SECTION_IGNORED:
		break;
	}
	return NULL;
}

static const char *
config_section_label(const struct config_section *sec)
{
	switch (sec->kind) {
	case SECTION_SPOFD:
		return "[spofd]";
	case SECTION_SERVICE:
		return "[service]";
	case SECTION_MEMBER:
		return "[member]";
	case SECTION_IGNORED:
		break;
	}
	return "this section";
}

/* A relative file name is taken from the configuration file's directory. */
static char *
config_resolve_path(const struct config_parser *p, const char *name)
{
	const char *slash = strrchr(p->path, '/');

	if (name[0] == '/' || slash == NULL)
		return xstrdup(name);
	return xasprintf("%.*s/%s", (int)(slash - p->path), p->path, name);
}

/* "vip = ADDRESS/PREFIX dev IFACE, ...": the whole list, or nothing (after reporting). */
static bool
config_vips_set(struct config_parser *p, const struct config_key *k, void *base, const char *value)
{
	struct service_conf *svc = base;
	struct vip_conf *vips = NULL;
	size_t n = 0;
	char buf[256];
	const char *msg = NULL;

	for (const char *q = value; msg == NULL; q++) {
		const char *comma = strchr(q, ',');
		char *copy = xstrndup(q, comma != NULL ? (size_t)(comma - q) : strlen(q));
		char *item = str_trim(copy);
		struct vip_conf v;

		if (*item == '\0') {
			msg = "empty item in the list (use ADDRESS/PREFIX dev IFACE, ADDRESS/PREFIX dev IFACE)";
		} else if ((msg = config_parse_vip(item, &v, buf, sizeof(buf))) == NULL) {
			for (size_t i = 0; i < n && msg == NULL; i++) {
				if (config_vip_same_address(&vips[i], &v)) {
					snprintf(buf, sizeof(buf), "%s given twice", v.text);
					msg = buf;
				}
			}
			if (msg != NULL) {
				vip_conf_free(&v);
			} else {
				vips = xrealloc(vips, (n + 1) * sizeof(*vips));
				vips[n++] = v;
			}
		}
		free(copy);
		if (comma == NULL)
			break;
		q = comma;
	}
	if (msg != NULL) {
		config_error(p, p->lineno, k->name, "%s", msg);
		for (size_t i = 0; i < n; i++)
			vip_conf_free(&vips[i]);
		free(vips);
		return false;
	}
	svc->vips = vips;
	svc->n_vips = n;
	return true;
}

/* Parse VALUE of key K into BASE; false (after reporting) when it is wrong. */
static bool
config_key_set(struct config_parser *p, const struct config_key *k, void *base, const char *value)
{
	char *field = (char *)base + k->offset;
	char **str = (char **)(void *)field;
	const char *msg;
	unsigned line = p->lineno;
	const char *key = k->name;

	if (*value == '\0') {
		config_error(p, line, key, "empty value");
		return false;
	}
	switch (k->type) {
	case VAL_DURATION:
	case VAL_DURATION0: {
		uint64_t ms;

		if ((msg = config_parse_duration(value, &ms)) != NULL) {
			/* "bad duration (use ...)" reads best as 'bad duration "5x" (use ...)' */
			int head = (int)strcspn(msg, "(");

			config_error(p, line, key, "%.*s\"%s\" %s", head, msg, value, msg + head);
			return false;
		}
		if (ms == 0 && k->type == VAL_DURATION) {
			config_error(p, line, key, "must be longer than 0");
			return false;
		}
		*(uint64_t *)(void *)field = ms;
		return true;
	}
	case VAL_COUNT:
	case VAL_INT: {
		long n;

		if ((msg = config_parse_long(value, k->lo, k->hi, &n)) != NULL) {
			config_error(p, line, key, "\"%s\" is %s (use a whole number from %ld to %ld)",
			    value, msg, k->lo, k->hi);
			return false;
		}
		if (k->type == VAL_COUNT)
			*(unsigned *)(void *)field = (unsigned)n;
		else
			*(int *)(void *)field = (int)n;
		return true;
	}
	case VAL_STRING:
	case VAL_HOOK:
		break;
	case VAL_TOKEN:
		if (config_has_blank_or_control(value)) {
			config_error(p, line, key, "\"%s\" must not contain blanks or control characters",
			    value);
			return false;
		}
		break;
	case VAL_NAME:
		if (!config_name_valid(value)) {
			config_error(p, line, key, "bad name \"%s\" (" CONFIG_NAME_RULE ")", value);
			return false;
		}
		break;
	case VAL_SOCKET:
		if (strlen(value) > CONFIG_SOCKET_PATH_MAX) {
			config_error(p, line, key, "path too long for a Unix socket (at most %zu bytes)",
			    (size_t)CONFIG_SOCKET_PATH_MAX);
			return false;
		}
		break;
	case VAL_FILE: {
		char *path = config_resolve_path(p, value);

		if (access(path, R_OK) != 0) {
			config_error(p, line, key, "cannot read \"%s\": %s", path, strerror(errno));
			free(path);
			return false;
		}
		free(*str);
		*str = path;
		return true;
	}
	case VAL_HTTP_PATH:
		if (value[0] != '/' || config_has_blank_or_control(value)) {
			config_error(p, line, key,
			    "bad path \"%s\" (must start with '/' and contain no blanks)", value);
			return false;
		}
		break;
	case VAL_ESCAPED: {
		const char *bad;
		char *out;
		size_t len;

		if ((bad = config_unescape(value, &out, &len)) != NULL) {
			config_error(p, line, key, "bad escape \"%.*s\" (use \\r, \\n, \\t, \\\\ or \\xHH)",
			    bad[1] == 'x' ? (int)strnlen(bad, 4) : (int)strnlen(bad, 2), bad);
			return false;
		}
		free(*str);
		*str = out;
		*(size_t *)(void *)((char *)base + k->len_offset) = len;
		return true;
	}
	case VAL_BOOL:
		if (!config_bool_parse(value, (bool *)(void *)field)) {
			config_error(p, line, key, "expected yes or no, not \"%s\"", value);
			return false;
		}
		return true;
	case VAL_CHECK:
		if (!config_check_type_parse(value, (enum check_type *)(void *)field)) {
			config_error(p, line, key,
			    "unknown check type \"%s\" (use tcp, http, https, postgres or exec)", value);
			return false;
		}
		return true;
	case VAL_LOG_LEVEL:
		if (!log_level_parse(value, (enum log_level *)(void *)field)) {
			config_error(p, line, key,
			    "unknown level \"%s\" (use error, warn, notice, info or debug)", value);
			return false;
		}
		return true;
	case VAL_STATUS: {
		struct service_conf *svc = base;
		struct check_conf *c = &svc->check;

		if ((msg = config_parse_status_list(value, c->http_expect_status,
		    CONFIG_MAX_EXPECT_STATUS, &c->n_http_expect_status)) != NULL) {
			c->n_http_expect_status = 0;
			config_error(p, line, key, "bad status list \"%s\": %s", value, msg);
			return false;
		}
		return true;
	}
	case VAL_ARGV: {
		char **argv = argv_split(value, &msg);

		if (argv == NULL) {
			config_error(p, line, key, "cannot split \"%s\" into words: %s", value, msg);
			return false;
		}
		argv_free(*(char ***)(void *)field);
		*(char ***)(void *)field = argv;
		return true;
	}
	case VAL_ADDRESS: {
		struct member_conf *m = base;
		char *host, *port;

		if ((msg = config_parse_address(value, &host, &port)) != NULL) {
			config_error(p, line, key, "bad address \"%s\": %s", value, msg);
			return false;
		}
		free(m->address);
		free(m->host);
		free(m->port);
		m->address = xstrdup(value);
		m->host = host;
		m->port = port;
		return true;
	}
	case VAL_VIPS:
		return config_vips_set(p, k, base, value);
	case VAL_USER:
		errno = 0;
		if (getpwnam(value) == NULL) {
			/* getpwnam(3): any of these may mean "no such user" */
			if (errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF ||
			    errno == EPERM)
				config_error(p, line, key, "unknown user \"%s\"", value);
			else
				config_error(p, line, key, "cannot look up user \"%s\": %s", value,
				    strerror(errno));
			return false;
		}
		break;
	case VAL_BYTES:
		if ((msg = config_parse_bytes(value, (uint64_t *)(void *)field)) != NULL) {
			config_error(p, line, key, "\"%s\" is %s (use a whole number of bytes, 0 for no limit)",
			    value, msg);
			return false;
		}
		return true;
	case VAL_CONNINFO: {
		char buf[256];

		if ((msg = config_check_conninfo(value, buf, sizeof(buf))) != NULL) {
			config_error(p, line, key, "%s", msg);
			return false;
		}
		break;
	}
	case VAL_SECRET: {
		struct check_conf *c = &((struct service_conf *)base)->check;
		char *path = config_resolve_path(p, value), *secret = NULL, buf[PATH_MAX + 128];

		if ((msg = config_read_secret(path, &secret, buf, sizeof(buf))) != NULL) {
			config_error(p, line, key, "%s", msg);
			free(path);
			return false;
		}
		free(*str);
		*str = path;
		c->pg_password = secret;
		return true;
	}
	case VAL_FAILBACK:
		if (strcmp(value, "manual") == 0)
			*(bool *)(void *)field = false;
		else if (strcmp(value, "auto") == 0)
			*(bool *)(void *)field = true;
		else {
			config_error(p, line, key, "expected manual or auto, not \"%s\"", value);
			return false;
		}
		return true;
	}
	/* The plain string kinds, checked above. */
	free(*str);
	*str = xstrdup(value);
	return true;
}

static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_parser *p = user;
	struct config_section *sec;
	const struct config_key *k;
	size_t ki;
	char *end;
	unsigned long si;

	if (*section == '\0') {
		config_error(p, p->lineno, name, "key outside of any section");
		return 1;
	}
	si = strtoul(section, &end, 10);
	if (*end != '\0' || si >= p->n_sections)
		fatal("config: inih passed an unknown section \"%s\"", section);
	sec = &p->sections[si];
	if (sec->kind == SECTION_IGNORED)
		return 1;

	if ((ki = config_key_index(sec->kind, name)) == CONFIG_N_KEYS) {
		config_error(p, p->lineno, name, "unknown key in %s", config_section_label(sec));
		return 1;
	}
	k = &config_keys[ki];
	if (sec->key_line[ki] != 0) {
		config_error(p, p->lineno, name, "given twice in this section (first at line %u)",
		    sec->key_line[ki]);
		return 1;
	}
	sec->key_line[ki] = p->lineno;
	sec->key_ok[ki] = config_key_set(p, k, config_key_target(p, sec), value);
	return 1;
}

/* ---- reading lines ---- */

/* The next physical line into p->buf, without its line end; false at the end. */
static bool
config_next_line(struct config_parser *p, size_t *len)
{
	ssize_t n;

	if (p->fp != NULL) {
		n = getline(&p->buf, &p->bufsize, p->fp);
		if (n < 0) {
			if (ferror(p->fp))
				p->read_errno = errno;
			return false;
		}
		*len = (size_t)n;
	} else {
		const char *nl;
		size_t l;

		if (*p->text == '\0')
			return false;
		nl = strchr(p->text, '\n');
		l = nl != NULL ? (size_t)(nl - p->text) + 1 : strlen(p->text);
		if (p->bufsize < l + 1) {
			p->bufsize = l + 1;
			p->buf = xrealloc(p->buf, p->bufsize);
		}
		memcpy(p->buf, p->text, l);
		p->buf[l] = '\0';
		p->text += l;
		*len = l;
	}
	if (*len > 0 && p->buf[*len - 1] == '\n')
		p->buf[--*len] = '\0';
	if (*len > 0 && p->buf[*len - 1] == '\r')
		p->buf[--*len] = '\0';
	return true;
}

/* Will inih split this line as "key = value", at the first '='? */
static bool
config_key_line_valid(const char *s)
{
	const char *eq = strchr(s, '=');
	const char *q = s;

	if (eq == NULL)
		return false;
	while (q < eq && (isalnum((unsigned char)*q) || *q == '_' || *q == '-' || *q == '.'))
		q++;
	if (q == s)
		return false;
	while (q < eq && (*q == ' ' || *q == '\t'))
		q++;
	return q == eq;
}

/* The ini_reader: see the comment at the top of the file. */
static char *
config_read_line(char *str, int num, void *stream)
{
	struct config_parser *p = stream;
	const char *s;
	size_t len;

	if (!config_next_line(p, &len)) {
		config_section_finish(p);
		return NULL;
	}
	p->lineno++;
	s = p->buf;
	if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		len -= 3;
	}
	str[0] = '\0';
	if (num < 2 || len > (size_t)num - 1) {
		config_error(p, p->lineno, "syntax", "line too long (%zu characters, at most %d)", len,
		    num - 1);
		return str;
	}
	if (strlen(s) != len) {
		config_error(p, p->lineno, "syntax", "line contains a NUL byte");
		return str;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return str;
	if (*s == '[') {
		config_header(p, s);
		snprintf(str, (size_t)num, "[%zu]", p->n_sections - 1);
		return str;
	}
	if (!config_key_line_valid(s)) {
		char *shown = xstrdup(s);

		config_error(p, p->lineno, "syntax", "expected 'key = value', got \"%s\"", str_trim(shown));
		free(shown);
		return str;
	}
	memcpy(str, s, strlen(s) + 1);
	return str;
}

/* ---- the whole file ---- */

static void
config_member_free(struct member_conf *m)
{
	free(m->service);
	free(m->name);
	free(m->address);
	free(m->host);
	free(m->port);
	free(m->node);
}

static void
config_check_free(struct check_conf *c)
{
	free(c->tcp_send);
	free(c->tcp_expect);
	free(c->http_method);
	free(c->http_path);
	free(c->http_host);
	free(c->http_expect_body);
	free(c->tls_ca_file);
	argv_free(c->exec_argv);
	free(c->pg_user);
	free(c->pg_database);
	free(c->pg_conninfo);
	free(c->pg_password_file);
	if (c->pg_password != NULL) {
		explicit_bzero(c->pg_password, strlen(c->pg_password));
		free(c->pg_password);
	}
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n_services; i++) {
		struct service_conf *svc = &cfg->services[i];

		free(svc->name);
		config_check_free(&svc->check);
		free(svc->on_promote);
		free(svc->on_demote);
		free(svc->on_change);
		for (size_t j = 0; j < svc->n_vips; j++)
			vip_conf_free(&svc->vips[j]);
		free(svc->vips);
		for (size_t j = 0; j < svc->n_members; j++)
			config_member_free(&svc->members[j]);
		free(svc->members);
	}
	free(cfg->services);
	free(cfg->path);
	free(cfg->node);
	free(cfg->control_socket);
	free(cfg->control_group);
	free(cfg->admin_group);
	free(cfg->state_dir);
	free(cfg->hook_user);
	free(cfg);
}

static struct service_conf *
config_service_lookup(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_services; i++) {
		if (strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	}
	return NULL;
}

const struct service_conf *
config_find_service(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_services; i++) {
		if (strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	}
	return NULL;
}

/* Attach every member to its service, in file order; what needs both. */
static void
config_resolve(struct config_parser *p)
{
	struct config *cfg = p->cfg;

	/* Member sections are in file order, like p->members. */
	for (size_t i = 0; i < p->n_sections; i++) {
		const struct config_section *sec = &p->sections[i];
		struct member_conf *m;
		struct service_conf *svc;

		if (sec->kind != SECTION_MEMBER)
			continue;
		m = &p->members[sec->index];
		if ((svc = config_service_lookup(cfg, m->service)) == NULL) {
			config_error(p, m->line, "member",
			    "member \"%s/%s\" of unknown service \"%s\" (no [service %s] section)",
			    m->service, m->name, m->service, m->service);
			config_member_free(m);
			continue;
		}
		/* An address given but wrong was reported at its own line. */
		if (svc->check.type != CHECK_EXEC && !config_key_given(sec, "address"))
			config_error(p, m->line, "address",
			    "missing in [member %s/%s] (required for check %s)", m->service, m->name,
			    check_type_str(svc->check.type));
		svc->members = xrealloc(svc->members, (svc->n_members + 1) * sizeof(*svc->members));
		svc->members[svc->n_members++] = *m;
	}
	free(p->members);
	p->members = NULL;
	p->n_members = 0;

	for (size_t i = 0; i < cfg->n_services; i++) {
		if (cfg->services[i].n_members == 0)
			config_error(p, cfg->services[i].line, "service",
			    "service \"%s\" has no members (add a [member %s/NAME] section)",
			    cfg->services[i].name, cfg->services[i].name);
	}
}

/*
 * Hooks are checked once the whole file is read: who may own them depends
 * on [spofd] hook_user, which may come after the services.  An error names
 * the hook's own line.  A hook_user given but wrong was reported at its
 * line and counts as none here, so hooks are held to root ownership.
 */
static void
config_check_hooks(struct config_parser *p)
{
	struct config *cfg = p->cfg;
	char buf[512];

	for (size_t i = 0; i < p->n_sections; i++) {
		const struct config_section *sec = &p->sections[i];
		struct service_conf *svc;

		if (sec->kind != SECTION_SERVICE)
			continue;
		svc = &cfg->services[sec->index];
		for (size_t k = 0; k < CONFIG_N_KEYS; k++) {
			const struct config_key *key = &config_keys[k];
			const char *path, *msg;

			if (key->type != VAL_HOOK || !sec->key_ok[k])
				continue;
			path = *(char **)(void *)((char *)svc + key->offset);
			if ((msg = hook_check_path(path, cfg->hook_user, buf, sizeof(buf))) != NULL)
				config_error(p, sec->key_line[k], key->name, "%s", msg);
		}
	}
}

/*
 * One address, one owner: two services holding the same VIP would take
 * it from each other at every failover.  Reported at the later one.
 */
static void
config_check_vips(struct config_parser *p)
{
	struct config *cfg = p->cfg;

	for (size_t i = 0; i < p->n_sections; i++) {
		const struct config_section *sec = &p->sections[i];
		const struct service_conf *svc;
		bool reported = false;

		if (sec->kind != SECTION_SERVICE)
			continue;
		svc = &cfg->services[sec->index];
		for (size_t a = 0; a < svc->n_vips && !reported; a++) {
			for (size_t j = 0; j < sec->index && !reported; j++) {
				const struct service_conf *other = &cfg->services[j];

				for (size_t b = 0; b < other->n_vips && !reported; b++) {
					if (!config_vip_same_address(&svc->vips[a], &other->vips[b]))
						continue;
					config_error(p, config_key_line(sec, "vip"), "vip",
					    "%s is already a VIP of service %s (line %u)", svc->vips[a].text,
					    other->name, other->line);
					reported = true;
				}
			}
		}
	}
}

static void
config_defaults(struct config *cfg)
{
	if (cfg->node == NULL) {
		char host[HOST_NAME_MAX + 1];

		if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		cfg->node = xstrdup(host);
	}
	if (cfg->control_socket == NULL)
		cfg->control_socket = xstrdup(DEFAULT_CONTROL_SOCKET);
	if (cfg->state_dir == NULL)
		cfg->state_dir = xstrdup(DEFAULT_STATE_DIR);
}

static struct config *
config_parse(struct config_parser *p, FILE *err, unsigned *nerrors)
{
	struct config *cfg = p->cfg;
	int rc;

	cfg->path = xstrdup(p->path);
	cfg->log_level = LOG_LVL_INFO;
	rc = ini_parse_stream(config_read_line, p, config_handler, p);
	if (p->read_errno != 0)
		config_error(p, 0, NULL, "cannot read: %s", strerror(p->read_errno));
	else if (rc == -2)
		config_error(p, 0, NULL, "out of memory while parsing");
	else if (rc != 0 && p->n_messages == 0)
		config_error(p, (unsigned)rc, "syntax", "cannot parse this line");
	config_resolve(p);
	config_check_hooks(p);
	config_check_vips(p);
	config_defaults(cfg);

	if (p->n_messages > 1)
		qsort(p->messages, p->n_messages, sizeof(*p->messages), config_message_cmp);
	for (size_t i = 0; i < p->n_messages; i++) {
		if (err != NULL)
			fprintf(err, "%s\n", p->messages[i].text);
		free(p->messages[i].text);
	}
	if (err != NULL)
		fflush(err);
	if (nerrors != NULL)
		*nerrors = (unsigned)p->n_messages;
	if (p->n_messages != 0) {
		config_free(cfg);
		cfg = NULL;
	}
	for (size_t i = 0; i < p->n_members; i++)
		config_member_free(&p->members[i]);
	free(p->members);
	free(p->messages);
	free(p->sections);
	free(p->buf);
	return cfg;
}

struct config *
config_load(const char *path, FILE *err, unsigned *nerrors)
{
	struct config_parser p;
	struct config *cfg;

	memset(&p, 0, sizeof(p));
	p.path = path;
	if ((p.fp = fopen(path, "r")) == NULL) {
		if (err != NULL)
			fprintf(err, "%s: cannot open: %s\n", path, strerror(errno));
		if (nerrors != NULL)
			*nerrors = 1;
		return NULL;
	}
	p.cfg = xcalloc(1, sizeof(*p.cfg));
	cfg = config_parse(&p, err, nerrors);
	fclose(p.fp);
	return cfg;
}

struct config *
config_load_string(const char *text, const char *path, FILE *err, unsigned *nerrors)
{
	struct config_parser p;

	memset(&p, 0, sizeof(p));
	p.path = path;
	p.text = text;
	p.cfg = xcalloc(1, sizeof(*p.cfg));
	return config_parse(&p, err, nerrors);
}
