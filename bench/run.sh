#!/bin/bash
# spofd benchmark: health checks at scale (spofd, HAProxy, keepalived's
# checker) and one-node failover latency (spofd, keepalived VRRP).
# See bench/README.md.  Run as root from anywhere:
#
#   bench/run.sh                 full run (< 20 minutes), writes the report
#   QUICK=1 bench/run.sh         smoke run (about 2 minutes)
#   bench/run.sh case spofd tcp 10000     one measurement, printed
#
# Environment: BUILDDIR (where src/spofd was built; default: the source
# tree, then ../build*), RESULTS (default bench/results), RUNS, NS, WINDOW.
set -u
export LC_ALL=C

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$SRCDIR/bench
RESULTS=${RESULTS:-$BENCH/results}
QUICK=${QUICK:-0}
PORT=8080                 # the backend's port on every target address
INTERVAL_MS=1000          # check interval of every contender
CLK_TCK=$(getconf CLK_TCK)
TAG=spofb$$               # prefix of every namespace made here
WORK=$(mktemp -d "${TMPDIR:-/tmp}/spofd-bench.XXXXXX")
chmod 755 "$WORK"
PIDS=""                   # every process started here, killed by PID
NETNS=""                  # every namespace made here

if [ "$QUICK" = 1 ]; then
	: "${NS:=1000 10000}"; : "${RUNS:=1}"; : "${WINDOW:=4}"; : "${LWINDOW:=3}"; : "${WARM:=2}"
	: "${FO_RUNS:=5}"; : "${VRRP_RUNS:=3}"
else
	: "${NS:=1000 5000 10000}"; : "${RUNS:=3}"; : "${WINDOW:=10}"; : "${LWINDOW:=5}"; : "${WARM:=3}"
	: "${FO_RUNS:=20}"; : "${VRRP_RUNS:=10}"
fi
SMALL_N=100               # memory baseline: RSS per target = (RSS(N) - RSS(100)) / (N - 100)

log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
	local p n
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.2
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for n in $NETNS; do ip netns del "$n" 2>/dev/null; done
	[ -n "${KEEP_WORK:-}" ] && log "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# stop PID: TERM, then KILL after a bounded wait; reaped.
stop() {
	local p=$1 i=0
	kill -TERM "$p" 2>/dev/null
	while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	PIDS=$(echo " $PIDS " | sed "s/ $p / /")
	return 0
}

netns_new() {
	local ns=$TAG-$1
	ip netns add "$ns" || die "cannot create network namespace $ns"
	NETNS="$NETNS $ns"
	ip -n "$ns" link set lo up
	echo "$ns"
}

netns_del() {
	ip netns del "$1" 2>/dev/null
	NETNS=$(echo " $NETNS " | sed "s/ $1 / /")
}

# ---- tools ----

find_build() {
	local d
	for d in "${BUILDDIR:-}" "$SRCDIR" "$SRCDIR"/../build-bench "$SRCDIR"/../build*; do
		[ -n "$d" ] && [ -x "$d/src/spofd" ] && [ -x "$d/src/spofctl" ] && { (cd "$d" && pwd); return 0; }
	done
	return 1
}

setup_tools() {
	[ "$(id -u)" = 0 ] || die "run as root: it makes network namespaces"
	local need="" t
	for t in nginx:nginx haproxy:haproxy keepalived:keepalived jq:jq ip:iproute2 cc:gcc; do
		command -v "${t%%:*}" >/dev/null 2>&1 || need="$need ${t#*:}"
	done
	if [ -n "$need" ]; then
		log "installing:$need"
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null ||
			die "apt-get install$need failed"
	fi
	BUILD=$(find_build) || die "no build of spofd found: set BUILDDIR (configure and make first)"
	SPOFD=$BUILD/src/spofd
	SPOFCTL=$BUILD/src/spofctl
	TESTSRV=$BUILD/tests/testsrv
	[ -x "$TESTSRV" ] || (cd "$BUILD" && make tests/testsrv >/dev/null) || die "cannot build tests/testsrv"
	SYNSTAMP=$WORK/synstamp
	${CC:-cc} -O2 -o "$SYNSTAMP" "$BENCH/synstamp.c" || die "cannot build synstamp"
}

# ---- targets and contenders ----

# addr I: the I-th target (0-based), 127.1.A.B; the low 16 bits key it in synstamp.
addr() { echo "127.1.$(($1 / 250)).$(($1 % 250 + 1))"; }

