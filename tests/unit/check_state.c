/*
 * The state file: round trips, every corrupt form (moved aside with its
 * content intact), errors that must not move anything, and saves that
 * leave no temporary file behind whether they succeed or fail.
 *
 * Tests run as root in CI, where chmod cannot make a file unreadable; a
 * directory at DIR/state stands for "cannot read", and a path under a
 * regular file for "cannot write".
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

static char tmpdir[4096];
static char *dir;       /* tmpdir/st: the state_dir under test */
static char *path;      /* dir/state */

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_state.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	dir = xasprintf("%s/st", tmpdir);
	path = xasprintf("%s/state", dir);
	umask(022);
}

static void
teardown(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	free(path);
}

static void
write_file(const char *p, const char *text, size_t len)
{
	FILE *f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole file, NUL-terminated; *lenp its length. */
static char *
read_file(const char *p, size_t *lenp)
{
	FILE *f = fopen(p, "r");
	size_t cap = 4096, len = 0, r;
	char *buf = xmalloc(cap + 1);

	ck_assert_msg(f != NULL, "open %s: %s", p, strerror(errno));
	while ((r = fread(buf + len, 1, cap - len, f)) > 0) {
		len += r;
		if (len == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

/* Names in DIR starting with PREFIX; the last one in *last (caller frees). */
static unsigned
count_prefix(const char *d, const char *prefix, char **last)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	unsigned n = 0;

	if (dp == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		n++;
		if (last != NULL) {
			free(*last);
			*last = xasprintf("%s/%s", d, de->d_name);
		}
	}
	closedir(dp);
	return n;
}

static void
assert_no_temp(const char *d)
{
	ck_assert_uint_eq(count_prefix(d, ".state.tmp", NULL), 0);
}

START_TEST(test_round_trip)
{
	struct state st = { 0 }, back = { 0 };
	const struct state_entry *e;
	char err[512];
	char *text;

	state_set(&st, "web", 4, "web2", 4);
	state_set(&st, "db", 0, NULL, 0);
	state_set(&st, "q.u-e_ue", (uint64_t)INT64_MAX, "m1", 7);
	ck_assert_msg(state_save(dir, &st, err, sizeof(err)), "%s", err);
	assert_no_temp(dir);

	text = read_file(path, NULL);
	ck_assert_str_eq(text,
	    "# spofd state; written by spofd, do not edit while it runs\n"
	    "spofd-state 1\n"
	    "service web epoch 4 primary web2 vote 4\n"
	    "service db epoch 0 primary - vote 0\n"
	    "service q.u-e_ue epoch 9223372036854775807 primary m1 vote 7\n"
	    "end 3\n");
	free(text);

	ck_assert_int_eq(state_load(dir, &back, err, sizeof(err)), STATE_LOADED);
	ck_assert_uint_eq(back.n, 3);
	e = state_find(&back, "web");
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->epoch, 4);
	ck_assert_str_eq(e->primary, "web2");
	ck_assert_uint_eq(e->last_vote, 4);
	e = state_find(&back, "db");
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->epoch, 0);
	ck_assert_ptr_null(e->primary);
	e = state_find(&back, "q.u-e_ue");
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->epoch, (uint64_t)INT64_MAX);
	ck_assert_uint_eq(e->last_vote, 7);
	ck_assert_ptr_null(state_find(&back, "nope"));
	state_free(&back);
	state_free(&st);
	ck_assert_uint_eq(st.n, 0);
	ck_assert_ptr_null(st.entries);
}
END_TEST

START_TEST(test_set_updates)
{
	struct state st = { 0 };
	const struct state_entry *e;

	state_set(&st, "web", 1, "a", 1);
	state_set(&st, "db", 2, "x", 0);
	state_set(&st, "web", 2, "b", 3);
	ck_assert_uint_eq(st.n, 2);
	e = state_find(&st, "web");
	ck_assert_uint_eq(e->epoch, 2);
	ck_assert_str_eq(e->primary, "b");
	ck_assert_uint_eq(e->last_vote, 3);
	/* Setting from the entry's own strings must not read freed memory. */
	state_set(&st, e->service, 3, e->primary, 3);
	e = state_find(&st, "web");
	ck_assert_str_eq(e->primary, "b");
	state_set(&st, "web", 4, NULL, 4);
	ck_assert_ptr_null(state_find(&st, "web")->primary);
	ck_assert_str_eq(state_find(&st, "db")->primary, "x");
	state_free(&st);
}
END_TEST

