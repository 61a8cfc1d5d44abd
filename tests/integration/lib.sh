# Shared helpers of the integration tests (sourced, POSIX sh + bash-isms avoided).
# Every test: source this, use start_testsrv / start_spofd, assert with
# wait_status (jq expressions over `spofctl status --json`).  Everything a
# test starts is killed by PID and its files removed on exit.

set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
SPOFD=$top_builddir/src/spofd
SPOFCTL=$top_builddir/src/spofctl
TESTSRV=$top_builddir/tests/testsrv
TEST_NAME=$(basename "$0" .sh)
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/spofd-test.XXXXXX")
SOCK=$TMPD/spofd.sock
PIDS=""

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.1
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	if [ -n "${KEEP_TMP:-}" ]; then echo "kept $TMPD"; else rm -rf "$TMPD"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	if [ -f "$TMPD/spofd.log" ]; then echo "--- spofd log (tail) ---" >&2; tail -n 40 "$TMPD/spofd.log" >&2; fi
	exit 1
}
skip() { echo "SKIP: $TEST_NAME: $*"; exit 77; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 not installed"; }
need jq

# start_testsrv NAME MODE: a backend of ours on 127.0.0.1 (port chosen by the
# kernel); sets PORT_<NAME> and PID_<NAME>.  See tests/testsrv.c for modes.
start_testsrv() {
	name=$1; mode=$2
	rm -f "$TMPD/ready.$name"
	"$TESTSRV" -r "$TMPD/ready.$name" "127.0.0.1:0=$mode" >>"$TMPD/testsrv.$name.log" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	i=0
	while [ ! -s "$TMPD/ready.$name" ]; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "testsrv $name did not start"
		kill -0 "$pid" 2>/dev/null || fail "testsrv $name exited: $(cat "$TMPD/testsrv.$name.log")"
		sleep 0.05
	done
	port=$(awk 'NR==1 {print $2}' "$TMPD/ready.$name")
	eval "PORT_$name=$port; PID_$name=$pid"
}

# stop_pid PID: kill one process we started and reap it.
stop_pid() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# start_spofd CONF [ARGS...]: run the daemon in the foreground of a
# background job, wait for its control socket; sets SPOFD_PID.
start_spofd() {
	conf=$1; shift
	rm -f "$SOCK"
	"$SPOFD" -c "$conf" "$@" >>"$TMPD/spofd.log" 2>&1 &
	SPOFD_PID=$!
	PIDS="$PIDS $SPOFD_PID"
	i=0
	while [ ! -S "$SOCK" ]; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "spofd did not open its control socket"
		kill -0 "$SPOFD_PID" 2>/dev/null || fail "spofd exited early"
		sleep 0.05
	done
}

status_json() { "$SPOFCTL" -s "$SOCK" status --json "$@"; }

# wait_status JQ_EXPR SECONDS [SERVICE]: poll until the expression is true.
wait_status() {
	expr=$1; secs=$2; shift 2
	end=$(( $(date +%s) + secs ))
	while :; do
		out=$(status_json "$@" 2>/dev/null)
		if [ -n "$out" ] && printf '%s' "$out" | jq -e "$expr" >/dev/null 2>&1; then return 0; fi
		[ "$(date +%s)" -ge "$end" ] && fail "timed out after ${secs}s waiting for: $expr; last status: $out"
		sleep 0.1
	done
}

# member_field SERVICE MEMBER FIELD: one field of one member from status.
member_field() {
	status_json | jq -r --arg s "$1" --arg m "$2" --arg f "$3" \
		'.services[] | select(.name == $s) | .members[] | select(.name == $m) | .[$f]'
}

# config_head: the [spofd] section every test config starts with.
config_head() {
	cat <<EOT
[spofd]
node = testnode
control_socket = $SOCK
state_dir = $TMPD/state
log_level = debug
EOT
}

# ---- failover, hooks, restart ----

# hook_user_line: the [spofd] line that lets hooks owned by the user running
# the tests pass the ownership check (root always may own them).
hook_user_line() { echo "hook_user = $(id -un)"; }

# write_hook NAME [BODY]: an executable /bin/sh hook at $TMPD/hooks/NAME
# (NAME may hold a subdirectory) that appends one line per run to
# $TMPD/hooks.log, then runs BODY:
#   EVENT|SERVICE|EPOCH|OLD_PRIMARY|NEW_PRIMARY|NEW_PRIMARY_ADDRESS|NODE|REASON
# Sets HOOK to its path.  Directories are 0755 and the file 0755: the
# daemon refuses hooks writable by group or others.
write_hook() {
	HOOK=$TMPD/hooks/$1
	wh_dir=$(dirname "$HOOK")
	mkdir -p "$wh_dir" && chmod 0755 "$TMPD/hooks" "$wh_dir" || fail "cannot create $wh_dir"
	{
		echo '#!/bin/sh'
		echo "echo \"\$SPOFD_EVENT|\$SPOFD_SERVICE|\$SPOFD_EPOCH|\$SPOFD_OLD_PRIMARY|\$SPOFD_NEW_PRIMARY|\$SPOFD_NEW_PRIMARY_ADDRESS|\$SPOFD_NODE|\$SPOFD_REASON\" >>'$TMPD/hooks.log'"
		printf '%s\n' "${2:-}"
	} >"$HOOK.tmp" || fail "cannot write $HOOK"
	chmod 0755 "$HOOK.tmp" && mv "$HOOK.tmp" "$HOOK" || fail "cannot install $HOOK"
}

# wait_file_line PATTERN FILE SECONDS: poll until FILE has a line matching
# PATTERN (a basic regular expression: '|' is literal).
wait_file_line() {
	wf_end=$(( $(date +%s) + $3 ))
	until grep -q -- "$1" "$2" 2>/dev/null; do
		[ "$(date +%s)" -ge "$wf_end" ] && fail "timed out after ${3}s waiting for '$1' in $(basename "$2")"
		sleep 0.1
	done
}

# count_lines PATTERN FILE: lines of FILE matching PATTERN (basic regex), 0 if none.
count_lines() {
	cl_n=$(grep -c -- "$1" "$2" 2>/dev/null)
	echo "${cl_n:-0}"
}

# line_no PATTERN FILE: number of the first line of FILE matching PATTERN (empty if none).
line_no() { grep -n -- "$1" "$2" 2>/dev/null | head -n 1 | cut -d: -f1; }

# start_testsrv_port NAME PORT MODE: like start_testsrv, on a given port
# (a backend brought back where it was).  Sets PORT_<NAME> and PID_<NAME>.
start_testsrv_port() {
	ts_name=$1; ts_port=$2; ts_mode=$3
	rm -f "$TMPD/ready.$ts_name"
	ts_try=0
	while :; do
		"$TESTSRV" -r "$TMPD/ready.$ts_name" "127.0.0.1:$ts_port=$ts_mode" >>"$TMPD/testsrv.$ts_name.log" 2>&1 &
		ts_pid=$!
		PIDS="$PIDS $ts_pid"
		ts_i=0
		while [ ! -s "$TMPD/ready.$ts_name" ] && kill -0 "$ts_pid" 2>/dev/null; do
			ts_i=$((ts_i + 1)); [ $ts_i -gt 100 ] && fail "testsrv $ts_name did not start on port $ts_port"
			sleep 0.05
		done
		[ -s "$TMPD/ready.$ts_name" ] && break
		# The port may linger for a moment after the old backend died.
		wait "$ts_pid" 2>/dev/null
		ts_try=$((ts_try + 1))
		[ $ts_try -gt 20 ] && fail "testsrv $ts_name cannot listen on port $ts_port: $(tail -n 3 "$TMPD/testsrv.$ts_name.log")"
		sleep 0.25
	done
	eval "PORT_$ts_name=$ts_port; PID_$ts_name=$ts_pid"
}

# stop_spofd: SIGTERM to the daemon, wait for it, require exit status 0 and
# no sanitizer report (ASan and LeakSanitizer write to its stderr).
stop_spofd() {
	kill -TERM "$SPOFD_PID" 2>/dev/null
	wait "$SPOFD_PID"; ss_rc=$?
	[ $ss_rc -eq 0 ] || fail "spofd exited $ss_rc after SIGTERM"
	! grep -q 'Sanitizer' "$TMPD/spofd.log" || fail "sanitizer report in the daemon's log"
}

# pid_alive PID: the process exists and is not a zombie waiting for a reaper.
pid_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	pa_state=$(sed -n 's/^[^)]*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ "$pa_state" != Z ]
}

# service_field SERVICE FIELD: one field of one service from status (jq -r).
service_field() {
	status_json | jq -r --arg s "$1" --arg f "$2" '.services[] | select(.name == $s) | .[$f]'
}
