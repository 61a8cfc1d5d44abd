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
	: "${NS:=1000 10000}"; : "${RUNS:=1}"; : "${WINDOW:=3}"; : "${LWINDOW:=2}"; : "${WARM:=1}"
	: "${FO_RUNS:=5}"; : "${FO_RUNS_SLOW:=2}"; : "${VRRP_RUNS:=2}"; : "${FO_VIP_RUNS:=3}"
else
	: "${NS:=1000 5000 10000}"; : "${RUNS:=3}"; : "${WINDOW:=8}"; : "${LWINDOW:=4}"; : "${WARM:=2}"
	: "${FO_RUNS:=20}"; : "${FO_RUNS_SLOW:=10}"; : "${VRRP_RUNS:=10}"; : "${FO_VIP_RUNS:=10}"
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
	if [ -n "${SHORT:-}" ]; then
		# The memory baseline: only the RSS once warm.
		printf 'who=%s type=%s n=%d rss_kib=%d\n' "$who" "$type" "$n" "$(rss_kib "$CPID")"
		stop "$CPID"; stop "$NGINX_PID"; netns_del "$ns"
		return 0
	fi
	# The CPU window: nothing else of ours runs (a packet tap would bill
	# its copies to the sender, the daemon).
	read -r c0 u0 s0 <<<"$(cpu_ticks "$CPID")"
	read -r _ q0 _ <"/proc/$CPID/schedstat"
	read -r o0 p0 <<<"$(tcp_opens "$ns")"
	t0=$(date +%s.%N)
	if [ -n "${PERF:-}" ]; then
		perf record -q -e cpu-clock -F 2000 -g -p "$CPID" -o "$PERF" -- sleep "$WINDOW" >/dev/null 2>&1
	else
		sleep "$WINDOW"
	fi
	read -r c1 ticks_u ticks_s <<<"$(cpu_ticks "$CPID")"
	read -r _ q1 _ <"/proc/$CPID/schedstat"
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
	printf 'who=%s type=%s n=%d window_s=%s cpu_us=%d ticks=%d utime=%d stime=%d received=%d connects=%d accepted=%d logged=%d us_per_check=%s runq_wait_ms=%d rss_kib=%d ready_ms=%s up_ms=%s %s stats=%s\n' \
	    "$who" "$type" "$n" "$secs" "$cpu_us" "$((c1 - c0))" "$((ticks_u - u0))" "$((ticks_s - s0))" "$received" "$((o1 - o0))" "$((p1 - p0))" "$logged" \
	    "$(awk -v c="$cpu_us" -v r="$received" 'BEGIN { if (r > 0) printf "%.2f", c / r; else print "nan" }')" \
	    "$(( (q1 - q0) / 1000000 ))" "$rss" "${ready_ms:-}" "${up_ms:-}" "$(grep -v ready "$dir/syn.out" | tr -d '\n')" "${stats:-}"
	netns_del "$ns"
}

# ---- failover: spofd ----

