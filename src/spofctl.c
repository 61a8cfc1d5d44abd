/*
 * spofctl: ask the daemon over its control socket and show the answer.
 * Exit codes follow the monitoring convention: 0 healthy (or done), 1
 * degraded, 2 failed (a service without a working primary, the daemon
 * unreachable, an error reply, bad usage).
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "control.h"
#include "util.h"

#define SPOFCTL_EXIT_OK 0
#define SPOFCTL_EXIT_DEGRADED 1
#define SPOFCTL_EXIT_FAILED 2
#define SPOFCTL_DEFAULT_TIMEOUT_MS 5000        /* one request */
#define SPOFCTL_SWITCHOVER_TIMEOUT_MS 60000    /* a switchover's whole wait: hooks may be slow */
#define SPOFCTL_POLL_INTERVAL_MS 100           /* between status requests while waiting */
#define SPOFCTL_COLS_MAX 10

struct spofctl {
	const char *sock;     /* -s */
	const char *conf;     /* -c */
	char *path;           /* the socket, resolved at the first request */
	uint64_t timeout_ms;  /* -t: one request, or a switchover's whole wait */
	bool timeout_set;     /* -t was given */
	bool json;            /* --json */
};

struct spofctl_cmd {
	const char *name;
	int (*run)(struct spofctl *sc, char **args, int nargs);
};

/* A boxed table in patronictl's style; every cell an owned string. */
struct spofctl_table {
	const char *const *names;       /* column titles */
	size_t n_cols;
	unsigned right;                 /* bit i set: column i aligned right */
	char **cells;                   /* n_rows x n_cols */
	size_t n_rows;
	size_t width[SPOFCTL_COLS_MAX]; /* characters */
};

enum spofctl_member_col {
	MCOL_MEMBER, MCOL_ROLE, MCOL_ADDRESS, MCOL_HEALTH, MCOL_REASON,
	MCOL_LATENCY, MCOL_LAG, MCOL_SINCE, MCOL_CHECKS, MCOL_COUNT
};

static const char *const spofctl_member_cols[MCOL_COUNT] = {
	"MEMBER", "ROLE", "ADDRESS", "HEALTH", "REASON", "LATENCY", "LAG", "SINCE", "CHECKS"
};

#define SPOFCTL_USAGE_LINE "usage: spofctl [-s SOCKET] [-c CONFIG] [-t TIMEOUT] [--json] COMMAND [ARGS...]\n"

/* After a usage error: the short form, the rest is one -h away. */
static void
usage_short(void)
{
	fprintf(stderr, SPOFCTL_USAGE_LINE
	    "commands: status, switchover, maintenance, history, reload (spofctl -h for more)\n");
}

static void
usage(void)
{
	printf(SPOFCTL_USAGE_LINE
	    "\n"
	    "commands:\n"
	    "  status [SERVICE]\n"
	    "      state, epoch and primary of each service, health and role of its\n"
	    "      members (exit 0 healthy, 1 degraded, 2 a service failed or no answer)\n"
	    "  switchover SERVICE [--to MEMBER] [--force] [--no-wait]\n"
	    "      hand the primary role over gracefully (on_demote, then on_promote),\n"
	    "      to MEMBER or the best standby; --force accepts a standby further\n"
	    "      behind than max_lag_bytes; wait for the outcome unless\n"
	    "      --no-wait (exit 0 done, 2 refused or failed)\n"
	    "  maintenance SERVICE on|off\n"
	    "      suspend or resume automatic failover of SERVICE\n"
	    "  history [SERVICE]\n"
	    "      the daemon's recent events, oldest first\n"
	    "  reload\n"
	    "      re-read the configuration (as SIGHUP does)\n"
	    "  switchover, maintenance and reload need root, the daemon's user or\n"
	    "  the admin group.\n"
	    "\n"
	    "options:\n"
	    "  -s SOCKET   control socket (default: from CONFIG, else %s)\n"
	    "  -c CONFIG   read control_socket from this configuration file\n"
	    "  -t TIMEOUT  how long to wait for the daemon, with a unit (default 5s;\n"
	    "              for a switchover, its whole wait: default 60s)\n"
	    "  --json      print the daemon's JSON reply instead of a table or message\n"
	    "  -h          this help\n"
	    "  -V          version\n",
	    DEFAULT_CONTROL_SOCKET);
}

