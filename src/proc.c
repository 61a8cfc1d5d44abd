/*
 * Child processes: fork + execve without a shell, each child the leader of
 * its own process group so that a timeout (SIGTERM, then SIGKILL after a
 * grace period) reaches everything it started.
 *
 * Life of a child, all on the event loop:
 *   spawn -> output read line by line -> (timeout: TERM group, grace, KILL
 *   group) -> SIGCHLD: the leader is a zombie; KILL whatever is left in its
 *   group, reap it -> wait a short bound for the pipes to reach EOF ->
 *   on_exit, once.
 *
 * Guarantees callers rely on:
 * - on_exit is called exactly once per proc_spawn (unless abandoned), never
 *   from inside proc_spawn: a failure to start, in the parent (no pipe, no
 *   fork) or in the child (execve failed, reported through a CLOEXEC status
 *   pipe carrying errno), comes back as PROC_SPAWN_FAILED from a later loop
 *   turn.  The struct proc is freed before on_exit runs; forget it there.
 * - No process is left behind: once the leader has exited, the rest of its
 *   group is sent SIGKILL before the leader is reaped (while the zombie
 *   still pins the group id, so the signal cannot reach a stranger).  Only
 *   a grandchild that left the group (setsid, a daemon) escapes; we then
 *   wait at most PROC_DRAIN_MS for the pipes it may hold, read what is
 *   there and finish anyway.
 * - Memory is bounded per child whatever it prints: each stream has one
 *   line buffer of PROC_LINE_MAX bytes.  A line longer than that is passed
 *   cut to PROC_LINE_MAX bytes and the rest of it, up to the next newline,
 *   is dropped.  A final line without a newline is passed at EOF.  Lines
 *   are C strings: an embedded NUL byte ends what the reader sees.
 *
 * Callbacks may call proc_spawn and proc_abandon (even on their own proc
 * from on_line); they must not call proc_table_free.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "proc.h"
#include "util.h"

extern char **environ;

#define PROC_HASH_SIZE 128      /* buckets by pid: hundreds in flight make chains of a few */
#define PROC_DRAIN_MS 200       /* after the reap, wait at most this for pipe EOF */
#define PROC_READ_CHUNK 4096    /* bytes per read(2) */
#define PROC_READS_PER_EVENT 16 /* reads per wakeup, so one chatty child cannot starve the loop */

struct proc_stream {
	int fd;                   /* read end, -1 once at EOF or closed */
	struct event *ev;
	bool is_stderr;
	bool discarding;          /* dropping the rest of an over-long line */
	size_t len;               /* bytes in line */
	char line[PROC_LINE_MAX + 1];
};

enum proc_phase {
	PROC_PH_RUN,     /* timer: the timeout */
	PROC_PH_TERM,    /* SIGTERM sent; timer: the kill grace */
	PROC_PH_KILL,    /* SIGKILL sent; no timer, waiting for SIGCHLD */
	PROC_PH_DRAIN,   /* reaped; timer: the bound on waiting for pipe EOF */
	PROC_PH_FAILED   /* never started; timer: report it next turn */
};

struct proc {
	struct proc_table *t;
	struct proc *hnext;       /* chain in t->hash[pid % PROC_HASH_SIZE] */
	struct proc *prev, *next; /* all procs of the table */
	pid_t pid;                /* also the process group id; -1: never started */
	char *name;               /* argv[0], for debug logs */
	void (*on_line)(void *, bool, const char *);
	void (*on_exit)(void *, enum proc_end, int);
	void *arg;
	uint64_t kill_grace_ms;
	enum proc_phase phase;
	struct event *timer;
	int status_fd;            /* read end of the exec status pipe, -1 when done */
	struct proc_stream out, err;
	int spawn_errno;          /* non-zero: the child never ran the command */
	bool timed_out;
	int last_signal;          /* last signal we sent to the group */
	bool reaped;
	int wstatus;              /* from waitpid */
	bool abandoned;           /* nobody wants callbacks any more */
	unsigned busy;            /* callbacks of ours running on the stack */
	uint64_t start_us;        /* monotonic, for debug logs */
};

struct proc_table {
	struct event_base *base;
	struct event *sigchld;
	struct proc *hash[PROC_HASH_SIZE];
	struct proc *all;
	unsigned n;               /* procs in the table */
};

/* For debug logs, by enum proc_end. */
static const char *const proc_end_names[] = { "exited", "signaled", "timed out", "spawn failed" };

static void proc_reap_all(struct proc_table *t);
static void proc_read_cb(evutil_socket_t fd, short what, void *arg);

