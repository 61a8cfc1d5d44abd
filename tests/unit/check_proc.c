/*
 * Child processes with real commands (/bin/sh, sleep, yes), and exec probes
 * through the probe API.  Every child started here is killed and reaped by
 * the table or by the test itself.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "probe.h"
#include "proc.h"
#include "util.h"

#define RUN_LINES_KEPT 8

static struct event_base *base;
static struct proc_table *table;
static unsigned exits_seen;   /* on_exit calls of all runs */
static unsigned exits_wanted; /* break the loop at this count */

struct run {
	unsigned exits;
	enum proc_end end;
	int status;
	unsigned n_out, n_err;     /* lines seen */
	size_t longest;            /* longest line passed */
	char out[RUN_LINES_KEPT][PROC_LINE_MAX + 1];
	char err[RUN_LINES_KEPT][PROC_LINE_MAX + 1];
	uint64_t start_us, end_us;
	struct proc *proc;
	bool abandon_on_line;      /* abandon the proc from on_line */
};

static void
run_line(void *arg, bool is_stderr, const char *line)
{
	struct run *r = arg;
	size_t len = strlen(line);
	unsigned *n = is_stderr ? &r->n_err : &r->n_out;

	/* No ck_assert here: each one records a mark point, per line. */
	if (len > r->longest)
		r->longest = len;
	if (*n < RUN_LINES_KEPT && len <= PROC_LINE_MAX)
		memcpy(is_stderr ? r->err[*n] : r->out[*n], line, len + 1);
	(*n)++;
	if (r->abandon_on_line) {
		proc_abandon(r->proc);
		r->abandon_on_line = false;
	}
}

static void
run_exit(void *arg, enum proc_end end, int status)
{
	struct run *r = arg;

	r->exits++;
	r->end = end;
	r->status = status;
	r->end_us = now_mono_us();
	if (++exits_seen >= exits_wanted)
		event_base_loopbreak(base);
}