static void
spofctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
spofctl_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);  /* what came before stays before, on a shared terminal or file */
	fputs("spofctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error of one command: always exit 2. */
static int
spofctl_usage_error(const char *cmd_usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
spofctl_usage_error(const char *cmd_usage, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("spofctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: spofctl [OPTIONS] %s\n", cmd_usage);
	return SPOFCTL_EXIT_FAILED;
}

/*
 * Join WORDS into one request line that the daemon's argv_split takes
 * apart into the same words: special characters get a backslash, an empty
 * word becomes ''.  NULL when a word holds a character no request may carry.
 */
static char *
spofctl_request(const char *const *words, int n)
{
	size_t cap = 1;
	char *line, *p;

	for (int i = 0; i < n; i++)
		cap += strlen(words[i]) * 2 + 3;
	p = line = xmalloc(cap);
	for (int i = 0; i < n; i++) {
		const char *s = words[i];

		if (i > 0)
			*p++ = ' ';
		if (*s == '\0') {
			*p++ = '\'';
			*p++ = '\'';
		}
		for (; *s != '\0'; s++) {
			unsigned char c = (unsigned char)*s;

			if (c < 0x20 || c == 0x7f) {
				free(line);
				return NULL;
			}
			if (c == ' ' || c == '"' || c == '\'' || c == '\\')
				*p++ = '\\';
			*p++ = (char)c;
		}
	}
	*p = '\0';
	return line;
}

/* ---- talking to the daemon ---- */

/*
 * The socket to talk to: -s, else the configuration's, else the default.
 * False after printing why (a configuration with errors).
 */
static bool
spofctl_resolve_socket(struct spofctl *sc)
{
	struct config *cfg;
	unsigned nerrors = 0;

	if (sc->path != NULL)
		return true;
	if (sc->sock != NULL) {
		sc->path = xstrdup(sc->sock);
		return true;
	}
	if (sc->conf == NULL) {
		sc->path = xstrdup(DEFAULT_CONTROL_SOCKET);
		return true;
	}
	if ((cfg = config_load(sc->conf, stderr, &nerrors)) == NULL) {
		spofctl_warn("%s: %u error%s", sc->conf, nerrors, nerrors == 1 ? "" : "s");
		return false;
	}
	sc->path = xstrdup(cfg->control_socket != NULL ? cfg->control_socket : DEFAULT_CONTROL_SOCKET);
	config_free(cfg);
	return true;
}

/*
 * Send WORDS, wait at most TIMEOUT_MS for the reply.  The reply (ok or
 * not), or NULL after printing why there is none.
 */
static json_t *
spofctl_call(struct spofctl *sc, const char *const *words, int n, uint64_t timeout_ms)
{
	char err[512], *line;
	json_t *reply;

	if ((line = spofctl_request(words, n)) == NULL) {
		spofctl_warn("arguments may not contain control characters");
		return NULL;
	}
	if (!spofctl_resolve_socket(sc)) {
		free(line);
		return NULL;
	}
	if (timeout_ms == 0)
		timeout_ms = 1;  /* control_call takes 0 as "already late" */
	reply = control_call(sc->path, line, (int)timeout_ms, err, sizeof(err));
	free(line);
	if (reply == NULL)
		spofctl_warn("%s", err);
	return reply;
}

static void
spofctl_print_json(const json_t *reply)
{
	char *s = json_dumps(reply, JSON_INDENT(2));

	if (s != NULL) {
		printf("%s\n", s);
		free(s);
	}
}

/*
 * Send WORDS with the -t timeout.  0 with an ok reply in *REPLY, else 2
 * after printing the error (and, with --json, the reply).
 */
static int
spofctl_ask(struct spofctl *sc, const char *const *words, int n, json_t **reply)
{
	const char *e;
	json_t *r;

	*reply = NULL;
	if ((r = spofctl_call(sc, words, n, sc->timeout_ms)) == NULL)
		return SPOFCTL_EXIT_FAILED;
	if (json_is_true(json_object_get(r, "ok"))) {
		*reply = r;
		return SPOFCTL_EXIT_OK;
	}
	if (sc->json)
		spofctl_print_json(r);
	e = json_string_value(json_object_get(r, "error"));
	spofctl_warn("%s", e != NULL ? e : "the daemon refused the request");
	json_decref(r);
	return SPOFCTL_EXIT_FAILED;
}

/* The reply's "message", or with --json the whole reply. */
static void
spofctl_print_message(const struct spofctl *sc, const json_t *reply)
{
	const char *msg = json_string_value(json_object_get(reply, "message"));

	if (sc->json || msg == NULL)
		spofctl_print_json(reply);
	else
		printf("%s\n", msg);
}

/*
 * Split ARGS into positional words (into POS, at most MAX_POS) and the
 * options a command takes: OPTS lists them ("--to=" takes a value, stored
 * in the matching VALS slot; others are flags, stored as "").  Returns the
 * number of positional words, or -1 after printing a usage error.
 */
static int
spofctl_parse_args(char **args, int nargs, const char *cmd_usage, const char *const *opts,
    const char **vals, const char **pos, int max_pos)
{
	int npos = 0;

	for (int i = 0; i < nargs; i++) {
		const char *a = args[i];
		size_t k;

		if (a[0] != '-' || a[1] == '\0') {
			if (npos == max_pos) {
				spofctl_usage_error(cmd_usage, "unexpected argument '%s'", a);
				return -1;
			}
			pos[npos++] = a;
			continue;
		}
		for (k = 0; opts != NULL && opts[k] != NULL; k++) {
			const char *o = opts[k];
			size_t len = strlen(o);

			if (o[len - 1] != '=') {
				if (strcmp(a, o) == 0) {
					vals[k] = "";
					break;
				}
				continue;
			}
			/* "--to=b" or "--to b" */
			if (strncmp(a, o, len) == 0) {
				vals[k] = a + len;
				break;
			}
			if (strncmp(a, o, len - 1) == 0 && a[len - 1] == '\0') {
				if (i + 1 == nargs) {
					spofctl_usage_error(cmd_usage, "%s needs a value", a);
					return -1;
				}
				vals[k] = args[++i];
				break;
			}
		}
		if (opts == NULL || opts[k] == NULL) {
			spofctl_usage_error(cmd_usage, "unknown option '%s'", a);
			return -1;
		}
	}
	return npos;
}

/* ---- tables ---- */

static void
spofctl_table_init(struct spofctl_table *t, const char *const *names, size_t n_cols, unsigned right)
{
	memset(t, 0, sizeof(*t));
	t->names = names;
	t->n_cols = n_cols;
	t->right = right;
	for (size_t i = 0; i < n_cols; i++)
		t->width[i] = strlen(names[i]);
}

/* Append a row of n_cols owned strings. */
static void
spofctl_table_add(struct spofctl_table *t, char **row)
{
	t->cells = xrealloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof(*t->cells));
	for (size_t i = 0; i < t->n_cols; i++) {
		size_t w = strlen(row[i]);

		t->cells[t->n_rows * t->n_cols + i] = row[i];
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->n_rows++;
}

static void
spofctl_table_free(struct spofctl_table *t)
{
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* "+---+----+" sized to the columns. */
static void
spofctl_table_rule(const struct spofctl_table *t)
{
	fputc('+', stdout);
	for (size_t i = 0; i < t->n_cols; i++) {
		for (size_t k = 0; k < t->width[i] + 2; k++)
			fputc('-', stdout);
		fputc('+', stdout);
	}
	fputc('\n', stdout);
}

static void
spofctl_table_row(const struct spofctl_table *t, const char *const *cell)
{
	fputc('|', stdout);
	for (size_t i = 0; i < t->n_cols; i++) {
		if (t->right & (1u << i))
			printf(" %*s |", (int)t->width[i], cell[i]);
		else
			printf(" %-*s |", (int)t->width[i], cell[i]);
	}
	fputc('\n', stdout);
}

/* Rows FIRST to FIRST+N-1 under the column titles, boxed. */
static void
spofctl_table_print(const struct spofctl_table *t, size_t first, size_t n)
{
	spofctl_table_rule(t);
	spofctl_table_row(t, t->names);
	spofctl_table_rule(t);
	for (size_t r = first; r < first + n; r++)
		spofctl_table_row(t, (const char *const *)&t->cells[r * t->n_cols]);
	spofctl_table_rule(t);
}

/* ---- cells ---- */

static char *
spofctl_latency(const json_t *v)
{
	json_int_t us;

	if (!json_is_integer(v) || (us = json_integer_value(v)) < 0)
		return xstrdup("-");
	if (us < 1000)
		return xasprintf("%" JSON_INTEGER_FORMAT "us", us);
	if (us < 100000)
		return xasprintf("%.1fms", (double)us / 1000.0);
	if (us < 1000000)
		return xasprintf("%.0fms", (double)us / 1000.0);
	return xasprintf("%.2fs", (double)us / 1000000.0);
}

/* A standby's WAL lag: "0B", "512KiB", "20.4MiB"; "-" when not reported. */
static char *
spofctl_lag(const json_t *v)
{
	json_int_t b;

	if (!json_is_integer(v) || (b = json_integer_value(v)) < 0)
		return xstrdup("-");
	if (b < 1024)
		return xasprintf("%" JSON_INTEGER_FORMAT "B", b);
	if (b < 1024 * 1024)
		return xasprintf("%.0fKiB", (double)b / 1024.0);
	if (b < 1024LL * 1024 * 1024)
		return xasprintf("%.1fMiB", (double)b / (1024.0 * 1024.0));
	return xasprintf("%.1fGiB", (double)b / (1024.0 * 1024.0 * 1024.0));
}

/*
 * "2026-12-04T21:00:00.123Z" to time_t and milliseconds (MS may be NULL).
 * Fractions of a second are optional.
 */
static bool
spofctl_parse_time(const char *s, time_t *out, unsigned *ms)
{
	struct tm tm;
	const char *rest;
	unsigned frac = 0, digits = 0;

	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL)
		return false;
	if (*rest == '.')
		for (rest++; *rest >= '0' && *rest <= '9'; rest++)
			if (digits < 3) {
				frac = frac * 10 + (unsigned)(*rest - '0');
				digits++;
			}
	for (; digits < 3; digits++)
		frac *= 10;
	if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
		return false;
	*out = timegm(&tm);
	if (ms != NULL)
		*ms = frac;
	return *out != (time_t)-1;
}

static char *
spofctl_since(const json_t *v, time_t now)
{
	const char *s = json_string_value(v);
	long long d;
	time_t t;

	if (s == NULL || *s == '\0')
		return xstrdup("-");
	if (!spofctl_parse_time(s, &t, NULL))
		return xstrdup(s);
	d = (long long)(now - t);
	if (d < 0)
		d = 0;  /* clocks of two hosts, or a step of ours */
	if (d < 60)
		return xasprintf("%llds ago", d);
	if (d < 3600)
		return xasprintf("%lldm%02llds ago", d / 60, d % 60);
	if (d < 86400)
		return xasprintf("%lldh%02lldm ago", d / 3600, d % 3600 / 60);
	return xasprintf("%lldd%02lldh ago", d / 86400, d % 86400 / 3600);
}

/* An event time in local time: "21:00:00.123", with the date when not today. */
static char *
spofctl_local_time(const char *s, time_t now)
{
	struct tm tm, today;
	unsigned ms;
	time_t t;
	char buf[64];

	if (s == NULL)
		return xstrdup("-");
	if (!spofctl_parse_time(s, &t, &ms) || localtime_r(&t, &tm) == NULL ||
	    localtime_r(&now, &today) == NULL)
		return xstrdup(s);
	if (tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday)
		strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	else
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	return xasprintf("%s.%03u", buf, ms);
}

static char *
spofctl_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return xstrdup(s != NULL && *s != '\0' ? s : "-");
}

/* ---- status ---- */

/* What a service state says about the whole: 0 fine, 1 degraded, 2 failed. */
static int
spofctl_state_code(const char *state)
{
	if (strcmp(state, "ok") == 0)
		return SPOFCTL_EXIT_OK;
	if (strcmp(state, "no-candidate") == 0 || strcmp(state, "failed") == 0)
		return SPOFCTL_EXIT_FAILED;
	/* electing, primary-down, failing-over, maintenance, and any state
	 * this spofctl does not know yet. */
	return SPOFCTL_EXIT_DEGRADED;
}

/* Exit code of a status reply: the worst of the services and members. */
static int
spofctl_status_code(const json_t *reply)
{
	size_t i, j;
	json_t *svc, *mem;
	int rc = SPOFCTL_EXIT_OK;

	json_array_foreach(json_object_get(reply, "services"), i, svc) {
		const char *state = json_string_value(json_object_get(svc, "state"));

		/* No state at all: a daemon from before failover; members only. */
		if (state != NULL && spofctl_state_code(state) > rc)
			rc = spofctl_state_code(state);
		json_array_foreach(json_object_get(svc, "members"), j, mem) {
			const char *h = json_string_value(json_object_get(mem, "health"));

			if ((h == NULL || strcmp(h, "up") != 0) && rc < SPOFCTL_EXIT_DEGRADED)
				rc = SPOFCTL_EXIT_DEGRADED;
		}
		/* A VIP this node should hold but cannot: clients are not served here. */
		json_array_foreach(json_object_get(svc, "vips"), j, mem) {
			if (json_object_get(mem, "error") != NULL && rc < SPOFCTL_EXIT_DEGRADED)
				rc = SPOFCTL_EXIT_DEGRADED;
		}
	}
	return rc;
}

/* "  vip 192.0.2.100/24 dev br0  held" (or "not held", "not held: no such interface eth9") */
static void
spofctl_print_vips(const json_t *vips)
{
	size_t i;
	json_t *v;

	json_array_foreach(vips, i, v) {
		const char *addr = json_string_value(json_object_get(v, "address"));
		const char *dev = json_string_value(json_object_get(v, "dev"));
		const char *err = json_string_value(json_object_get(v, "error"));
		bool held = json_is_true(json_object_get(v, "held"));

		printf("  vip %s dev %s  %s%s%s\n", addr != NULL ? addr : "?", dev != NULL ? dev : "?",
		    held ? "held" : "not held", err != NULL ? ": " : "", err != NULL ? err : "");
	}
}

/* "web  state primary-down (failover cooldown: ...)  epoch 3  primary a  (maintenance)" */
static void
spofctl_print_service_line(const json_t *svc)
{
	const char *name = json_string_value(json_object_get(svc, "name"));
	const char *state = json_string_value(json_object_get(svc, "state"));
	const char *reason = json_string_value(json_object_get(svc, "state_reason"));
	const char *primary = json_string_value(json_object_get(svc, "primary"));
	const json_t *epoch = json_object_get(svc, "epoch");

	printf("%s", name != NULL ? name : "?");
	if (state != NULL) {
		printf("  state %s", state);
		if (strcmp(state, "ok") != 0 && reason != NULL && *reason != '\0')
			printf(" (%s)", reason);
	}
	if (json_is_integer(epoch))
		printf("  epoch %" JSON_INTEGER_FORMAT, json_integer_value(epoch));
	if (state != NULL)
		printf("  primary %s", primary != NULL ? primary : "-");
	/* Maintenance outlives a role change that shows as the state meanwhile. */
	if (json_is_true(json_object_get(svc, "maintenance")) &&
	    (state == NULL || strcmp(state, "maintenance") != 0))
		printf("  (maintenance)");
	fputc('\n', stdout);
	spofctl_print_vips(json_object_get(svc, "vips"));
}

/*
 * Per service a line with its state, epoch and primary, then its members
 * in a table.  One column width for all the tables, so they line up.
 */
static void
spofctl_print_status(const json_t *reply)
{
	struct spofctl_table t;
	const json_t *services = json_object_get(reply, "services");
	const char *node = json_string_value(json_object_get(reply, "node"));
	time_t now = time(NULL);
	size_t i, j, first = 0;
	json_t *svc, *mem;

	spofctl_table_init(&t, spofctl_member_cols, MCOL_COUNT, (1u << MCOL_CHECKS) | (1u << MCOL_LAG));
	json_array_foreach(services, i, svc) {
		json_array_foreach(json_object_get(svc, "members"), j, mem) {
			const json_t *checks = json_object_get(mem, "checks");
			char *row[MCOL_COUNT];

			row[MCOL_MEMBER] = spofctl_str(mem, "name");
			row[MCOL_ROLE] = spofctl_str(mem, "role");
			row[MCOL_ADDRESS] = spofctl_str(mem, "address");
			row[MCOL_HEALTH] = spofctl_str(mem, "health");
			row[MCOL_REASON] = spofctl_str(mem, "reason");
			row[MCOL_LATENCY] = spofctl_latency(json_object_get(mem, "latency_us"));
			row[MCOL_LAG] = spofctl_lag(json_object_get(mem, "lag_bytes"));
			row[MCOL_SINCE] = spofctl_since(json_object_get(mem, "since"), now);
			row[MCOL_CHECKS] = json_is_integer(checks) ?
			    xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(checks)) :
			    xstrdup("-");
			spofctl_table_add(&t, row);
		}
	}

	printf("Node: %s\n", node != NULL ? node : "?");
	json_array_foreach(services, i, svc) {
		size_t n = json_array_size(json_object_get(svc, "members"));

		fputc('\n', stdout);
		spofctl_print_service_line(svc);
		if (n == 0)
			printf("  no members\n");
		else
			spofctl_table_print(&t, first, n);
		first += n;
	}
	spofctl_table_free(&t);
}