START_TEST(test_missing)
{
	struct state st = { 0 };
	char err[512] = "junk";

	/* Neither the directory nor the file. */
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_LOADED);
	ck_assert_uint_eq(st.n, 0);
	ck_assert_str_eq(err, "");
	/* The directory, no file. */
	ck_assert_int_eq(mkdir(dir, 0750), 0);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_LOADED);
	ck_assert_uint_eq(st.n, 0);
	state_free(&st);
}
END_TEST

START_TEST(test_empty_state)
{
	struct state st = { 0 };
	char err[512], *text;

	ck_assert_msg(state_save(dir, &st, err, sizeof(err)), "%s", err);
	text = read_file(path, NULL);
	ck_assert_str_eq(text, "# spofd state; written by spofd, do not edit while it runs\n"
	    "spofd-state 1\nend 0\n");
	free(text);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_LOADED);
	ck_assert_uint_eq(st.n, 0);
	state_free(&st);
}
END_TEST

START_TEST(test_comments)
{
	struct state st = { 0 };
	char err[512];
	const char text[] = "# one\nspofd-state 1\n# two\nservice a epoch 1 primary m vote 1\n#\nend 1\n";

	ck_assert_int_eq(mkdir(dir, 0750), 0);
	write_file(path, text, strlen(text));
	ck_assert_msg(state_load(dir, &st, err, sizeof(err)) == STATE_LOADED, "%s", err);
	ck_assert_uint_eq(st.n, 1);
	ck_assert_str_eq(st.entries[0].primary, "m");
	state_free(&st);
}
END_TEST

