/*
 * Hook scripts: one queue per service, at most one hook running, the rest
 * waiting in order.  A hook is a child of proc.c (no shell, own process
 * group, TERM at the timeout, KILL after the grace); here we build its
 * argv and environment, log its output and exit, and turn the end into a
 * hook_result for the job's done callback.
 *
 * Order and re-entrancy:
 * - Jobs start only from the queue's own "kick" timer (a zero timeout, so
 *   the next loop turn): never inside hook_queue_push, and never inside a
 *   done callback.  A done callback may therefore push onto the same
 *   queue; what it pushes runs after the jobs already waiting.
 * - A job without a path ("not configured") goes through the queue like
 *   any other, so its done callback keeps its place in the order.
 * - One job per kick: a long run of unconfigured jobs yields to the loop
 *   between them instead of completing all in one turn.
 * - hook_queue_free may be called from a done callback: the struct then
 *   lives until the callback returns.
 * - Busy means a hook runs or jobs wait.  Inside a done callback the job
 *   that just ended no longer counts.
 *
 * The waiting list is bounded (HOOK_QUEUE_MAX): a burst of change notices
 * cannot grow memory without limit; the caller learns of a drop from the
 * return value.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "hook.h"
#include "log.h"
#include "util.h"

extern char **environ;

#define HOOK_ENV_VARS 9          /* SPOFD_* variables a hook gets */
#define HOOK_PW_BUF 16384        /* bytes for getpwuid_r/getgrgid_r records */
#define HOOK_SYMLINK_HOPS 40     /* links followed by hook_check_path, as the kernel's limit */

/* A queued job with its own copies of every string. */
struct hook_item {
	struct hook_item *next;
	enum hook_kind kind;
	char *path;              /* NULL: not configured */
	struct hook_env env;     /* points into strs */
	char *strs[8];           /* owned copies of env's strings */
	hook_done_fn done;
	void *arg;
};

struct hook_queue {
	struct event_base *base;
	struct proc_table *procs;
	char *service;               /* for logs */
	uint64_t timeout_ms;         /* limits for the next job to start */
	uint64_t kill_grace_ms;
	struct hook_item *head;      /* waiting, oldest first */
	struct hook_item *tail;
	size_t waiting;
	struct event *kick;          /* zero timeout: start the next job next turn */

	struct hook_item *running;   /* the job of proc, or one being completed */
	struct proc *proc;           /* NULL when nothing runs */
	pid_t pid;                   /* of proc, for log lines; -1 if it never started */
	uint64_t start_us;           /* monotonic, when running started */
	uint64_t run_timeout_ms;     /* limits the running job started with */
	uint64_t run_grace_ms;

	bool in_done;                /* a done callback of ours is on the stack */
	bool dying;                  /* hook_queue_free was called from a done callback */
};

static const char *const hook_env_names[HOOK_ENV_VARS] = {
	"SPOFD_EVENT", "SPOFD_SERVICE", "SPOFD_EPOCH", "SPOFD_OLD_PRIMARY",
	"SPOFD_NEW_PRIMARY", "SPOFD_NEW_PRIMARY_ADDRESS", "SPOFD_NODE", "SPOFD_REASON",
	"SPOFD_OLD_PRIMARY_ADDRESS",
};

const char *
hook_kind_str(enum hook_kind k)
{
	switch (k) {
	case HOOK_PROMOTE:
		return "on_promote";
	case HOOK_DEMOTE:
		return "on_demote";
	case HOOK_CHANGE:
		return "on_change";
	}
	return "on_unknown";
}

/* ---- jobs ---- */

