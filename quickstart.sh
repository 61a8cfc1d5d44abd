#!/bin/bash
# spofd quick start, run as root from the source tree on Debian 12:
#
#   ./quickstart.sh demo   install what is missing, build, and watch spofd
#                          fail over when a backend dies (DEMO_HOLD=1 keeps
#                          it running)
#   ./quickstart.sh test   install what is missing, build, run the test suite,
#                          the sanitizer build's test suite and the man page lint
#                          (FULL=1 adds make distcheck)
set -euo pipefail

SRCDIR=$(cd "$(dirname "$0")" && pwd)
cd "$SRCDIR"

BUILD_DEPS="build-essential autoconf automake pkg-config libevent-dev
	libcurl4-openssl-dev libinih-dev libjansson-dev libpq-dev check ca-certificates"
# postgresql: the PostgreSQL tests make their own clusters with initdb
# (Debian's default cluster is not started: see policy-rc.d below).
TEST_DEPS="jq socat nginx-light mandoc procps iproute2 postgresql"

# The virtual IPs: libmnl for rtnetlink; their tests use ip (iproute2) and
# curl inside network namespaces.
BUILD_DEPS="$BUILD_DEPS libmnl-dev"
TEST_DEPS="$TEST_DEPS curl"

usage() {
	cat <<'EOF'
usage: ./quickstart.sh demo|test

  demo   install the build dependencies (Debian 12, as root), build in ./build,
         start three demo backends on 127.0.0.1:18081-18083 and spofd with its
         embedded demo configuration, kill the primary backend of "web" and
         show spofd fail over to the other one: status before and after, the
         hooks' output, the history.  DEMO_HOLD=1 keeps everything running
         until Ctrl-C.
  test   install the build and test dependencies, build in ./build and run
         `make check`, then the same in ./build-asan with ASan and UBSan, then
         lint the man pages.  FULL=1 also runs `make distcheck`.
         Ends with one line "N passed, N failed, N skipped".
EOF
}

say() { printf '==> %s\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

# ---- dependencies -------------------------------------------------------

missing_packages() {
	local p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || printf '%s ' "$p"
	done
}

# Packages that start a service in their postinst (nginx) must not start it
# here: it would listen on port 80 of this machine, and its install fails when
# that port is taken.  policy-rc.d answering 101 is Debian's way to say so.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
remove_policy_rc() {
	if [ "$POLICY_RC_OURS" = 1 ]; then
		rm -f "$POLICY_RC"
		POLICY_RC_OURS=0
	fi
}

install_packages() {
	local missing
	missing=$(missing_packages "$@")
	if [ -z "$missing" ]; then
		say "all needed packages are installed"
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "missing packages: $missing-- run as root to install them"
	command -v apt-get >/dev/null 2>&1 || die "missing packages: $missing-- and no apt-get here (Debian 12 expected)"
	say "installing: $missing"
	export DEBIAN_FRONTEND=noninteractive
	if [ ! -e "$POLICY_RC" ]; then
		trap remove_policy_rc EXIT
		printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
		chmod 755 "$POLICY_RC"
		POLICY_RC_OURS=1
	fi
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
	remove_policy_rc
	trap - EXIT
}

# ---- build --------------------------------------------------------------

bootstrap() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ] \
	    || [ ! -f Makefile.in ] || [ Makefile.am -nt Makefile.in ]; then
		say "autoreconf -fi"
		autoreconf -fi
	fi
}

