/*
 * Child processes run without a shell, each in its own process group,
 * with a time budget: SIGTERM to the group when it is spent, SIGKILL after
 * a grace period.  Output (stdout and stderr) is handed over line by line.
 * Used by exec probes and by hooks.
 */
#ifndef SPOFD_PROC_H
#define SPOFD_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct proc_table;
struct proc;

#define PROC_LINE_MAX 1024 /* longer output lines are cut there */

enum proc_end {
	PROC_EXITED,    /* status: exit code */
	PROC_SIGNALED,  /* status: signal number */
	PROC_TIMED_OUT, /* status: signal that finally ended it */
	PROC_SPAWN_FAILED /* status: errno */
};

struct proc_spec {
	char *const *argv;          /* argv[0] is the path; no PATH search */
	char *const *envp;          /* NULL: inherit */
	uint64_t timeout_ms;        /* 0: none */
	uint64_t kill_grace_ms;     /* TERM to KILL */
	void (*on_line)(void *arg, bool is_stderr, const char *line);
	void (*on_exit)(void *arg, enum proc_end end, int status);
	void *arg;
};

/* One table per event base: it owns the SIGCHLD handler. */
struct proc_table *proc_table_new(struct event_base *base);
void proc_table_free(struct proc_table *t);

/* Start a child; ON_EXIT is called exactly once, never from inside proc_spawn. */
struct proc *proc_spawn(struct proc_table *t, const struct proc_spec *spec);
/* Kill the group now and forget it: ON_EXIT is not called. */
void proc_abandon(struct proc *p);
pid_t proc_pid(const struct proc *p);

#endif
