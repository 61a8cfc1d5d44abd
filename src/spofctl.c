/*
 * spofctl: ask the daemon over its control socket and show the answer.
 * Exit codes follow the monitoring convention: 0 every member up, 1 some
 * not up, 2 failed (daemon unreachable, error reply, bad usage).
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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
#define SPOFCTL_DEFAULT_TIMEOUT_MS 5000

enum spofctl_col {
	COL_SERVICE, COL_MEMBER, COL_ADDRESS, COL_HEALTH, COL_REASON,
	COL_LATENCY, COL_SINCE, COL_CHECKS, COL_COUNT
};

static const char *const spofctl_col_names[COL_COUNT] = {
	"SERVICE", "MEMBER", "ADDRESS", "HEALTH", "REASON", "LATENCY", "SINCE", "CHECKS"
};

/* One table row: every cell an owned string. */
struct spofctl_row {
	char *cell[COL_COUNT];
};

struct spofctl_table {
	struct spofctl_row *rows;
	size_t n_rows;
	size_t width[COL_COUNT];
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: spofctl [-s SOCKET] [-c CONFIG] [-t TIMEOUT] COMMAND [ARGS...] [--json]\n"
	    "\n"
	    "commands:\n"
	    "  status [SERVICE]   health of every member (exit 0 all up, 1 some not, 2 error)\n"
	    "  other commands are passed to the daemon as they are\n"
	    "\n"
	    "options:\n"
	    "  -s SOCKET   control socket (default: from CONFIG, else %s)\n"
	    "  -c CONFIG   read control_socket from this configuration file\n"
	    "  -t TIMEOUT  how long to wait for the daemon, with a unit (default 5s)\n"
	    "  --json      print the daemon's JSON reply\n"
	    "  -h          this help\n"
	    "  -V          version\n",
	    DEFAULT_CONTROL_SOCKET);
}

static void
spofctl_warn(const char *msg)
{
	fprintf(stderr, "spofctl: %s\n", msg);
}

/*
 * Join ARGV into one request line that the daemon's argv_split takes apart
 * into the same words: special characters get a backslash, an empty word
 * becomes ''.  NULL when a word holds a character no request may carry.
 */
static char *
spofctl_request(char **argv, int argc)
{
	size_t cap = 1;
	char *line, *p;

	for (int i = 0; i < argc; i++)
		cap += strlen(argv[i]) * 2 + 3;
	p = line = xmalloc(cap);
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];

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

/* "2026-12-04T21:00:00Z" (fractions of a second allowed) to time_t. */
static bool
spofctl_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *rest;

	memset(&tm, 0, sizeof(tm));
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL)
		return false;
	if (*rest == '.')
		for (rest++; *rest >= '0' && *rest <= '9'; rest++)
			;
	if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
		return false;
	*out = timegm(&tm);
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
	if (!spofctl_parse_time(s, &t))
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

static char *
spofctl_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return xstrdup(s != NULL && *s != '\0' ? s : "-");
}

static void
spofctl_table_add(struct spofctl_table *t, struct spofctl_row *row)
{
	t->rows = xrealloc(t->rows, (t->n_rows + 1) * sizeof(*t->rows));
	t->rows[t->n_rows++] = *row;
	for (int i = 0; i < COL_COUNT; i++) {
		size_t w = strlen(row->cell[i]);

		if (w > t->width[i])
			t->width[i] = w;
	}
}

static void
spofctl_table_free(struct spofctl_table *t)
{
	for (size_t r = 0; r < t->n_rows; r++)
		for (int i = 0; i < COL_COUNT; i++)
			free(t->rows[r].cell[i]);
	free(t->rows);
}

/* "+---+----+" sized to the columns. */
static char *
spofctl_table_rule(const struct spofctl_table *t)
{
	size_t len = 1;
	char *s, *p;

	for (int i = 0; i < COL_COUNT; i++)
		len += t->width[i] + 3;
	p = s = xmalloc(len + 1);
	*p++ = '+';
	for (int i = 0; i < COL_COUNT; i++) {
		memset(p, '-', t->width[i] + 2);
		p += t->width[i] + 2;
		*p++ = '+';
	}
	*p = '\0';
	return s;
}

