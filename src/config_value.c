/*
 * Reading and comparing configuration values: durations, numbers, status
 * lists, addresses, VIPs, names, booleans, escapes, byte counts, libpq
 * connection strings and password files, each from its text alone.  What
 * a key means and where it goes is config.c's table; these functions only
 * say whether a value is well formed, and with what message when not.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config.h"
#include "config_value.h"
#include "util.h"

#define CONFIG_DURATION_MAX_MS (7ULL * 24 * 3600 * 1000) /* one week */
#define CONFIG_SECRET_MAX 1024      /* bytes of a password file, its line end aside */
#define CONFIG_BYTES_MAX (1ULL << 62) /* a byte count no one means literally beyond this */

/* ---- value parsers ---- */

const char *
config_parse_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 } };
	uint64_t n = 0;
	const char *q = s;

	if (!isdigit((unsigned char)*q))
		return "bad duration (use a number with ms, s, m or h)";
	for (; isdigit((unsigned char)*q); q++) {
		n = n * 10 + (uint64_t)(*q - '0');
		if (n > CONFIG_DURATION_MAX_MS)
			return "duration too long (at most a week)";
	}
	if (*q == '\0')
		return "missing unit (use ms, s, m or h)";
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		if (strcmp(q, units[i].unit) != 0)
			continue;
		if (n > CONFIG_DURATION_MAX_MS / units[i].ms)
			return "duration too long (at most a week)";
		*ms = n * units[i].ms;
		return NULL;
	}
	return "bad duration (use a number with ms, s, m or h)";
}

/* The shortest way to write MS back, for messages. */
const char *
config_duration_str(uint64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % (3600 * 1000) == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / (3600 * 1000)));
	else if (ms != 0 && ms % (60 * 1000) == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / (60 * 1000)));
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	return buf;
}

static const char config_not_a_number[] = "not a number";

/* Decimal digits only: no sign, no white space, no hex. */
const char *
config_parse_long(const char *s, long lo, long hi, long *out)
{
	long n = 0;

	if (*s == '\0' || s[strspn(s, "0123456789")] != '\0')
		return config_not_a_number;
	for (const char *q = s; *q != '\0' && n <= hi; q++)
		n = n * 10 + (*q - '0');
	if (n < lo || n > hi)
		return "out of range";
	*out = n;
	return NULL;
}

static const char *
config_parse_status(const char **sp, int *code)
{
	const char *s = *sp;
	int n = 0, digits = 0;

	while (isdigit((unsigned char)*s)) {
		if (++digits > 3)
			return "a status code has three digits";
		n = n * 10 + (*s++ - '0');
	}
	if (digits == 0)
		return "expected a status code";
	if (n < 100 || n > 599)
		return "status codes go from 100 to 599";
	*code = n;
	*sp = s;
	return NULL;
}

const char *
config_parse_status_list(const char *s, struct status_range *out, size_t max, size_t *n)
{
	const char *msg;
	size_t count = 0;
	int lo, hi;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if ((msg = config_parse_status(&s, &lo)) != NULL)
			return msg;
		hi = lo;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '-') {
			s++;
			while (*s == ' ' || *s == '\t')
				s++;
			if ((msg = config_parse_status(&s, &hi)) != NULL)
				return msg;
			if (hi < lo)
				return "a range must go upwards (like 200-299)";
			while (*s == ' ' || *s == '\t')
				s++;
		}
		if (count == max)
			return "too many ranges";
		out[count].lo = lo;
		out[count].hi = hi;
		count++;
		if (*s == '\0')
			break;
		if (*s != ',')
			return "expected codes or ranges separated by commas (like 200-299, 418)";
		s++;
	}
	*n = count;
	return NULL;
}

