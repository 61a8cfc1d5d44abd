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
