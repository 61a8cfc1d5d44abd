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
#include "spofctl_print.h"
#include "util.h"

#define SPOFCTL_EXIT_OK 0
#define SPOFCTL_EXIT_DEGRADED 1
#define SPOFCTL_EXIT_FAILED 2
#define SPOFCTL_DEFAULT_TIMEOUT_MS 5000        /* one request */
#define SPOFCTL_SWITCHOVER_TIMEOUT_MS 60000    /* a switchover's whole wait: hooks may be slow */
#define SPOFCTL_POLL_INTERVAL_MS 100           /* between status requests while waiting */

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