static bool
config_host_char(char c, bool bracketed)
{
	if (isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_')
		return true;
	return bracketed && (c == ':' || c == '%');
}

const char *
config_parse_address(const char *s, char **host, char **port)
{
	const char *h, *colon;
	size_t hlen;
	long pnum;
	bool bracketed = false;

	if (*s == '\0')
		return "empty address";
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return "missing ']' after an IPv6 address";
		h = s + 1;
		hlen = (size_t)(close - h);
		if (hlen == 0)
			return "empty host between '[' and ']'";
		if (close[1] == '\0')
			return "missing port (use [v6]:port)";
		if (close[1] != ':')
			return "expected ':' and a port after ']'";
		colon = close + 1;
		bracketed = true;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return "missing port (use host:port)";
		if (strchr(s, ']') != NULL)
			return "']' without '['";
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return "an IPv6 address must be in brackets (use [v6]:port)";
		h = s;
		hlen = (size_t)(colon - s);
		if (hlen == 0)
			return "missing host (use host:port)";
	}
	for (size_t i = 0; i < hlen; i++) {
		if (!config_host_char(h[i], bracketed))
			return "bad character in host";
	}
	if (colon[1] == '\0')
		return "missing port";
	if (config_parse_long(colon + 1, 1, 65535, &pnum) == config_not_a_number)
		return "port is not a number";
	if (config_parse_long(colon + 1, 1, 65535, &pnum) != NULL)
		return "port out of range (1-65535)";
	*host = xstrndup(h, hlen);
	*port = xasprintf("%ld", pnum);
	return NULL;
}

/* As the kernel's dev_valid_name() sees it. */
static bool
config_ifname_valid(const char *s)
{
	if (*s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s != '\0'; s++) {
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return false;
	}
	return true;
}

/* Neither unspecified, nor multicast, nor the IPv4 limited broadcast. */
static bool
config_vip_unicast(const struct vip_conf *v)
{
	static const unsigned char zero[16];

	if (v->family == AF_INET)
		return memcmp(v->addr, zero, 4) != 0 && (v->addr[0] & 0xf0) != 0xe0 &&
		    memcmp(v->addr, "\xff\xff\xff\xff", 4) != 0;
	return memcmp(v->addr, zero, 16) != 0 && v->addr[0] != 0xff;
}

#define CONFIG_VIP_FORM "use ADDRESS/PREFIX dev IFACE"

const char *
config_parse_vip(const char *s, struct vip_conf *out, char *buf, size_t len)
{
	char *copy = xstrdup(s), *save = NULL;
	char *addr, *kw, *dev, *extra, *slash;
	char text[INET6_ADDRSTRLEN];
	const char *msg = NULL;
	long prefix = 0, max;

	memset(out, 0, sizeof(*out));
	addr = strtok_r(copy, " \t", &save);
	kw = addr != NULL ? strtok_r(NULL, " \t", &save) : NULL;
	dev = kw != NULL ? strtok_r(NULL, " \t", &save) : NULL;
	extra = dev != NULL ? strtok_r(NULL, " \t", &save) : NULL;
	if (addr == NULL) {
		snprintf(buf, len, "empty VIP (" CONFIG_VIP_FORM ")");
		goto fail;
	}
	if ((slash = strchr(addr, '/')) == NULL) {
		snprintf(buf, len, "missing prefix length after \"%s\" (" CONFIG_VIP_FORM ")", addr);
		goto fail;
	}
	*slash = '\0';
	out->family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(out->family, addr, out->addr) != 1) {
		snprintf(buf, len, "bad %s address \"%s\" (" CONFIG_VIP_FORM ")",
		    out->family == AF_INET ? "IPv4" : "IPv6", addr);
		goto fail;
	}
	if (!config_vip_unicast(out)) {
		snprintf(buf, len, "%s is not a unicast address", addr);
		goto fail;
	}
	max = out->family == AF_INET ? 32 : 128;
	if ((msg = config_parse_long(slash + 1, 1, max, &prefix)) != NULL) {
		snprintf(buf, len, "prefix length \"%s\" of %s is %s (use 1 to %ld)", slash + 1, addr,
		    msg, max);
		goto fail;
	}
	if (kw == NULL || strcmp(kw, "dev") != 0 || dev == NULL) {
		snprintf(buf, len, "missing \"dev IFACE\" after %s/%ld (" CONFIG_VIP_FORM ")", addr, prefix);
		goto fail;
	}
	if (strlen(dev) > CONFIG_IFNAME_MAX) {
		snprintf(buf, len, "interface name \"%s\" too long (at most %d characters)", dev,
		    CONFIG_IFNAME_MAX);
		goto fail;
	}
	if (!config_ifname_valid(dev)) {
		snprintf(buf, len, "bad interface name \"%s\"", dev);
		goto fail;
	}
	if (extra != NULL) {
		snprintf(buf, len, "unexpected \"%s\" after \"dev %s\" (separate VIPs with commas)", extra,
		    dev);
		goto fail;
	}
	out->prefix = (unsigned)prefix;
	out->dev = xstrdup(dev);
	inet_ntop(out->family, out->addr, text, sizeof(text));
	out->text = xasprintf("%s/%u", text, out->prefix);
	free(copy);
	return NULL;