# fo_spofd INTERVAL_MS FALL RUNS: kill the primary's backend RUNS times;
# one line per run: "latency_ms overhead_ms" (kill -> on_promote start;
# +sdown logged -> on_promote start).
fo_spofd() {
	local ims=$1 fall=$2 runs=$3 ns dir i prim pa pb tk th ts n0 port
	ns=$(netns_new "fo-$ims")
	dir=$WORK/$ns
	mkdir -p "$dir/state" "$dir/hooks"
	chmod 755 "$dir" "$dir/hooks"
	printf '#!/bin/sh\ndate +%%s%%N >>%s/promoted\n' "$dir" >"$dir/hooks/promote"
	chmod 755 "$dir/hooks/promote"
	: >"$dir/promoted"
	# backend NAME PORT: a testsrv of ours; sets BPID_NAME.
	backend() {
		ip netns exec "$ns" "$TESTSRV" "127.0.0.1:$2=http" >>"$dir/testsrv.log" 2>&1 &
		eval "BPID_$1=$!"
		PIDS="$PIDS $!"
		local j=0
		until ip netns exec "$ns" ss -Hltn "sport = :$2" | grep -q LISTEN; do
			j=$((j + 1)); [ $j -gt 100 ] && die "testsrv did not start"; sleep 0.02
		done
	}
	backend a 9001
	backend b 9002
	cat >"$dir/spofd.conf" <<EOT
[spofd]
node = bench
control_socket = $dir/spofd.sock
state_dir = $dir/state
log_level = notice

[service fo]
check = tcp
interval = ${ims}ms
timeout = ${ims}ms
rise = 2
fall = $fall
failback = manual
failover_cooldown = 0ms
on_promote = $dir/hooks/promote

[member fo/a]
address = 127.0.0.1:9001
priority = 100

[member fo/b]
address = 127.0.0.1:9002
priority = 90
EOT
	ip netns exec "$ns" "$SPOFD" -c "$dir/spofd.conf" >"$dir/spofd.log" 2>&1 &
	local spid=$!
	PIDS="$PIDS $spid"
	st() { "$SPOFCTL" -s "$dir/spofd.sock" status --json 2>/dev/null; }
	waitfor() { # JQ SECONDS
		local end=$(( $(date +%s) + $2 ))
		until st | jq -e "$1" >/dev/null 2>&1; do
			[ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.05
		done
	}
	waitfor '.services[0].state == "ok" and .services[0].primary != null and ([.services[0].members[] | select(.health == "up")] | length) == 2' 30 ||
		die "failover bench: no primary elected"
	i=0; until [ -s "$dir/promoted" ] || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done
	sleep 0.5
	for ((i = 0; i < runs; i++)); do
		prim=$(st | jq -r '.services[0].primary')
		n0=$(wc -l <"$dir/promoted")
		case $prim in
		a) pa=$BPID_a; port=9001 ;;
		b) pa=$BPID_b; port=9002 ;;
		*) die "failover bench: no primary before run $i" ;;
		esac
		sleep "0.$((RANDOM % 10))" # a random phase against the check schedule
		tk=$(date +%s%N)
		kill -KILL "$pa"
		wait "$pa" 2>/dev/null
		local end=$(( $(date +%s) + 15 ))
		while [ "$(wc -l <"$dir/promoted")" -le "$n0" ]; do
			[ "$(date +%s)" -ge "$end" ] && die "failover bench: no promotion after killing $prim"
			sleep 0.01
		done
		th=$(tail -1 "$dir/promoted")
		# +sdown of the killed primary, as logged (millisecond stamps, UTC).
		ts=$(grep " +sdown fo/$prim:" "$dir/spofd.log" | tail -1 | awk '{print $1}')
		ts=$(date -u -d "${ts/T/ }" +%s%N 2>/dev/null || echo 0)
		echo "$(( (th - tk) / 1000 )) $(( ts > 0 ? (th - ts) / 1000 : -1 )) $prim"
		backend "$prim" "$port"
		waitfor ".services[0].state == \"ok\" and .services[0].primary != null and ([.services[0].members[] | select(.health == \"up\")] | length) == 2" 30 ||
			die "failover bench: $prim did not come back"
	done
	stop "$spid"
	stop "$BPID_a"; stop "$BPID_b"
	netns_del "$ns"
}

# ---- failover: time to the VIP ----