# configure_in DIR ARGS...: configure DIR (VPATH) unless it already is with
# exactly these arguments.
configure_in() {
	local dir=$1; shift
	local want have
	want=$(printf "'%s' " "$@")
	mkdir -p "$dir"
	if [ -f "$dir/Makefile" ] && [ -x "$dir/config.status" ] && [ "$dir/config.status" -nt configure ]; then
		have=$(cd "$dir" && ./config.status --config)
		if [ "$have " = "$want" ] || { [ $# = 0 ] && [ -z "$have" ]; }; then
			return 0
		fi
	fi
	say "configuring $dir: ../configure $*"
	(cd "$dir" && ../configure "$@")
}

build_in() {
	local dir=$1; shift
	configure_in "$dir" "$@"
	say "building in $dir"
	make -C "$dir" -j"$(nproc)"
	make -C "$dir" tests/testsrv
}

# ---- demo ---------------------------------------------------------------

DEMO_DIR=""
DEMO_PIDS=""

demo_cleanup() {
	local p
	trap - EXIT INT TERM
	for p in $DEMO_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $DEMO_PIDS; do wait "$p" 2>/dev/null || true; done
	if [ -n "$DEMO_DIR" ]; then rm -rf "$DEMO_DIR"; fi
}

# start_backend NAME ADDR:PORT MODE: one test backend per process, so that
# one of them can be killed; sets BACKEND_PID.
start_backend() {
	local name=$1 addr=$2 mode=$3 pid i=0
	build/tests/testsrv -r "$DEMO_DIR/ready.$name" "$addr=$mode" >>"$DEMO_DIR/$name.log" 2>&1 &
	pid=$!
	DEMO_PIDS="$DEMO_PIDS $pid"
	while [ ! -s "$DEMO_DIR/ready.$name" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$DEMO_DIR/$name.log" >&2
			die "backend $name ($addr) did not start -- is the port taken?"
		fi
		i=$((i + 1))
		[ $i -le 100 ] || die "backend $name ($addr) not ready after 10 s"
		sleep 0.1
	done
	BACKEND_PID=$pid
	say "backend $name on $addr ($mode), pid $pid"
}

show_log() {
	sed 's/^/    spofd| /'
}

# web_settled_on MEMBER: true once `spofctl status web --json` says that
# MEMBER is web's primary and the role change is over: the state is ok and
# no hook runs or waits (so on_change has had its say too).  Read with grep
# only: no jq on a minimal machine.
web_settled_on() {
	local json
	json=$(build/src/spofctl -s "$DEMO_DIR/spofd.sock" status web --json 2>/dev/null) || true
	grep -q "\"primary\": \"$1\"" <<<"$json" \
	    && grep -q '"state": "ok"' <<<"$json" \
	    && grep -q '"hook_running": false' <<<"$json" \
	    && grep -q '"hooks_waiting": 0' <<<"$json"
}

run_demo() {
	local spofctl="build/src/spofctl -s" i mark rc web1_pid
	DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/spofd-demo.XXXXXX")
	trap demo_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	echo
	say "demo in $DEMO_DIR"
	start_backend web1 127.0.0.1:18081 http
	web1_pid=$BACKEND_PID
	start_backend web2 127.0.0.1:18082 http
	start_backend cache1 127.0.0.1:18083 echo

	say "starting: build/src/spofd --demo $DEMO_DIR (log: $DEMO_DIR/spofd.log)"
	say "its hooks, in $DEMO_DIR/hooks, only say what a real hook would do"
	build/src/spofd --demo "$DEMO_DIR" >>"$DEMO_DIR/spofd.log" 2>&1 &
	DEMO_PIDS="$DEMO_PIDS $!"
	local spofd_pid=$!

	say "waiting until every service has its primary and every member is up (spofctl status exits 0)"
	i=0
	until $spofctl "$DEMO_DIR/spofd.sock" status >/dev/null 2>&1; do
		if ! kill -0 "$spofd_pid" 2>/dev/null; then
			show_log <"$DEMO_DIR/spofd.log" >&2
			die "spofd exited"
		fi
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			show_log <"$DEMO_DIR/spofd.log" >&2
			$spofctl "$DEMO_DIR/spofd.sock" status >&2 || true
			die "no healthy primary after 20 s"
		fi
		sleep 0.1
	done
	# The first election's on_change may still be on its way to the log.
	i=0
	until web_settled_on web1 || [ $i -ge 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	show_log <"$DEMO_DIR/spofd.log"
	echo
	say "spofctl -s $DEMO_DIR/spofd.sock status"
	$spofctl "$DEMO_DIR/spofd.sock" status
	echo

	mark=$(wc -l <"$DEMO_DIR/spofd.log")
	say "killing web1, the primary of web (pid $web1_pid)"
	kill -KILL "$web1_pid"
	wait "$web1_pid" 2>/dev/null || true
	DEMO_PIDS=${DEMO_PIDS/ $web1_pid/}

	say "waiting until web2 is web's primary (fall 2 x 500 ms, then the hooks)"
	i=0
	until web_settled_on web2; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			show_log <"$DEMO_DIR/spofd.log" >&2
			$spofctl "$DEMO_DIR/spofd.sock" status web >&2 || true
			die "web did not fail over to web2 within 20 s"
		fi
		sleep 0.1
	done
	echo
	say "spofd's log since the kill: the events and what the hooks printed"
	tail -n +"$((mark + 1))" "$DEMO_DIR/spofd.log" \
	    | grep -E '[+-]sdown|\+failover-start|\+demoted|\+demote-failed|\+promoted|\+promote-failed|hook web on_' \
	    | show_log || true
	echo
	say "spofctl -s $DEMO_DIR/spofd.sock status"
	rc=0
	$spofctl "$DEMO_DIR/spofd.sock" status || rc=$?
	say "spofctl exited $rc (0: healthy, 1: degraded -- here web1 is down, 2: failed or no answer)"
	echo
	say "spofctl -s $DEMO_DIR/spofd.sock history web"
	$spofctl "$DEMO_DIR/spofd.sock" history web
	echo

	if [ "${DEMO_HOLD:-0}" = 1 ]; then
		cat <<EOF
==> still running; press Ctrl-C to stop everything.  Meanwhile, in another shell:
      $SRCDIR/build/src/spofctl -s $DEMO_DIR/spofd.sock status
      $SRCDIR/build/src/spofctl -s $DEMO_DIR/spofd.sock status web --json
      $SRCDIR/build/tests/testsrv 127.0.0.1:18081=http        # web1 back (stays a standby: failback = manual)
      $SRCDIR/build/src/spofctl -s $DEMO_DIR/spofd.sock switchover web --to web1
      $SRCDIR/build/src/spofctl -s $DEMO_DIR/spofd.sock maintenance web on
      $SRCDIR/build/src/spofctl -s $DEMO_DIR/spofd.sock history
      kill -HUP $spofd_pid                                  # reload
    spofd's log: $DEMO_DIR/spofd.log
EOF
		# tail stops by itself once spofd is gone.
		tail -n 0 --pid="$spofd_pid" -f "$DEMO_DIR/spofd.log" | show_log &
		DEMO_PIDS="$DEMO_PIDS $!"
		wait "$spofd_pid" || true
		say "spofd exited"
	else
		say "done (DEMO_HOLD=1 ./quickstart.sh demo keeps it running); stopping everything"
	fi
}

# ---- test ---------------------------------------------------------------

PASSED=0
FAILED=0
SKIPPED=0
FAILED_STEPS=""

# count_log FILE: add automake's summary counts of a test-suite.log.
count_log() {
	local f=$1 n key
	for key in PASS XFAIL FAIL XPASS ERROR SKIP; do
		n=$(sed -nE "s/^# $key: +([0-9]+)\$/\\1/p" "$f" | head -n 1)
		n=${n:-0}
		case $key in
		PASS | XFAIL) PASSED=$((PASSED + n)) ;;
		FAIL | XPASS | ERROR) FAILED=$((FAILED + n)) ;;
		SKIP) SKIPPED=$((SKIPPED + n)) ;;
		esac
	done
}

step_failed() {
	FAILED_STEPS="$FAILED_STEPS
  $1"
}

# check_in DIR: make check in a configured DIR, print the log on failure.
check_in() {
	local dir=$1 rc=0
	rm -f "$dir/test-suite.log"
	say "make -j2 check in $dir"
	make -C "$dir" -j2 check || rc=$?
	if [ -f "$dir/test-suite.log" ]; then
		count_log "$dir/test-suite.log"
		if [ $rc != 0 ]; then
			say "$dir/test-suite.log:"
			cat "$dir/test-suite.log"
			step_failed "make check in $dir"
		fi
	elif [ $rc != 0 ]; then
		# No test ran: the build itself broke.
		FAILED=$((FAILED + 1))
		step_failed "make check in $dir (no test-suite.log: build failure)"
	fi
}

run_test() {
	local rc
	configure_in build --enable-werror
	say "building in build"
	rc=0
	make -C build -j2 || rc=$?
	if [ $rc != 0 ]; then
		FAILED=$((FAILED + 1))
		step_failed "build in build"
	else
		check_in build
	fi

	if [ "${FULL:-0}" = 1 ]; then
		say "make distcheck in build"
		rc=0
		make -C build distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror || rc=$?
		if [ $rc != 0 ]; then
			FAILED=$((FAILED + 1))
			step_failed "make distcheck"
		fi
	fi

	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	configure_in build-asan --enable-sanitizers --enable-werror
	check_in build-asan

	say "make lint-man"
	rc=0
	make -C build lint-man || rc=$?
	if [ $rc != 0 ]; then
		FAILED=$((FAILED + 1))
		step_failed "make lint-man"
	fi

	echo
	if [ -n "$FAILED_STEPS" ]; then
		echo "failed:$FAILED_STEPS"
	fi
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" = 0 ] && [ -z "$FAILED_STEPS" ]
}

# ---- main ---------------------------------------------------------------

case "${1:-}" in
demo)
	# shellcheck disable=SC2086
	install_packages $BUILD_DEPS
	bootstrap
	build_in build
	run_demo
	;;
test)
	# shellcheck disable=SC2086
	install_packages $BUILD_DEPS $TEST_DEPS
	bootstrap
	run_test
	;;
"" | -h | --help | help)
	usage
	;;
*)
	usage >&2
	exit 2
	;;
esac