fail:
	free(copy);
	memset(out, 0, sizeof(*out));
	return buf;
}

void
vip_conf_free(struct vip_conf *v)
{
	free(v->dev);
	free(v->text);
	v->dev = NULL;
	v->text = NULL;
}

bool
config_vip_same_address(const struct vip_conf *a, const struct vip_conf *b)
{
	return a->family == b->family &&
	    memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

bool
config_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= CONFIG_NAME_MAX)
		return false;
	/* A letter or digit first: "-" stands for "none" in the state file. */
	if (!isalnum((unsigned char)s[0]))
		return false;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	}
	return true;
}

bool
config_bool_parse(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static int
config_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode \r \n \t \\ \xHH.  Returns NULL on success, else a pointer to the
 * bad escape in S.  inih strips the ends of a value and cuts it at " ;",
 * so leading or trailing blanks and such semicolons need \x20 and \x3b.
 */
const char *
config_unescape(const char *s, char **out, size_t *outlen)
{
	char *buf = xmalloc(strlen(s) + 1);
	size_t n = 0;

	for (const char *q = s; *q != '\0'; q++) {
		if (*q != '\\') {
			buf[n++] = *q;
			continue;
		}
		switch (q[1]) {
		case 'r':
			buf[n++] = '\r';
			break;
		case 'n':
			buf[n++] = '\n';
			break;
		case 't':
			buf[n++] = '\t';
			break;
		case '\\':
			buf[n++] = '\\';
			break;
		case 'x':
			if (q[2] == '\0' || config_hex(q[2]) < 0 || config_hex(q[3]) < 0) {
				free(buf);
				return q;
			}
			buf[n++] = (char)(config_hex(q[2]) * 16 + config_hex(q[3]));
			q += 2;
			break;
		default:
			free(buf);
			return q;
		}
		q++;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return NULL;
}

bool
config_has_blank_or_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return true;
	}
	return false;
}

/* A whole number of bytes: decimal digits only, like config_parse_long. */
const char *
config_parse_bytes(const char *s, uint64_t *out)
{
	uint64_t n = 0;

	if (*s == '\0' || s[strspn(s, "0123456789")] != '\0')
		return config_not_a_number;
	for (; *s != '\0'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > CONFIG_BYTES_MAX)
			return "out of range";
	}
	*out = n;
	return NULL;
}

/*
 * Keywords of pg_conninfo that would contradict the rest of the file: where
 * to connect comes from the member's address, who from pg_user and
 * pg_database, the password from pg_password_file (a configuration file is
 * often world-readable; a password file must not be), and a replication
 * connection cannot run the role query.
 */
static const char *const config_pg_reserved[] = {
	"host", "hostaddr", "port", "user", "dbname", "password", "replication",
};

/* NULL when libpq accepts S and it names no reserved keyword; else a message into BUF. */
const char *
config_check_conninfo(const char *s, char *buf, size_t len)
{
	PQconninfoOption *opts;
	char *err = NULL;

	if ((opts = PQconninfoParse(s, &err)) == NULL) {
		if (err == NULL)
			return "libpq cannot parse it (out of memory)";
		snprintf(buf, len, "bad libpq connection string: %s", err);
		buf[strcspn(buf, "\n")] = '\0';
		PQfreemem(err);
		return buf;
	}
	buf[0] = '\0';
	for (const PQconninfoOption *o = opts; o->keyword != NULL && buf[0] == '\0'; o++) {
		if (o->val == NULL)
			continue;
		for (size_t i = 0; i < ARRAY_LEN(config_pg_reserved); i++) {
			if (strcmp(o->keyword, config_pg_reserved[i]) == 0) {
				snprintf(buf, len, "\"%s\" is not allowed here (spofd sets it from "
				    "the member's address, pg_user, pg_database and pg_password_file)",
				    o->keyword);
				break;
			}
		}
	}
	PQconninfoFree(opts);
	return buf[0] == '\0' ? NULL : buf;
}

/*
 * Read the password in PATH: one line, its line end dropped.  The file
 * must not be readable by others: a password anyone on the node can read
 * protects nothing.  Messages never quote the file's contents.
 */