/* ---- the table ---- */

static struct proc **
proc_hash_slot(struct proc_table *t, pid_t pid)
{
	return &t->hash[(unsigned)pid % PROC_HASH_SIZE];
}

static struct proc *
proc_lookup(struct proc_table *t, pid_t pid)
{
	struct proc *p;

	for (p = *proc_hash_slot(t, pid); p != NULL; p = p->hnext)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void
proc_link(struct proc_table *t, struct proc *p)
{
	p->next = t->all;
	p->prev = NULL;
	if (t->all != NULL)
		t->all->prev = p;
	t->all = p;
	t->n++;
}

static void
proc_hash_add(struct proc_table *t, struct proc *p)
{
	struct proc **slot = proc_hash_slot(t, p->pid);

	p->hnext = *slot;
	*slot = p;
}

static void
proc_unlink(struct proc *p)
{
	struct proc_table *t = p->t;
	struct proc **pp;

	if (p->pid > 0) {
		for (pp = proc_hash_slot(t, p->pid); *pp != NULL; pp = &(*pp)->hnext) {
			if (*pp == p) {
				*pp = p->hnext;
				break;
			}
		}
	}
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		t->all = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	t->n--;
}

static void
proc_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	proc_reap_all(arg);
}

struct proc_table *
proc_table_new(struct event_base *base)
{
	struct proc_table *t = xcalloc(1, sizeof(*t));

	t->base = base;
	/*
	 * libevent turns the signal into a loop event: waitpid runs in the
	 * loop, never in a signal handler.
	 */
	t->sigchld = evsignal_new(base, SIGCHLD, proc_sigchld_cb, t);
	if (t->sigchld == NULL || evsignal_add(t->sigchld, NULL) == -1)
		fatal("proc: cannot watch SIGCHLD");
	return t;
}

/* ---- releasing resources ---- */