/*
 * Ask CMD [one optional word], print the reply (JSON or PRINT's form) and
 * return CODE's verdict on it (0 when CODE is NULL).
 */
static int
spofctl_show(struct spofctl *sc, const char *cmd, const char *cmd_usage, char **args, int nargs,
    void (*print)(const json_t *), int (*code)(const json_t *))
{
	const char *words[2] = { cmd, NULL };
	json_t *reply;
	int npos, rc;

	if ((npos = spofctl_parse_args(args, nargs, cmd_usage, NULL, NULL, &words[1], 1)) < 0)
		return SPOFCTL_EXIT_FAILED;
	if ((rc = spofctl_ask(sc, words, 1 + npos, &reply)) != SPOFCTL_EXIT_OK)
		return rc;
	if (sc->json)
		spofctl_print_json(reply);
	else
		print(reply);
	rc = code != NULL ? code(reply) : SPOFCTL_EXIT_OK;
	json_decref(reply);
	return rc;
}

static int
spofctl_cmd_status(struct spofctl *sc, char **args, int nargs)
{
	return spofctl_show(sc, "status", "status [SERVICE] [--json]", args, nargs,
	    spofctl_print_status, spofctl_status_code);
}

/* ---- switchover ---- */

static void
spofctl_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* SERVICE's object in a status reply, or NULL. */
static const json_t *
spofctl_find_service(const json_t *reply, const char *service)
{
	size_t i;
	json_t *svc;

	json_array_foreach(json_object_get(reply, "services"), i, svc) {
		const char *name = json_string_value(json_object_get(svc, "name"));

		if (name != NULL && strcmp(name, service) == 0)
			return svc;
	}
	return NULL;
}