static char *
hook_dup(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

static struct hook_item *
hook_item_new(const struct hook_job *job)
{
	struct hook_item *it = xcalloc(1, sizeof(*it));
	const struct hook_env *e = &job->env;

	it->kind = job->kind;
	it->path = job->path != NULL ? xstrdup(job->path) : NULL;
	it->done = job->done;
	it->arg = job->arg;
	it->env.epoch = e->epoch;
	it->env.event = it->strs[0] = hook_dup(e->event);
	it->env.service = it->strs[1] = hook_dup(e->service);
	it->env.old_primary = it->strs[2] = hook_dup(e->old_primary);
	it->env.new_primary = it->strs[3] = hook_dup(e->new_primary);
	it->env.new_primary_address = it->strs[4] = hook_dup(e->new_primary_address);
	it->env.node = it->strs[5] = hook_dup(e->node);
	it->env.reason = it->strs[6] = hook_dup(e->reason);
	it->env.old_primary_address = it->strs[7] = hook_dup(e->old_primary_address);
	return it;
}

static void
hook_item_free(struct hook_item *it)
{
	if (it == NULL)
		return;
	for (size_t i = 0; i < ARRAY_LEN(it->strs); i++)
		free(it->strs[i]);
	free(it->path);
	free(it);
}

static bool
hook_env_is_ours(const char *entry)
{
	return strncmp(entry, "SPOFD_", 6) == 0;
}

/*
 * The daemon's environment minus every SPOFD_* variable (a hook must
 * never see a stale SPOFD_OLD_PRIMARY the daemon was started with, nor the
 * exec probe's variables), plus the job's.  Free with argv_free.
 */
static char **
hook_build_env(const struct hook_item *it)
{
	const struct hook_env *e = &it->env;
	const char *values[HOOK_ENV_VARS];
	size_t n = environ != NULL ? argv_len(environ) : 0, k = 0;
	char **env = xcalloc(n + HOOK_ENV_VARS + 1, sizeof(*env));
	char epoch[24];

	for (size_t i = 0; i < n; i++)
		if (!hook_env_is_ours(environ[i]))
			env[k++] = xstrdup(environ[i]);
	snprintf(epoch, sizeof(epoch), "%llu", (unsigned long long)e->epoch);
	values[0] = e->event;
	values[1] = e->service;
	values[2] = epoch;
	values[3] = e->old_primary;
	values[4] = e->new_primary;
	values[5] = e->new_primary_address;
	values[6] = e->node;
	values[7] = e->reason;
	values[8] = e->old_primary_address;
	for (size_t i = 0; i < HOOK_ENV_VARS; i++)
		env[k++] = xasprintf("%s=%s", hook_env_names[i], values[i]);
	env[k] = NULL;
	return env;
}

/* ---- output and results ---- */

/*
 * Control characters escaped (\t, \xHH), so that a line cannot forge log
 * lines or terminal escapes; a trailing \r (CRLF output) is dropped.
 * DST holds at least 4 * strlen(SRC) + 1 bytes.
 */
static void
hook_escape(char *dst, size_t len, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	for (; *src != '\0'; src++) {
		unsigned char c = (unsigned char)*src;

		if (c == '\r' && src[1] == '\0')
			break;
		if (c >= 0x20 && c != 0x7f) {
			if (i + 1 >= len)
				break;
			dst[i++] = (char)c;
		} else if (c == '\t') {
			if (i + 2 >= len)
				break;
			dst[i++] = '\\';
			dst[i++] = 't';
		} else {
			if (i + 4 >= len)
				break;
			dst[i++] = '\\';
			dst[i++] = 'x';
			dst[i++] = hex[c >> 4];
			dst[i++] = hex[c & 0xf];
		}
	}
	dst[i] = '\0';
}

static void
hook_line(void *arg, bool is_stderr, const char *line)
{
	struct hook_queue *q = arg;
	char clean[4 * PROC_LINE_MAX + 1];

	hook_escape(clean, sizeof(clean), line);
	/* Hooks run on role changes only: rare enough to log every line. */
	log_msg(is_stderr ? LOG_LVL_WARN : LOG_LVL_INFO, "hook %s %s[%d]: %s",
	    q->service, hook_kind_str(q->running->kind), (int)q->pid, clean);
}

/* "30 s" when whole seconds, else "2500 ms". */
static void
hook_fmt_ms(char *buf, size_t len, uint64_t ms)
{
	if (ms >= 1000 && ms % 1000 == 0)
		snprintf(buf, len, "%llu s", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llu ms", (unsigned long long)ms);
}

/* Fill R from how the proc ended and log it. */
static void
hook_result_fill(struct hook_queue *q, struct hook_result *r, enum proc_end end, int status)
{
	const char *kind = hook_kind_str(q->running->kind);
	unsigned long long ms;
	char limit[32], grace[32];

	r->end = end;
	r->status = status;
	r->duration_us = now_mono_us() - q->start_us;
	r->ok = end == PROC_EXITED && status == 0;
	ms = (unsigned long long)(r->duration_us / 1000);

	switch (end) {
	case PROC_EXITED:
		snprintf(r->summary, sizeof(r->summary), "exit %d", status);
		break;
	case PROC_SIGNALED:
		snprintf(r->summary, sizeof(r->summary), "killed by signal %d", status);
		break;
	case PROC_TIMED_OUT:
		snprintf(r->summary, sizeof(r->summary), "timed out after %llu ms (%s)",
		    (unsigned long long)q->run_timeout_ms,
		    status == SIGKILL ? "SIGKILL after grace" : "SIGTERM");
		break;
	case PROC_SPAWN_FAILED:
		snprintf(r->summary, sizeof(r->summary), "cannot run %s: %s",
		    q->running->path, strerror(status));
		break;
	}

	switch (end) {
	case PROC_EXITED:
		log_msg(r->ok ? LOG_LVL_INFO : LOG_LVL_WARN, "hook %s %s: %s in %llu ms",
		    q->service, kind, r->summary, ms);
		break;
	case PROC_SIGNALED:
		log_warn("hook %s %s: %s (%s) in %llu ms", q->service, kind, r->summary,
		    strsignal(status), ms);
		break;
	case PROC_TIMED_OUT:
		hook_fmt_ms(limit, sizeof(limit), q->run_timeout_ms);
		if (status == SIGKILL) {
			hook_fmt_ms(grace, sizeof(grace), q->run_grace_ms);
			log_warn("+hook-timeout %s %s: killed after %s, SIGKILL after a %s grace",
			    q->service, kind, limit, grace);
		} else {
			log_warn("+hook-timeout %s %s: killed after %s", q->service, kind, limit);
		}
		break;
	case PROC_SPAWN_FAILED:
		log_error("hook %s %s: %s", q->service, kind, r->summary);
		break;
	}
}

static void
hook_kick_later(struct hook_queue *q)
{
	struct timeval tv = { 0, 0 };

	if (q->head != NULL && q->running == NULL && q->proc == NULL && !q->dying)
		evtimer_add(q->kick, &tv);
}

static void hook_queue_destroy(struct hook_queue *q);

/*
 * The running job is over: hand R to its done callback, then let the next
 * one start from the loop.
 */
static void
hook_complete(struct hook_queue *q, const struct hook_result *r)
{
	struct hook_item *it = q->running;

	/* Idle during the callback: hook_queue_busy tells of the jobs left. */
	q->proc = NULL;
	q->pid = -1;
	q->running = NULL;
	if (it->done != NULL) {
		q->in_done = true;
		it->done(it->arg, r);
		q->in_done = false;
	}
	hook_item_free(it);
	if (q->dying) {
		hook_queue_destroy(q);
		return;
	}
	hook_kick_later(q);
}

static void
hook_exit(void *arg, enum proc_end end, int status)
{
	struct hook_queue *q = arg;
	struct hook_result r;

	memset(&r, 0, sizeof(r));
	hook_result_fill(q, &r, end, status);
	hook_complete(q, &r);
}

/* Start the oldest waiting job; called from the kick timer only. */
static void
hook_start_next(struct hook_queue *q)
{
	struct hook_item *it = q->head;
	struct hook_result r;
	struct proc_spec spec;
	char *argv[2];
	char **env;

	if (it == NULL || q->proc != NULL || q->running != NULL)
		return;
	q->head = it->next;
	if (q->head == NULL)
		q->tail = NULL;
	it->next = NULL;
	q->waiting--;
	q->running = it;
	q->start_us = now_mono_us();
	q->run_timeout_ms = q->timeout_ms;
	q->run_grace_ms = q->kill_grace_ms;

	if (it->path == NULL) {
		memset(&r, 0, sizeof(r));
		r.ok = true;
		r.end = PROC_EXITED;
		snprintf(r.summary, sizeof(r.summary), "not configured");
		log_debug("hook %s %s: not configured", q->service, hook_kind_str(it->kind));
		hook_complete(q, &r);
		return;
	}

	argv[0] = it->path;
	argv[1] = NULL;
	env = hook_build_env(it);
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.envp = env;
	spec.timeout_ms = q->run_timeout_ms;
	spec.kill_grace_ms = q->run_grace_ms;
	spec.on_line = hook_line;
	spec.on_exit = hook_exit;
	spec.arg = q;
	/* proc_spawn never calls back from inside, and the child has its copies. */
	q->proc = proc_spawn(q->procs, &spec);
	q->pid = proc_pid(q->proc);
	argv_free(env);
	log_debug("hook %s %s[%d]: started %s (event %s, epoch %llu, reason %s)",
	    q->service, hook_kind_str(it->kind), (int)q->pid, it->path, it->env.event,
	    (unsigned long long)it->env.epoch, it->env.reason);
}

static void
hook_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	hook_start_next(arg);
}

/* ---- the queue ---- */

struct hook_queue *
hook_queue_new(struct event_base *base, struct proc_table *procs, const char *service,
    uint64_t timeout_ms, uint64_t kill_grace_ms)
{
	struct hook_queue *q = xcalloc(1, sizeof(*q));

	q->base = base;
	q->procs = procs;
	q->service = xstrdup(service);
	q->timeout_ms = timeout_ms;
	q->kill_grace_ms = kill_grace_ms;
	q->pid = -1;
	q->kick = evtimer_new(base, hook_kick_cb, q);
	if (q->kick == NULL)
		fatal("hook: cannot create a timer");
	return q;
}

void
hook_queue_set_limits(struct hook_queue *q, uint64_t timeout_ms, uint64_t kill_grace_ms)
{
	q->timeout_ms = timeout_ms;
	q->kill_grace_ms = kill_grace_ms;
}

bool
hook_queue_push(struct hook_queue *q, const struct hook_job *job)
{
	struct hook_item *it;

	if (q->dying)
		return false;
	if (q->waiting >= HOOK_QUEUE_MAX) {
		log_warn("hook %s %s: queue full (%u waiting), event %s of epoch %llu dropped",
		    q->service, hook_kind_str(job->kind), (unsigned)q->waiting,
		    job->env.event != NULL ? job->env.event : "",
		    (unsigned long long)job->env.epoch);
		return false;
	}
	it = hook_item_new(job);
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->waiting++;
	/* Started from the loop, never here; a no-op while a hook runs. */
	hook_kick_later(q);
	return true;
}

/* Busy: a hook runs or jobs wait to start (they start on the next loop turn). */
bool
hook_queue_busy(const struct hook_queue *q)
{
	return q->running != NULL || q->waiting > 0;
}

size_t
hook_queue_waiting(const struct hook_queue *q)
{
	return q->waiting;
}

static void
hook_queue_destroy(struct hook_queue *q)
{
	struct hook_item *it;

	while ((it = q->head) != NULL) {
		q->head = it->next;
		hook_item_free(it);
	}
	event_free(q->kick);
	free(q->service);
	free(q);
}

void
hook_queue_free(struct hook_queue *q)
{
	struct hook_item *it;

	if (q == NULL || q->dying)
		return;
	if (q->proc != NULL) {
		log_debug("hook %s %s[%d]: abandoned at shutdown", q->service,
		    hook_kind_str(q->running->kind), (int)q->pid);
		proc_abandon(q->proc);
		q->proc = NULL;
	}
	if (q->in_done) {
		/* hook_complete frees the rest when the callback returns. */
		q->dying = true;
		evtimer_del(q->kick);
		while ((it = q->head) != NULL) {
			q->head = it->next;
			hook_item_free(it);
		}
		q->tail = NULL;
		q->waiting = 0;
		return;
	}
	hook_item_free(q->running);
	q->running = NULL;
	hook_queue_destroy(q);
}

/* ---- checking a hook at load ---- */

static const char *
hook_user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char *rec = xmalloc(HOOK_PW_BUF);

	if (getpwuid_r(uid, &pw, rec, HOOK_PW_BUF, &res) == 0 && res != NULL)
		snprintf(buf, len, "%s", pw.pw_name);
	else
		snprintf(buf, len, "unknown user");
	free(rec);
	return buf;
}