static void
spofctl_table_print_row(const struct spofctl_table *t, const char *const *cell)
{
	fputc('|', stdout);
	for (int i = 0; i < COL_COUNT; i++) {
		/* Counts read better aligned on the right. */
		if (i == COL_CHECKS)
			printf(" %*s |", (int)t->width[i], cell[i]);
		else
			printf(" %-*s |", (int)t->width[i], cell[i]);
	}
	fputc('\n', stdout);
}

/*
 * The table in patronictl's style: the node named in the top rule, one
 * row per member.  Returns the exit code the members' health calls for.
 */
static int
spofctl_print_status(const json_t *reply)
{
	struct spofctl_table t;
	const json_t *services = json_object_get(reply, "services");
	const char *node = json_string_value(json_object_get(reply, "node"));
	time_t now = time(NULL);
	char *rule, *title;
	size_t i, j;
	json_t *svc, *mem;
	int rc = SPOFCTL_EXIT_OK;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < COL_COUNT; i++)
		t.width[i] = strlen(spofctl_col_names[i]);
	json_array_foreach(services, i, svc) {
		const json_t *members = json_object_get(svc, "members");

		if (json_array_size(members) == 0) {
			struct spofctl_row row;

			row.cell[COL_SERVICE] = spofctl_str(svc, "name");
			for (int k = COL_MEMBER; k < COL_COUNT; k++)
				row.cell[k] = xstrdup("-");
			spofctl_table_add(&t, &row);
			continue;
		}
		json_array_foreach(members, j, mem) {
			struct spofctl_row row;
			const json_t *checks = json_object_get(mem, "checks");
			const char *health = json_string_value(json_object_get(mem, "health"));

			if (health == NULL || strcmp(health, "up") != 0)
				rc = SPOFCTL_EXIT_DEGRADED;
			row.cell[COL_SERVICE] = spofctl_str(svc, "name");
			row.cell[COL_MEMBER] = spofctl_str(mem, "name");
			row.cell[COL_ADDRESS] = spofctl_str(mem, "address");
			row.cell[COL_HEALTH] = spofctl_str(mem, "health");
			row.cell[COL_REASON] = spofctl_str(mem, "reason");
			row.cell[COL_LATENCY] = spofctl_latency(json_object_get(mem, "latency_us"));
			row.cell[COL_SINCE] = spofctl_since(json_object_get(mem, "since"), now);
			row.cell[COL_CHECKS] = json_is_integer(checks) ?
			    xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(checks)) :
			    xstrdup("-");
			spofctl_table_add(&t, &row);
		}
	}

	rule = spofctl_table_rule(&t);
	title = xasprintf("+ Node: %s ", node != NULL ? node : "?");
	if (strlen(title) < strlen(rule)) {
		/* Written over the top rule, the way patronictl shows its cluster. */
		char *top = xstrdup(rule);

		memcpy(top, title, strlen(title));
		printf("%s\n", top);
		free(top);
	} else {
		printf("%s\n%s\n", title, rule);
	}
	spofctl_table_print_row(&t, spofctl_col_names);
	printf("%s\n", rule);
	for (size_t r = 0; r < t.n_rows; r++)
		spofctl_table_print_row(&t, (const char *const *)t.rows[r].cell);
	printf("%s\n", rule);
	free(rule);
	free(title);
	spofctl_table_free(&t);
	return rc;
}

