/*
 * The state file, DIR/state: text, versioned, one line per service.
 *
 *	# spofd state; written by spofd, do not edit while it runs
 *	spofd-state 1
 *	service web epoch 4 primary web2 vote 4
 *	service db epoch 0 primary - vote 0
 *	end 2
 *
 * The parser is strict on purpose: this file decides who is primary after
 * a restart, so a file we did not write exactly (a truncated write on a
 * filesystem that lied about fsync, a hand edit gone wrong) must not be
 * half-believed.  Comment lines ("#" in the first column) may appear before
 * "end"; everything else is one of the three line kinds above, words
 * separated by one space, every line ending in a newline, nothing after
 * "end N", N equal to the number of service lines.  A file that breaks any
 * of that is moved aside to DIR/state.corrupt.<UTC time> (never deleted:
 * an admin may need it to know what the last primary was) and the daemon
 * starts from its configuration.
 *
 * A directory (or anything but a regular file) at DIR/state is an error,
 * not corruption: it was not written by us, so we do not move it; state_save
 * then fails too, and the admin sees both messages.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "util.h"

#define STATE_VERSION 1
#define STATE_DIR_MODE 0750
#define STATE_FILE_MODE 0640
#define STATE_SIZE_MAX (1024 * 1024)   /* bytes; a larger file is corrupt */
#define STATE_NAME_MAX 255             /* bytes per name; config allows 63 */
#define STATE_NUM_MAX INT64_MAX        /* epochs go to JSON as signed 64-bit */
#define STATE_CORRUPT_TRIES 1000       /* counter suffixes tried for the kept file */
#define STATE_NONE "-"                 /* "no primary" in the file */

static void state_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
state_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- the in-memory table ---- */

/*
 * Linear: a node runs tens of services, and state_find is called when a
 * service starts or its primary changes, not per probe.
 */
static struct state_entry *
state_lookup(const struct state *st, const char *service)
{
	for (size_t i = 0; i < st->n; i++) {
		if (strcmp(st->entries[i].service, service) == 0)
			return &st->entries[i];
	}
	return NULL;
}

const struct state_entry *
state_find(const struct state *st, const char *service)
{
	return state_lookup(st, service);
}

static struct state_entry *
state_append(struct state *st, const char *service)
{
	struct state_entry *e;

	/* Grow by doubling: loading thousands of lines stays linear. */
	if ((st->n & (st->n - 1)) == 0)
		st->entries = xrealloc(st->entries, (st->n ? st->n * 2 : 1) * sizeof(*st->entries));
	e = &st->entries[st->n++];
	memset(e, 0, sizeof(*e));
	e->service = xstrdup(service);
	return e;
}

void
state_set(struct state *st, const char *service, uint64_t epoch, const char *primary,
    uint64_t last_vote)
{
	struct state_entry *e = state_lookup(st, service);
	char *p = primary != NULL ? xstrdup(primary) : NULL;

	if (e == NULL)
		e = state_append(st, service);
	free(e->primary);
	e->primary = p;
	e->epoch = epoch;
	e->last_vote = last_vote;
}

void
state_free(struct state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->entries[i].service);
		free(st->entries[i].primary);
	}
	free(st->entries);
	st->entries = NULL;
	st->n = 0;
}

/* ---- parsing ---- */

static bool
state_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > STATE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* Decimal, no sign, no leading zero (we never write one), at most STATE_NUM_MAX. */
static bool
state_num_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (STATE_NUM_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/*
 * Split LINE in place at single spaces into at most MAX words.  Returns the
 * number of words, or MAX + 1 when there are more; an empty word (two
 * spaces, a leading or trailing space) makes it return 0.
 */
static size_t
state_split(char *line, char **words, size_t max)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		char *sp = strchr(p, ' ');

		if (sp == p || *p == '\0')
			return 0;
		if (n == max)
			return max + 1;
		words[n++] = p;
		if (sp == NULL)
			return n;
		*sp = '\0';
		p = sp + 1;
	}
}

struct state_parse {
	struct state *st;
	size_t *lines;     /* line number of each entry, for duplicate errors */
	char *why;         /* what is wrong, once something is */
	size_t why_line;   /* where; 0: the whole file */
};

struct state_dup_key {
	const char *service;
	size_t i;          /* index in the entries, which is file order */
};