static const char *
hook_group_name(gid_t gid, char *buf, size_t len)
{
	struct group gr, *res = NULL;
	char *rec = xmalloc(HOOK_PW_BUF);

	if (getgrgid_r(gid, &gr, rec, HOOK_PW_BUF, &res) == 0 && res != NULL)
		snprintf(buf, len, "%s", gr.gr_name);
	else
		snprintf(buf, len, "gid %u", (unsigned)gid);
	free(rec);
	return buf;
}

/* Resolve HOOK_USER to a uid; false when it names nobody. */
static bool
hook_user_uid(const char *hook_user, uid_t *uid)
{
	struct passwd pw, *res = NULL;
	char *rec;
	bool found;

	if (hook_user == NULL || *hook_user == '\0')
		return false;
	rec = xmalloc(HOOK_PW_BUF);
	found = getpwnam_r(hook_user, &pw, rec, HOOK_PW_BUF, &res) == 0 && res != NULL;
	if (found)
		*uid = pw.pw_uid;
	free(rec);
	return found;
}

/*
 * The owner and writability rule, for a hook (WHAT "") and for a
 * directory that holds it or a link to it (WHAT "directory "): owned by
 * root or the hook user, not writable by others, not writable by a group
 * other than root's.  Sticky directories get no exception: /tmp is not a
 * place for hooks.
 */