static void
proc_stream_close(struct proc_stream *s)
{
	if (s->ev != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (s->fd != -1) {
		close(s->fd);
		s->fd = -1;
	}
}

/* Everything but the struct itself and its place in the table. */
static void
proc_release(struct proc *p)
{
	proc_stream_close(&p->out);
	proc_stream_close(&p->err);
	if (p->status_fd != -1) {
		close(p->status_fd);
		p->status_fd = -1;
	}
	if (p->timer != NULL) {
		event_free(p->timer);
		p->timer = NULL;
	}
}

static void
proc_destroy(struct proc *p)
{
	proc_release(p);
	proc_unlink(p);
	free(p->name);
	free(p);
}

void
proc_table_free(struct proc_table *t)
{
	struct proc *p;
	int st;

	if (t == NULL)
		return;
	/*
	 * Shutting down: no callbacks any more.  SIGKILL cannot be ignored,
	 * so the blocking waitpid is short.
	 */
	while ((p = t->all) != NULL) {
		if (p->pid > 0 && !p->reaped) {
			kill(-p->pid, SIGKILL);
			while (waitpid(p->pid, &st, 0) == -1 && errno == EINTR)
				;
			log_debug("proc: killed pid %d (%s) at shutdown", (int)p->pid, p->name);
		}
		proc_destroy(p);
	}
	event_free(t->sigchld);
	free(t);
}

/* ---- output ---- */

/* Hand the buffered line to on_line. */
static void
proc_emit(struct proc *p, struct proc_stream *s)
{
	s->line[s->len] = '\0';
	s->len = 0;
	if (p->abandoned || p->on_line == NULL)
		return;
	p->busy++;
	p->on_line(p->arg, s->is_stderr, s->line);
	p->busy--;
}

/* Split N bytes of output into lines; stops early if the proc is abandoned. */
static void
proc_stream_feed(struct proc *p, struct proc_stream *s, const char *data, size_t n)
{
	while (n > 0 && !p->abandoned) {
		const char *nl = memchr(data, '\n', n);
		size_t seg = nl != NULL ? (size_t)(nl - data) : n;

		if (!s->discarding) {
			size_t room = PROC_LINE_MAX - s->len;
			size_t take = seg < room ? seg : room;

			memcpy(s->line + s->len, data, take);
			s->len += take;
			if (seg > room) {
				/* Over-long: pass what fits, drop up to the newline. */
				proc_emit(p, s);
				s->discarding = true;
			}
		}
		if (nl == NULL)
			break;
		if (s->discarding)
			s->discarding = false;
		else
			proc_emit(p, s);
		data += seg + 1;
		n -= seg + 1;
	}
}

/*
 * Read what the pipe holds, at most MAX_READS chunks.  Returns true at EOF
 * (or on a read error, which ends the stream just the same).
 */
static bool
proc_stream_read(struct proc *p, struct proc_stream *s, int max_reads)
{
	char buf[PROC_READ_CHUNK];
	ssize_t r;

	for (int i = 0; i < max_reads && !p->abandoned; i++) {
		r = read(s->fd, buf, sizeof(buf));
		if (r > 0) {
			proc_stream_feed(p, s, buf, (size_t)r);
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (r == -1)
			log_debug("proc: pid %d: read: %s", (int)p->pid, strerror(errno));
		return true;
	}
	return false;
}

/* The stream is over: pass a last partial line, close it. */
static void
proc_stream_end(struct proc *p, struct proc_stream *s)
{
	if (s->len > 0 && !s->discarding)
		proc_emit(p, s);
	s->len = 0;
	s->discarding = false;
	proc_stream_close(s);
}

/* ---- the end ---- */

static void
proc_finish(struct proc *p)
{
	void (*on_exit)(void *, enum proc_end, int) = p->on_exit;
	void *arg = p->arg;
	enum proc_end end;
	int status;

	if (p->spawn_errno != 0) {
		end = PROC_SPAWN_FAILED;
		status = p->spawn_errno;
	} else if (p->timed_out) {
		end = PROC_TIMED_OUT;
		status = WIFSIGNALED(p->wstatus) ? WTERMSIG(p->wstatus) : p->last_signal;
	} else if (WIFSIGNALED(p->wstatus)) {
		end = PROC_SIGNALED;
		status = WTERMSIG(p->wstatus);
	} else {
		end = PROC_EXITED;
		status = WEXITSTATUS(p->wstatus);
	}
	log_debug("proc: pid %d (%s) done after %llu ms: %s %d", (int)p->pid, p->name,
	    (unsigned long long)((now_mono_us() - p->start_us) / 1000), proc_end_names[end], status);
	/* Freed first: the callback may spawn, and must not see this proc. */
	proc_destroy(p);
	if (on_exit != NULL)
		on_exit(arg, end, status);
}

/*
 * Called after anything that may have been the last thing we waited for.
 * Returns true when the proc is gone.
 */
static bool
proc_check_done(struct proc *p)
{
	if (p->busy > 0)
		return false;
	if (p->abandoned) {
		/* The table keeps an abandoned child only until it is reaped. */
		proc_release(p);
		if (p->reaped || p->pid <= 0) {
			proc_destroy(p);
			return true;
		}
		return false;
	}
	if (p->phase == PROC_PH_FAILED)
		return false; /* reported by the timer */
	if (!p->reaped || p->out.fd != -1 || p->err.fd != -1)
		return false;
	proc_finish(p);
	return true;
}

static void
proc_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc_stream *s = arg;
	struct proc *p;
	bool eof;

	/* The stream is embedded in its proc: find the proc from it. */
	if (s->is_stderr)
		p = (struct proc *)(void *)((char *)s - offsetof(struct proc, err));
	else
		p = (struct proc *)(void *)((char *)s - offsetof(struct proc, out));
	p->busy++;
	eof = proc_stream_read(p, s, PROC_READS_PER_EVENT);
	if (eof && !p->abandoned)
		proc_stream_end(p, s);
	p->busy--;
	if (p->abandoned) {
		proc_check_done(p);
		return;
	}
	if (eof && proc_check_done(p))
		return;
	/*
	 * Both pipes closed while the child lives on: cheap to look for a
	 * missed SIGCHLD (a caller that blocked the signal) while here.
	 */
	if (p->out.fd == -1 && p->err.fd == -1 && !p->reaped)
		proc_reap_all(p->t);
}

static void
proc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;
	struct timeval tv;

	switch (p->phase) {
	case PROC_PH_RUN:
		log_debug("proc: pid %d (%s) timed out, SIGTERM to its group", (int)p->pid, p->name);
		p->timed_out = true;
		p->last_signal = SIGTERM;
		p->phase = PROC_PH_TERM;
		kill(-p->pid, SIGTERM);
		tv = us_to_tv(p->kill_grace_ms * 1000);
		evtimer_add(p->timer, &tv);
		break;
	case PROC_PH_TERM:
		log_debug("proc: pid %d (%s) outlived its grace, SIGKILL to its group", (int)p->pid, p->name);
		p->last_signal = SIGKILL;
		p->phase = PROC_PH_KILL;
		kill(-p->pid, SIGKILL);
		break;
	case PROC_PH_KILL:
		break;
	case PROC_PH_DRAIN:
		/*
		 * A process outside the group (a daemonized grandchild) holds
		 * a pipe: take what is there now and stop waiting.
		 */
		log_debug("proc: pid %d (%s): output still open after exit, not waiting", (int)p->pid, p->name);
		p->busy++;
		if (p->out.fd != -1) {
			proc_stream_read(p, &p->out, PROC_READS_PER_EVENT);
			proc_stream_end(p, &p->out);
		}
		if (p->err.fd != -1 && !p->abandoned) {
			proc_stream_read(p, &p->err, PROC_READS_PER_EVENT);
			proc_stream_end(p, &p->err);
		}
		p->busy--;
		proc_stream_close(&p->out);
		proc_stream_close(&p->err);
		proc_check_done(p);
		break;
	case PROC_PH_FAILED:
		proc_finish(p);
		break;
	}
}