/* Why SVC is not what a switchover to TO should have left. */
static char *
spofctl_switchover_why(const json_t *svc, const char *to)
{
	const char *state = json_string_value(json_object_get(svc, "state"));
	const char *reason = json_string_value(json_object_get(svc, "state_reason"));
	const char *primary = json_string_value(json_object_get(svc, "primary"));

	if (state != NULL && spofctl_state_code(state) != SPOFCTL_EXIT_OK &&
	    strcmp(state, "maintenance") != 0)
		return reason != NULL && *reason != '\0' ? xstrdup(reason) : xasprintf("state %s", state);
	/* Settled, but on someone else: a later change overtook ours. */
	return xasprintf("primary is %s, not %s (epoch %" JSON_INTEGER_FORMAT ")",
	    primary != NULL ? primary : "none", to,
	    json_integer_value(json_object_get(svc, "epoch")));
}

/*
 * Poll "status SERVICE" until the change of epoch EPOCH has ended: the
 * service reached that epoch and no longer fails over.  Then ok when TO
 * is the primary of a working service.  A service in maintenance counts
 * as working: maintenance only holds back automatic failovers.
 */
static int
spofctl_switchover_wait(struct spofctl *sc, const char *service, json_int_t epoch, const char *to,
    uint64_t deadline_us)
{
	const char *words[] = { "status", service };
	const char *state, *primary;
	json_int_t now_epoch;
	const json_t *svc;
	json_t *reply;
	char *why;
	int rc;

	for (;;) {
		uint64_t now = now_mono_us();

		if (now >= deadline_us) {
			uint64_t ms = sc->timeout_set ? sc->timeout_ms : SPOFCTL_SWITCHOVER_TIMEOUT_MS;

			if (ms % 1000 == 0)
				spofctl_warn("%s: switchover not finished after %" PRIu64 "s; see spofctl status %s",
				    service, ms / 1000, service);
			else
				spofctl_warn("%s: switchover not finished after %" PRIu64 "ms; see spofctl status %s",
				    service, ms, service);
			return SPOFCTL_EXIT_FAILED;
		}
		if ((reply = spofctl_call(sc, words, 2, (deadline_us - now + 999) / 1000)) == NULL)
			return SPOFCTL_EXIT_FAILED;
		if (!json_is_true(json_object_get(reply, "ok")) ||
		    (svc = spofctl_find_service(reply, service)) == NULL) {
			const char *e = json_string_value(json_object_get(reply, "error"));

			spofctl_warn("%s: while waiting for the switchover: %s", service,
			    e != NULL ? e : "the status reply lacks the service");
			json_decref(reply);
			return SPOFCTL_EXIT_FAILED;
		}
		state = json_string_value(json_object_get(svc, "state"));
		now_epoch = json_integer_value(json_object_get(svc, "epoch"));
		if (state != NULL && now_epoch >= epoch && strcmp(state, "failing-over") != 0)
			break;
		json_decref(reply);
		spofctl_sleep_ms(SPOFCTL_POLL_INTERVAL_MS);
	}

	primary = json_string_value(json_object_get(svc, "primary"));
	if (primary != NULL && strcmp(primary, to) == 0 &&
	    (strcmp(state, "ok") == 0 || strcmp(state, "maintenance") == 0)) {
		if (!sc->json)
			printf("%s: primary is now %s (epoch %" JSON_INTEGER_FORMAT ")\n", service, to,
			    now_epoch);
		rc = SPOFCTL_EXIT_OK;
	} else {
		why = spofctl_switchover_why(svc, to);
		spofctl_warn("%s: switchover failed: %s", service, why);
		free(why);
		rc = SPOFCTL_EXIT_FAILED;
	}
	json_decref(reply);
	return rc;
}

