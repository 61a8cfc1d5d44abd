#include "autoconf.h"

#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "probe_testlib.h"
#include "util.h"

void
done_cb(void *arg, const struct probe_outcome *o)
{
	struct result *r = arg;

	r->calls++;
	r->o = *o;
}

void
testlib_run_until(struct event_base *base, struct result *r, unsigned secs)
{
	uint64_t end = now_mono_us() + secs * 1000000ull;

	while (r->calls == 0 && now_mono_us() < end)
		event_base_loop(base, EVLOOP_ONCE);
}

void
testlib_run_one(struct event_base *base, struct probe_engine *eng, const struct service_conf *svc,
    const struct member_conf *mem, struct result *r, unsigned secs)
{
	struct probe *p = probe_new(eng, svc, mem, done_cb, r);

	memset(r, 0, sizeof(*r));
	probe_start(p);
	ck_assert_int_eq(r->calls, 0); /* never from inside probe_start */
	testlib_run_until(base, r, secs);
	ck_assert_int_eq(r->calls, 1);
	ck_assert(!probe_running(p));
	probe_free(p);
}

pid_t
testlib_testsrv(const char *ready, const char *addr, const char *mode, char *port, size_t portlen)
{
	char spec[256];
	pid_t pid;
	FILE *f;

	snprintf(spec, sizeof(spec), "%s:0=%s", addr, mode);
	unlink(ready);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* A failed assertion ends the test process without teardown: take the server along. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl(TEST_BUILDDIR "/testsrv", "testsrv", "-r", ready, spec, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 250; i++) {
		struct stat st;

		if (stat(ready, &st) == 0 && st.st_size > 0)
			break;
		ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
		usleep(20000);
	}
	f = fopen(ready, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_ge(portlen, 16);
	ck_assert_int_eq(fscanf(f, "%*s %15s", port), 1);
	fclose(f);
	return pid;
}

void
testlib_closed_port(char *port, size_t portlen)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(port, portlen, "%u", ntohs(sin.sin_port));
	close(fd);
}