static int
state_dup_cmp(const void *a, const void *b)
{
	const struct state_dup_key *ka = a, *kb = b;
	int c = strcmp(ka->service, kb->service);

	if (c != 0)
		return c;
	return ka->i < kb->i ? -1 : ka->i > kb->i;
}

/*
 * Duplicate services, found by sorting rather than by a pairwise scan: a
 * 1 MiB file holds some 20000 lines.  Reports the first duplicate line in
 * file order.
 */
static bool
state_check_duplicates(struct state_parse *sp)
{
	size_t n = sp->st->n, bad = SIZE_MAX;
	struct state_dup_key *keys;

	if (n < 2)
		return true;
	keys = xcalloc(n, sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		keys[i].service = sp->st->entries[i].service;
		keys[i].i = i;
	}
	qsort(keys, n, sizeof(*keys), state_dup_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(keys[i].service, keys[i - 1].service) == 0 && keys[i].i < bad)
			bad = keys[i].i;
	}
	free(keys);
	if (bad == SIZE_MAX)
		return true;
	sp->why = xasprintf("duplicate service \"%s\"", sp->st->entries[bad].service);
	sp->why_line = sp->lines[bad];
	return false;
}

static bool
state_parse_service(struct state_parse *sp, char **w, size_t nw)
{
	uint64_t epoch, vote;
	struct state_entry *e;

	if (nw != 8 || strcmp(w[2], "epoch") != 0 || strcmp(w[4], "primary") != 0 ||
	    strcmp(w[6], "vote") != 0) {
		sp->why = xstrdup("expected \"service NAME epoch N primary NAME|- vote N\"");
		return false;
	}
	if (!state_name_valid(w[1], strlen(w[1]))) {
		sp->why = xstrdup("invalid service name");
		return false;
	}
	if (!state_num_parse(w[3], &epoch)) {
		sp->why = xstrdup("epoch: not a number in range");
		return false;
	}
	if (!state_name_valid(w[5], strlen(w[5]))) {
		sp->why = xstrdup("invalid primary name");
		return false;
	}
	if (!state_num_parse(w[7], &vote)) {
		sp->why = xstrdup("vote: not a number in range");
		return false;
	}
	e = state_append(sp->st, w[1]);
	e->epoch = epoch;
	e->primary = strcmp(w[5], STATE_NONE) == 0 ? NULL : xstrdup(w[5]);
	e->last_vote = vote;
	return true;
}

/* Parse BUF (LEN bytes, NUL-terminated at LEN) into SP->st; false with SP->why set. */
static bool
state_parse(struct state_parse *sp, char *buf, size_t len)
{
	enum { WANT_VERSION, WANT_SERVICES, DONE } phase = WANT_VERSION;
	size_t lineno = 0, cap = 0;
	char *p = buf, *end = buf + len;

	if (memchr(buf, '\0', len) != NULL) {
		/* Say which line: count newlines up to the NUL. */
		char *nul = memchr(buf, '\0', len);

		for (char *q = buf; q < nul; q++)
			lineno += *q == '\n';
		sp->why = xstrdup("NUL byte");
		sp->why_line = lineno + 1;
		return false;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *w[9];
		size_t nw;

		sp->why_line = ++lineno;
		if (nl == NULL) {
			sp->why = xstrdup("last line has no newline (truncated?)");
			return false;
		}
		*nl = '\0';
		if (phase == DONE) {
			sp->why = xstrdup("text after the end line");
			return false;
		}
		if (*p == '#') {
			p = nl + 1;
			continue;
		}
		nw = state_split(p, w, 8);
		if (nw == 0) {
			sp->why = xstrdup(*p == '\0' ? "empty line" : "stray space");
			return false;
		}
		if (phase == WANT_VERSION) {
			uint64_t v;

			if (strcmp(w[0], "spofd-state") != 0 || nw != 2) {
				sp->why = xstrdup("expected \"spofd-state 1\" first");
				return false;
			}
			if (!state_num_parse(w[1], &v) || v != STATE_VERSION) {
				sp->why = xasprintf("unsupported version \"%s\" (this spofd reads %d)",
				    w[1], STATE_VERSION);
				return false;
			}
			phase = WANT_SERVICES;
		} else if (strcmp(w[0], "service") == 0) {
			if (!state_parse_service(sp, w, nw))
				return false;
			if (sp->st->n > cap) {
				cap = cap ? cap * 2 : 16;
				sp->lines = xrealloc(sp->lines, cap * sizeof(*sp->lines));
			}
			sp->lines[sp->st->n - 1] = lineno;
		} else if (strcmp(w[0], "end") == 0) {
			uint64_t count;

			if (nw != 2 || !state_num_parse(w[1], &count)) {
				sp->why = xstrdup("expected \"end N\"");
				return false;
			}
			if (count != sp->st->n) {
				sp->why = xasprintf("end line says %" PRIu64 " services, the file has %zu",
				    count, sp->st->n);
				return false;
			}
			phase = DONE;
		} else {
			sp->why = xasprintf("unknown line \"%.40s\"", w[0]);
			return false;
		}
		p = nl + 1;
	}
	if (phase != DONE) {
		sp->why = xstrdup(phase == WANT_VERSION ? "no \"spofd-state\" line" :
		    "no end line (truncated?)");
		sp->why_line = lineno;
		return false;
	}
	return state_check_duplicates(sp);
}