static const char *
hook_check_owner(const char *name, const char *what, const struct stat *st,
    const char *hook_user, char *buf, size_t len)
{
	char who[128];
	uid_t hu = 0;
	bool have_hu = st->st_uid != 0 && hook_user_uid(hook_user, &hu);

	if (st->st_uid != 0 && !(have_hu && st->st_uid == hu)) {
		hook_user_name(st->st_uid, who, sizeof(who));
		if (hook_user == NULL)
			snprintf(buf, len, "%s%s: owned by uid %u (%s), must be root (or set hook_user)",
			    what, name, (unsigned)st->st_uid, who);
		else if (!have_hu)
			snprintf(buf, len, "%s%s: owned by uid %u (%s), must be root; hook_user %s is not a known user",
			    what, name, (unsigned)st->st_uid, who, hook_user);
		else
			snprintf(buf, len, "%s%s: owned by uid %u (%s), must be root or hook_user (%s)",
			    what, name, (unsigned)st->st_uid, who, hook_user);
		return buf;
	}
	if ((st->st_mode & S_IWGRP) != 0 && st->st_gid != 0) {
		hook_group_name(st->st_gid, who, sizeof(who));
		snprintf(buf, len, "%s%s: writable by group %s", what, name, who);
		return buf;
	}
	if ((st->st_mode & S_IWOTH) != 0) {
		snprintf(buf, len, "%s%s: writable by others", what, name);
		return buf;
	}
	return NULL;
}

