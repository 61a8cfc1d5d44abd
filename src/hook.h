/*
 * Hook scripts: per service, one at a time, in order.  Each runs without
 * a shell in its own process group with a timeout (TERM, then KILL after
 * a grace period); its output is logged line by line under the hook's
 * name.  A later event never kills a running hook: it waits its turn.
 */
#ifndef SPOFD_HOOK_H
#define SPOFD_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc.h"

struct event_base;
struct hook_queue;

#define HOOK_QUEUE_MAX 32  /* jobs waiting per service, the running one aside */

enum hook_kind { HOOK_PROMOTE, HOOK_DEMOTE, HOOK_CHANGE };

/* What a hook is told, as SPOFD_* environment variables. */
struct hook_env {
	const char *event;               /* SPOFD_EVENT: promote, demote, change */
	const char *service;             /* SPOFD_SERVICE */
	uint64_t epoch;                  /* SPOFD_EPOCH */
	const char *old_primary;         /* SPOFD_OLD_PRIMARY ("" if none) */
	const char *new_primary;         /* SPOFD_NEW_PRIMARY ("" if none) */
	const char *new_primary_address; /* SPOFD_NEW_PRIMARY_ADDRESS */
	const char *node;                /* SPOFD_NODE: this node */
	const char *reason;              /* SPOFD_REASON: failover, switchover, failback, initial... */
	const char *old_primary_address; /* SPOFD_OLD_PRIMARY_ADDRESS ("" if none) */
};

struct hook_result {
	bool ok;                /* exited 0 */
	enum proc_end end;
	int status;             /* exit code, signal or errno, per end */
	uint64_t duration_us;
	char summary[160];      /* "exit 0", "exit 3", "timed out after 30 s (killed)", "cannot run: ..." */
};

typedef void (*hook_done_fn)(void *arg, const struct hook_result *r);

struct hook_job {
	enum hook_kind kind;
	const char *path;       /* NULL: no hook configured, succeeds at once (from the loop) */
	struct hook_env env;    /* copied at push */
	hook_done_fn done;      /* may be NULL; called once, never from inside hook_queue_push */
	void *arg;
};

/*
 * SERVICE names the queue in logs.  PROCS is the daemon's one child table
 * (it owns SIGCHLD).
 */
struct hook_queue *hook_queue_new(struct event_base *base, struct proc_table *procs,
    const char *service, uint64_t timeout_ms, uint64_t kill_grace_ms);
/* New limits after a reload; the running hook keeps its own. */
void hook_queue_set_limits(struct hook_queue *q, uint64_t timeout_ms, uint64_t kill_grace_ms);
/*
 * Queue a job.  Returns false when the queue is full: a change notice is
 * then dropped (and logged); role changes should never reach that bound.
 */
bool hook_queue_push(struct hook_queue *q, const struct hook_job *job);
bool hook_queue_busy(const struct hook_queue *q);
size_t hook_queue_waiting(const struct hook_queue *q);
/* Kill the running hook, drop the waiting ones (no callbacks): shutdown only. */
void hook_queue_free(struct hook_queue *q);

const char *hook_kind_str(enum hook_kind k); /* "on_promote", "on_demote", "on_change" */

/*
 * Refuse a hook a user other than root (or HOOK_USER, when not NULL) could
 * change: not absolute, missing, not a regular file, not executable,
 * owned by someone else, or writable by group or others (the file or its
 * directory).  Returns NULL when fine, else a message into BUF.
 */
const char *hook_check_path(const char *path, const char *hook_user, char *buf, size_t len);

#endif
