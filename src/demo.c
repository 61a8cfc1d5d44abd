#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"
#include "util.h"

/*
 * The demo runs on loopback only, against backends the quick start
 * starts: two web servers that could each be the primary, and a cache
 * answering a PING.  Short intervals so a failure shows within a second;
 * no cooldown so a second failure fails over at once too.
 */
static const char demo_template[] =
    "[spofd]\n"
    "node = demo\n"
    "control_socket = %s/spofd.sock\n"
    "state_dir = %s/state\n"
    "log_level = info\n"
    "%s"
    "\n"
    "[service web]\n"
    "check = http\n"
    "http_path = /\n"
    "interval = 500ms\n"
    "timeout = 400ms\n"
    "rise = 2\n"
    "fall = 2\n"
    "failover_cooldown = 0ms\n"
    "hook_timeout = 10s\n"
    "on_promote = %s/hooks/promote\n"
    "on_demote = %s/hooks/demote\n"
    "on_change = %s/hooks/change\n"
    "\n"
    "[member web/web1]\n"
    "address = 127.0.0.1:18081\n"
    "priority = 100\n"
    "\n"
    "[member web/web2]\n"
    "address = 127.0.0.1:18082\n"
    "priority = 90\n"
    "\n"
    "[service cache]\n"
    "check = tcp\n"
    "tcp_send = PING\\r\\n\n"
    "tcp_expect = PING\n"
    "interval = 500ms\n"
    "timeout = 400ms\n"
    "rise = 2\n"
    "fall = 2\n"
    "\n"
    "[member cache/cache1]\n"
    "address = 127.0.0.1:18083\n"
    "priority = 100\n";

/* What a real hook would do, said instead of done. */
static const struct {
	const char *name;
	const char *body;
} demo_hooks[] = {
	{ "promote", "echo \"promote $SPOFD_SERVICE/$SPOFD_NEW_PRIMARY at $SPOFD_NEW_PRIMARY_ADDRESS"
	    " (epoch $SPOFD_EPOCH, $SPOFD_REASON): a real hook would make it the primary here\"\n" },
	{ "demote", "echo \"demote $SPOFD_SERVICE/$SPOFD_OLD_PRIMARY (epoch $SPOFD_EPOCH,"
	    " $SPOFD_REASON): a real hook would fence it here\"\n" },
	{ "change", "echo \"change $SPOFD_SERVICE: primary ${SPOFD_OLD_PRIMARY:--} -> $SPOFD_NEW_PRIMARY"
	    " (epoch $SPOFD_EPOCH)\"\n" },
};

static bool
demo_write_hook(const char *dir, const char *name, const char *body, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *text = xasprintf("#!/bin/sh\n# spofd demo hook: %s\n%s", name, body);
	size_t len = strlen(text);
	int fd;
	bool ok = false;

	/* Replace, never append to, whatever an earlier demo left. */
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
	} else if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0755) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		close(fd);
	} else {
		close(fd);
		ok = true;
	}
	free(text);
	free(path);
	return ok;
}

char *
demo_prepare(const char *dir, char *err, size_t errlen)
{
	char *hooks = xasprintf("%s/hooks", dir);
	char *user_line;
	char *text = NULL;

	if (mkdir(hooks, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", hooks, strerror(errno));
		free(hooks);
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_LEN(demo_hooks); i++) {
		if (!demo_write_hook(hooks, demo_hooks[i].name, demo_hooks[i].body, err, errlen)) {
			free(hooks);
			return NULL;
		}
	}
	/* Run as a user, the hooks are that user's: say so, or they are refused. */
	if (geteuid() != 0) {
		struct passwd *pw = getpwuid(geteuid());

		user_line = xasprintf("hook_user = %s\n", pw != NULL ? pw->pw_name : "nobody");
	} else {
		user_line = xstrdup("");
	}
	text = xasprintf(demo_template, dir, dir, user_line, dir, dir, dir);
	free(user_line);
	free(hooks);
	return text;
}