static int
spofctl_cmd_switchover(struct spofctl *sc, char **args, int nargs)
{
	static const char cmd_usage[] = "switchover SERVICE [--to MEMBER] [--force] [--no-wait]";
	static const char *const opts[] = { "--to=", "--no-wait", "--force", NULL };
	const char *vals[3] = { NULL, NULL, NULL }, *words[4] = { "switchover", NULL, NULL, NULL };
	uint64_t wait_ms = sc->timeout_set ? sc->timeout_ms : SPOFCTL_SWITCHOVER_TIMEOUT_MS;
	uint64_t deadline = now_mono_us() + wait_ms * 1000u;
	const json_t *epoch;
	const char *to, *e;
	json_t *reply;
	int npos, n, rc;

	if ((npos = spofctl_parse_args(args, nargs, cmd_usage, opts, vals, &words[1], 1)) < 0)
		return SPOFCTL_EXIT_FAILED;
	if (npos != 1)
		return spofctl_usage_error(cmd_usage, "switchover needs a service");
	if (vals[0] != NULL && *vals[0] == '\0')
		return spofctl_usage_error(cmd_usage, "--to needs a member name");
	n = 2;
	if (vals[0] != NULL)
		words[n++] = vals[0];
	if (vals[2] != NULL)
		words[n++] = "--force";

	if ((reply = spofctl_call(sc, words, n, wait_ms)) == NULL)
		return SPOFCTL_EXIT_FAILED;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		if (sc->json)
			spofctl_print_json(reply);
		e = json_string_value(json_object_get(reply, "error"));
		spofctl_warn("%s", e != NULL ? e : "the daemon refused the switchover");
		json_decref(reply);
		return SPOFCTL_EXIT_FAILED;
	}
	spofctl_print_message(sc, reply);
	if (vals[1] != NULL) {
		json_decref(reply);
		return SPOFCTL_EXIT_OK;
	}
	epoch = json_object_get(reply, "epoch");
	to = json_string_value(json_object_get(reply, "to"));
	if (!json_is_integer(epoch) || to == NULL) {
		spofctl_warn("%s: the reply names no epoch or new primary; cannot wait for the outcome",
		    words[1]);
		json_decref(reply);
		return SPOFCTL_EXIT_FAILED;
	}
	rc = spofctl_switchover_wait(sc, words[1], json_integer_value(epoch), to, deadline);
	json_decref(reply);
	return rc;
}

