/*
 * spofd: the daemon.  This file owns the event base and wires the modules
 * together: configuration -> monitor (timers, probes, health) -> control
 * socket, plus signals and systemd notification.  It holds no logic of
 * its own beyond that wiring.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "config.h"
#include "control.h"
#include "demo.h"
#include "history.h"
#include "log.h"
#include "monitor.h"
#include "probe.h"
#include "proc.h"
#include "sdnotify.h"
#include "service.h"
#include "supervisor.h"
#include "util.h"
#include "vip.h"

#define DEFAULT_CONFIG_PATH SYSCONFDIR "/spofd/spofd.conf"
/*
 * A loop turn that comes this late means the process was frozen (a
 * stopped VM, a clock jump, a swap storm): what the monitor saw is stale,
 * so nothing automatic happens for a while (Sentinel's TILT).
 */
#define TILT_CHECK_MS 100      /* how often the loop checks itself */
#define TILT_THRESHOLD_MS 2000 /* a gap this long is a stall */
#define TILT_HOLD_MS 30000     /* no automatic change for this long after one */

struct daemon {
	struct event_base *base;
	const char *config_path;     /* NULL in demo mode */
	const char *demo_dir;        /* --demo DIR */
	struct config *cfg;
	struct proc_table *procs;    /* every child: exec probes, hooks */
	struct probe_engine *eng;
	struct monitor *mon;
	struct history *hist;
	struct supervisor *sup;
	struct vip_manager *vips;    /* this node's virtual IPs */
	struct control *ctl;
	struct event *sig_term, *sig_int, *sig_hup;
	struct event *watchdog;
	struct event *tilt;
	uint64_t tilt_last_us;       /* last turn of the tilt check */
	uint64_t tilt_until_us;      /* holding until (monotonic); 0: not */
	uint64_t started_mono_us;
	uint64_t reloads;            /* successful */
	uint64_t reload_failures;
	int exit_code;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: spofd [-t] [-c FILE]\n"
	    "       spofd --demo DIR\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -t, --test         check the configuration and exit (0: ok, 1: errors)\n"
	    "      --demo DIR     run the embedded demo configuration, socket and state in DIR\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         this help\n",
	    DEFAULT_CONFIG_PATH);
}

static struct config *
daemon_load_config(const struct daemon *d, FILE *err, unsigned *nerrors)
{
	struct config *cfg;

	if (d->demo_dir != NULL) {
		char msg[512];
		char *text = demo_prepare(d->demo_dir, msg, sizeof(msg));

		if (text == NULL) {
			fprintf(err, "<demo>: %s\n", msg);
			*nerrors = 1;
			return NULL;
		}
		cfg = config_load_string(text, "<demo>", err, nerrors);
		free(text);
		return cfg;
	}
	return config_load(d->config_path, err, nerrors);
}

static void
daemon_member_changed(void *arg, const struct member_conf *member, enum health_state from,
    const struct health *now)
{
	struct daemon *d = arg;

	supervisor_member_changed(d->sup, member, from, now);
}

/* The VIPs' events go to the log and the history like the services' own. */
static void
daemon_vip_event(void *arg, const char *service, const char *name, const char *detail)
{
	struct daemon *d = arg;

	supervisor_event(d->sup, service, name, detail);
}

static json_t *
daemon_stats_json(const struct daemon *d)
{
	struct probe_engine_stats ps;
	struct monitor_stats ms;
	struct control_stats cs;
	json_t *o = json_object();

	probe_engine_stats(d->eng, &ps);
	monitor_stats(d->mon, &ms);
	control_stats(d->ctl, &cs);
	json_object_set_new(o, "uptime_s", json_integer((json_int_t)((now_mono_us() - d->started_mono_us) / 1000000u)));
	json_object_set_new(o, "probes_started", json_integer((json_int_t)ps.started));
	json_object_set_new(o, "probes_completed", json_integer((json_int_t)ps.completed));
	json_object_set_new(o, "probes_in_flight", json_integer(ps.in_flight));
	json_object_set_new(o, "late_p50_us", json_integer((json_int_t)ms.late_p50_us));
	json_object_set_new(o, "late_p99_us", json_integer((json_int_t)ms.late_p99_us));
	json_object_set_new(o, "late_max_us", json_integer((json_int_t)ms.late_max_us));
	json_object_set_new(o, "control_requests", json_integer((json_int_t)cs.requests));
	json_object_set_new(o, "control_rejected", json_integer((json_int_t)cs.rejected));
	json_object_set_new(o, "control_clients_refused", json_integer((json_int_t)cs.clients_refused));
	json_object_set_new(o, "reloads", json_integer((json_int_t)d->reloads));
	json_object_set_new(o, "reload_failures", json_integer((json_int_t)d->reload_failures));
	return o;
}