#define HDR "spofd-state 1\n"
#define SVC "service a epoch 1 primary m vote 1\n"
#define NAME256 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const struct {
	const char *text;
	size_t len;          /* 0: strlen(text) */
	const char *where;   /* expected in the message: ":LINE: corrupt: ..." */
} corrupt[] = {
	{ "", 0, "no \"spofd-state\" line" },
	{ "# only a comment\n", 0, ":1: corrupt: no \"spofd-state\" line" },
	{ HDR SVC, 0, ":2: corrupt: no end line" },
	{ HDR, 0, ":1: corrupt: no end line" },
	{ "spofd-state 2\nend 0\n", 0, ":1: corrupt: unsupported version" },
	{ "spofd-state one\nend 0\n", 0, ":1: corrupt: unsupported version" },
	{ "spofd-state 1 x\nend 0\n", 0, ":1: corrupt: expected \"spofd-state 1\"" },
	{ SVC "end 1\n", 0, ":1: corrupt: expected \"spofd-state 1\"" },
	{ HDR SVC "end 2\n", 0, ":3: corrupt: end line says 2 services, the file has 1" },
	{ HDR SVC "end 0\n", 0, ":3: corrupt: end line says 0" },
	{ HDR SVC "end\n", 0, ":3: corrupt: expected \"end N\"" },
	{ HDR SVC "end 1 2\n", 0, ":3: corrupt: expected \"end N\"" },
	{ HDR SVC "service b epoch 1 primary - vote 0\n" SVC "end 3\n", 0,
	  ":4: corrupt: duplicate service \"a\"" },
	{ HDR "service a epoch 9223372036854775808 primary m vote 1\nend 1\n", 0,
	  ":2: corrupt: epoch: not a number in range" },
	{ HDR "service a epoch 99999999999999999999999 primary m vote 1\nend 1\n", 0,
	  ":2: corrupt: epoch: not a number" },
	{ HDR "service a epoch -1 primary m vote 1\nend 1\n", 0, ":2: corrupt: epoch" },
	{ HDR "service a epoch +1 primary m vote 1\nend 1\n", 0, ":2: corrupt: epoch" },
	{ HDR "service a epoch 01 primary m vote 1\nend 1\n", 0, ":2: corrupt: epoch" },
	{ HDR "service a epoch 1 primary m vote x\nend 1\n", 0, ":2: corrupt: vote" },
	{ HDR "service a epoch 1 primary m vote 18446744073709551616\nend 1\n", 0, ":2: corrupt: vote" },
	{ HDR "service a epoch 1 primary m vote 1 extra\nend 1\n", 0, ":2: corrupt: expected \"service" },
	{ HDR "service a epoch 1 primary m\nend 1\n", 0, ":2: corrupt: expected \"service" },
	{ HDR "service a epoc 1 primary m vote 1\nend 1\n", 0, ":2: corrupt: expected \"service" },
	{ HDR "service a epoch 1  primary m vote 1\nend 1\n", 0, ":2: corrupt: stray space" },
	{ HDR "service a epoch 1 primary m vote 1 \nend 1\n", 0, ":2: corrupt: stray space" },
	{ HDR " service a epoch 1 primary m vote 1\nend 1\n", 0, ":2: corrupt: stray space" },
	{ HDR "service a epoch 1\tprimary m vote 1\nend 1\n", 0, ":2: corrupt: expected \"service" },
	{ HDR "service w/b epoch 1 primary m vote 1\nend 1\n", 0, ":2: corrupt: invalid service name" },
	{ HDR "service " NAME256 " epoch 1 primary m vote 1\nend 1\n", 0,
	  ":2: corrupt: invalid service name" },
	{ HDR "service a epoch 1 primary m\xc3\xa9 vote 1\nend 1\n", 0, ":2: corrupt: invalid primary name" },
	{ HDR "\n" SVC "end 1\n", 0, ":2: corrupt: empty line" },
	{ HDR SVC "end 1\r\n", 0, ":3: corrupt: expected \"end N\"" },
	{ HDR SVC "end 1", 0, ":3: corrupt: last line has no newline" },
	{ HDR SVC "end 1\n\n", 0, ":4: corrupt: text after the end line" },
	{ HDR SVC "end 1\n# late comment\n", 0, ":4: corrupt: text after the end line" },
	{ HDR SVC "end 1\n" SVC, 0, ":4: corrupt: text after the end line" },
	{ HDR "primary a\nend 0\n", 0, ":2: corrupt: unknown line \"primary\"" },
	{ HDR "service a epoch 1 primary m vote 1\0\nend 1\n", sizeof(HDR) + 35 + 6, ":2: corrupt: NUL byte" },
};

START_TEST(test_corrupt)
{
	struct state st = { 0 };
	const char *text = corrupt[_i].text;
	size_t len = corrupt[_i].len ? corrupt[_i].len : strlen(text), klen;
	char err[1024], *kept = NULL, *got;

	ck_assert_int_eq(mkdir(dir, 0750), 0);
	write_file(path, text, len);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_CORRUPT);
	ck_assert_msg(strstr(err, corrupt[_i].where) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, err,
	    corrupt[_i].where);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "%s", err);
	ck_assert_uint_eq(st.n, 0);
	ck_assert_ptr_null(st.entries);

	/* Moved aside, content intact, named in the message. */
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_uint_eq(count_prefix(dir, "state.corrupt.", &kept), 1);
	ck_assert_msg(strstr(err, kept) != NULL, "\"%s\" does not name %s", err, kept);
	ck_assert_msg(strstr(err, "; kept as ") != NULL, "%s", err);
	got = read_file(kept, &klen);
	ck_assert_uint_eq(klen, len);
	ck_assert(memcmp(got, text, len) == 0);
	free(got);
	free(kept);
	state_free(&st);
}
END_TEST