# fo_vip INTERVAL_MS FALL RUNS: one spofd (node n1) in a namespace of its
# own with a veth pair (e0, e1; 192.0.2.1/24 on e0, a documentation
# range), service fo with VIP 192.0.2.100/24 dev e0.  Member a (priority
# 100) is on another node, b (90) on n1: a is primary, the VIP is not
# here; killing a's backend makes b primary and spofd adds the VIP.
# failback = auto with failback_delay = 0ms hands the role back to a once
# its backend is up again, which removes the VIP for the next run.  The
# VIP's arrival is taken from `ip -ts monitor address` (the time the
# monitor read the kernel's RTM_NEWADDR, microsecond stamps), started
# before the kill.  One line per run: "latency_us hook_us" (kill -> VIP
# present; kill -> on_promote start).
fo_vip() {
	local ims=$1 fall=$2 runs=$3 ns dir i tk tv th n0 mpid vip=192.0.2.100
	ns=$(netns_new "vip-$ims")
	dir=$WORK/$ns
	mkdir -p "$dir/state" "$dir/hooks"
	chmod 755 "$dir" "$dir/hooks"
	printf '#!/bin/sh\ndate +%%s%%N >>%s/promoted\n' "$dir" >"$dir/hooks/promote"
	chmod 755 "$dir/hooks/promote"
	: >"$dir/promoted"
	ip -n "$ns" link add e0 type veth peer name e1 || die "vip bench: no veth support"
	ip -n "$ns" link set e0 up && ip -n "$ns" link set e1 up &&
		ip -n "$ns" addr add 192.0.2.1/24 dev e0 || die "vip bench: cannot set up e0"
	vbackend() { # NAME PORT: a testsrv of ours; sets VPID_NAME.
		ip netns exec "$ns" "$TESTSRV" "127.0.0.1:$2=http" >>"$dir/testsrv.log" 2>&1 &
		eval "VPID_$1=$!"
		PIDS="$PIDS $!"
		local j=0
		until ip netns exec "$ns" ss -Hltn "sport = :$2" | grep -q LISTEN; do
			j=$((j + 1)); [ $j -gt 100 ] && die "testsrv did not start"; sleep 0.02
		done
	}
	vbackend a 9001
	vbackend b 9002
	cat >"$dir/spofd.conf" <<EOT
[spofd]
node = n1
control_socket = $dir/spofd.sock
state_dir = $dir/state
log_level = notice

[service fo]
check = tcp
interval = ${ims}ms
timeout = ${ims}ms
rise = 2
fall = $fall
failback = auto
failback_delay = 0ms
failover_cooldown = 0ms
on_promote = $dir/hooks/promote
vip = $vip/24 dev e0

[member fo/a]
address = 127.0.0.1:9001
node = other
priority = 100

[member fo/b]
address = 127.0.0.1:9002
node = n1
priority = 90
EOT
	ip netns exec "$ns" "$SPOFD" -c "$dir/spofd.conf" >"$dir/spofd.log" 2>&1 &
	local spid=$!
	PIDS="$PIDS $spid"
	vst() { "$SPOFCTL" -s "$dir/spofd.sock" status --json 2>/dev/null; }
	vwait() { # JQ SECONDS
		local end=$(( $(date +%s) + $2 ))
		until vst | jq -e "$1" >/dev/null 2>&1; do
			[ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.05
		done
	}
	has_vip() { ip -n "$ns" addr show dev e0 | grep -q "inet $vip/"; }
	local ready='.services[0].state == "ok" and .services[0].primary == "a" and ([.services[0].members[] | select(.health == "up")] | length) == 2'
	for ((i = 0; i < runs; i++)); do
		vwait "$ready" 30 || die "vip bench: a not primary with both up before run $i: $(vst)"
		has_vip && die "vip bench: $vip on n1 while a (not on n1) is primary"
		sleep 0.3
		n0=$(wc -l <"$dir/promoted")
		ip -n "$ns" -ts monitor address >"$dir/mon.$i" 2>&1 &
		mpid=$!
		PIDS="$PIDS $mpid"
		sleep 0.2 # the monitor is listening
		sleep "0.$((RANDOM % 10))" # a random phase against the check schedule
		tk=$(date +%s%N)
		kill -KILL "$VPID_a"
		wait "$VPID_a" 2>/dev/null
		local end=$(( $(date +%s) + 15 ))
		until grep -q "inet $vip/" "$dir/mon.$i"; do
			[ "$(date +%s)" -ge "$end" ] && die "vip bench: $vip did not arrive after killing a"
			sleep 0.01
		done
		while [ "$(wc -l <"$dir/promoted")" -le "$n0" ]; do
			[ "$(date +%s)" -ge "$end" ] && die "vip bench: no on_promote after killing a"
			sleep 0.01
		done
		stop "$mpid"
		tv=$(grep -v Deleted "$dir/mon.$i" | grep -m1 "inet $vip/" | sed 's/^\[\([^]]*\)\].*/\1/')
		tv=$(date -d "${tv/T/ }" +%s%N) || die "vip bench: cannot read the monitor's stamp '$tv'"
		th=$(tail -1 "$dir/promoted")
		echo "$(( (tv - tk) / 1000 )) $(( (th - tk) / 1000 ))"
		vbackend a 9001 # a comes back: failback to a, the VIP leaves n1
		local end2=$(( $(date +%s) + 30 ))
		while has_vip; do
			[ "$(date +%s)" -ge "$end2" ] && die "vip bench: $vip stayed after a came back"
			sleep 0.05
		done
	done
	stop "$spid"
	stop "$VPID_a"; stop "$VPID_b"
	netns_del "$ns"
}

# ---- failover: keepalived VRRP ----

# vrrp ADVERT RUNS: two keepalived VRRP instances in two namespaces joined
# by a veth pair (192.0.2.0/24, a documentation range); kill the master's
# VRRP process (SIGKILL: no priority-0 advert, as if the node died) RUNS
# times; one line per run: the latency in us from the kill to
# notify_master on the other.
vrrp() {
	local adv=$1 runs=$2 n1 n2 dir i ver=2
	case $adv in *.*) ver=3 ;; esac
	n1=$(netns_new "v1-$RANDOM"); n2=$(netns_new "v2-$RANDOM")
	dir=$WORK/vrrp-$adv
	mkdir -p "$dir"; chmod 755 "$dir"
	ip link add vb1 netns "$n1" type veth peer name vb2 netns "$n2" || { echo "veth failed"; return 1; }
	ip -n "$n1" addr add 192.0.2.1/24 dev vb1; ip -n "$n1" link set vb1 up
	ip -n "$n2" addr add 192.0.2.2/24 dev vb2; ip -n "$n2" link set vb2 up
	printf '#!/bin/sh\necho "$(date +%%s%%N) $1" >>%s/master\n' "$dir" >"$dir/notify"
	chmod 755 "$dir/notify"
	: >"$dir/master"
	kconf() { # NAME IFACE PRIO
		cat <<EOT
global_defs {
	router_id $1
	vrrp_version $ver
	enable_script_security
	script_user root
}
vrrp_instance VI {
	state BACKUP
	nopreempt
	interface $2
	virtual_router_id 51
	priority $3
	advert_int $adv
	virtual_ipaddress {
		192.0.2.100/24
	}
	notify_master "$dir/notify $1"
}
EOT
	}
	kconf k1 vb1 100 >"$dir/k1.conf"
	kconf k2 vb2 90 >"$dir/k2.conf"
	# kstart NAME NS: keepalived, VRRP only, in the foreground; K_NAME its PID.
	kstart() {
		# A killed instance leaves its pid files; its VRRP child may be
		# an unreaped zombie for a moment, which keepalived takes for a
		# running daemon.
		rm -f "$dir/$1.pid" "$dir/$1.vrrp.pid"
		ip netns exec "$2" keepalived -P -n -l -D -f "$dir/$1.conf" -p "$dir/$1.pid" \
		    -r "$dir/$1.vrrp.pid" >>"$dir/$1.log" 2>&1 &
		eval "K_$1=$!"
		PIDS="$PIDS $!"
	}
	kstart k1 "$n1"; kstart k2 "$n2"
	local end=$(( $(date +%s) + 20 ))
	until [ -s "$dir/master" ]; do
		[ "$(date +%s)" -ge "$end" ] && { echo "no VRRP master"; return 1; }; sleep 0.05
	done
	sleep 1
	for ((i = 0; i < runs; i++)); do
		local m n0 vp kp tk th who ns_of
		m=$(tail -1 "$dir/master" | awk '{print $2}')
		n0=$(wc -l <"$dir/master")
		vp=$(cat "$dir/$m.vrrp.pid" 2>/dev/null)
		eval "kp=\$K_$m"
		[ -n "$vp" ] || { echo "no VRRP pid"; return 1; }
		tk=$(date +%s%N)
		kill -KILL "$vp"; kill -KILL "$kp"
		wait "$kp" 2>/dev/null
		end=$(( $(date +%s) + 20 ))
		while [ "$(wc -l <"$dir/master")" -le "$n0" ]; do
			[ "$(date +%s)" -ge "$end" ] && { echo "no takeover"; return 1; }; sleep 0.005
		done
		th=$(tail -1 "$dir/master" | awk '{print $1}')
		echo "$(( (th - tk) / 1000 ))"
		PIDS=$(echo " $PIDS " | sed "s/ $kp / /")
		if [ "$m" = k1 ]; then ns_of=$n1; else ns_of=$n2; fi
		ip -n "$ns_of" addr del 192.0.2.100/24 dev "$( [ "$m" = k1 ] && echo vb1 || echo vb2)" 2>/dev/null
		kstart "$m" "$ns_of"
		sleep "$(awk -v a="$adv" 'BEGIN { print a * 4 + 0.5 }')"
	done
	stop "$K_k1"; stop "$K_k2"
	netns_del "$n1"; netns_del "$n2"
}