static json_t *
reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *
reply_error(const char *fmt, ...)
{
	va_list ap;
	char buf[512];
	json_t *o = json_object();

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "error", json_string(buf));
	return o;
}

static json_t *
daemon_status(struct daemon *d, const struct control_request *req)
{
	const char *service = req->argc > 1 ? req->argv[1] : NULL;
	json_t *services, *o;

	if (req->argc > 2)
		return reply_error("usage: status [SERVICE]");
	services = monitor_status_json(d->mon, service);
	if (services == NULL)
		return reply_error("no service named '%s'", service);
	supervisor_status_json(d->sup, services);
	o = json_object();
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "node", json_string(d->cfg->node));
	if (d->tilt_until_us > now_mono_us())
		json_object_set_new(o, "tilt", json_true());
	json_object_set_new(o, "services", services);
	json_object_set_new(o, "stats", daemon_stats_json(d));
	return o;
}

/* Re-read the configuration; a bad file leaves the running one in force. */
static bool
daemon_reload(struct daemon *d, char *msg, size_t msglen)
{
	struct config *cfg;
	struct monitor *mon;
	unsigned nerrors = 0;
	char *errbuf = NULL;
	size_t errlen = 0;
	FILE *err = open_memstream(&errbuf, &errlen);

	sdnotify_send("RELOADING=1");
	cfg = daemon_load_config(d, err ? err : stderr, &nerrors);
	if (err != NULL)
		fclose(err);
	if (cfg == NULL) {
		d->reload_failures++;
		log_error("reload: %u error(s) in %s; the running configuration stays in force:\n%s",
		    nerrors, d->config_path ? d->config_path : "<demo>", errbuf ? errbuf : "");
		snprintf(msg, msglen, "%u error(s) in the new configuration, nothing changed: %s",
		    nerrors, errbuf ? errbuf : "");
		free(errbuf);
		sdnotify_send("READY=1");
		return false;
	}
	free(errbuf);
	if (strcmp(cfg->control_socket, d->cfg->control_socket) != 0)
		log_warn("reload: control_socket changed to %s; it takes effect at the next start",
		    cfg->control_socket);
	control_set_admin_group(d->ctl, cfg->admin_group);
	log_set_level(cfg->log_level);
	if (strcmp(cfg->state_dir, d->cfg->state_dir) != 0)
		log_warn("reload: state_dir changed to %s; it takes effect at the next start",
		    cfg->state_dir);
	/* The new monitor keeps unchanged members' health; services see it next. */
	mon = monitor_new(d->base, d->eng, cfg, d->mon, daemon_member_changed, d);
	monitor_free(d->mon);
	d->mon = mon;
	monitor_set_role_fn(mon, supervisor_primary, d->sup);
	supervisor_set_monitor(d->sup, mon);
	supervisor_reconf(d->sup, cfg);
	config_free(d->cfg);
	d->cfg = cfg;
	monitor_start(mon);
	d->reloads++;
	{
		char detail[128];

		snprintf(detail, sizeof(detail), "configuration re-read, %zu service(s)", cfg->n_services);
		supervisor_event(d->sup, NULL, "+reload", detail);
	}
	snprintf(msg, msglen, "configuration reloaded: %zu service(s)", cfg->n_services);
	sdnotify_send("READY=1");
	return true;
}

static json_t *
reply_ok(const char *message)
{
	json_t *o = json_object();

	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "message", json_string(message));
	return o;
}

static json_t *
daemon_switchover(struct daemon *d, const struct control_request *req)
{
	struct service *svc;
	const char *to = NULL;
	bool force = false;
	char msg[512];
	json_t *o;

	if (!req->privileged)
		return reply_error("permission denied: switchover needs root, the daemon's user or the admin group");
	for (size_t i = 2; i < req->argc; i++) {
		if (strcmp(req->argv[i], "--force") == 0)
			force = true;
		else if (to == NULL)
			to = req->argv[i];
		else
			to = "";
	}
	if (req->argc < 2 || (to != NULL && to[0] == '\0'))
		return reply_error("usage: switchover SERVICE [MEMBER] [--force]");
	svc = supervisor_find(d->sup, req->argv[1]);
	if (svc == NULL)
		return reply_error("no service named '%s'", req->argv[1]);
	if (!service_switchover(svc, to, force, msg, sizeof(msg)))
		return reply_error("%s", msg);
	o = reply_ok(msg);
	json_object_set_new(o, "service", json_string(req->argv[1]));
	json_object_set_new(o, "epoch", json_integer((json_int_t)service_epoch(svc)));
	json_object_set_new(o, "to", json_string(service_primary(svc)));
	return o;
}

