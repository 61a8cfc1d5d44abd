/*
 * exec probes: run the service's exec_command (no shell) for one member;
 * exit 0 means up.  The command learns which member it checks from its
 * environment (SPOFD_SERVICE, SPOFD_MEMBER, SPOFD_MEMBER_ADDRESS,
 * SPOFD_MEMBER_HOST, SPOFD_MEMBER_PORT).  Its time is the probe's budget;
 * when that is spent proc.c sends SIGTERM to its process group, then
 * SIGKILL after exec_kill_grace.
 *
 * Output is logged line by line, but a check runs every few seconds for
 * ever: only the first PROBE_EXEC_INFO_LINES lines of a run go to the info
 * level, the rest to debug, so a chatty command cannot flood the log.
 */
#include "autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "probe_impl.h"
#include "proc.h"
#include "util.h"

extern char **environ;

#define PROBE_EXEC_INFO_LINES 20  /* output lines per run logged at info */
#define PROBE_EXEC_LAST_MAX 120   /* bytes of the last output line kept for the detail */

/* Per-run state; lives from probe_exec_start to the verdict or cancel. */
struct probe_exec {
	struct proc *proc;
	unsigned lines;                   /* output lines seen this run */
	char last[PROBE_EXEC_LAST_MAX];   /* last non-empty line, stderr preferred */
	bool last_is_stderr;
};

static const char *const probe_exec_env_names[] = {
	"SPOFD_SERVICE", "SPOFD_MEMBER", "SPOFD_MEMBER_ADDRESS",
	"SPOFD_MEMBER_HOST", "SPOFD_MEMBER_PORT",
};

static bool
probe_exec_is_ours(const char *entry)
{
	for (size_t i = 0; i < ARRAY_LEN(probe_exec_env_names); i++) {
		size_t n = strlen(probe_exec_env_names[i]);

		if (strncmp(entry, probe_exec_env_names[i], n) == 0 && entry[n] == '=')
			return true;
	}
	return false;
}

/*
 * The daemon's environment plus the member's variables.  Inherited
 * SPOFD_MEMBER_* values are dropped first: a member without an address must
 * not see one from the daemon's own environment.
 */
static char **
probe_exec_env(const struct probe *p)
{
	const struct member_conf *m = p->member;
	const char *values[ARRAY_LEN(probe_exec_env_names)];
	size_t n = argv_len(environ), k = 0;
	char **env = xcalloc(n + ARRAY_LEN(probe_exec_env_names) + 1, sizeof(*env));

	for (size_t i = 0; i < n; i++)
		if (!probe_exec_is_ours(environ[i]))
			env[k++] = xstrdup(environ[i]);
	values[0] = p->svc->name;
	values[1] = m->name;
	values[2] = m->address;
	values[3] = m->host;
	values[4] = m->port;
	for (size_t i = 0; i < ARRAY_LEN(probe_exec_env_names); i++)
		if (values[i] != NULL)
			env[k++] = xasprintf("%s=%s", probe_exec_env_names[i], values[i]);
	env[k] = NULL;
	return env;
}

/* Control characters out, so a line cannot forge log lines or escapes. */
static void
probe_exec_clean(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; *src != '\0' && i + 1 < len; src++) {
		unsigned char c = (unsigned char)*src;

		if (c == '\r' && src[1] == '\0')
			break;
		dst[i++] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
}

static void
probe_exec_line(void *arg, bool is_stderr, const char *line)
{
	struct probe *p = arg;
	struct probe_exec *x = p->impl;
	const char *stream = is_stderr ? "stderr" : "stdout";
	char clean[PROC_LINE_MAX + 1];

	probe_exec_clean(clean, sizeof(clean), line);
	x->lines++;
	if (x->lines <= PROBE_EXEC_INFO_LINES)
		log_info("exec %s/%s %s: %s", p->svc->name, p->member->name, stream, clean);
	else
		log_debug("exec %s/%s %s: %s", p->svc->name, p->member->name, stream, clean);
	if (x->lines == PROBE_EXEC_INFO_LINES + 1)
		log_info("exec %s/%s: more output, logged at debug level", p->svc->name, p->member->name);
	if (clean[0] != '\0' && (is_stderr || !x->last_is_stderr)) {
		size_t n = strnlen(clean, sizeof(x->last) - 1);

		memcpy(x->last, clean, n);
		x->last[n] = '\0';
		x->last_is_stderr = is_stderr;
	}
}

static void
probe_exec_exit(void *arg, enum proc_end end, int status)
{
	struct probe *p = arg;
	struct probe_exec *x = p->impl;
	char last[PROBE_EXEC_LAST_MAX];
	const char *cmd = p->check->exec_argv[0];

	/* The run is over before the verdict: a cancel after it finds nothing. */
	memcpy(last, x->last, sizeof(last));
	free(x);
	p->impl = NULL;

	switch (end) {
	case PROC_EXITED:
		if (status == 0)
			probe_finish(p, PROBE_OK, 0, "%s", "");
		else
			probe_finish(p, PROBE_EXEC_EXIT, status, "%s", last);
		break;
	case PROC_SIGNALED:
		probe_finish(p, PROBE_EXEC_SIGNAL, status, "%s%s%s", strsignal(status),
		    last[0] != '\0' ? ": " : "", last);
		break;
	case PROC_TIMED_OUT:
		probe_finish(p, PROBE_TIMEOUT, 0, "%s still running after %llu ms, ended by signal %d (%s)",
		    cmd, (unsigned long long)p->check->timeout_ms, status, strsignal(status));
		break;
	case PROC_SPAWN_FAILED:
		probe_finish(p, PROBE_EXEC_ERROR, 0, "%s: %s", cmd, strerror(status));
		break;
	}
}

void
probe_exec_start(struct probe *p)
{
	struct probe_engine *eng = p->eng;
	struct probe_exec *x;
	struct proc_spec spec;
	uint64_t left_us;
	char **env;

	if (p->check->exec_argv == NULL || p->check->exec_argv[0] == NULL) {
		probe_finish_later(p, PROBE_EXEC_ERROR, 0, "no exec_command");
		return;
	}
	left_us = probe_budget_left_us(p);
	if (left_us == 0) {
		probe_finish_later(p, PROBE_TIMEOUT, 0, "no time left to run the command");
		return;
	}
	if (eng->procs == NULL) {
		eng->procs = proc_table_new(eng->base);
		eng->own_procs = true;
	}

	x = xcalloc(1, sizeof(*x));
	p->impl = x;
	env = probe_exec_env(p);
	memset(&spec, 0, sizeof(spec));
	spec.argv = p->check->exec_argv;
	spec.envp = env;
	spec.timeout_ms = (left_us + 999) / 1000; /* never 0: 0 means no timeout */
	spec.kill_grace_ms = p->check->exec_kill_grace_ms;
	spec.on_line = probe_exec_line;
	spec.on_exit = probe_exec_exit;
	spec.arg = p;
	/* The child has its copy once proc_spawn returns. */
	x->proc = proc_spawn(eng->procs, &spec);
	argv_free(env);
}

void
probe_exec_cancel(struct probe *p)
{
	struct probe_exec *x = p->impl;

	if (x == NULL)
		return;
	proc_abandon(x->proc);
	free(x);
	p->impl = NULL;
}