/* Run the loop until WANT more exits were seen, or SECS passed. */
static void
loop_for_exits(unsigned want, unsigned secs)
{
	struct timeval tv = { secs, 0 };

	exits_wanted = exits_seen + want;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Just turn the loop for MS milliseconds. */
static void
loop_for_ms(unsigned ms)
{
	struct timeval tv = us_to_tv(ms * 1000u);

	exits_wanted = (unsigned)-1;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static struct proc *
spawn(struct run *r, char *const *argv, char *const *envp, uint64_t timeout_ms, uint64_t grace_ms)
{
	struct proc_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.envp = envp;
	spec.timeout_ms = timeout_ms;
	spec.kill_grace_ms = grace_ms;
	spec.on_line = run_line;
	spec.on_exit = run_exit;
	spec.arg = r;
	r->start_us = now_mono_us();
	r->proc = proc_spawn(table, &spec);
	ck_assert_ptr_nonnull(r->proc);
	/* Never from inside proc_spawn. */
	ck_assert_uint_eq(r->exits, 0);
	return r->proc;
}

static uint64_t
run_ms(const struct run *r)
{
	return (r->end_us - r->start_us) / 1000;
}

/* True when PID is gone or a zombie (reparented leftovers wait for init). */
static bool
pid_dead(pid_t pid)
{
	char path[64], buf[256], *rp;
	FILE *f;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return true;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return true;
	}
	fclose(f);
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static bool
wait_pid_dead(pid_t pid, unsigned ms)
{
	for (unsigned i = 0; i < ms / 10; i++) {
		if (pid_dead(pid))
			return true;
		usleep(10000);
	}
	return pid_dead(pid);
}

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	table = proc_table_new(base);
	exits_seen = 0;
}

static void
teardown(void)
{
	proc_table_free(table);
	table = NULL;
	event_base_free(base);
	base = NULL;
}

START_TEST(test_true_false)
{
	static char *const t[] = { "/bin/true", NULL };
	static char *const f[] = { "/bin/false", NULL };
	struct run a = { 0 }, b = { 0 };

	spawn(&a, t, NULL, 5000, 1000);
	spawn(&b, f, NULL, 5000, 1000);
	ck_assert_int_gt(proc_pid(a.proc), 0);
	loop_for_exits(2, 10);
	ck_assert_uint_eq(a.exits, 1);
	ck_assert_int_eq(a.end, PROC_EXITED);
	ck_assert_int_eq(a.status, 0);
	ck_assert_uint_eq(b.exits, 1);
	ck_assert_int_eq(b.end, PROC_EXITED);
	ck_assert_int_eq(b.status, 1);
}
END_TEST

START_TEST(test_output_and_status)
{
	static char *const av[] = { "/bin/sh", "-c", "echo a; echo b >&2; echo c; exit 3", NULL };
	struct run r = { 0 };

	spawn(&r, av, NULL, 5000, 1000);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(r.exits, 1);
	ck_assert_int_eq(r.end, PROC_EXITED);
	ck_assert_int_eq(r.status, 3);
	ck_assert_uint_eq(r.n_out, 2);
	ck_assert_str_eq(r.out[0], "a");
	ck_assert_str_eq(r.out[1], "c");
	ck_assert_uint_eq(r.n_err, 1);
	ck_assert_str_eq(r.err[0], "b");
}
END_TEST

START_TEST(test_partial_and_long_lines)
{
	/* 5000 x, newline, "after", then a last line without a newline. */
	static char *const av[] = { "/bin/sh", "-c",
		"i=0; while [ $i -lt 50 ]; do printf '%0100d' 0; i=$((i+1)); done; "
		"echo; echo after; printf tail", NULL };
	struct run r = { 0 };

	spawn(&r, av, NULL, 5000, 1000);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(r.exits, 1);
	ck_assert_int_eq(r.end, PROC_EXITED);
	ck_assert_uint_eq(r.n_out, 3);
	ck_assert_uint_eq(strlen(r.out[0]), PROC_LINE_MAX);
	ck_assert_str_eq(r.out[1], "after");
	ck_assert_str_eq(r.out[2], "tail");
}
END_TEST

START_TEST(test_exact_line_max)
{
	/* A line of exactly PROC_LINE_MAX bytes is whole, not cut. */
	char script[128];
	char *av[] = { "/bin/sh", "-c", script, NULL };
	struct run r = { 0 };

	snprintf(script, sizeof(script), "printf '%%0%dd\\nnext\\n' 0", PROC_LINE_MAX);
	spawn(&r, av, NULL, 5000, 1000);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(r.n_out, 2);
	ck_assert_uint_eq(strlen(r.out[0]), PROC_LINE_MAX);
	ck_assert_str_eq(r.out[1], "next");
}
END_TEST

START_TEST(test_timeout_term)
{
	static char *const av[] = { "/bin/sleep", "100", NULL };
	struct run r = { 0 };

	spawn(&r, av, NULL, 200, 5000);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(r.exits, 1);
	ck_assert_int_eq(r.end, PROC_TIMED_OUT);
	ck_assert_int_eq(r.status, SIGTERM);
	ck_assert_uint_ge(run_ms(&r), 150);
	ck_assert_uint_lt(run_ms(&r), 4000);
}
END_TEST

START_TEST(test_timeout_kill_after_grace)
{
	static char *const av[] = { "/bin/sh", "-c", "trap '' TERM; sleep 100", NULL };
	struct run r = { 0 };

	spawn(&r, av, NULL, 200, 300);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(r.exits, 1);
	ck_assert_int_eq(r.end, PROC_TIMED_OUT);
	ck_assert_int_eq(r.status, SIGKILL);
	ck_assert_uint_ge(run_ms(&r), 450);
	ck_assert_uint_lt(run_ms(&r), 5000);
}
END_TEST

START_TEST(test_missing_binary)
{
	static char *const av[] = { "/nonexistent/spofd-no-such-command", NULL };
	struct run r = { 0 };

	spawn(&r, av, NULL, 5000, 1000);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(r.exits, 1);
	ck_assert_int_eq(r.end, PROC_SPAWN_FAILED);
	ck_assert_int_eq(r.status, ENOENT);
}
END_TEST

START_TEST(test_empty_argv)
{
	static char *const av[] = { NULL };
	struct run r = { 0 };

	spawn(&r, av, NULL, 5000, 1000);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(r.exits, 1);
	ck_assert_int_eq(r.end, PROC_SPAWN_FAILED);
	ck_assert_int_eq(r.status, EINVAL);
}
END_TEST

START_TEST(test_not_executable)
{
	static char *const av[] = { "/etc/passwd", NULL };
	struct run r = { 0 };

	spawn(&r, av, NULL, 5000, 1000);
	loop_for_exits(1, 10);
	ck_assert_int_eq(r.end, PROC_SPAWN_FAILED);
	ck_assert_int_eq(r.status, EACCES);
}
END_TEST

static long
maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

START_TEST(test_endless_output)
{
	/* Endless short lines, then one endless line: memory stays flat. */
	static char *const yes[] = { "/usr/bin/yes", NULL };
	static char *const one[] = { "/bin/sh", "-c", "tr '\\000' x < /dev/zero", NULL };
	struct run a = { 0 }, b = { 0 };
	long before;

	if (access(yes[0], X_OK) != 0)
		return;
	before = maxrss_kb();
	spawn(&a, yes, NULL, 1000, 500);
	spawn(&b, one, NULL, 1000, 500);
	loop_for_exits(2, 15);
	ck_assert_uint_eq(a.exits, 1);
	ck_assert_int_eq(a.end, PROC_TIMED_OUT);
	ck_assert_uint_gt(a.n_out, 1000);
	ck_assert_uint_eq(a.longest, 1);
	ck_assert_str_eq(a.out[0], "y");
	ck_assert_uint_eq(b.exits, 1);
	ck_assert_int_eq(b.end, PROC_TIMED_OUT);
	ck_assert_uint_eq(b.n_out, 1); /* cut once, the rest dropped */
	ck_assert_uint_eq(b.longest, PROC_LINE_MAX);
	/* Megabytes went through; we hold a line buffer per stream. */
	ck_assert_int_lt(maxrss_kb() - before, 32 * 1024);
}
END_TEST

START_TEST(test_grandchild_in_group)
{
	/* The background sleep keeps stdout open; it is killed with the group. */
	static char *const av[] = { "/bin/sh", "-c", "sleep 100 & echo $!", NULL };
	struct run r = { 0 };
	pid_t gc;

	spawn(&r, av, NULL, 20000, 1000);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(r.exits, 1);
	ck_assert_int_eq(r.end, PROC_EXITED);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_lt(run_ms(&r), 3000);
	ck_assert_uint_eq(r.n_out, 1);
	gc = (pid_t)atoi(r.out[0]);
	ck_assert_int_gt(gc, 1);
	ck_assert_msg(wait_pid_dead(gc, 3000), "grandchild %d left behind", (int)gc);
}
END_TEST

START_TEST(test_grandchild_escaped)
{
	/* A daemonized grandchild (own session) holds the pipe: bounded wait. */
	/* The pause gives the grandchild time to leave the group. */
	static char *const av[] = { "/bin/sh", "-c", "setsid sleep 100 & echo $!; sleep 0.5", NULL };
	struct run r = { 0 };
	pid_t gc;

	if (access("/usr/bin/setsid", X_OK) != 0 && access("/bin/setsid", X_OK) != 0)
		return;
	spawn(&r, av, NULL, 20000, 1000);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(r.exits, 1);
	ck_assert_int_eq(r.end, PROC_EXITED);
	ck_assert_uint_lt(run_ms(&r), 3000);
	ck_assert_uint_eq(r.n_out, 1);
	gc = (pid_t)atoi(r.out[0]);
	ck_assert_int_gt(gc, 1);
	/* Outside our group by its own doing: alive, ours to clean up here. */
	ck_assert(!pid_dead(gc));
	kill(gc, SIGKILL);
}
END_TEST

START_TEST(test_environment)
{
	static char *const av[] = { "/bin/sh", "-c", "echo \"$A-$B-${HOME:-unset}\"", NULL };
	static char *const env[] = { "A=1", "B=two words", NULL };
	static char *const inh[] = { "/bin/sh", "-c", "echo \"$SPOFD_CHECK_PROC_VAR\"", NULL };
	struct run r = { 0 }, s = { 0 };

	setenv("SPOFD_CHECK_PROC_VAR", "inherited", 1);
	spawn(&r, av, env, 5000, 1000);
	spawn(&s, inh, NULL, 5000, 1000);
	loop_for_exits(2, 10);
	ck_assert_str_eq(r.out[0], "1-two words-unset");
	ck_assert_str_eq(s.out[0], "inherited");
}
END_TEST

START_TEST(test_stdin_null_signals_default)
{
	/* stdin at EOF; no blocked or ignored signals although the parent has some. */
	static char *const cat[] = { "/bin/sh", "-c", "cat; echo done", NULL };
	static char *const sig[] = { "/bin/grep", "^Sig[BI][lg][kn]:", "/proc/self/status", NULL };
	struct run r = { 0 }, s = { 0 };
	unsigned long long ign;
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	spawn(&r, cat, NULL, 5000, 1000);
	spawn(&s, sig, NULL, 5000, 1000);
	loop_for_exits(2, 10);
	ck_assert_int_eq(r.end, PROC_EXITED);
	ck_assert_str_eq(r.out[0], "done");
	ck_assert_int_eq(s.end, PROC_EXITED);
	ck_assert_uint_eq(s.n_out, 2);
	ck_assert_str_eq(s.out[0], "SigBlk:\t0000000000000000");
	ck_assert(strncmp(s.out[1], "SigIgn:\t", 8) == 0);
	/*
	 * Signals 32 and 33 belong to libc (sigaction refuses them); an
	 * ignored state inherited from whoever started us stays.  libc sets
	 * its own handlers there when a program needs them.
	 */
	ign = strtoull(s.out[1] + 8, NULL, 16) & ~(3ull << 31);
	ck_assert_msg(ign == 0, "ignored signals in the child: %s", s.out[1]);
}
END_TEST

START_TEST(test_low_fds)
{
	/* A daemon started with stdio closed: the pipes get fds 0-2 themselves. */
	static char *const av[] = { "/bin/sh", "-c", "read x && exit 9; echo a; echo b >&2", NULL };
	struct run r = { 0 };
	int saved[3];

	for (int i = 0; i < 3; i++)
		saved[i] = dup(i);
	close(0);
	close(1);
	close(2);
	spawn(&r, av, NULL, 5000, 1000);
	loop_for_exits(1, 10);
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	ck_assert_int_eq(r.end, PROC_EXITED);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.n_out, 1);
	ck_assert_str_eq(r.out[0], "a");
	ck_assert_uint_eq(r.n_err, 1);
	ck_assert_str_eq(r.err[0], "b");
}
END_TEST