static json_t *
daemon_maintenance(struct daemon *d, const struct control_request *req)
{
	struct service *svc;
	char msg[512];
	bool on;

	if (!req->privileged)
		return reply_error("permission denied: maintenance needs root, the daemon's user or the admin group");
	if (req->argc != 3 || (strcmp(req->argv[2], "on") != 0 && strcmp(req->argv[2], "off") != 0))
		return reply_error("usage: maintenance SERVICE on|off");
	svc = supervisor_find(d->sup, req->argv[1]);
	if (svc == NULL)
		return reply_error("no service named '%s'", req->argv[1]);
	on = strcmp(req->argv[2], "on") == 0;
	if (!service_maintenance(svc, on, msg, sizeof(msg)))
		return reply_error("%s", msg);
	return reply_ok(msg);
}

static json_t *
daemon_history(struct daemon *d, const struct control_request *req)
{
	const char *service = req->argc > 1 ? req->argv[1] : NULL;
	json_t *o;

	if (req->argc > 2)
		return reply_error("usage: history [SERVICE]");
	if (service != NULL && supervisor_find(d->sup, service) == NULL)
		return reply_error("no service named '%s'", service);
	o = json_object();
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "events", history_json(d->hist, service, 0));
	return o;
}

static json_t *
daemon_control(void *arg, const struct control_request *req)
{
	struct daemon *d = arg;
	const char *cmd = req->argc > 0 ? req->argv[0] : "";

	if (strcmp(cmd, "status") == 0)
		return daemon_status(d, req);
	if (strcmp(cmd, "reload") == 0) {
		char msg[1024];
		bool ok;
		json_t *o;

		if (!req->privileged)
			return reply_error("permission denied: reload needs root, the daemon's user or the admin group");
		if (req->argc != 1)
			return reply_error("usage: reload");
		ok = daemon_reload(d, msg, sizeof(msg));
		if (!ok)
			return reply_error("%s", msg);
		o = json_object();
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "message", json_string(msg));
		return o;
	}
	if (strcmp(cmd, "switchover") == 0)
		return daemon_switchover(d, req);
	if (strcmp(cmd, "maintenance") == 0)
		return daemon_maintenance(d, req);
	if (strcmp(cmd, "history") == 0)
		return daemon_history(d, req);
	return reply_error("unknown command '%.64s' (known: status, switchover, maintenance, history, reload)",
	    cmd);
}

static void
daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (sig == SIGHUP) {
		char msg[1024];

		log_notice("SIGHUP: reloading %s", d->config_path ? d->config_path : "the demo configuration");
		daemon_reload(d, msg, sizeof(msg));
		return;
	}
	log_notice("%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	sdnotify_send("STOPPING=1");
	event_base_loopexit(d->base, NULL);
}

/* Distrust a stalled loop: observe, but hold every automatic change. */
static void
daemon_tilt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = now_mono_us();
	uint64_t gap = now - d->tilt_last_us;

	d->tilt_last_us = now;
	if (gap > (TILT_CHECK_MS + TILT_THRESHOLD_MS) * 1000u) {
		char detail[160];

		d->tilt_until_us = now + TILT_HOLD_MS * 1000u;
		snprintf(detail, sizeof(detail),
		    "the event loop stalled for %llu ms; no automatic failover for %d s",
		    (unsigned long long)(gap / 1000u), TILT_HOLD_MS / 1000);
		log_error("%s", detail);
		supervisor_event(d->sup, NULL, "+tilt", detail);
		supervisor_hold(d->sup, d->tilt_until_us);
	} else if (d->tilt_until_us != 0 && now >= d->tilt_until_us) {
		d->tilt_until_us = 0;
		supervisor_event(d->sup, NULL, "-tilt", "the event loop is steady again; failover allowed");
	}
}

static void
daemon_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	sdnotify_send("WATCHDOG=1");
}