const char *
config_read_secret(const char *path, char **out, char *msg, size_t len)
{
	char buf[CONFIG_SECRET_MAX + 3]; /* room for "\r\n" and one byte too many */
	struct stat st;
	size_t n = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(msg, len, "cannot read \"%s\": %s", path, strerror(errno));
		return msg;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, len, "\"%s\" is not a regular file", path);
		close(fd);
		return msg;
	}
	if (st.st_mode & S_IROTH) {
		snprintf(msg, len, "\"%s\" is readable by others (mode %04o; chmod o-rwx it)", path,
		    (unsigned)(st.st_mode & 07777));
		close(fd);
		return msg;
	}
	while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(msg, len, "cannot read \"%s\": %s", path, strerror(errno));
			close(fd);
			explicit_bzero(buf, sizeof(buf));
			return msg;
		}
		n += (size_t)r;
	}
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	msg[0] = '\0';
	if (n == 0)
		snprintf(msg, len, "\"%s\" is empty", path);
	else if (n > CONFIG_SECRET_MAX)
		snprintf(msg, len, "\"%s\" is too long for a password (at most %d bytes)", path,
		    CONFIG_SECRET_MAX);
	else if (memchr(buf, '\0', n) != NULL || memchr(buf, '\n', n) != NULL)
		snprintf(msg, len, "\"%s\" must hold the password alone, on one line", path);
	if (msg[0] == '\0')
		*out = xstrndup(buf, n);
	explicit_bzero(buf, sizeof(buf));
	return msg[0] == '\0' ? NULL : msg;
}

/* ---- comparing ---- */

static bool
config_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
config_bytes_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	if (a == NULL || b == NULL)
		return a == b;
	return alen == blen && memcmp(a, b, alen) == 0;
}

bool
check_conf_equal(const struct check_conf *a, const struct check_conf *b)
{
	size_t na = argv_len(a->exec_argv), nb = argv_len(b->exec_argv);

	if (a->type != b->type || a->interval_ms != b->interval_ms ||
	    a->fastinter_ms != b->fastinter_ms || a->downinter_ms != b->downinter_ms ||
	    a->timeout_ms != b->timeout_ms || a->rise != b->rise || a->fall != b->fall)
		return false;
	if (!config_bytes_equal(a->tcp_send, a->tcp_send_len, b->tcp_send, b->tcp_send_len) ||
	    !config_bytes_equal(a->tcp_expect, a->tcp_expect_len, b->tcp_expect, b->tcp_expect_len))
		return false;
	if (!config_str_equal(a->http_method, b->http_method) ||
	    !config_str_equal(a->http_path, b->http_path) ||
	    !config_str_equal(a->http_host, b->http_host) ||
	    !config_str_equal(a->http_expect_body, b->http_expect_body) ||
	    !config_str_equal(a->tls_ca_file, b->tls_ca_file) || a->tls_verify != b->tls_verify)
		return false;
	if (a->n_http_expect_status != b->n_http_expect_status)
		return false;
	for (size_t i = 0; i < a->n_http_expect_status; i++) {
		if (a->http_expect_status[i].lo != b->http_expect_status[i].lo ||
		    a->http_expect_status[i].hi != b->http_expect_status[i].hi)
			return false;
	}
	if ((a->exec_argv == NULL) != (b->exec_argv == NULL) || na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		if (strcmp(a->exec_argv[i], b->exec_argv[i]) != 0)
			return false;
	}
	if (a->exec_kill_grace_ms != b->exec_kill_grace_ms)
		return false;
	/* A new password in the same file is a new way to probe. */
	return config_str_equal(a->pg_user, b->pg_user) &&
	    config_str_equal(a->pg_database, b->pg_database) && a->pg_query == b->pg_query &&
	    config_str_equal(a->pg_conninfo, b->pg_conninfo) &&
	    config_str_equal(a->pg_password_file, b->pg_password_file) &&
	    config_str_equal(a->pg_password, b->pg_password);
}

/*
 * Every field but the line: moving a section within the file (or editing
 * lines above it) must not make a reload forget the member's health.
 */
bool
member_conf_equal(const struct member_conf *a, const struct member_conf *b)
{
	return config_str_equal(a->service, b->service) && config_str_equal(a->name, b->name) &&
	    config_str_equal(a->address, b->address) && config_str_equal(a->host, b->host) &&
	    config_str_equal(a->port, b->port) && config_str_equal(a->node, b->node) &&
	    a->priority == b->priority;
}

bool
vip_conf_equal(const struct vip_conf *a, const struct vip_conf *b)
{
	return config_vip_same_address(a, b) && a->prefix == b->prefix &&
	    config_str_equal(a->dev, b->dev);
}
