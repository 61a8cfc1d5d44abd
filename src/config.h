/*
 * The configuration as parsed from the INI file: plain data, no runtime
 * state.  Runtime modules keep a pointer to the conf they were built from,
 * which is what makes a reload a comparison of two confs.
 */
#ifndef SPOFD_CONFIG_H
#define SPOFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define DEFAULT_CONTROL_SOCKET "/run/spofd/spofd.sock"
#define DEFAULT_STATE_DIR "/var/lib/spofd"
#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_TIMEOUT_MS 800
#define DEFAULT_RISE 3
#define DEFAULT_FALL 3
#define DEFAULT_EXEC_KILL_GRACE_MS 1000
#define DEFAULT_GARP_REPEAT 3          /* announcements after a VIP is added */
#define DEFAULT_GARP_INTERVAL_MS 100   /* between them */
#define DEFAULT_GARP_REFRESH_MS 0      /* one more every so often while held; 0: never */
#define CONFIG_GARP_REPEAT_MAX 100
#define CONFIG_IFNAME_MAX 15           /* characters of an interface name (IFNAMSIZ - 1) */
#define DEFAULT_HOOK_TIMEOUT_MS 30000
#define DEFAULT_HOOK_KILL_GRACE_MS 5000
#define DEFAULT_FAILBACK_DELAY_MS 30000
#define DEFAULT_FAILOVER_COOLDOWN_MS 30000
#define DEFAULT_PROMOTE_BACKOFF_MS 5000
#define DEFAULT_PG_USER "postgres"
#define DEFAULT_MAX_LAG_BYTES (16ULL * 1024 * 1024) /* WAL bytes a standby may trail and still be promoted */
#define DEFAULT_HTTP_BODY_MAX 65536 /* bytes read of an HTTP reply at most */
#define CONFIG_MAX_EXPECT_STATUS 16 /* status ranges per service */
#define CONFIG_NAME_MAX 64          /* service, member and node names */

enum check_type { CHECK_TCP, CHECK_HTTP, CHECK_HTTPS, CHECK_EXEC, CHECK_POSTGRES };

struct status_range {
	int lo, hi; /* inclusive */
};

/* How each member of a service is probed. */
struct check_conf {
	enum check_type type;
	uint64_t interval_ms;  /* between probes while steady */
	uint64_t fastinter_ms; /* between probes while in transition */
	uint64_t downinter_ms; /* between probes while fully down */
	uint64_t timeout_ms;   /* budget of one probe, from its start */
	unsigned rise;         /* consecutive successes to go up */
	unsigned fall;         /* consecutive failures to go down */
	/* tcp */
	char *tcp_send;        /* bytes sent after connecting (C escapes decoded) */
	size_t tcp_send_len;
	char *tcp_expect;      /* substring the reply must contain */
	size_t tcp_expect_len;
	/* http, https */
	char *http_method;     /* default GET */
	char *http_path;       /* default "/" */
	char *http_host;       /* Host header; NULL: from the address */
	struct status_range http_expect_status[CONFIG_MAX_EXPECT_STATUS];
	size_t n_http_expect_status; /* default one range 200-399 */
	char *http_expect_body; /* substring of the body; NULL: none */
	bool tls_verify;        /* default true */
	char *tls_ca_file;
	/* exec */
	char **exec_argv;       /* NULL-terminated, no shell */
	uint64_t exec_kill_grace_ms; /* TERM, then KILL after this */
	/* postgres */
	char *pg_user;          /* default "postgres" */
	char *pg_database;      /* default: pg_user */
	bool pg_query;          /* log in with libpq and ask role and WAL position */
	char *pg_conninfo;      /* more libpq keywords ("sslmode=disable ..."); NULL: none */
	char *pg_password_file; /* where pg_password came from; NULL: none */
	char *pg_password;      /* read at load, never logged; NULL: libpq's own (PGPASSWORD...) */
};

struct member_conf {
	char *service;   /* name of its service */
	char *name;      /* member name, unique in its service */
	char *address;   /* as written: host:port, [v6]:port */
	char *host;      /* host part, without brackets */
	char *port;      /* port part, numeric string */
	char *node;      /* node hosting it; NULL when not one of ours */
	int priority;    /* 0: never promoted */
	unsigned line;   /* line of the [member ...] header */
};