/* ---- maintenance, reload ---- */

static int
spofctl_cmd_maintenance(struct spofctl *sc, char **args, int nargs)
{
	static const char cmd_usage[] = "maintenance SERVICE on|off";
	const char *words[3] = { "maintenance", NULL, NULL };
	json_t *reply;
	int npos, rc;

	if ((npos = spofctl_parse_args(args, nargs, cmd_usage, NULL, NULL, &words[1], 2)) < 0)
		return SPOFCTL_EXIT_FAILED;
	if (npos != 2)
		return spofctl_usage_error(cmd_usage, "maintenance needs a service and on or off");
	if (strcmp(words[2], "on") != 0 && strcmp(words[2], "off") != 0)
		return spofctl_usage_error(cmd_usage, "'%s': say on or off", words[2]);
	if ((rc = spofctl_ask(sc, words, 3, &reply)) != SPOFCTL_EXIT_OK)
		return rc;
	spofctl_print_message(sc, reply);
	json_decref(reply);
	return SPOFCTL_EXIT_OK;
}

static int
spofctl_cmd_reload(struct spofctl *sc, char **args, int nargs)
{
	static const char cmd_usage[] = "reload";
	const char *words[1] = { "reload" };
	json_t *reply;
	int rc;

	if (spofctl_parse_args(args, nargs, cmd_usage, NULL, NULL, NULL, 0) < 0)
		return SPOFCTL_EXIT_FAILED;
	if ((rc = spofctl_ask(sc, words, 1, &reply)) != SPOFCTL_EXIT_OK)
		return rc;
	spofctl_print_message(sc, reply);
	json_decref(reply);
	return SPOFCTL_EXIT_OK;
}