/* The leader is a zombie (WNOWAIT): clean up its group, reap it. */
static void
proc_reap_one(struct proc_table *t, pid_t pid)
{
	struct proc *p = proc_lookup(t, pid);
	struct timeval tv;
	int st = 0, err;
	ssize_t r;

	if (p != NULL) {
		/*
		 * Anything still in the group is a leftover of the command.
		 * The zombie leader keeps the group id from being reused, so
		 * this cannot hit an unrelated process.
		 */
		kill(-pid, SIGKILL);
		log_debug("proc: pid %d (%s) exited, SIGKILL to what is left of its group", (int)pid, p->name);
	}
	while (waitpid(pid, &st, 0) == -1) {
		if (errno != EINTR)
			return;
	}
	if (p == NULL) {
		log_debug("proc: reaped pid %d, not one of ours", (int)pid);
		return;
	}
	p->reaped = true;
	p->wstatus = st;
	if (p->status_fd != -1) {
		/* The child is dead: errno is in the pipe if execve failed. */
		do
			r = read(p->status_fd, &err, sizeof(err));
		while (r == -1 && errno == EINTR);
		if (r == (ssize_t)sizeof(err))
			p->spawn_errno = err != 0 ? err : EIO;
		close(p->status_fd);
		p->status_fd = -1;
	}
	if (p->timer != NULL)
		evtimer_del(p->timer);
	if (p->abandoned) {
		proc_check_done(p);
		return;
	}
	/* Output written just before the exit is in the pipes already. */
	p->busy++;
	if (p->out.fd != -1 && proc_stream_read(p, &p->out, PROC_READS_PER_EVENT))
		proc_stream_end(p, &p->out);
	if (p->err.fd != -1 && !p->abandoned && proc_stream_read(p, &p->err, PROC_READS_PER_EVENT))
		proc_stream_end(p, &p->err);
	p->busy--;
	if (proc_check_done(p))
		return;
	if (!p->abandoned && p->timer != NULL) {
		p->phase = PROC_PH_DRAIN;
		tv = us_to_tv(PROC_DRAIN_MS * 1000);
		evtimer_add(p->timer, &tv);
	}
}

static void
proc_reap_all(struct proc_table *t)
{
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1) {
			if (errno == EINTR)
				continue;
			return; /* ECHILD: no children at all */
		}
		if (si.si_pid == 0)
			return;
		proc_reap_one(t, si.si_pid);
	}
}

/* ---- starting ---- */