START_TEST(test_killed_by_signal)
{
	static char *const av[] = { "/bin/sh", "-c", "kill -KILL $$", NULL };
	struct run r = { 0 };

	spawn(&r, av, NULL, 5000, 1000);
	loop_for_exits(1, 10);
	ck_assert_int_eq(r.end, PROC_SIGNALED);
	ck_assert_int_eq(r.status, SIGKILL);
}
END_TEST

#define N_CONCURRENT 50

START_TEST(test_concurrent)
{
	static char *const av[] = { "/bin/sh", "-c", "sleep 0.2; echo $$; exit $(($$ % 7))", NULL };
	static struct run r[N_CONCURRENT];
	int st;

	memset(r, 0, sizeof(r));
	for (int i = 0; i < N_CONCURRENT; i++)
		spawn(&r[i], av, NULL, 20000, 1000);
	loop_for_exits(N_CONCURRENT, 25);
	for (int i = 0; i < N_CONCURRENT; i++) {
		pid_t pid = (pid_t)atoi(r[i].out[0]);

		ck_assert_uint_eq(r[i].exits, 1);
		ck_assert_int_eq(r[i].end, PROC_EXITED);
		ck_assert_uint_eq(r[i].n_out, 1);
		ck_assert_int_gt(pid, 1);
		ck_assert_int_eq(r[i].status, pid % 7);
	}
	/* Every child was reaped: none left at all. */
	ck_assert_int_eq(waitpid(-1, &st, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}
END_TEST

START_TEST(test_abandon)
{
	static char *const av[] = { "/bin/sleep", "100", NULL };
	static char *const chatty[] = { "/bin/sh", "-c", "echo one; echo two; sleep 100", NULL };
	struct run r = { 0 }, s = { 0 };
	pid_t pid, pid2;
	int st;

	spawn(&r, av, NULL, 0, 1000);
	pid = proc_pid(r.proc);
	spawn(&s, chatty, NULL, 0, 1000);
	pid2 = proc_pid(s.proc);
	s.abandon_on_line = true;
	proc_abandon(r.proc);
	loop_for_ms(500);
	ck_assert_uint_eq(r.exits, 0);
	ck_assert_uint_eq(s.exits, 0);
	ck_assert_uint_eq(s.n_out, 1); /* nothing after the abandon */
	/* Reaped by the table, silently. */
	ck_assert_int_eq(waitpid(pid, &st, WNOHANG), -1);
	ck_assert_int_eq(waitpid(pid2, &st, WNOHANG), -1);
}
END_TEST

START_TEST(test_table_free_kills)
{
	static char *const av[] = { "/bin/sleep", "100", NULL };
	struct run r = { 0 };
	pid_t pid;

	spawn(&r, av, NULL, 0, 1000);
	pid = proc_pid(r.proc);
	loop_for_ms(50);
	proc_table_free(table);
	table = NULL;
	ck_assert_uint_eq(r.exits, 0);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
}
END_TEST

static void
respawn_exit(void *arg, enum proc_end end, int status)
{
	static char *const av[] = { "/bin/true", NULL };
	struct run *r = arg;

	run_exit(arg, end, status);
	if (r->exits == 1) {
		/* From on_exit, the table is usable: start another run. */
		r->exits = 0;
		spawn(r, av, NULL, 5000, 1000);
		r->exits = 1;
	}
}

START_TEST(test_spawn_from_on_exit)
{
	static char *const av[] = { "/bin/false", NULL };
	struct proc_spec spec;
	struct run r = { 0 };

	memset(&spec, 0, sizeof(spec));
	spec.argv = av;
	spec.timeout_ms = 5000;
	spec.on_exit = respawn_exit;
	spec.arg = &r;
	r.proc = proc_spawn(table, &spec);
	loop_for_exits(2, 10);
	ck_assert_uint_eq(r.exits, 2);
	ck_assert_int_eq(r.status, 0);
}
END_TEST

/* ---- exec probes through the probe API ---- */

static struct probe_engine *eng;
static struct service_conf svc;
static struct member_conf mem;

struct verdict {
	unsigned calls;
	struct probe_outcome o;
};

static void
verdict_cb(void *arg, const struct probe_outcome *o)
{
	struct verdict *v = arg;

	v->calls++;
	v->o = *o;
	if (++exits_seen >= exits_wanted)
		event_base_loopbreak(base);
}

static void
exec_setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	eng = probe_engine_new(base, NULL);
	exits_seen = 0;
	memset(&svc, 0, sizeof(svc));
	memset(&mem, 0, sizeof(mem));
	svc.name = "svc";
	svc.check.type = CHECK_EXEC;
	svc.check.interval_ms = 5000;
	svc.check.fastinter_ms = 5000;
	svc.check.downinter_ms = 5000;
	svc.check.timeout_ms = 3000;
	svc.check.rise = 1;
	svc.check.fall = 1;
	svc.check.exec_kill_grace_ms = 500;
	mem.service = "svc";
	mem.name = "m";
	mem.address = "127.0.0.1:5432";
	mem.host = "127.0.0.1";
	mem.port = "5432";
}

static void
exec_teardown(void)
{
	probe_engine_free(eng);
	eng = NULL;
	event_base_free(base);
	base = NULL;
}

/* One probe run of COMMAND (split like the config does). */
static void
exec_probe(const char *command, struct verdict *v)
{
	const char *err = NULL;
	char **argv = argv_split(command, &err);
	struct probe *p;

	ck_assert_ptr_nonnull(argv);
	svc.check.exec_argv = argv;
	p = probe_new(eng, &svc, &mem, verdict_cb, v);
	probe_start(p);
	ck_assert_uint_eq(v->calls, 0);
	loop_for_exits(1, 10);
	ck_assert_uint_eq(v->calls, 1);
	ck_assert(!probe_running(p));
	probe_free(p);
	argv_free(argv);
	svc.check.exec_argv = NULL;
}

static const char *
reason(const struct verdict *v)
{
	static char buf[64];

	return probe_outcome_str(&v->o, buf, sizeof(buf));
}

START_TEST(test_exec_ok)
{
	struct verdict v = { 0 };

	exec_probe("/bin/sh -c 'echo fine'", &v);
	ck_assert_int_eq(v.o.result, PROBE_OK);
	ck_assert_str_eq(reason(&v), "ok");
}
END_TEST

START_TEST(test_exec_exit)
{
	struct verdict v = { 0 };

	exec_probe("/bin/sh -c 'echo checking; echo \"replica lag too high\" >&2; exit 2'", &v);
	ck_assert_int_eq(v.o.result, PROBE_EXEC_EXIT);
	ck_assert_int_eq(v.o.code, 2);
	ck_assert_str_eq(reason(&v), "exec-exit 2");
	ck_assert_str_eq(v.o.detail, "replica lag too high");
}
END_TEST

START_TEST(test_exec_signal)
{
	struct verdict v = { 0 };

	exec_probe("/bin/sh -c 'kill -KILL $$'", &v);
	ck_assert_int_eq(v.o.result, PROBE_EXEC_SIGNAL);
	ck_assert_str_eq(reason(&v), "exec-signal 9");
}
END_TEST

START_TEST(test_exec_timeout)
{
	struct verdict v = { 0 };

	svc.check.timeout_ms = 300;
	exec_probe("/bin/sleep 100", &v);
	ck_assert_int_eq(v.o.result, PROBE_TIMEOUT);
	ck_assert_str_eq(reason(&v), "timeout");
	ck_assert_uint_ge(v.o.latency_us, 250000);
	ck_assert_uint_lt(v.o.latency_us, 5000000);
}
END_TEST

START_TEST(test_exec_error)
{
	struct verdict v = { 0 };

	exec_probe("/nonexistent/spofd-check --flag", &v);
	ck_assert_int_eq(v.o.result, PROBE_EXEC_ERROR);
	ck_assert_str_eq(reason(&v), "exec-error");
	ck_assert_ptr_nonnull(strstr(v.o.detail, strerror(ENOENT)));
}
END_TEST

START_TEST(test_exec_env)
{
	struct verdict v = { 0 };

	setenv("SPOFD_CHECK_PROC_VAR", "kept", 1);
	exec_probe("/bin/sh -c '"
	    "test \"$SPOFD_SERVICE\" = svc || exit 10; "
	    "test \"$SPOFD_MEMBER\" = m || exit 11; "
	    "test \"$SPOFD_MEMBER_ADDRESS\" = 127.0.0.1:5432 || exit 12; "
	    "test \"$SPOFD_MEMBER_HOST\" = 127.0.0.1 || exit 13; "
	    "test \"$SPOFD_MEMBER_PORT\" = 5432 || exit 14; "
	    "test \"$SPOFD_CHECK_PROC_VAR\" = kept || exit 15'", &v);
	ck_assert_str_eq(reason(&v), "ok");
}
END_TEST

START_TEST(test_exec_env_no_address)
{
	struct verdict v = { 0 };

	/* A stale value in the daemon's own environment must not leak through. */
	setenv("SPOFD_MEMBER_ADDRESS", "10.0.0.1:1", 1);
	mem.address = NULL;
	mem.host = NULL;
	mem.port = NULL;
	exec_probe("/bin/sh -c '"
	    "test \"$SPOFD_MEMBER\" = m || exit 11; "
	    "test -z \"${SPOFD_MEMBER_ADDRESS+set}\" || exit 12; "
	    "test -z \"${SPOFD_MEMBER_PORT+set}\" || exit 13'", &v);
	ck_assert_str_eq(reason(&v), "ok");
}
END_TEST

START_TEST(test_exec_chatty)
{
	struct verdict v = { 0 };

	/* Many lines: logged (mostly at debug) and the verdict still comes. */
	exec_probe("/bin/sh -c 'i=0; while [ $i -lt 500 ]; do echo line $i; i=$((i+1)); done'", &v);
	ck_assert_str_eq(reason(&v), "ok");
}
END_TEST

START_TEST(test_exec_cancel_and_reuse)
{
	const char *err = NULL;
	char **slow = argv_split("/bin/sh -c 'echo $$; exec sleep 100'", &err);
	char **fast = argv_split("/bin/true", &err);
	struct verdict v = { 0 };
	struct probe *p;

	svc.check.exec_argv = slow;
	p = probe_new(eng, &svc, &mem, verdict_cb, &v);
	probe_start(p);
	loop_for_ms(200);
	ck_assert(probe_running(p));
	probe_cancel(p);
	ck_assert(!probe_running(p));
	loop_for_ms(200);
	ck_assert_uint_eq(v.calls, 0);
	/* The same probe runs again after a cancel, and after a verdict. */
	svc.check.exec_argv = fast;
	for (int i = 0; i < 2; i++) {
		probe_start(p);
		loop_for_exits(1, 10);
		ck_assert_uint_eq(v.calls, (unsigned)i + 1);
		ck_assert_str_eq(reason(&v), "ok");
	}
	/* Freed while running: the child goes with it. */
	svc.check.exec_argv = slow;
	probe_start(p);
	loop_for_ms(100);
	probe_free(p);
	ck_assert_uint_eq(v.calls, 2);
	argv_free(slow);
	argv_free(fast);
	svc.check.exec_argv = NULL;
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("proc");
	TCase *te = tcase_create("probe_exec");
	SRunner *sr;
	int failed;

	if (getenv("CHECK_PROC_DEBUG") != NULL)
		log_set_level(LOG_LVL_DEBUG);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_true_false);
	tcase_add_test(tc, test_output_and_status);
	tcase_add_test(tc, test_partial_and_long_lines);
	tcase_add_test(tc, test_exact_line_max);
	tcase_add_test(tc, test_timeout_term);
	tcase_add_test(tc, test_timeout_kill_after_grace);
	tcase_add_test(tc, test_missing_binary);
	tcase_add_test(tc, test_empty_argv);
	tcase_add_test(tc, test_not_executable);
	tcase_add_test(tc, test_endless_output);
	tcase_add_test(tc, test_grandchild_in_group);
	tcase_add_test(tc, test_grandchild_escaped);
	tcase_add_test(tc, test_environment);
	tcase_add_test(tc, test_stdin_null_signals_default);
	tcase_add_test(tc, test_low_fds);
	tcase_add_test(tc, test_killed_by_signal);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_abandon);
	tcase_add_test(tc, test_table_free_kills);
	tcase_add_test(tc, test_spawn_from_on_exit);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(te, exec_setup, exec_teardown);
	tcase_set_timeout(te, 30);
	tcase_add_test(te, test_exec_ok);
	tcase_add_test(te, test_exec_exit);
	tcase_add_test(te, test_exec_signal);
	tcase_add_test(te, test_exec_timeout);
	tcase_add_test(te, test_exec_error);
	tcase_add_test(te, test_exec_env);
	tcase_add_test(te, test_exec_env_no_address);
	tcase_add_test(te, test_exec_chatty);
	tcase_add_test(te, test_exec_cancel_and_reuse);
	suite_add_tcase(s, te);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