/* The directory part of absolute PATH, into BUF ("/" for "/x"). */
static void
hook_dirname(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash != NULL ? (size_t)(slash - path) : 0;

	if (n == 0) {
		snprintf(buf, len, "/");
		return;
	}
	snprintf(buf, len, "%.*s", (int)n, path);
}

static const char *
hook_check_dir(const char *file, const char *hook_user, char *buf, size_t len)
{
	char dir[PATH_MAX];
	struct stat st;

	hook_dirname(file, dir, sizeof(dir));
	if (stat(dir, &st) == -1) {
		snprintf(buf, len, "cannot stat %s: %s", dir, strerror(errno));
		return buf;
	}
	return hook_check_owner(dir, "directory ", &st, hook_user, buf, len);
}

/*
 * Symlinks are followed: the target must pass the file rule, and every
 * directory on the way must pass the directory rule, the one holding each
 * link as well as the one holding the target (whoever may write there
 * could point the link elsewhere or replace the file).  Directories above
 * those are not checked.  stat() of a directory follows links in its own
 * path, so a linked directory is judged by what it points to.
 */
const char *
hook_check_path(const char *path, const char *hook_user, char *buf, size_t len)
{
	char cur[PATH_MAX], link[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	const char *err;
	size_t dlen;
	ssize_t n;

	if (path == NULL || path[0] != '/') {
		snprintf(buf, len, "%s: not an absolute path", path != NULL ? path : "(none)");
		return buf;
	}
	if (stat(path, &st) == -1) {
		snprintf(buf, len, "cannot stat %s: %s", path, strerror(errno));
		return buf;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(buf, len, "%s: not a regular file", path);
		return buf;
	}
	/* access() alone passes for root when anyone may execute. */
	if ((st.st_mode & S_IXUSR) == 0 || access(path, X_OK) == -1) {
		snprintf(buf, len, "%s: not executable", path);
		return buf;
	}
	if ((err = hook_check_owner(path, "", &st, hook_user, buf, len)) != NULL)
		return err;

	if (strlen(path) >= sizeof(cur)) {
		snprintf(buf, len, "%s: path too long", path);
		return buf;
	}
	snprintf(cur, sizeof(cur), "%s", path);
	for (int hop = 0;; hop++) {
		if ((err = hook_check_dir(cur, hook_user, buf, len)) != NULL)
			return err;
		if (lstat(cur, &st) == -1) {
			snprintf(buf, len, "cannot stat %s: %s", cur, strerror(errno));
			return buf;
		}
		if (!S_ISLNK(st.st_mode))
			return NULL;
		if (hop >= HOOK_SYMLINK_HOPS) {
			snprintf(buf, len, "%s: too many levels of symbolic links", path);
			return buf;
		}
		n = readlink(cur, link, sizeof(link) - 1);
		if (n == -1) {
			snprintf(buf, len, "cannot read link %s: %s", cur, strerror(errno));
			return buf;
		}
		link[n] = '\0';
		if (link[0] == '/') {
			memcpy(cur, link, (size_t)n + 1);
			continue;
		}
		/* Relative: from the directory holding the link. */
		hook_dirname(cur, dir, sizeof(dir));
		if (strcmp(dir, "/") == 0)
			dir[0] = '\0';
		dlen = strlen(dir);
		if (dlen + 1 + (size_t)n >= sizeof(cur)) {
			snprintf(buf, len, "%s: path too long", path);
			return buf;
		}
		memcpy(cur, dir, dlen);
		cur[dlen] = '/';
		memcpy(cur + dlen + 1, link, (size_t)n + 1);
	}
}
