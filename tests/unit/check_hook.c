/*
 * Hook queue with real scripts written into a private temporary directory,
 * and hook_check_path on files made to break each rule.  Ownership cases
 * that need chown run only as root; as another user the scripts belong to
 * that user, so it is passed as hook_user.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "hook.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define DONE_MAX 64          /* done callbacks recorded per test */
#define NOBODY_ID 65534      /* uid and gid of nobody/nogroup */

static struct event_base *base;
static struct proc_table *table;
static struct hook_queue *queue;
static char dir[64];            /* the test's private directory */
static char hook_user_buf[64];
static const char *hook_user;   /* NULL as root, else the current user */

/* One done callback. */
struct done_rec {
	int tag;
	struct hook_result r;
	uint64_t at_us;
	bool busy;                   /* hook_queue_busy inside the callback */
};

static struct done_rec dones[DONE_MAX];
static unsigned n_done;
static unsigned dones_wanted;
static bool in_push;             /* a done during push would be a bug */

/* What a done callback does besides recording. */
static struct hook_job chained;  /* pushed by done_push_cb */
static bool chained_pushed_ok;
static unsigned chained_done_before; /* dones seen when the chained push returned */

static void
done_cb(void *arg, const struct hook_result *r)
{
	struct done_rec *d;

	ck_assert(!in_push);
	if (n_done < DONE_MAX) {
		d = &dones[n_done];
		d->tag = (int)(intptr_t)arg;
		d->r = *r;
		d->at_us = now_mono_us();
		d->busy = queue != NULL && hook_queue_busy(queue);
	}
	n_done++;
	if (n_done >= dones_wanted)
		event_base_loopbreak(base);
}

static void
done_push_cb(void *arg, const struct hook_result *r)
{
	done_cb(arg, r);
	chained_pushed_ok = hook_queue_push(queue, &chained);
	chained_done_before = n_done;
}

static void
done_free_cb(void *arg, const struct hook_result *r)
{
	done_cb(arg, r);
	hook_queue_free(queue);
	queue = NULL;
}