/* ---- history ---- */

/* Aligned columns rather than a box: a detail can be long, as in a log. */
static void
spofctl_print_history(const json_t *reply)
{
	static const char *const names[3] = { "TIME", "SERVICE", "EVENT" };
	const json_t *events = json_object_get(reply, "events");
	size_t n = json_array_size(events), width[3], i;
	char **cell = xcalloc(n * 3 + 1, sizeof(*cell));
	time_t now = time(NULL);
	json_t *ev;

	if (n == 0) {
		printf("no events\n");
		free(cell);
		return;
	}
	for (int k = 0; k < 3; k++)
		width[k] = strlen(names[k]);
	json_array_foreach(events, i, ev) {
		cell[i * 3] = spofctl_local_time(json_string_value(json_object_get(ev, "time")), now);
		cell[i * 3 + 1] = spofctl_str(ev, "service");
		cell[i * 3 + 2] = spofctl_str(ev, "event");
		for (int k = 0; k < 3; k++)
			if (strlen(cell[i * 3 + k]) > width[k])
				width[k] = strlen(cell[i * 3 + k]);
	}
	printf("%-*s  %-*s  %-*s  DETAIL\n", (int)width[0], names[0], (int)width[1], names[1],
	    (int)width[2], names[2]);
	json_array_foreach(events, i, ev) {
		const char *detail = json_string_value(json_object_get(ev, "detail"));

		printf("%-*s  %-*s  %-*s  %s\n", (int)width[0], cell[i * 3], (int)width[1],
		    cell[i * 3 + 1], (int)width[2], cell[i * 3 + 2], detail != NULL ? detail : "");
	}
	for (i = 0; i < n * 3; i++)
		free(cell[i]);
	free(cell);
}

