/*
 * spofctl's output for people: the status of every service with its
 * members in boxed tables, and the event history in aligned columns.
 * With --json spofctl prints the daemon's reply as it is instead.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "spofctl_print.h"
#include "util.h"

#define SPOFCTL_COLS_MAX 10

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
void
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

/* ---- history ---- */

/* Aligned columns rather than a box: a detail can be long, as in a log. */
void
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