/* Run the loop until WANT dones in all, or SECS passed. */
static void
loop_for_dones(unsigned want, unsigned secs)
{
	struct timeval tv = { secs, 0 };

	dones_wanted = want;
	if (n_done >= want)
		return;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
loop_for_ms(unsigned ms)
{
	struct timeval tv = us_to_tv(ms * 1000u);

	dones_wanted = (unsigned)-1;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static bool
push(const struct hook_job *job)
{
	bool ok;

	in_push = true;
	ok = hook_queue_push(queue, job);
	in_push = false;
	return ok;
}

/* A job for the test queue with every variable set. */
static struct hook_job
job_for(const char *path, int tag, uint64_t epoch)
{
	struct hook_job j;

	memset(&j, 0, sizeof(j));
	j.kind = HOOK_PROMOTE;
	j.path = path;
	j.env.event = "promote";
	j.env.service = "web";
	j.env.epoch = epoch;
	j.env.old_primary = "a";
	j.env.new_primary = "b";
	j.env.new_primary_address = "127.0.0.1:8080";
	j.env.old_primary_address = "127.0.0.1:8081";
	j.env.node = "n1";
	j.env.reason = "failover";
	j.done = done_cb;
	j.arg = (void *)(intptr_t)tag;
	return j;
}

static char *
path_in(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* Write an executable sh script NAME with BODY; returns its path (free it). */
static char *
script(const char *name, const char *body, mode_t mode)
{
	char *path = path_in(name);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

/* The whole of a file, or NULL when it cannot be read (free it). */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = xcalloc(1, 65536);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* TEXT holds LINE as a whole line. */
static void
assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	ck_abort_msg("no line \"%s\" in:\n%s", line, text);
}

/* True when PID is gone or a zombie. */
static bool
pid_dead(pid_t pid)
{
	char path[64], buf[256], *rp;
	FILE *f;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return true;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return true;
	}
	fclose(f);
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
setup(void)
{
	struct passwd *pw;

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	table = proc_table_new(base);
	queue = hook_queue_new(base, table, "web", 5000, 1000);
	n_done = 0;
	memset(dones, 0, sizeof(dones));
	snprintf(dir, sizeof(dir), "/tmp/check_hook.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0700), 0);
	hook_user = NULL;
	if (geteuid() != 0) {
		pw = getpwuid(geteuid());
		ck_assert_ptr_nonnull(pw);
		snprintf(hook_user_buf, sizeof(hook_user_buf), "%s", pw->pw_name);
		hook_user = hook_user_buf;
	}
}

static void
teardown(void)
{
	hook_queue_free(queue);
	queue = NULL;
	proc_table_free(table);
	table = NULL;
	event_base_free(base);
	base = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the queue ---- */

START_TEST(test_env)
{
	char *out = path_in("env.out");
	char *body = xasprintf("env > %s", out);
	char *path = script("env", body, 0755);
	struct hook_job j = job_for(path, 1, 7);
	char *env;

	/* Stale or foreign SPOFD_* variables of the daemon must not leak. */
	setenv("SPOFD_OLD_PRIMARY", "stale", 1);
	setenv("SPOFD_MEMBER", "x", 1);
	setenv("CHECK_HOOK_KEEP", "kept", 1);
	j.env.old_primary = NULL;
	j.env.new_primary_address = NULL;
	ck_assert(push(&j));
	/* The environment is built when the job starts, from the loop. */
	loop_for_dones(1, 10);
	unsetenv("SPOFD_OLD_PRIMARY");
	unsetenv("SPOFD_MEMBER");
	ck_assert_uint_eq(n_done, 1);
	ck_assert(dones[0].r.ok);
	ck_assert_str_eq(dones[0].r.summary, "exit 0");
	env = slurp(out);
	ck_assert_ptr_nonnull(env);
	assert_line(env, "SPOFD_EVENT=promote");
	assert_line(env, "SPOFD_SERVICE=web");
	assert_line(env, "SPOFD_EPOCH=7");
	assert_line(env, "SPOFD_OLD_PRIMARY=");
	assert_line(env, "SPOFD_NEW_PRIMARY=b");
	assert_line(env, "SPOFD_NEW_PRIMARY_ADDRESS=");
	assert_line(env, "SPOFD_OLD_PRIMARY_ADDRESS=127.0.0.1:8081");
	assert_line(env, "SPOFD_NODE=n1");
	assert_line(env, "SPOFD_REASON=failover");
	assert_line(env, "CHECK_HOOK_KEEP=kept");
	ck_assert_ptr_null(strstr(env, "stale"));
	ck_assert_ptr_null(strstr(env, "SPOFD_MEMBER"));
	free(env);
	free(path);
	free(body);
	free(out);
}
END_TEST

/* The job's strings are copied at push: the caller's may go at once. */
START_TEST(test_push_copies)
{
	char *out = path_in("env.out");
	char *body = xasprintf("echo \"$SPOFD_SERVICE $SPOFD_NEW_PRIMARY\" > %s", out);
	char *path = script("copy", body, 0755);
	char *svc = xstrdup("web"), *np = xstrdup("b"), *pathcopy = xstrdup(path);
	struct hook_job j = job_for(pathcopy, 1, 1);
	char *got;

	j.env.service = svc;
	j.env.new_primary = np;
	ck_assert(push(&j));
	memset(svc, 'X', 3);
	memset(np, 'X', 1);
	memset(pathcopy, 'X', strlen(pathcopy));
	free(svc);
	free(np);
	free(pathcopy);
	loop_for_dones(1, 10);
	ck_assert_uint_eq(n_done, 1);
	ck_assert_str_eq(dones[0].r.summary, "exit 0");
	got = slurp(out);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "web b\n");
	free(got);
	free(path);
	free(body);
	free(out);
}
END_TEST

START_TEST(test_order_one_at_a_time)
{
	char *out = path_in("order.out");
	char *body = xasprintf("echo \"start $SPOFD_EPOCH\" >> %s; sleep 0.2; echo \"end $SPOFD_EPOCH\" >> %s",
	    out, out);
	char *path = script("order", body, 0755);
	struct hook_job j;
	char *got;

	for (int i = 1; i <= 3; i++) {
		j = job_for(path, i, (uint64_t)i);
		ck_assert(push(&j));
	}
	ck_assert_uint_eq(hook_queue_waiting(queue), 3);
	ck_assert(hook_queue_busy(queue));
	ck_assert_uint_eq(n_done, 0);
	loop_for_dones(3, 20);
	ck_assert_uint_eq(n_done, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(dones[i].tag, i + 1);
		ck_assert(dones[i].r.ok);
		ck_assert_uint_ge(dones[i].r.duration_us, 150000);
	}
	got = slurp(out);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "start 1\nend 1\nstart 2\nend 2\nstart 3\nend 3\n");
	/* Inside done the finished job no longer counts. */
	ck_assert(dones[1].busy);
	ck_assert(!dones[2].busy);
	ck_assert(!hook_queue_busy(queue));
	ck_assert_uint_eq(hook_queue_waiting(queue), 0);
	free(got);
	free(path);
	free(body);
	free(out);
}
END_TEST

START_TEST(test_timeout_term)
{
	char *path = script("hang", "exec sleep 30", 0755);
	struct hook_job j = job_for(path, 1, 1);

	hook_queue_set_limits(queue, 300, 5000);
	ck_assert(push(&j));
	loop_for_dones(1, 10);
	ck_assert_uint_eq(n_done, 1);
	ck_assert(!dones[0].r.ok);
	ck_assert_int_eq(dones[0].r.end, PROC_TIMED_OUT);
	ck_assert_int_eq(dones[0].r.status, SIGTERM);
	ck_assert_str_eq(dones[0].r.summary, "timed out after 300 ms (SIGTERM)");
	ck_assert_uint_ge(dones[0].r.duration_us, 250000);
	ck_assert_uint_lt(dones[0].r.duration_us, 4000000);
	free(path);
}
END_TEST

START_TEST(test_timeout_kill_after_grace)
{
	/* An ignored signal stays ignored across exec: sleep ignores TERM too. */
	char *path = script("stubborn", "trap '' TERM\nsleep 30", 0755);
	struct hook_job j = job_for(path, 1, 1);

	hook_queue_set_limits(queue, 200, 300);
	ck_assert(push(&j));
	loop_for_dones(1, 10);
	ck_assert_uint_eq(n_done, 1);
	ck_assert(!dones[0].r.ok);
	ck_assert_int_eq(dones[0].r.end, PROC_TIMED_OUT);
	ck_assert_int_eq(dones[0].r.status, SIGKILL);
	ck_assert_str_eq(dones[0].r.summary, "timed out after 200 ms (SIGKILL after grace)");
	ck_assert_uint_ge(dones[0].r.duration_us, 450000);
	ck_assert_uint_lt(dones[0].r.duration_us, 5000000);
	free(path);
}
END_TEST

/* New limits apply from the next job on; the running one keeps its own. */
START_TEST(test_limits_at_start)
{
	char *path = script("nap", "exec sleep 1", 0755);
	struct hook_job a = job_for(path, 1, 1), b = job_for(path, 2, 2);

	hook_queue_set_limits(queue, 5000, 1000);
	ck_assert(push(&a));
	ck_assert(push(&b));
	/* Until the first one runs. */
	for (int i = 0; i < 100 && hook_queue_waiting(queue) != 1; i++)
		loop_for_ms(10);
	ck_assert_uint_eq(hook_queue_waiting(queue), 1);
	hook_queue_set_limits(queue, 200, 1000);
	loop_for_dones(2, 15);
	ck_assert_uint_eq(n_done, 2);
	ck_assert(dones[0].r.ok);
	ck_assert_str_eq(dones[0].r.summary, "exit 0");
	ck_assert(!dones[1].r.ok);
	ck_assert_str_eq(dones[1].r.summary, "timed out after 200 ms (SIGTERM)");
	free(path);
}
END_TEST

START_TEST(test_exit_status)
{
	char *path = script("three", "echo out; echo err >&2; exit 3", 0755);
	char *kill9 = script("kill9", "kill -9 $$", 0755);
	struct hook_job j = job_for(path, 1, 1), k = job_for(kill9, 2, 1);

	ck_assert(push(&j));
	ck_assert(push(&k));
	loop_for_dones(2, 10);
	ck_assert_uint_eq(n_done, 2);
	ck_assert(!dones[0].r.ok);
	ck_assert_int_eq(dones[0].r.end, PROC_EXITED);
	ck_assert_int_eq(dones[0].r.status, 3);
	ck_assert_str_eq(dones[0].r.summary, "exit 3");
	ck_assert(!dones[1].r.ok);
	ck_assert_int_eq(dones[1].r.end, PROC_SIGNALED);
	ck_assert_str_eq(dones[1].r.summary, "killed by signal 9");
	free(kill9);
	free(path);
}
END_TEST

START_TEST(test_missing_path)
{
	char *path = path_in("nope");
	char *want = xasprintf("cannot run %s: No such file or directory", path);
	struct hook_job j = job_for(path, 1, 1);

	ck_assert(push(&j));
	loop_for_dones(1, 10);
	ck_assert_uint_eq(n_done, 1);
	ck_assert(!dones[0].r.ok);
	ck_assert_int_eq(dones[0].r.end, PROC_SPAWN_FAILED);
	ck_assert_int_eq(dones[0].r.status, ENOENT);
	ck_assert_str_eq(dones[0].r.summary, want);
	free(want);
	free(path);
}
END_TEST

/* No path: success from a later loop turn, in its place in the queue. */
START_TEST(test_not_configured)
{
	char *out = path_in("nc.out");
	char *body = xasprintf("echo \"$SPOFD_EPOCH\" >> %s; sleep 0.1", out);
	char *path = script("nc", body, 0755);
	struct hook_job a = job_for(path, 1, 1), b = job_for(NULL, 2, 2), c = job_for(path, 3, 3);
	char *got;

	ck_assert(push(&b));
	ck_assert_uint_eq(n_done, 0);
	loop_for_dones(1, 10);
	ck_assert_uint_eq(n_done, 1);
	ck_assert_int_eq(dones[0].tag, 2);
	ck_assert(dones[0].r.ok);
	ck_assert_str_eq(dones[0].r.summary, "not configured");

	ck_assert(push(&a));
	ck_assert(push(&b));
	ck_assert(push(&c));
	ck_assert_uint_eq(n_done, 1);
	loop_for_dones(4, 10);
	ck_assert_uint_eq(n_done, 4);
	ck_assert_int_eq(dones[1].tag, 1);
	ck_assert_int_eq(dones[2].tag, 2);
	ck_assert_int_eq(dones[3].tag, 3);
	ck_assert_str_eq(dones[2].r.summary, "not configured");
	/* After a's end, before c's start. */
	ck_assert_uint_ge(dones[2].at_us, dones[1].at_us);
	got = slurp(out);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "1\n3\n");
	free(got);
	free(path);
	free(body);
	free(out);
}
END_TEST

/* A done callback pushes onto its own queue: that job runs after the others. */
START_TEST(test_push_from_done)
{
	char *out = path_in("chain.out");
	char *body = xasprintf("echo \"$SPOFD_EPOCH\" >> %s", out);
	char *path = script("chain", body, 0755);
	struct hook_job a = job_for(path, 1, 1), b = job_for(path, 2, 2);
	char *got;

	chained = job_for(path, 3, 3);
	a.done = done_push_cb;
	ck_assert(push(&a));
	ck_assert(push(&b));
	loop_for_dones(3, 10);
	ck_assert_uint_eq(n_done, 3);
	ck_assert(chained_pushed_ok);
	/* The pushed job did not complete inside the callback. */
	ck_assert_uint_eq(chained_done_before, 1);
	ck_assert_int_eq(dones[0].tag, 1);
	ck_assert_int_eq(dones[1].tag, 2);
	ck_assert_int_eq(dones[2].tag, 3);
	for (int i = 0; i < 3; i++)
		ck_assert(dones[i].r.ok);
	got = slurp(out);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "1\n2\n3\n");
	free(got);
	free(path);
	free(body);
	free(out);
}
END_TEST

/* A not-configured job's done pushes another: still never inside push. */
START_TEST(test_push_from_done_not_configured)
{
	struct hook_job a = job_for(NULL, 1, 1);

	chained = job_for(NULL, 2, 2);
	a.done = done_push_cb;
	ck_assert(push(&a));
	loop_for_dones(2, 10);
	ck_assert_uint_eq(n_done, 2);
	ck_assert(chained_pushed_ok);
	ck_assert_uint_eq(chained_done_before, 1);
	ck_assert_int_eq(dones[1].tag, 2);
}
END_TEST

START_TEST(test_queue_full)
{
	char *path = script("slow", "sleep 0.3", 0755);
	struct hook_job first = job_for(path, 0, 0), j;

	ck_assert(push(&first));
	/* Until it runs: the running job does not count against the bound. */
	for (int i = 0; i < 100 && hook_queue_waiting(queue) != 0; i++)
		loop_for_ms(10);
	ck_assert_uint_eq(hook_queue_waiting(queue), 0);
	ck_assert(hook_queue_busy(queue));
	for (int i = 1; i <= HOOK_QUEUE_MAX; i++) {
		j = job_for(NULL, i, (uint64_t)i);
		ck_assert(push(&j));
	}
	ck_assert_uint_eq(hook_queue_waiting(queue), HOOK_QUEUE_MAX);
	j = job_for(NULL, 99, 99);
	ck_assert(!push(&j));
	ck_assert_uint_eq(hook_queue_waiting(queue), HOOK_QUEUE_MAX);
	loop_for_dones(HOOK_QUEUE_MAX + 1, 10);
	ck_assert_uint_eq(n_done, HOOK_QUEUE_MAX + 1);
	for (int i = 0; i <= HOOK_QUEUE_MAX; i++)
		ck_assert_int_eq(dones[i].tag, i);
	/* Room again. */
	ck_assert(push(&j));
	loop_for_dones(HOOK_QUEUE_MAX + 2, 10);
	ck_assert_int_eq(dones[HOOK_QUEUE_MAX + 1].tag, 99);
	free(path);
}
END_TEST

static pid_t
read_pid_file(const char *path, unsigned ms)
{
	char *s;
	pid_t pid = 0;

	for (unsigned i = 0; i < ms / 10 && pid <= 0; i++) {
		loop_for_ms(10);
		if ((s = slurp(path)) != NULL) {
			if (strchr(s, '\n') != NULL)
				pid = (pid_t)atoi(s);
			free(s);
		}
	}
	return pid;
}

START_TEST(test_free_kills_running)
{
	char *pidfile = path_in("pid");
	char *body = xasprintf("echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 30", pidfile, pidfile, pidfile);
	char *path = script("long", body, 0755);
	struct hook_job a = job_for(path, 1, 1), b = job_for(path, 2, 2);
	pid_t pid;
	bool dead = false;

	ck_assert(push(&a));
	ck_assert(push(&b));
	pid = read_pid_file(pidfile, 5000);
	ck_assert_int_gt(pid, 0);
	ck_assert(!pid_dead(pid));
	hook_queue_free(queue);
	queue = NULL;
	/* SIGCHLD reaps it from the loop. */
	for (int i = 0; i < 300 && !dead; i++) {
		loop_for_ms(10);
		dead = pid_dead(pid);
	}
	ck_assert(dead);
	ck_assert_uint_eq(n_done, 0);
	free(path);
	free(body);
	free(pidfile);
}
END_TEST

/* hook_queue_free from a done callback: no more callbacks, nothing leaks. */
START_TEST(test_free_from_done)
{
	char *path = script("quick", "exit 0", 0755);
	struct hook_job a = job_for(path, 1, 1), b = job_for(path, 2, 2);

	a.done = done_free_cb;
	ck_assert(push(&a));
	ck_assert(push(&b));
	loop_for_dones(2, 2);
	ck_assert_uint_eq(n_done, 1);
	ck_assert_ptr_null(queue);
	free(path);
}
END_TEST

/* Output goes to the log line by line, control characters escaped. */
START_TEST(test_output_logged)
{
	char *logpath = path_in("log");
	char *path = script("chatty",
	    "echo hello; printf 'esc \\033[31m red\\r\\n'; echo oops >&2; printf 'tab\\there\\n'; exit 0", 0755);
	char *slow = script("slowpoke", "exec sleep 30", 0755);
	struct hook_job j = job_for(path, 1, 1), k = job_for(slow, 2, 2);
	int saved, fd;
	char *log, *want;
	pid_t pid;

	fflush(stderr);
	saved = dup(2);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	ck_assert(push(&j));
	loop_for_dones(1, 10);
	hook_queue_set_limits(queue, 200, 1000);
	ck_assert(push(&k));
	loop_for_dones(2, 10);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	ck_assert_uint_eq(n_done, 2);
	log = slurp(logpath);
	ck_assert_ptr_nonnull(log);
	/* The pid in the line is the hook's: find it from the first line. */
	ck_assert_ptr_nonnull(strstr(log, "info: hook web on_promote["));
	pid = (pid_t)atoi(strstr(log, "on_promote[") + strlen("on_promote["));
	ck_assert_int_gt(pid, 0);
	want = xasprintf("info: hook web on_promote[%d]: hello\n", (int)pid);
	ck_assert_ptr_nonnull(strstr(log, want));
	free(want);
	want = xasprintf("info: hook web on_promote[%d]: esc \\x1b[31m red\n", (int)pid);
	ck_assert_ptr_nonnull(strstr(log, want));
	free(want);
	want = xasprintf("warn: hook web on_promote[%d]: oops\n", (int)pid);
	ck_assert_ptr_nonnull(strstr(log, want));
	free(want);
	want = xasprintf("info: hook web on_promote[%d]: tab\\there\n", (int)pid);
	ck_assert_ptr_nonnull(strstr(log, want));
	free(want);
	ck_assert_ptr_nonnull(strstr(log, "info: hook web on_promote: exit 0 in "));
	ck_assert_ptr_nonnull(strstr(log, "warn: +hook-timeout web on_promote: killed after 200 ms\n"));
	ck_assert_ptr_null(strchr(log, '\033'));
	free(log);
	free(slow);
	free(path);
	free(logpath);
}
END_TEST

START_TEST(test_kind_str)
{
	ck_assert_str_eq(hook_kind_str(HOOK_PROMOTE), "on_promote");
	ck_assert_str_eq(hook_kind_str(HOOK_DEMOTE), "on_demote");
	ck_assert_str_eq(hook_kind_str(HOOK_CHANGE), "on_change");
}
END_TEST

/* ---- hook_check_path ---- */

static char msg[512];

static const char *
check(const char *path)
{
	msg[0] = '\0';
	return hook_check_path(path, hook_user, msg, sizeof(msg));
}

/* The check's message must contain WANT. */
static void
assert_refused(const char *path, const char *want)
{
	const char *m = check(path);

	ck_assert_msg(m != NULL, "%s accepted, want \"%s\"", path, want);
	ck_assert_ptr_eq(m, msg);
	ck_assert_msg(strstr(m, want) != NULL, "\"%s\" lacks \"%s\"", m, want);
}

static void
assert_accepted(const char *path)
{
	const char *m = check(path);

	ck_assert_msg(m == NULL, "%s refused: %s", path, m);
}

START_TEST(test_check_basic)
{
	char *good = script("good", "exit 0", 0755);
	char *noexec = script("noexec", "exit 0", 0644);
	char *groupx = script("groupx", "exit 0", 0654);  /* others may run it, not the owner */
	char *missing = path_in("missing");
	char *sub = path_in("sub");
	char *want;

	assert_accepted(good);
	ck_assert_ptr_eq(hook_check_path("hooks/x", NULL, msg, sizeof(msg)), msg);
	ck_assert_str_eq(msg, "hooks/x: not an absolute path");
	assert_refused("", "not an absolute path");
	want = xasprintf("cannot stat %s: No such file or directory", missing);
	assert_refused(missing, want);
	ck_assert_str_eq(msg, want);
	free(want);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	assert_refused(sub, "not a regular file");
	want = xasprintf("%s: not executable", noexec);
	assert_refused(noexec, want);
	ck_assert_str_eq(msg, want);
	free(want);
	assert_refused(groupx, "not executable");
	assert_refused("/dev/null", "not a regular file");
	free(sub);
	free(missing);
	free(groupx);
	free(noexec);
	free(good);
}
END_TEST

START_TEST(test_check_writable)
{
	char *other = script("other-w", "exit 0", 0755);
	char *grp = script("group-w", "exit 0", 0755);
	char *want;

	ck_assert_int_eq(chmod(other, 0757), 0);
	want = xasprintf("%s: writable by others", other);
	assert_refused(other, want);
	ck_assert_str_eq(msg, want);
	free(want);

	ck_assert_int_eq(chmod(grp, 0775), 0);
	if (geteuid() == 0) {
		/* Group root may write: only root is trusted with that. */
		ck_assert_int_eq(chown(grp, 0, 0), 0);
		assert_accepted(grp);
		ck_assert_int_eq(chown(grp, 0, NOBODY_ID), 0);
		assert_refused(grp, "writable by group nogroup");
	} else if (getegid() != 0) {
		assert_refused(grp, "writable by group ");
	}
	free(grp);
	free(other);
}
END_TEST

START_TEST(test_check_owner)
{
	char *path = script("nobodys", "exit 0", 0755);
	char *want;

	if (geteuid() != 0)
		return; /* chown needs root */
	ck_assert_int_eq(chown(path, NOBODY_ID, NOBODY_ID), 0);
	want = xasprintf("%s: owned by uid 65534 (nobody), must be root", path);
	assert_refused(path, want);
	free(want);
	/* The hook user may own hooks. */
	ck_assert_ptr_null(hook_check_path(path, "nobody", msg, sizeof(msg)));
	ck_assert_ptr_eq(hook_check_path(path, "no-such-user-here", msg, sizeof(msg)), msg);
	ck_assert_ptr_nonnull(strstr(msg, "hook_user no-such-user-here is not a known user"));
	ck_assert_ptr_eq(hook_check_path(path, "root", msg, sizeof(msg)), msg);
	ck_assert_ptr_nonnull(strstr(msg, "must be root or hook_user (root)"));
	free(path);
}
END_TEST

START_TEST(test_check_dir)
{
	char *open_dir = path_in("open");
	char *sticky = path_in("sticky");
	char *in_open, *in_sticky, *want;

	ck_assert_int_eq(mkdir(open_dir, 0700), 0);
	ck_assert_int_eq(chmod(open_dir, 0757), 0);
	ck_assert_int_eq(mkdir(sticky, 0700), 0);
	ck_assert_int_eq(chmod(sticky, 01757), 0);
	in_open = script("open/hook", "exit 0", 0755);
	in_sticky = script("sticky/hook", "exit 0", 0755);
	want = xasprintf("directory %s: writable by others", open_dir);
	assert_refused(in_open, want);
	ck_assert_str_eq(msg, want);
	free(want);
	/* Sticky or not: /tmp-like directories are no place for hooks. */
	assert_refused(in_sticky, "writable by others");

	if (geteuid() == 0) {
		ck_assert_int_eq(chmod(open_dir, 0755), 0);
		assert_accepted(in_open);
		ck_assert_int_eq(chown(open_dir, NOBODY_ID, 0), 0);
		assert_refused(in_open, "owned by uid 65534 (nobody)");
		ck_assert_ptr_null(hook_check_path(in_open, "nobody", msg, sizeof(msg)));
		ck_assert_int_eq(chown(open_dir, 0, NOBODY_ID), 0);
		ck_assert_int_eq(chmod(open_dir, 0775), 0);
		assert_refused(in_open, "writable by group nogroup");
	}
	free(in_sticky);
	free(in_open);
	free(sticky);
	free(open_dir);
}
END_TEST

START_TEST(test_check_symlinks)
{
	char *open_dir = path_in("open");
	char *good = script("good", "exit 0", 0755);
	char *in_open;
	char *link_good = path_in("link-good");
	char *link_rel = path_in("link-rel");
	char *link_bad_target = path_in("link-bad-target");
	char *link_in_open = path_in("open/link");
	char *link_chain = path_in("link-chain");
	char *link_loop = path_in("loop");

	ck_assert_int_eq(mkdir(open_dir, 0700), 0);
	ck_assert_int_eq(chmod(open_dir, 0757), 0);
	in_open = script("open/hook", "exit 0", 0755);

	ck_assert_int_eq(symlink(good, link_good), 0);
	assert_accepted(link_good);
	ck_assert_int_eq(symlink("good", link_rel), 0);
	assert_accepted(link_rel);
	/* Target where others may write. */
	ck_assert_int_eq(symlink(in_open, link_bad_target), 0);
	assert_refused(link_bad_target, "writable by others");
	/* Link where others may write: they could point it elsewhere. */
	ck_assert_int_eq(symlink(good, link_in_open), 0);
	assert_refused(link_in_open, "writable by others");
	/* Good dir -> open dir -> good file: the middle link is judged too. */
	ck_assert_int_eq(symlink(link_in_open, link_chain), 0);
	assert_refused(link_chain, "writable by others");
	ck_assert_int_eq(symlink("loop", link_loop), 0);
	assert_refused(link_loop, "cannot stat");

	free(link_loop);
	free(link_chain);
	free(link_in_open);
	free(link_bad_target);
	free(link_rel);
	free(link_good);
	free(in_open);
	free(good);
	free(open_dir);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("hook");
	TCase *tq = tcase_create("queue");
	TCase *tc = tcase_create("check_path");
	SRunner *sr;
	int failed;

	if (getenv("CHECK_HOOK_DEBUG") != NULL)
		log_set_level(LOG_LVL_DEBUG);
	tcase_add_checked_fixture(tq, setup, teardown);
	tcase_set_timeout(tq, 30);
	tcase_add_test(tq, test_env);
	tcase_add_test(tq, test_push_copies);
	tcase_add_test(tq, test_order_one_at_a_time);
	tcase_add_test(tq, test_timeout_term);
	tcase_add_test(tq, test_timeout_kill_after_grace);
	tcase_add_test(tq, test_limits_at_start);
	tcase_add_test(tq, test_exit_status);
	tcase_add_test(tq, test_missing_path);
	tcase_add_test(tq, test_not_configured);
	tcase_add_test(tq, test_push_from_done);
	tcase_add_test(tq, test_push_from_done_not_configured);
	tcase_add_test(tq, test_queue_full);
	tcase_add_test(tq, test_free_kills_running);
	tcase_add_test(tq, test_free_from_done);
	tcase_add_test(tq, test_output_logged);
	tcase_add_test(tq, test_kind_str);
	suite_add_tcase(s, tq);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_check_basic);
	tcase_add_test(tc, test_check_writable);
	tcase_add_test(tc, test_check_owner);
	tcase_add_test(tc, test_check_dir);
	tcase_add_test(tc, test_check_symlinks);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