START_TEST(test_too_big)
{
	struct state st = { 0 };
	size_t len = 1024 * 1024 + 1, klen;
	char *text = xmalloc(len + 1), *kept = NULL, *got;
	char err[1024];

	/* Valid lines all the way: only the size is wrong. */
	memset(text, '#', len);
	text[len - 1] = '\n';
	ck_assert_int_eq(mkdir(dir, 0750), 0);
	write_file(path, text, len);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_CORRUPT);
	ck_assert_msg(strstr(err, "corrupt: larger than 1048576 bytes") != NULL, "%s", err);
	ck_assert_uint_eq(count_prefix(dir, "state.corrupt.", &kept), 1);
	got = read_file(kept, &klen);
	ck_assert_uint_eq(klen, len);
	ck_assert(memcmp(got, text, len) == 0);
	free(got);
	free(kept);
	free(text);

	/* Exactly the cap, well formed: accepted. */
	len = 1024 * 1024;
	text = xmalloc(len + 1);
	memset(text, '#', len);
	memcpy(text + len - strlen("\n" HDR "end 0\n"), "\n" HDR "end 0\n", strlen("\n" HDR "end 0\n"));
	write_file(path, text, len);
	ck_assert_msg(state_load(dir, &st, err, sizeof(err)) == STATE_LOADED, "%s", err);
	free(text);
	state_free(&st);
}
END_TEST

static void
stamp_name(char *buf, size_t len, time_t t)
{
	struct tm tm;
	char stamp[32];

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	snprintf(buf, len, "%s.corrupt.%s", path, stamp);
}

/* A kept file is never overwritten: the next one gets a counter. */
START_TEST(test_corrupt_kept_never_overwritten)
{
	struct state st = { 0 };
	char err[1024], a[4200], b[4200], *got;
	time_t now = time(NULL);

	ck_assert_int_eq(mkdir(dir, 0750), 0);
	/* Occupy this second's name and the next one's, in case the clock ticks. */
	stamp_name(a, sizeof(a), now);
	stamp_name(b, sizeof(b), now + 1);
	write_file(a, "older A\n", 8);
	write_file(b, "older B\n", 8);

	write_file(path, "garbage 1\n", 10);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_CORRUPT);
	ck_assert_msg(strstr(err, ".corrupt.") != NULL && strstr(err, "; kept as ") != NULL, "%s", err);
	ck_assert_msg(strcmp(err + strlen(err) - 2, ".1") == 0, "%s", err);
	write_file(path, "garbage 2\n", 10);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_CORRUPT);

	ck_assert_uint_eq(count_prefix(dir, "state.corrupt.", NULL), 4);
	got = read_file(a, NULL);
	ck_assert_str_eq(got, "older A\n");
	free(got);
	got = read_file(b, NULL);
	ck_assert_str_eq(got, "older B\n");
	free(got);
	/* And the message names where the last one went. */
	got = read_file(strstr(err, "; kept as ") + strlen("; kept as "), NULL);
	ck_assert_str_eq(got, "garbage 2\n");
	free(got);
	state_free(&st);
}
END_TEST

/*
 * A directory at DIR/state: an error (we did not write it, we do not move
 * it), not corruption.
 */
START_TEST(test_unreadable_is_error)
{
	struct state st = { 0 };
	char err[1024];

	ck_assert_int_eq(mkdir(dir, 0750), 0);
	ck_assert_int_eq(mkdir(path, 0750), 0);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_ERROR);
	ck_assert_msg(strstr(err, "cannot read ") != NULL && strstr(err, path) != NULL, "%s", err);
	ck_assert_msg(strstr(err, strerror(EISDIR)) != NULL, "%s", err);
	ck_assert_uint_eq(st.n, 0);
	ck_assert_uint_eq(count_prefix(dir, "state.corrupt.", NULL), 0);
	ck_assert_int_eq(access(path, F_OK), 0);

	/* A FIFO: not a regular file, and opening it must not block. */
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_ERROR);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

