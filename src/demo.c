#include "autoconf.h"

#include "demo.h"
#include "util.h"

/*
 * The demo runs on loopback only, against backends the quick start
 * starts: two web servers that could each be the primary, and a cache
 * answering a PING.  Short intervals so a failure shows within a second.
 */
static const char demo_template[] =
    "[spofd]\n"
    "node = demo\n"
    "control_socket = %s\n"
    "state_dir = %s\n"
    "log_level = info\n"
    "\n"
    "[service web]\n"
    "check = http\n"
    "http_path = /\n"
    "interval = 500ms\n"
    "timeout = 400ms\n"
    "rise = 2\n"
    "fall = 2\n"
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

char *
demo_config_text(const char *control_socket, const char *state_dir)
{
	return xasprintf(demo_template, control_socket, state_dir);
}