# ---- statistics and the report ----

# stat5 < numbers: "median min max p99 count" (p99: nearest rank)
stat5() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan nan nan nan 0"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		r = int(0.99 * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
		print m, v[1], v[NR], v[r], NR }'
}
# field KEY < lines: the value of KEY=... on each line
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p; s/^$1=\([^ ]*\).*/\1/p"; }
fmt_range() { # median min max [digits]
	awk -v m="$1" -v a="$2" -v b="$3" -v d="${4:-1}" 'BEGIN {
		if (m == "nan") { print "n/a"; exit }
		f = "%." d "f"; printf(f " (" f "–" f ")", m, a, b) }'
}

# report RAW: the Markdown report of one run's raw lines.
report() {
	local raw=$1 type n who r m a b med lo hi
	local spofd_ver haproxy_ver nginx_ver ka_ver
	# What the run recorded of itself (meta lines), else what is here now.
	spofd_ver=$(awk '$1 == "meta" { for (i = 2; i <= NF; i++) if ($i ~ /^spofd=/) print substr($i, 7) }' "$raw")
	: "${spofd_ver:=${SPOFD_VERSION:-$(cd "$SRCDIR" && git describe --always --dirty 2>/dev/null || echo unknown)}}"
	[ -z "${LOAD0:-}" ] && LOAD0=$(awk '$1 == "meta" { sub(/.*load0=/, ""); sub(/ load1=.*/, ""); print }' "$raw")
	[ -z "${LOAD1:-}" ] && LOAD1=$(awk '$1 == "meta" { sub(/.*load1=/, ""); sub(/ elapsed=.*/, ""); print }' "$raw")
	[ -z "${ELAPSED:-}" ] && ELAPSED=$(awk '$1 == "meta" { sub(/.*elapsed=/, ""); print }' "$raw")
	haproxy_ver=$(haproxy -v 2>/dev/null | head -1 | awk '{print $3}')
	nginx_ver=$(nginx -v 2>&1 | sed 's/.*nginx\///')
	ka_ver=$(keepalived -v 2>&1 | head -1 | awk '{print $2}')
	# pick ARGS...: lines of raw with all the given key=value pairs
	pick() {
		awk -v keys="$*" 'BEGIN { n = split(keys, K, " ") } { x = " " $0 " "; ok = 1
			for (i = 1; i <= n; i++) if (!index(x, " " K[i] " ")) ok = 0
			if (ok) print }' "$raw"
	}
	cat <<EOT
# spofd benchmark: health checks at scale and one-node failover