/* Only meaningful without root, which ignores the mode. */
START_TEST(test_unreadable_nonroot)
{
	struct state st = { 0 };
	char err[1024];

	if (geteuid() == 0)
		return;
	ck_assert_int_eq(mkdir(dir, 0750), 0);
	write_file(path, HDR "end 0\n", strlen(HDR "end 0\n"));
	ck_assert_int_eq(chmod(path, 0), 0);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_ERROR);
	ck_assert_msg(strstr(err, strerror(EACCES)) != NULL, "%s", err);
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

START_TEST(test_dir_is_a_file)
{
	struct state st = { 0 };
	char err[1024];

	write_file(dir, "x", 1);
	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_ERROR);
	ck_assert_msg(strstr(err, strerror(ENOTDIR)) != NULL, "%s", err);
}
END_TEST

START_TEST(test_save_creates_dir)
{
	struct state st = { 0 };
	struct stat sb;
	char err[512];

	ck_assert_int_eq(access(dir, F_OK), -1);
	state_set(&st, "web", 1, "a", 1);
	ck_assert_msg(state_save(dir, &st, err, sizeof(err)), "%s", err);
	ck_assert_int_eq(stat(dir, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0750);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0640);
	assert_no_temp(dir);
	state_free(&st);
}
END_TEST

START_TEST(test_save_fails_cleanly)
{
	struct state st = { 0 };
	char err[1024], *bad, *file;

	state_set(&st, "web", 1, "a", 1);

	/* Under a regular file. */
	file = xasprintf("%s/plain", tmpdir);
	write_file(file, "x", 1);
	bad = xasprintf("%s/sub", file);
	ck_assert(!state_save(bad, &st, err, sizeof(err)));
	ck_assert_msg(strstr(err, strerror(ENOTDIR)) != NULL && strstr(err, bad) != NULL, "%s", err);
	free(bad);
	free(file);

	/* Two levels missing: only one is created. */
	bad = xasprintf("%s/no/such", tmpdir);
	ck_assert(!state_save(bad, &st, err, sizeof(err)));
	ck_assert_msg(strstr(err, strerror(ENOENT)) != NULL, "%s", err);
	free(bad);

	/* DIR/state is a directory: the rename fails, the temp file goes. */
	ck_assert_int_eq(mkdir(dir, 0750), 0);
	ck_assert_int_eq(mkdir(path, 0750), 0);
	ck_assert(!state_save(dir, &st, err, sizeof(err)));
	ck_assert_msg(strncmp(err, "cannot write ", 13) == 0 && strstr(err, path) != NULL, "%s", err);
	assert_no_temp(dir);
	ck_assert_int_eq(rmdir(path), 0);
	state_free(&st);
}
END_TEST

/* An entry that would not read back is refused, and the old file stays. */
START_TEST(test_save_refuses_bad_names)
{
	struct state st = { 0 }, back = { 0 };
	char err[1024];

	state_set(&st, "web", 1, "a", 1);
	ck_assert_msg(state_save(dir, &st, err, sizeof(err)), "%s", err);

	state_set(&st, "a b", 1, "a", 1);
	ck_assert(!state_save(dir, &st, err, sizeof(err)));
	ck_assert_msg(strstr(err, "invalid service name") != NULL, "%s", err);
	state_free(&st);

	state_set(&st, "web", 2, "-", 1);
	ck_assert(!state_save(dir, &st, err, sizeof(err)));
	ck_assert_msg(strstr(err, "invalid primary name") != NULL, "%s", err);
	state_free(&st);

	state_set(&st, "web", (uint64_t)INT64_MAX + 1, "b", 1);
	ck_assert(!state_save(dir, &st, err, sizeof(err)));
	ck_assert_msg(strstr(err, "out of range") != NULL, "%s", err);
	state_free(&st);
	assert_no_temp(dir);

	ck_assert_int_eq(state_load(dir, &back, err, sizeof(err)), STATE_LOADED);
	ck_assert_uint_eq(back.n, 1);
	ck_assert_uint_eq(back.entries[0].epoch, 1);
	state_free(&back);
}
END_TEST