start_nginx() { # NS DIR
	local ns=$1 dir=$2 i=0
	mkdir -p "$dir/nginx" && chmod 755 "$dir" "$dir/nginx"
	cat >"$dir/nginx/nginx.conf" <<EOT
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
master_process on;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log error;
events { worker_connections 16384; }
http {
	log_format b '\$msec \$server_addr \$status';
	access_log $dir/nginx/access.log b buffer=256k flush=1s;
	client_body_temp_path $dir/nginx/tmp;
	proxy_temp_path $dir/nginx/tmp;
	fastcgi_temp_path $dir/nginx/tmp;
	uwsgi_temp_path $dir/nginx/tmp;
	scgi_temp_path $dir/nginx/tmp;
	keepalive_timeout 5s;
	server {
		listen $PORT backlog=4096;
		location / { return 200 "ok\n"; }
	}
}
EOT
	ip netns exec "$ns" nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" 2>>"$dir/nginx/stderr" &
	NGINX_PID=$!
	PIDS="$PIDS $NGINX_PID"
	until ip netns exec "$ns" ss -Hltn "sport = :$PORT" | grep -q LISTEN; do
		i=$((i + 1)); [ $i -gt 100 ] && die "nginx did not start: $(cat "$dir/nginx/stderr")"
		sleep 0.05
	done
}

conf_spofd() { # TYPE N DIR
	local type=$1 n=$2 dir=$3 i
	cat <<EOT
[spofd]
node = bench
control_socket = $dir/spofd.sock
state_dir = $dir/state
log_level = notice

[service s]
check = $type
interval = ${INTERVAL_MS}ms
timeout = ${INTERVAL_MS}ms
rise = 2
fall = 3
EOT
	[ "$type" = http ] && printf 'http_path = /\n'
	for ((i = 0; i < n; i++)); do
		printf '[member s/m%d]\naddress = %s:%d\n' "$i" "$(addr $i)" "$PORT"
	done
}

conf_haproxy() { # TYPE N
	local type=$1 n=$2 i
	cat <<EOT
global
	nbthread 1
	maxconn 4000
defaults
	mode tcp
	timeout connect ${INTERVAL_MS}ms
	timeout check ${INTERVAL_MS}ms
	timeout client 10s
	timeout server 10s
# HAProxy refuses to start without a listener; nothing connects to it.
frontend f
	bind 127.0.0.1:9
	default_backend b
backend b
EOT
	[ "$type" = http ] && printf '\toption httpchk GET /\n'
	printf '\tdefault-server check inter %dms rise 2 fall 3\n' "$INTERVAL_MS"
	for ((i = 0; i < n; i++)); do
		printf '\tserver m%d %s:%d\n' "$i" "$(addr $i)" "$PORT"
	done
}

# start_contender WHO TYPE N NS DIR: sets CPID (the daemon's PID) and T_EXEC_NS.
start_contender() {
	local who=$1 type=$2 n=$3 ns=$4 dir=$5
	case $who in
	spofd)
		conf_spofd "$type" "$n" "$dir" >"$dir/spofd.conf"
		mkdir -p "$dir/state"
		T_EXEC_NS=$(date +%s%N)
		ip netns exec "$ns" "$SPOFD" -c "$dir/spofd.conf" >"$dir/spofd.log" 2>&1 &
		CPID=$!
		;;
	haproxy)
		conf_haproxy "$type" "$n" >"$dir/haproxy.cfg"
		T_EXEC_NS=$(date +%s%N)
		ip netns exec "$ns" haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
		CPID=$!
		;;
	*) die "unknown contender $who" ;;
	esac
	PIDS="$PIDS $CPID"
}

# cpu_ticks PID: utime+stime of all its threads, in clock ticks.
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13, $12, $13 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# tcp_opens NS: "ActiveOpens PassiveOpens" of the namespace.
tcp_opens() {
	ip netns exec "$1" awk '/^Tcp:/ { if (h) { print $6, $7; exit } h = 1 }' /proc/net/snmp
}

# spofd_counts SOCK: "members checked_at_least_once up"
spofd_counts() {
	"$SPOFCTL" -s "$1" status --json 2>/dev/null | jq -r \
	    '[.services[].members[]] | "\(length) \([.[] | select(.checks > 0)] | length) \([.[] | select(.health == "up")] | length)"'
}