/* Each probe needs a descriptor while in flight; thousands may be. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the descriptor limit: %s", strerror(errno));
	}
}

static struct event *
daemon_signal(struct daemon *d, int sig)
{
	struct event *ev = evsignal_new(d->base, sig, daemon_signal_cb, d);

	if (ev == NULL || evsignal_add(ev, NULL) != 0)
		fatal("cannot handle signal %d", sig);
	return ev;
}

static int
daemon_run(struct daemon *d)
{
	char err[512];
	uint64_t wd;

	d->base = event_base_new();
	if (d->base == NULL)
		fatal("event_base_new failed");
	d->started_mono_us = now_mono_us();
	/* Before the socket appears: whoever sees it may signal us at once. */
	d->sig_term = daemon_signal(d, SIGTERM);
	d->sig_int = daemon_signal(d, SIGINT);
	d->sig_hup = daemon_signal(d, SIGHUP);
	d->procs = proc_table_new(d->base);
	d->eng = probe_engine_new(d->base, d->procs);
	d->ctl = control_new(d->base, d->cfg->control_socket, d->cfg->control_group,
	    d->cfg->admin_group, daemon_control, d, err, sizeof(err));
	if (d->ctl == NULL) {
		log_error("control socket: %s", err);
		probe_engine_free(d->eng);
		proc_table_free(d->procs);
		event_free(d->sig_term);
		event_free(d->sig_int);
		event_free(d->sig_hup);
		event_base_free(d->base);
		return 1;
	}
	d->hist = history_new(HISTORY_DEFAULT_SIZE);
	d->sup = supervisor_new(d->base, d->procs, d->cfg, d->hist);
	d->vips = vip_manager_new(d->base, daemon_vip_event, d);
	supervisor_set_vips(d->sup, d->vips);
	d->mon = monitor_new(d->base, d->eng, d->cfg, NULL, daemon_member_changed, d);
	monitor_set_role_fn(d->mon, supervisor_primary, d->sup);
	supervisor_set_monitor(d->sup, d->mon);
	monitor_start(d->mon);
	supervisor_start(d->sup);
	{
		struct timeval tv = us_to_tv(TILT_CHECK_MS * 1000u);

		d->tilt_last_us = now_mono_us();
		d->tilt = event_new(d->base, -1, EV_PERSIST, daemon_tilt_cb, d);
		event_add(d->tilt, &tv);
	}
	wd = sdnotify_watchdog_us();
	if (wd > 0) {
		struct timeval tv = us_to_tv(wd / 2);

		d->watchdog = event_new(d->base, -1, EV_PERSIST, daemon_watchdog_cb, d);
		event_add(d->watchdog, &tv);
	}
	log_notice("spofd %s started: node %s, %zu service(s), control socket %s",
	    PACKAGE_VERSION, d->cfg->node, d->cfg->n_services, d->cfg->control_socket);
	sdnotify_send("READY=1");

	if (event_base_dispatch(d->base) < 0) {
		log_error("event loop failed");
		d->exit_code = 1;
	}

	supervisor_shutdown(d->sup);
	monitor_free(d->mon);
	supervisor_free(d->sup);
	vip_manager_free(d->vips);
	history_free(d->hist);
	event_free(d->tilt);
	control_free(d->ctl);
	probe_engine_free(d->eng);
	proc_table_free(d->procs);
	if (d->watchdog != NULL)
		event_free(d->watchdog);
	event_free(d->sig_term);
	event_free(d->sig_int);
	event_free(d->sig_hup);
	event_base_free(d->base);
	log_notice("stopped");
	return d->exit_code;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "demo", required_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d;
	bool test_only = false;
	unsigned nerrors = 0;
	int c, rc;

	memset(&d, 0, sizeof(d));
	d.config_path = DEFAULT_CONFIG_PATH;
	while ((c = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'D':
			d.demo_dir = optarg;
			break;
		case 'V':
			printf("spofd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "spofd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (d.demo_dir != NULL) {
		d.config_path = NULL;
		if (mkdir(d.demo_dir, 0750) != 0 && errno != EEXIST) {
			fprintf(stderr, "spofd: cannot create %s: %s\n", d.demo_dir, strerror(errno));
			return 1;
		}
	}

	d.cfg = daemon_load_config(&d, stderr, &nerrors);
	if (d.cfg == NULL) {
		fprintf(stderr, "spofd: %u error(s) in %s\n", nerrors, d.config_path ? d.config_path : "<demo>");
		return 1;
	}
	if (test_only) {
		printf("%s: configuration ok (%zu service(s))\n", d.config_path ? d.config_path : "<demo>",
		    d.cfg->n_services);
		config_free(d.cfg);
		return 0;
	}

	/* journald adds its own time stamps and reads "<N>" priorities. */
	if (getenv("JOURNAL_STREAM") != NULL)
		log_set_syslog_prefix(true);
	else
		log_set_timestamps(true);
	log_set_level(d.cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	rc = daemon_run(&d);
	config_free(d.cfg);
	libevent_global_shutdown();
	return rc;
}