Generated by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Raw data: \`$(basename "$raw")\`.

## Machine and setup

- $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r); load average before/after the run: ${LOAD0:-?} / ${LOAD1:-?}${ELAPSED:+; the run took ${ELAPSED} s}.
- spofd $spofd_ver (built with the project's default flags), HAProxy $haproxy_ver (\`nbthread 1\`), keepalived $ka_ver, nginx $nginx_ver (\`worker_processes 1\`) as the one backend.
- Every contender runs alone in a network namespace of its own, with its own nginx listening on port $PORT of 127.1.0.0/16; member i is 127.1.(i/250).(i%250+1). Checks every ${INTERVAL_MS} ms, timeout ${INTERVAL_MS} ms, rise 2, fall 3, for everyone. HTTP: \`GET /\`, nginx answers \`200 ok\`.
- Runs: $RUNS per configuration, contenders interleaved (spofd then HAProxy for each N). After warm-up, a ${WINDOW} s CPU window (nothing else of ours running), then a ${LWINDOW} s lateness window (SYN capture).
- CPU per check = daemon utime+stime over the window (/proc/PID/stat, 10 ms ticks) / checks the backend received in the window: TCP, connection attempts (the namespace's \`Tcp: ActiveOpens\` in /proc/net/snmp: only the contender connects there; every attempt reached nginx's kernel); HTTP, requests in nginx's access log (\$msec within the window).
- RSS per target = (VmRSS at N − VmRSS at N=$SMALL_N) / (N − $SMALL_N), same run.
- Figures are "median (min–max)" over the runs; ratios are taken within a run, then the median.

EOT
	# The targets, at the largest N.
	local nmax tgt_rows=""
	nmax=$(echo $NS | tr ' ' '\n' | sort -n | tail -1)
	ratio() { # TYPE N
		for ((r = 1; r <= RUNS; r++)); do
			a=$(pick "rep=$r" "who=spofd" "type=$1" "n=$2" | field us_per_check)
			b=$(pick "rep=$r" "who=haproxy" "type=$1" "n=$2" | field us_per_check)
			[ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3f\n", a / b }'
		done | stat5
	}
	perkib() { # WHO TYPE N
		for ((r = 1; r <= RUNS; r++)); do
			a=$(pick "rep=$r" "who=$1" "type=$2" "n=$3" | field rss_kib)
			b=$(pick "rep=$r" "who=$1" "type=$2" "n=$SMALL_N" | field rss_kib)
			[ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" -v n="$3" -v s="$SMALL_N" 'BEGIN { printf "%.3f\n", (a - b) / (n - s) }'
		done | stat5
	}
	verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "nan" || v == "") print "not measured"; else if (v + 0 <= t + 0) print "met"; else print "**missed**" }'; }
	echo "## Targets at N = $nmax"
	echo
	echo "| target | measured (median, range over runs) | |"
	echo "|---|---|---|"
	for type in tcp http; do
		set -- $(ratio "$type" "$nmax")
		echo "| CPU per check ≤ 0.9 × HAProxy's, $type, same run | $(fmt_range "$1" "$2" "$3" 2) × | $(verdict "$1" 0.9) |"
	done
	for type in tcp http; do
		set -- $(perkib spofd "$type" "$nmax")
		echo "| ≤ 1 KiB resident memory per added target, $type | $(fmt_range "$1" "$2" "$3" 2) KiB | $(verdict "$1" 1.0) |"
	done
	for type in tcp http; do
		set -- $(pick "who=spofd" "type=$type" "n=$nmax" | field late_p99_us | awk '{ print $1 / 1000 }' | stat5)
		echo "| p99 lateness < 5 ms, $type, seen by the backend | $(fmt_range "$1" "$2" "$3" 2) ms | $(verdict "$1" 4.999) |"
		set -- $(pick "who=spofd" "type=$type" "n=$nmax" | sed -n 's/.*"late_p99_us":\([0-9]*\).*/\1/p' | awk '{ print $1 / 1000 }' | stat5)
		echo "| p99 lateness < 5 ms, $type, spofd's own count since start | $(fmt_range "$1" "$2" "$3" 2) ms | $(verdict "$1" 4.999) |"
	done
	set -- $(awk '$1 == "fo=100x2" && $3 >= 0 { print $3 / 1000 }' "$raw" | stat5)
	echo "| failover overhead above detection < 20 ms p99, one node (100 ms × fall 2) | p99 $(printf '%.1f' "$4") ms over $5 runs | $(verdict "$4" 19.999) |"
	set -- $(awk '$1 == "fovip=100x2" { print $2 / 1000 }' "$raw" | stat5)
	if [ "$5" -gt 0 ]; then
		echo "| time to the VIP, one node (100 ms × fall 2, floor 200 ms) | p50 $(printf '%.1f' "$1") ms, p99 $(printf '%.1f' "$4") ms over $5 runs (p99 − floor $(awk -v a="$4" 'BEGIN { printf "%+.1f", a - 200 }') ms) | measured (no target of its own) |"
	else
		echo "| time to the VIP, one node (100 ms × fall 2) | not in this run's raw data | not measured |"
	fi
	echo "| failover overhead < 50 ms p99, three nodes | no cluster | not measured |"
	echo
	echo "## CPU per completed check (µs)"
	echo
	echo "| check | N | spofd | HAProxy | spofd / HAProxy | keepalived |"
	echo "|---|---:|---:|---:|---:|---|"
	for type in tcp http; do
		for n in $NS; do
			local sp hp ra
			sp=$(pick "who=spofd" "type=$type" "n=$n" | field us_per_check | stat5)
			hp=$(pick "who=haproxy" "type=$type" "n=$n" | field us_per_check | stat5)
			ra=$(for ((r = 1; r <= RUNS; r++)); do
				a=$(pick "rep=$r" "who=spofd" "type=$type" "n=$n" | field us_per_check)
				b=$(pick "rep=$r" "who=haproxy" "type=$type" "n=$n" | field us_per_check)
				[ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3f\n", a / b }'
			done | stat5)
			# shellcheck disable=SC2086
			echo "| $type | $n | $(fmt_range $(echo $sp | cut -d' ' -f1-3)) | $(fmt_range $(echo $hp | cut -d' ' -f1-3)) | $(fmt_range $(echo $ra | cut -d' ' -f1-3) 2) | cannot run here |"
		done
	done
	echo
	echo "Checks received per second at N (median): $(for type in tcp http; do for who in spofd haproxy; do
		printf '%s %s %s; ' "$type" "$who" "$(for n in $NS; do pick "who=$who" "type=$type" "n=$n" | awk '{ for (i = 1; i <= NF; i++) { if ($i ~ /^received=/) r = substr($i, 10); if ($i ~ /^window_s=/) w = substr($i, 10) } if (w > 0) printf "%.0f\n", r / w }' | stat5 | awk -v n="$n" '{ printf "%s/%s ", $1, n }'; done)"; done; done)"
	echo
	echo "## Resident memory per added target (KiB)"
	echo
	echo "| check | N | spofd | HAProxy | spofd RSS at N (MiB) | HAProxy RSS at N (MiB) |"
	echo "|---|---:|---:|---:|---:|---:|"
	for type in tcp http; do
		for n in $NS; do
			local cells=""
			for who in spofd haproxy; do
				m=$(for ((r = 1; r <= RUNS; r++)); do
					a=$(pick "rep=$r" "who=$who" "type=$type" "n=$n" | field rss_kib)
					b=$(pick "rep=$r" "who=$who" "type=$type" "n=$SMALL_N" | field rss_kib)
					[ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" -v n="$n" -v s="$SMALL_N" 'BEGIN { printf "%.3f\n", (a - b) / (n - s) }'
				done | stat5)
				# shellcheck disable=SC2086
				cells="$cells | $(fmt_range $(echo $m | cut -d' ' -f1-3) 2)"
			done
			for who in spofd haproxy; do
				m=$(pick "who=$who" "type=$type" "n=$n" | field rss_kib | awk '{ printf "%.1f\n", $1 / 1024 }' | stat5)
				# shellcheck disable=SC2086
				cells="$cells | $(fmt_range $(echo $m | cut -d' ' -f1-3) 1)"
			done
			echo "| $type | $n$cells |"
		done
	done
	echo
	echo "## Schedule lateness (ms)"
	echo
	echo "From the backend's side, the same for everyone: every SYN to the port is timestamped by the kernel (a packet socket with a BPF filter, \`bench/synstamp.c\`), and for each target the gap between two checks is compared with the interval: late = max(0, gap − interval), jitter = |gap − interval|. spofd's own figure (\`late_p50_us\`/\`late_p99_us\` of \`spofctl status --json\`) is how late its timers fired against their schedule, counted since start (start-up included). \"run queue\" is the time the daemon waited for a CPU during the CPU window (/proc/PID/schedstat): the machine is shared, and waiting for a CPU is lateness no scheduler can avoid."
	echo
	echo "| check | N | who | late p50 | late p99 | jitter p99 | own p50 / p99 (since start) | run queue (ms per s) |"
	echo "|---|---:|---|---:|---:|---:|---:|---:|"
	for type in tcp http; do
		for n in $NS; do
			for who in spofd haproxy; do
				local l50 l99 j99 own rq
				l50=$(pick "who=$who" "type=$type" "n=$n" | field late_p50_us | awk '{ print $1 / 1000 }' | stat5)
				l99=$(pick "who=$who" "type=$type" "n=$n" | field late_p99_us | awk '{ print $1 / 1000 }' | stat5)
				j99=$(pick "who=$who" "type=$type" "n=$n" | field jitter_p99_us | awk '{ print $1 / 1000 }' | stat5)
				rq=$(pick "who=$who" "type=$type" "n=$n" | awk '{ for (i = 1; i <= NF; i++) { if ($i ~ /^runq_wait_ms=/) q = substr($i, 14); if ($i ~ /^window_s=/) w = substr($i, 10) } if (w > 0) printf "%.0f\n", q / w }' | stat5)
				own="–"
				if [ "$who" = spofd ]; then
					own="$(pick "who=$who" "type=$type" "n=$n" | sed -n 's/.*"late_p50_us":\([0-9]*\).*/\1/p' | awk '{ print $1 / 1000 }' | stat5 | awk '{ printf "%.1f", $1 }') / $(pick "who=$who" "type=$type" "n=$n" | sed -n 's/.*"late_p99_us":\([0-9]*\).*/\1/p' | awk '{ print $1 / 1000 }' | stat5 | awk '{ printf "%.1f", $1 }')"
				fi
				# shellcheck disable=SC2086
				echo "| $type | $n | $who | $(fmt_range $(echo $l50 | cut -d' ' -f1-3) 1) | $(fmt_range $(echo $l99 | cut -d' ' -f1-3) 1) | $(fmt_range $(echo $j99 | cut -d' ' -f1-3) 1) | $own | $(echo $rq | cut -d' ' -f1) |"
			done
		done
	done
	echo
	echo "## spofd start-up with N members (ms)"
	echo
	echo "From exec to READY (the \"started\" log line: configuration read, monitor and control socket up), and to every member up (rise 2 at a 1 s interval: at least 1 s by design, the first checks being spread over one interval)."
	echo
	echo "| check | N | READY | every member up |"
	echo "|---|---:|---:|---:|"
	for type in tcp http; do
		for n in $SMALL_N $NS; do
			local rd up
			rd=$(pick "who=spofd" "type=$type" "n=$n" | field ready_ms | stat5)
			up=$(pick "who=spofd" "type=$type" "n=$n" | field up_ms | stat5)
			[ "$(echo "$rd" | awk '{print $5}')" = 0 ] && continue
			# shellcheck disable=SC2086
			echo "| $type | $n | $(fmt_range $(echo $rd | cut -d' ' -f1-3) 0) | $(fmt_range $(echo $up | cut -d' ' -f1-3) 0) |"
		done
	done
	echo
	echo "## Failover latency on one node (ms)"
	echo
	echo "spofd: two members (tcp checks) on two backends of ours (\`tests/testsrv\`) in a namespace; the primary's backend is killed (SIGKILL) at a random phase of the check schedule, the time taken just before the kill; the \`on_promote\` hook's first command is \`date +%s%N\`. Detection takes between (fall − 1) × interval and fall × interval (the first failed check comes within one interval of the kill); the floor is fall × interval. \"Overhead after detection\" is from the +sdown log line (millisecond stamps) to the hook's start: the daemon's own share (fork and exec of the hook included). keepalived: two VRRP instances (state BACKUP, nopreempt, priorities 100 and 90) in two namespaces joined by a veth pair, VIP 192.0.2.100/24; the master's VRRP process is killed (SIGKILL, so no priority-0 advert) and the time to \`notify_master\` on the other is taken; its floor is the master-down interval, 3 × advert_int + skew ((256 − 90) / 256 × advert_int)."
	echo
	echo "| who | interval × fall | runs | p50 | p99 | max | floor | p99 − floor | overhead after detection p50 / p99 |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	for r in "100 2" "1000 3"; do
		local lat ov fl iv fa
		read -r iv fa <<<"$r"
		lat=$(awk -v k="fo=${iv}x$fa" '$1 == k { print $2 / 1000 }' "$raw" | stat5)
		ov=$(awk -v k="fo=${iv}x$fa" '$1 == k && $3 >= 0 { print $3 / 1000 }' "$raw" | stat5)
		fl=$(( iv * fa ))
		# shellcheck disable=SC2086
		set -- $lat
		echo "| spofd | $iv ms × $fa | $5 | $(printf '%.1f' "$1") | $(printf '%.1f' "$4") | $(printf '%.1f' "$3") | $fl | $(awk -v a="$4" -v f="$fl" 'BEGIN { printf "%+.1f", a - f }') | $(echo $ov | awk '{ printf "%.1f / %.1f", $1, $4 }') |"
	done 2>/dev/null
	local vl vd
	vl=$(awk '$1 == "fovip=100x2" { print $2 / 1000 }' "$raw" | stat5)
	# the VIP's arrival minus the hook's start, per run (negative: the VIP came first)
	vd=$(awk '$1 == "fovip=100x2" { print ($2 - $3) / 1000 }' "$raw" | stat5)
	# shellcheck disable=SC2086
	set -- $vl
	[ "$5" -gt 0 ] 2>/dev/null &&
		echo "| spofd, to the VIP | 100 ms × 2 | $5 | $(printf '%.1f' "$1") | $(printf '%.1f' "$4") | $(printf '%.1f' "$3") | 200 | $(awk -v a="$4" 'BEGIN { printf "%+.1f", a - 200 }') | VIP − on_promote start: median $(echo $vd | awk '{ printf "%+.1f, max %+.1f", $1, $3 }') |"
	for adv in 1 0.1; do
		local lat fl
		lat=$(awk -v k="vrrp=$adv" '$1 == k && $2 ~ /^[0-9]+$/ { print $2 / 1000 }' "$raw" | stat5)
		fl=$(awk -v a="$adv" 'BEGIN { printf "%.0f", (3 * a + (256 - 90) / 256 * a) * 1000 }')
		# shellcheck disable=SC2086
		set -- $lat
		echo "| keepalived VRRP$( [ "$adv" = 1 ] && echo v2 || echo v3) | advert_int $adv s | $5 | $(printf '%.1f' "$1") | $(printf '%.1f' "$4") | $(printf '%.1f' "$3") | $fl | $(awk -v a="$4" -v f="$fl" 'BEGIN { printf "%+.1f", a - f }') | – |"
	done 2>/dev/null
	echo
	echo "\"spofd, to the VIP\": one spofd (node n1) in a namespace with a veth pair, 192.0.2.1/24 on e0 and \`vip = 192.0.2.100/24 dev e0\`; member a (priority 100) is on another node, b (90) on n1, tcp checks, \`failback = auto\`, \`failback_delay = 0ms\`. a's backend is killed (SIGKILL, random phase, time taken just before the kill); b becomes primary and spofd adds the VIP; the latency is kill → the address seen by \`ip -ts monitor address\` in the namespace (started before the kill; the stamp is taken when the monitor reads the kernel's notification, in microseconds, so it includes the monitor's wake-up, well under a millisecond on an idle machine). a's backend is then started again, the role goes back to a and the VIP leaves n1 before the next run. Its last column is the VIP's arrival minus the start of \`on_promote\` in the same run, median and max over the runs (negative: the VIP was there first). Three-node figures are not measured: there is no cluster yet."
	echo
	echo "## keepalived's health checker"
	echo
	echo "It cannot run on this machine: its checker process needs IPVS, and this kernel is built without it (\`# CONFIG_IP_VS is not set\` in /proc/config.gz, and there are no loadable modules: no /lib/modules). Started with one \`virtual_server\` and a \`TCP_CHECK\` real server, \`keepalived -C\` logs \`IPVS: Can't initialize ipvs: No such file or directory\` and the checker child exits with \`permanent error FATAL\`. So its column is empty: no figure of ours stands for it."
}

full_run() {
	local stamp t_start rep type who n raw small
	stamp=$(date -u +%Y-%m-%d-%H%M)
	t_start=$(date +%s)
	mkdir -p "$RESULTS"
	raw=$RESULTS/raw-$stamp.txt
	: >"$raw"
	LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
	log "checks at scale: N in {$NS} x {tcp,http} x {spofd,haproxy}, $RUNS run(s), ${WINDOW}s CPU window, ${LWINDOW}s lateness window"
	for ((rep = 1; rep <= RUNS; rep++)); do
		for type in tcp http; do
			for who in spofd haproxy; do
				SHORT=1 measure "$who" "$type" "$SMALL_N" | sed "s/^/rep=$rep /" >>"$raw"
				for n in $NS; do
					log "run $rep: $who $type N=$n"
					measure "$who" "$type" "$n" | sed "s/^/rep=$rep /" >>"$raw"
				done
			done
		done
	done
	log "failover: spofd, 100ms x fall 2 ($FO_RUNS runs), 1s x fall 3 ($FO_RUNS_SLOW runs)"
	fo_spofd 100 2 "$FO_RUNS" | sed 's/^/fo=100x2 /' >>"$raw"
	fo_spofd 1000 3 "$FO_RUNS_SLOW" | sed 's/^/fo=1000x3 /' >>"$raw"
	log "failover: spofd, time to the VIP, 100ms x fall 2 ($FO_VIP_RUNS runs)"
	fo_vip 100 2 "$FO_VIP_RUNS" | sed 's/^/fovip=100x2 /' >>"$raw"
	log "failover: keepalived VRRP, advert_int 1 and 0.1 ($VRRP_RUNS runs each)"
	vrrp 1 "$VRRP_RUNS" | sed 's/^/vrrp=1 /' >>"$raw"
	vrrp 0.1 "$VRRP_RUNS" | sed 's/^/vrrp=0.1 /' >>"$raw"
	LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
	ELAPSED=$(( $(date +%s) - t_start ))
	echo "meta spofd=$(cd "$SRCDIR" && git describe --always --dirty 2>/dev/null || echo unknown) load0=$LOAD0 load1=$LOAD1 elapsed=$ELAPSED" >>"$raw"
	report "$raw" >"$RESULTS/REPORT-$stamp.md"
	cp "$RESULTS/REPORT-$stamp.md" "$BENCH/REPORT.md"
	log "report: $RESULTS/REPORT-$stamp.md (copied to bench/REPORT.md), raw data: $raw"
}

main() {
	setup_tools
	case "${1:-}" in
	case)
		shift
		measure "$@"
		;;
	failover)
		fo_spofd "${2:-100}" "${3:-2}" "${4:-5}"
		;;
	failover-vip)
		fo_vip "${2:-100}" "${3:-2}" "${4:-3}"
		;;
	vrrp)
		vrrp "${2:-1}" "${3:-3}"
		;;
	report)
		report "$2"
		;;
	*)
		full_run
		;;
	esac
}

main "$@"