static int
spofctl_cmd_history(struct spofctl *sc, char **args, int nargs)
{
	return spofctl_show(sc, "history", "history [SERVICE] [--json]", args, nargs,
	    spofctl_print_history, NULL);
}

static const struct spofctl_cmd spofctl_cmds[] = {
	{ "status", spofctl_cmd_status },
	{ "switchover", spofctl_cmd_switchover },
	{ "maintenance", spofctl_cmd_maintenance },
	{ "history", spofctl_cmd_history },
	{ "reload", spofctl_cmd_reload },
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct spofctl sc = { .timeout_ms = SPOFCTL_DEFAULT_TIMEOUT_MS };
	const struct spofctl_cmd *cmd = NULL;
	const char *why;
	char **args;
	int ch, nargs = 0, rc;

	/* "+": stop at the command, whose own arguments may look like options. */
	while ((ch = getopt_long(argc, argv, "+s:c:t:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sc.sock = optarg;
			break;
		case 'c':
			sc.conf = optarg;
			break;
		case 't':
			if ((why = config_parse_duration(optarg, &sc.timeout_ms)) != NULL) {
				spofctl_warn("-t %s: %s", optarg, why);
				return SPOFCTL_EXIT_FAILED;
			}
			if (sc.timeout_ms == 0 || sc.timeout_ms > INT32_MAX) {
				spofctl_warn("-t %s: out of range", optarg);
				return SPOFCTL_EXIT_FAILED;
			}
			sc.timeout_set = true;
			break;
		case 'j':
			sc.json = true;
			break;
		case 'h':
			usage();
			return SPOFCTL_EXIT_OK;
		case 'V':
			printf("spofctl %s\n", PACKAGE_VERSION);
			return SPOFCTL_EXIT_OK;
		default:
			usage_short();
			return SPOFCTL_EXIT_FAILED;
		}
	}
	if (optind == argc) {
		spofctl_warn("no command given");
		usage_short();
		return SPOFCTL_EXIT_FAILED;
	}
	for (size_t i = 0; i < ARRAY_LEN(spofctl_cmds); i++)
		if (strcmp(argv[optind], spofctl_cmds[i].name) == 0)
			cmd = &spofctl_cmds[i];
	if (cmd == NULL) {
		spofctl_warn("unknown command '%s'", argv[optind]);
		usage_short();
		return SPOFCTL_EXIT_FAILED;
	}
	/* --json and -h may also follow the command and its arguments. */
	args = xcalloc((size_t)(argc - optind), sizeof(*args));
	for (int i = optind + 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			sc.json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage();
			free(args);
			return SPOFCTL_EXIT_OK;
		} else {
			args[nargs++] = argv[i];
		}
	}
	rc = cmd->run(&sc, args, nargs);
	free(args);
	free(sc.path);
	return rc;
}