/* ---- loading ---- */

/*
 * Move PATH aside to PATH.corrupt.<UTC time>[.N].  Never over an existing
 * file: the lstat-then-rename race would need a second spofd on the same
 * state_dir, which already breaks everything else.  Returns the new name,
 * or NULL with errno set.
 */
static char *
state_keep_aside(const char *path)
{
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);

	if (gmtime_r(&now, &tm) == NULL || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	for (unsigned i = 0; i < STATE_CORRUPT_TRIES; i++) {
		char *kept = i == 0 ? xasprintf("%s.corrupt.%s", path, stamp) :
		    xasprintf("%s.corrupt.%s.%u", path, stamp, i);
		struct stat sb;

		if (lstat(kept, &sb) == 0) {
			free(kept);
			continue;
		}
		if (errno == ENOENT && rename(path, kept) == 0)
			return kept;
		free(kept);
		return NULL;
	}
	errno = EEXIST;
	return NULL;
}

/* Read all of FD, at most STATE_SIZE_MAX + 1 bytes (one more tells it is too big). */
static char *
state_read_all(int fd, size_t *lenp)
{
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap + 1);

	for (;;) {
		ssize_t r;

		if (len == cap) {
			if (cap > STATE_SIZE_MAX)
				break;
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int saved = errno;

			free(buf);
			errno = saved;
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

enum state_load_result
state_load(const char *dir, struct state *st, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, STATE_FILE), *buf, *kept;
	struct state_parse sp = { .st = st };
	struct stat sb;
	size_t len;
	int fd;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		free(path);
		return STATE_LOADED;
	}
	if (fd < 0)
		goto error;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		goto error;
	}
	if (!S_ISREG(sb.st_mode)) {
		/* Not written by us: report it, do not move it (see the top). */
		close(fd);
		state_err(err, errlen, "cannot read %s: %s", path,
		    S_ISDIR(sb.st_mode) ? strerror(EISDIR) : "not a regular file");
		free(path);
		return STATE_ERROR;
	}
	buf = state_read_all(fd, &len);
	close(fd);
	if (buf == NULL)
		goto error;

	if (len > STATE_SIZE_MAX) {
		sp.why = xasprintf("larger than %d bytes", STATE_SIZE_MAX);
		sp.why_line = 0;
	} else if (state_parse(&sp, buf, len)) {
		free(buf);
		free(sp.lines);
		free(path);
		return STATE_LOADED;
	}
	free(buf);
	free(sp.lines);
	state_free(st);

	kept = state_keep_aside(path);
	if (kept == NULL) {
		int saved = errno;

		if (sp.why_line > 0)
			state_err(err, errlen, "%s:%zu: corrupt: %s; left in place, cannot move it aside: %s",
			    path, sp.why_line, sp.why, strerror(saved));
		else
			state_err(err, errlen, "%s: corrupt: %s; left in place, cannot move it aside: %s",
			    path, sp.why, strerror(saved));
	} else if (sp.why_line > 0) {
		state_err(err, errlen, "%s:%zu: corrupt: %s; kept as %s", path, sp.why_line, sp.why, kept);
	} else {
		state_err(err, errlen, "%s: corrupt: %s; kept as %s", path, sp.why, kept);
	}
	free(kept);
	free(sp.why);
	free(path);
	return STATE_CORRUPT;