/* A temp file of ours by name is from an earlier process with our pid. */
START_TEST(test_stale_temp_replaced)
{
	struct state st = { 0 };
	char err[512], *tmp;

	ck_assert_int_eq(mkdir(dir, 0750), 0);
	tmp = xasprintf("%s/.state.tmp.%ld", dir, (long)getpid());
	write_file(tmp, "stale", 5);
	state_set(&st, "web", 1, "a", 1);
	ck_assert_msg(state_save(dir, &st, err, sizeof(err)), "%s", err);
	assert_no_temp(dir);
	free(tmp);
	state_free(&st);
}
END_TEST

START_TEST(test_save_after_load_keeps_others)
{
	struct state st = { 0 };
	const struct state_entry *e;
	char err[512];

	state_set(&st, "a", 3, "a1", 3);
	state_set(&st, "b", 5, "b2", 6);
	state_set(&st, "c", 0, NULL, 9);
	ck_assert_msg(state_save(dir, &st, err, sizeof(err)), "%s", err);
	state_free(&st);

	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_LOADED);
	state_set(&st, "b", 6, "b1", 6);
	state_set(&st, "d", 1, "d1", 1);
	ck_assert_msg(state_save(dir, &st, err, sizeof(err)), "%s", err);
	state_free(&st);

	ck_assert_int_eq(state_load(dir, &st, err, sizeof(err)), STATE_LOADED);
	ck_assert_uint_eq(st.n, 4);
	e = state_find(&st, "a");
	ck_assert(e->epoch == 3 && strcmp(e->primary, "a1") == 0 && e->last_vote == 3);
	e = state_find(&st, "b");
	ck_assert(e->epoch == 6 && strcmp(e->primary, "b1") == 0 && e->last_vote == 6);
	e = state_find(&st, "c");
	ck_assert(e->epoch == 0 && e->primary == NULL && e->last_vote == 9);
	e = state_find(&st, "d");
	ck_assert(e->epoch == 1 && strcmp(e->primary, "d1") == 0);
	assert_no_temp(dir);
	state_free(&st);
}
END_TEST

START_TEST(test_many_services)
{
	struct state st = { 0 };
	char err[512], name[32], primary[32];

	for (unsigned i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "svc%u", i);
		snprintf(primary, sizeof(primary), "m%u", i % 7);
		state_set(&st, name, i, i % 5 == 0 ? NULL : primary, i * 2);
	}
	ck_assert_msg(state_save(dir, &st, err, sizeof(err)), "%s", err);
	state_free(&st);
	ck_assert_msg(state_load(dir, &st, err, sizeof(err)) == STATE_LOADED, "%s", err);
	ck_assert_uint_eq(st.n, 1000);
	for (unsigned i = 0; i < 1000; i++) {
		const struct state_entry *e;

		snprintf(name, sizeof(name), "svc%u", i);
		snprintf(primary, sizeof(primary), "m%u", i % 7);
		e = state_find(&st, name);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e->epoch, i);
		ck_assert_uint_eq(e->last_vote, i * 2);
		if (i % 5 == 0)
			ck_assert_ptr_null(e->primary);
		else
			ck_assert_str_eq(e->primary, primary);
	}
	state_free(&st);
}
END_TEST

static Suite *
state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("state");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_set_updates);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_empty_state);
	tcase_add_test(tc, test_comments);
	tcase_add_loop_test(tc, test_corrupt, 0, (int)(sizeof(corrupt) / sizeof(corrupt[0])));
	tcase_add_test(tc, test_too_big);
	tcase_add_test(tc, test_corrupt_kept_never_overwritten);
	tcase_add_test(tc, test_unreadable_is_error);
	tcase_add_test(tc, test_unreadable_nonroot);
	tcase_add_test(tc, test_dir_is_a_file);
	tcase_add_test(tc, test_save_creates_dir);
	tcase_add_test(tc, test_save_fails_cleanly);
	tcase_add_test(tc, test_save_refuses_bad_names);
	tcase_add_test(tc, test_stale_temp_replaced);
	tcase_add_test(tc, test_save_after_load_keeps_others);
	tcase_add_test(tc, test_many_services);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(state_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