# measure WHO TYPE N: one run; prints key=value pairs on one line.
measure() {
	local who=$1 type=$2 n=$3 ns dir out i t0 t1 c0 c1 o0 o1 syn rss ticks_u ticks_s
	local ready_ms="" up_ms="" warm_end
	ns=$(netns_new "$who-$type-$n-$RANDOM")
	dir=$WORK/$ns
	mkdir -p "$dir"
	start_nginx "$ns" "$dir"
	start_contender "$who" "$type" "$n" "$ns" "$dir"
	sleep 0.05
	kill -0 "$CPID" 2>/dev/null || die "$who exited at start: $(tail -5 "$dir/$who.log")"
	# Warm up: spofd tells when all members are checked and up; the others
	# get the same time bounds (every target checked at least once in one
	# interval, rise 2 needs two).
	warm_end=$(( $(date +%s) + 15 ))
	if [ "$who" = spofd ]; then
		until grep -q ' started: ' "$dir/spofd.log"; do
			[ "$(date +%s)" -ge "$warm_end" ] && break; sleep 0.005
		done
		ready_ms=$(( ($(date +%s%N) - T_EXEC_NS) / 1000000 ))
		# Every member's first "+up" is logged: counting them costs the
		# daemon nothing (a status request for 10000 members would, and
		# would leave its garbage in the RSS measured below).
		while [ "$(grep -c ' +up ' "$dir/spofd.log")" -lt "$n" ]; do
			[ "$(date +%s)" -ge "$warm_end" ] && break
			sleep 0.02
		done
		[ "$(grep -c ' +up ' "$dir/spofd.log")" -ge "$n" ] && up_ms=$(( ($(date +%s%N) - T_EXEC_NS) / 1000000 ))
	else
		sleep $(( 2 * INTERVAL_MS / 1000 + 1 ))
	fi
	sleep "$WARM"
	kill -0 "$CPID" 2>/dev/null || die "$who died: $(tail -5 "$dir/$who.log")"
	# The CPU window: nothing else of ours runs (a packet tap would bill
	# its copies to the sender, the daemon).
	read -r c0 u0 s0 <<<"$(cpu_ticks "$CPID")"
	read -r o0 p0 <<<"$(tcp_opens "$ns")"
	t0=$(date +%s.%N)
	if [ -n "${PERF:-}" ]; then
		perf record -q -e cpu-clock -F 2000 -g -p "$CPID" -o "$PERF" -- sleep "$WINDOW" >/dev/null 2>&1
	else
		sleep "$WINDOW"
	fi
	read -r c1 ticks_u ticks_s <<<"$(cpu_ticks "$CPID")"
	read -r o1 p1 <<<"$(tcp_opens "$ns")"
	t1=$(date +%s.%N)
	rss=$(rss_kib "$CPID")
	# The lateness window, right after: SYN arrival times per target.
	ip netns exec "$ns" "$SYNSTAMP" -p "$PORT" -i "$INTERVAL_MS" -d "$LWINDOW" >"$dir/syn.out" 2>&1
	local stats=""
	[ "$who" = spofd ] && stats=$("$SPOFCTL" -s "$dir/spofd.sock" status --json 2>/dev/null | jq -c .stats)
	stop "$CPID"
	stop "$NGINX_PID"
	local logged
	logged=$(awk -v a="$t0" -v b="$t1" '$1 >= a && $1 < b && $3 == 200 { n++ } END { print n + 0 }' "$dir/nginx/access.log")
	local received
	if [ "$type" = http ]; then received=$logged; else received=$((o1 - o0)); fi
	local secs
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	local cpu_us=$(( (c1 - c0) * 1000000 / CLK_TCK ))
	printf 'who=%s type=%s n=%d window_s=%s cpu_us=%d ticks=%d utime=%d stime=%d received=%d connects=%d accepted=%d logged=%d us_per_check=%s rss_kib=%d ready_ms=%s up_ms=%s %s stats=%s\n' \
	    "$who" "$type" "$n" "$secs" "$cpu_us" "$((c1 - c0))" "$((ticks_u - u0))" "$((ticks_s - s0))" "$received" "$((o1 - o0))" "$((p1 - p0))" "$logged" \
	    "$(awk -v c="$cpu_us" -v r="$received" 'BEGIN { if (r > 0) printf "%.2f", c / r; else print "nan" }')" \
	    "$rss" "${ready_ms:-}" "${up_ms:-}" "$(grep -v ready "$dir/syn.out" | tr -d '\n')" "${stats:-}"
	netns_del "$ns"
}

main() {
	setup_tools
	case "${1:-}" in
	case)
		shift
		measure "$@"
		;;
	*)
		full_run
		;;
	esac
}

main "$@"