error:
	state_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
	free(path);
	return STATE_ERROR;
}

/* ---- saving ---- */

static bool
state_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return false;
		buf += w;
		len -= (size_t)w;
	}
	return true;
}

/* The file's text, or NULL with ERR when an entry cannot be written so that it reads back. */
static char *
state_format(const struct state *st, const char *path, size_t *lenp, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		fatal("out of memory (open_memstream)");
	fprintf(f, "# spofd state; written by spofd, do not edit while it runs\n");
	fprintf(f, "spofd-state %d\n", STATE_VERSION);
	for (size_t i = 0; i < st->n; i++) {
		const struct state_entry *e = &st->entries[i];
		const char *bad = NULL;

		if (e->service == NULL || !state_name_valid(e->service, strlen(e->service)))
			bad = "invalid service name";
		else if (e->primary != NULL && (!state_name_valid(e->primary, strlen(e->primary)) ||
		    strcmp(e->primary, STATE_NONE) == 0))
			bad = "invalid primary name";
		else if (e->epoch > STATE_NUM_MAX || e->last_vote > STATE_NUM_MAX)
			bad = "epoch or vote out of range";
		if (bad != NULL) {
			state_err(err, errlen, "cannot write %s: service \"%s\": %s", path,
			    e->service != NULL ? e->service : "(null)", bad);
			fclose(f);
			free(buf);
			return NULL;
		}
		fprintf(f, "service %s epoch %" PRIu64 " primary %s vote %" PRIu64 "\n", e->service,
		    e->epoch, e->primary != NULL ? e->primary : STATE_NONE, e->last_vote);
	}
	fprintf(f, "end %zu\n", st->n);
	if (fclose(f) != 0)
		fatal("out of memory (open_memstream)");
	*lenp = len;
	return buf;
}

/*
 * Some filesystems cannot fsync a directory and say so with EINVAL (or
 * EBADF on a read-only descriptor); the rename is then as durable as that
 * filesystem makes it, and failing every save over it helps no one.
 */
static bool
state_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int saved;

	if (fd < 0)
		return false;
	if (fsync(fd) < 0 && errno != EINVAL && errno != EBADF) {
		saved = errno;
		close(fd);
		errno = saved;
		return false;
	}
	close(fd);
	return true;
}

bool
state_save(const char *dir, const struct state *st, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, STATE_FILE);
	char *tmp = xasprintf("%s/.%s.tmp.%ld", dir, STATE_FILE, (long)getpid());
	char *buf = NULL;
	const char *what = "write";
	size_t len;
	int fd = -1, saved;
	bool ok = false;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	buf = state_format(st, path, &len, err, errlen);
	if (buf == NULL)
		goto out;
	if (mkdir(dir, STATE_DIR_MODE) < 0 && errno != EEXIST) {
		state_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, STATE_FILE_MODE);
	if (fd < 0 && errno == EEXIST) {
		/*
		 * Ours by name, so left by an earlier process with our pid (pid
		 * reuse, PID 1 in a container): stale, since one process saves
		 * one state at a time.
		 */
		unlink(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, STATE_FILE_MODE);
	}
	if (fd < 0)
		goto fail;
	if (!state_write_all(fd, buf, len))
		goto fail_unlink;
	what = "sync";
	if (fsync(fd) < 0)
		goto fail_unlink;
	what = "write";
	saved = close(fd);
	fd = -1;
	if (saved < 0)
		goto fail_unlink;
	if (rename(tmp, path) < 0)
		goto fail_unlink;
	/* From here the new file is in place; only its durability is in doubt. */
	if (!state_sync_dir(dir)) {
		state_err(err, errlen, "cannot sync directory %s after writing %s: %s", dir, path,
		    strerror(errno));
		goto out;
	}
	ok = true;
	goto out;

fail_unlink:
	saved = errno;
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(tmp);
	errno = saved;
fail:
	state_err(err, errlen, "cannot %s %s: %s", what, path, strerror(errno));
out:
	free(buf);
	free(tmp);
	free(path);
	return ok;
}