/* Move FD to 3 or above (keeping it close-on-exec) so dup2 cannot clobber it. */
static int
proc_child_high_fd(int fd)
{
	return fd >= 3 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/*
 * In the child, between fork and execve: async-signal-safe calls only (the
 * daemon may have threads, e.g. curl's resolver).  All signals are blocked
 * on entry.
 */
static void __attribute__((noreturn))
proc_child(int out_w, int err_w, int status_w, char *const *argv, char *const *envp)
{
	struct sigaction sa;
	sigset_t none;
	int fd, null_fd, err;

	/* Its own group, so that a timeout reaches what it starts. */
	setpgid(0, 0);
	/*
	 * The daemon's handlers (libevent's write to a socketpair shared
	 * with the parent) must never run here: defaults first, then unblock.
	 * SIGKILL, SIGSTOP and libc's internal signals fail; that is fine.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if ((fd = proc_child_high_fd(status_w)) == -1)
		goto fail;
	status_w = fd;
	out_w = proc_child_high_fd(out_w);
	err_w = proc_child_high_fd(err_w);
	if (out_w == -1 || err_w == -1)
		goto fail;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd == -1)
		goto fail;
	null_fd = proc_child_high_fd(null_fd);
	if (null_fd == -1)
		goto fail;
	/* Sources are all >= 3, so dup2 always clears close-on-exec. */
	if (dup2(null_fd, 0) == -1 || dup2(out_w, 1) == -1 || dup2(err_w, 2) == -1)
		goto fail;
#ifdef CLOSE_RANGE_CLOEXEC
	/* Whatever else the daemon holds stays with the daemon. */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
	execve(argv[0], argv, envp);
fail:
	err = errno;
	if (write(status_w, &err, sizeof(err)) == -1) {
		/* nothing to do: the parent sees exit code 127 */
	}
	_exit(127);
}

static struct proc *
proc_alloc(struct proc_table *t, const struct proc_spec *spec)
{
	struct proc *p = xcalloc(1, sizeof(*p));

	p->t = t;
	p->pid = -1;
	p->name = xstrdup(spec->argv != NULL && spec->argv[0] != NULL ? spec->argv[0] : "(none)");
	p->on_line = spec->on_line;
	p->on_exit = spec->on_exit;
	p->arg = spec->arg;
	p->kill_grace_ms = spec->kill_grace_ms;
	p->status_fd = -1;
	p->out.fd = -1;
	p->err.fd = -1;
	p->err.is_stderr = true;
	p->start_us = now_mono_us();
	return p;
}

static void
proc_close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] != -1)
			close(fds[i]);
		fds[i] = -1;
	}
}

struct proc *
proc_spawn(struct proc_table *t, const struct proc_spec *spec)
{
	struct proc *p = proc_alloc(t, spec);
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, status[2] = { -1, -1 };
	sigset_t all, old;
	struct timeval tv;
	pid_t pid;

	proc_link(t, p);
	p->timer = evtimer_new(t->base, proc_timer_cb, p);
	if (p->timer == NULL)
		fatal("proc: cannot create a timer");

	if (spec->argv == NULL || spec->argv[0] == NULL) {
		p->spawn_errno = EINVAL;
		goto failed;
	}
	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1 ||
	    pipe2(status, O_CLOEXEC) == -1 ||
	    fcntl(out[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(err[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(status[0], F_SETFL, O_NONBLOCK) == -1) {
		p->spawn_errno = errno;
		goto failed;
	}

	/* No handler of ours may run in the child before it resets them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		proc_child(out[1], err[1], status[1], spec->argv,
		    spec->envp != NULL ? spec->envp : environ);
	if (pid == -1)
		p->spawn_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1)
		goto failed;

	/* Also here: kill(-pid) must work even before the child ran. */
	setpgid(pid, pid);
	p->pid = pid;
	proc_hash_add(t, p);
	close(out[1]);
	close(err[1]);
	close(status[1]);
	p->out.fd = out[0];
	p->err.fd = err[0];
	p->status_fd = status[0];
	p->out.ev = event_new(t->base, p->out.fd, EV_READ | EV_PERSIST, proc_read_cb, &p->out);
	p->err.ev = event_new(t->base, p->err.fd, EV_READ | EV_PERSIST, proc_read_cb, &p->err);
	if (p->out.ev == NULL || p->err.ev == NULL)
		fatal("proc: cannot create events");
	event_add(p->out.ev, NULL);
	event_add(p->err.ev, NULL);
	p->phase = PROC_PH_RUN;
	if (spec->timeout_ms > 0) {
		tv = us_to_tv(spec->timeout_ms * 1000);
		evtimer_add(p->timer, &tv);
	}
	log_debug("proc: started pid %d (%s), %u running", (int)pid, p->name, t->n);
	return p;

failed:
	log_debug("proc: cannot start %s: %s", p->name, strerror(p->spawn_errno));
	proc_close_pair(out);
	proc_close_pair(err);
	proc_close_pair(status);
	/* Reported from the next loop turn, as the contract says. */
	p->phase = PROC_PH_FAILED;
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	evtimer_add(p->timer, &tv);
	return p;
}

void
proc_abandon(struct proc *p)
{
	if (p == NULL || p->abandoned)
		return;
	p->abandoned = true;
	p->on_line = NULL;
	p->on_exit = NULL;
	if (p->pid > 0 && !p->reaped)
		kill(-p->pid, SIGKILL);
	log_debug("proc: abandoned pid %d (%s)", (int)p->pid, p->name);
	/*
	 * Pipes and timer go now, or when our own code on the stack is done
	 * with them; the struct stays in the table until the reap, so that
	 * SIGCHLD still finds it.
	 */
	proc_check_done(p);
}

pid_t
proc_pid(const struct proc *p)
{
	return p->pid;
}