/* Exit code of a status reply from its members' health alone. */
static int
spofctl_status_code(const json_t *reply)
{
	size_t i, j;
	json_t *svc, *mem;

	json_array_foreach(json_object_get(reply, "services"), i, svc) {
		json_array_foreach(json_object_get(svc, "members"), j, mem) {
			const char *h = json_string_value(json_object_get(mem, "health"));

			if (h == NULL || strcmp(h, "up") != 0)
				return SPOFCTL_EXIT_DEGRADED;
		}
	}
	return SPOFCTL_EXIT_OK;
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
 * The socket to talk to: -s, else the configuration's, else the default.
 * Returns an owned string, or NULL after printing why.
 */
static char *
spofctl_socket(const char *sock, const char *conf)
{
	struct config *cfg;
	unsigned nerrors = 0;
	char *path;

	if (sock != NULL)
		return xstrdup(sock);
	if (conf == NULL)
		return xstrdup(DEFAULT_CONTROL_SOCKET);
	if ((cfg = config_load(conf, stderr, &nerrors)) == NULL) {
		fprintf(stderr, "spofctl: %s: %u error%s\n", conf, nerrors, nerrors == 1 ? "" : "s");
		return NULL;
	}
	path = xstrdup(cfg->control_socket != NULL ? cfg->control_socket : DEFAULT_CONTROL_SOCKET);
	config_free(cfg);
	return path;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *sock = NULL, *conf = NULL, *why;
	char err[512], *path, *line, **words;
	uint64_t timeout_ms = SPOFCTL_DEFAULT_TIMEOUT_MS;
	bool json = false, is_status;
	int ch, nwords = 0, rc;
	json_t *reply;

	/* "+": stop at the command, whose own arguments may look like options. */
	while ((ch = getopt_long(argc, argv, "+s:c:t:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			conf = optarg;
			break;
		case 't':
			if ((why = config_parse_duration(optarg, &timeout_ms)) != NULL) {
				fprintf(stderr, "spofctl: -t %s: %s\n", optarg, why);
				return SPOFCTL_EXIT_FAILED;
			}
			if (timeout_ms == 0 || timeout_ms > INT32_MAX) {
				fprintf(stderr, "spofctl: -t %s: out of range\n", optarg);
				return SPOFCTL_EXIT_FAILED;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return SPOFCTL_EXIT_OK;
		case 'V':
			printf("spofctl %s\n", PACKAGE_VERSION);
			return SPOFCTL_EXIT_OK;
		default:
			usage(stderr);
			return SPOFCTL_EXIT_FAILED;
		}
	}
	/* --json may also follow the command and its arguments. */
	words = xcalloc((size_t)(argc - optind + 1), sizeof(*words));
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			words[nwords++] = argv[i];
	}
	if (nwords == 0) {
		spofctl_warn("no command given");
		usage(stderr);
		free(words);
		return SPOFCTL_EXIT_FAILED;
	}
	is_status = strcmp(words[0], "status") == 0;
	if (is_status && nwords > 2) {
		spofctl_warn("usage: status [SERVICE] [--json]");
		free(words);
		return SPOFCTL_EXIT_FAILED;
	}
	if ((line = spofctl_request(words, nwords)) == NULL) {
		spofctl_warn("arguments may not contain control characters");
		free(words);
		return SPOFCTL_EXIT_FAILED;
	}
	free(words);
	if ((path = spofctl_socket(sock, conf)) == NULL) {
		free(line);
		return SPOFCTL_EXIT_FAILED;
	}

	reply = control_call(path, line, (int)timeout_ms, err, sizeof(err));
	free(line);
	free(path);
	if (reply == NULL) {
		spofctl_warn(err);
		return SPOFCTL_EXIT_FAILED;
	}

	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply, "error"));

		if (json)
			spofctl_print_json(reply);
		spofctl_warn(e != NULL ? e : "the daemon refused the request");
		rc = SPOFCTL_EXIT_FAILED;
	} else if (is_status) {
		if (json) {
			spofctl_print_json(reply);
			rc = spofctl_status_code(reply);
		} else {
			rc = spofctl_print_status(reply);
		}
	} else {
		const char *msg = json_string_value(json_object_get(reply, "message"));

		if (json || msg == NULL) {
			char *s = json_dumps(reply, json ? JSON_INDENT(2) : JSON_COMPACT);

			printf("%s\n", s != NULL ? s : "{}");
			free(s);
		} else {
			printf("%s\n", msg);
		}
		rc = SPOFCTL_EXIT_OK;
	}
	json_decref(reply);
	return rc;
}