/*
 * A virtual IP of a service, held by the node its primary runs on.  The
 * interface need not exist at load: it may come later, and a missing one
 * is a runtime error.
 */
struct vip_conf {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network byte order; IPv4 in the first 4 bytes */
	unsigned prefix;        /* prefix length, bits */
	char *dev;              /* interface name */
	char *text;             /* "192.0.2.100/24", the address as inet_ntop writes it */
};

struct service_conf {
	char *name;
	struct check_conf check;
	struct member_conf *members; /* in file order */
	size_t n_members;
	unsigned line;   /* line of the [service ...] header */
	/* virtual IPs, moved with the primary */
	struct vip_conf *vips;       /* in file order; NULL: none */
	size_t n_vips;
	unsigned garp_repeat;        /* announcements after adding a VIP */
	uint64_t garp_interval_ms;   /* between them */
	uint64_t garp_refresh_ms;    /* one more every so often while held; 0: never */
	/* hooks: absolute paths, checked at load; NULL: none */
	char *on_promote;
	char *on_demote;
	char *on_change;
	uint64_t hook_timeout_ms;    /* TERM after this */
	uint64_t hook_kill_grace_ms; /* then KILL after this */
	/* failover */
	bool failback_auto;          /* failback = auto; default manual */
	uint64_t failback_delay_ms;  /* up this long before it gets its role back */
	uint64_t failover_cooldown_ms; /* no automatic failover this soon after one */
	uint64_t promote_backoff_ms; /* after a failed promotion, before the next candidate */
	/* postgres: a standby further behind the primary than this is not promoted automatically */
	uint64_t max_lag_bytes;      /* bytes of WAL; 0: no limit */
};

struct config {
	char *path;             /* file it was read from */
	char *node;             /* this node's name; default: hostname */
	char *control_socket;
	char *control_group;    /* group owning the socket; NULL: daemon's */
	char *admin_group;      /* may change things; NULL: root only */
	char *state_dir;
	char *hook_user;        /* may own hooks besides root; NULL: root only */
	enum log_level log_level;
	struct service_conf *services; /* in file order */
	size_t n_services;
};

/*
 * Parse FILE.  On success returns a config and *nerrors is 0.  On failure
 * returns NULL; every error was written to ERR (one line each,
 * "file:line: key: message") and *nerrors says how many.  Parsing goes on
 * after an error so that one run shows them all.
 */
struct config *config_load(const char *path, FILE *err, unsigned *nerrors);
/* The same from a string, PATH naming it in messages (tests, the demo). */
struct config *config_load_string(const char *text, const char *path, FILE *err, unsigned *nerrors);
void config_free(struct config *cfg);

const struct service_conf *config_find_service(const struct config *cfg, const char *name);

/* True when two check confs would probe in exactly the same way. */
bool check_conf_equal(const struct check_conf *a, const struct check_conf *b);
bool member_conf_equal(const struct member_conf *a, const struct member_conf *b);

/*
 * "250ms", "2s", "1m", "1h" to milliseconds.  A bare number is an error
 * (units are never guessed).  Returns NULL on success, else a message.
 */
const char *config_parse_duration(const char *s, uint64_t *ms);
/* "200-399, 418" into ranges.  Returns NULL on success, else a message. */
const char *config_parse_status_list(const char *s, struct status_range *out, size_t max, size_t *n);
/* "host:port", "[v6]:port".  Returns NULL on success, else a message. */
const char *config_parse_address(const char *s, char **host, char **port);
/*
 * One "ADDRESS/PREFIX dev IFACE" (IPv4 or IPv6) into OUT, whose dev and
 * text are allocated (free with vip_conf_free).  Returns NULL on success,
 * else a message written to BUF.
 */
const char *config_parse_vip(const char *s, struct vip_conf *out, char *buf, size_t len);
void vip_conf_free(struct vip_conf *v);
/* Same address, prefix and interface. */
bool vip_conf_equal(const struct vip_conf *a, const struct vip_conf *b);

const char *check_type_str(enum check_type t);

#endif
