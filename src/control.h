/*
 * The admin socket: a Unix stream socket, one request per line, one JSON
 * object per reply line.  Requests are plain words ("status", "status web").
 * The owner answers them through a callback; this module only frames,
 * bounds, authenticates (SO_PEERCRED) and counts.
 */
#ifndef SPOFD_CONTROL_H
#define SPOFD_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct event_base;
struct control;

#define CONTROL_REQUEST_MAX 4096   /* bytes of one request line */
#define CONTROL_MAX_CLIENTS 64     /* connections at once */
#define CONTROL_IDLE_TIMEOUT_MS 10000

struct control_request {
	char *const *argv;  /* words of the request; argv[0] the command */
	size_t argc;
	uid_t uid;          /* of the peer (SO_PEERCRED) */
	gid_t gid;
	pid_t pid;
	bool privileged;    /* root, the daemon's own uid, or a member of the admin group */
};

/*
 * Answer REQ: return a new JSON object.  It should carry "ok": true or
 * "ok": false with "error": "message".
 */
typedef json_t *(*control_handler_fn)(void *arg, const struct control_request *req);

struct control_stats {
	uint64_t requests;        /* answered */
	uint64_t rejected;        /* malformed, oversized, unknown */
	uint64_t clients_refused; /* over CONTROL_MAX_CLIENTS */
};

/*
 * Listen on PATH (an old socket there is replaced, but never a file that is
 * not a socket), mode 0660, group GROUP when not NULL.  ADMIN_GROUP names
 * the group whose members may change things besides root and the daemon's
 * own uid (NULL: none).  Returns NULL with a message in ERR (ERRLEN bytes)
 * on failure.
 */
struct control *control_new(struct event_base *base, const char *path,
    const char *group, const char *admin_group,
    control_handler_fn handler, void *arg, char *err, size_t errlen);
/* New admin group after a reload. */
void control_set_admin_group(struct control *c, const char *admin_group);
void control_stats(const struct control *c, struct control_stats *out);
/* Close every client and the socket; unlink the path. */
void control_free(struct control *c);

/*
 * Client side (spofctl; control_client.c): send one request line, read one
 * reply line, all within TIMEOUT_MS.  NULL with a message in ERR on failure.
 */
json_t *control_call(const char *path, const char *request, int timeout_ms, char *err, size_t errlen);

#endif
