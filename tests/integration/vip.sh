#!/bin/sh
# Virtual IPs between two nodes, each a network namespace running its own
# spofd (node = n1, node = n2, otherwise the same configuration), with a
# client namespace, all on a bridge in a "switch" namespace: the root
# namespace is left alone.  Service web: member a on n1 (priority 100),
# b on n2 (90), one VIP.  Asserted:
#   - the VIP is on n1 only; the client reaches n1's backend through it and
#     its neighbour table maps the VIP to n1's MAC;
#   - n1's backend dies: both daemons fail over to b, the VIP leaves n1 and
#     arrives on n2, and the client's neighbour entry shows n2's MAC at
#     once (no traffic from the client meanwhile: the gratuitous ARP / the
#     unsolicited NA told it); the client now reaches n2's backend;
#   - a VIP deleted by hand on n2 is put back;
#   - service ghost, whose VIP names a missing interface: a clear error in
#     status and log, a failed promotion, the daemon keeps running;
#   - a reload adding a second VIP puts it on n2 at once; one adding a
#     service api (its member on n1) puts api's VIP on n1, and removes it
#     from n2 where it was left behind;
#   - a VIP left on n1 while n1 is not primary is removed when its spofd
#     starts, while api's VIP (its primary is on n1 at the current epoch)
#     comes back; SIGTERM on n2 removes n2's VIPs.
# Documentation addresses only, inside namespaces made here and deleted on
# exit.  VIP_FAMILY=6 (vip6.sh) runs the same with IPv6 and unsolicited NAs.
. "$top_srcdir/tests/integration/lib.sh"

: "${VIP_FAMILY:=4}"
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
need ip
need curl

if [ "$VIP_FAMILY" = 6 ]; then
	A1=2001:db8::1 A2=2001:db8::2 AC=2001:db8::10 PFX=64
	VIP=2001:db8::100 VIP2=2001:db8::101 VIP3=2001:db8::102 GHOST=2001:db8:1::7/64
	ANY='[::]' URL_VIP="http://[$VIP]:8080/"
	member_addr() { echo "[$1]:$2"; }
	NODAD=nodad
else
	A1=192.0.2.1 A2=192.0.2.2 AC=192.0.2.10 PFX=24
	VIP=192.0.2.100 VIP2=192.0.2.101 VIP3=192.0.2.102 GHOST=198.51.100.7/24
	ANY=0.0.0.0 URL_VIP="http://$VIP:8080/"
	member_addr() { echo "$1:$2"; }
	NODAD=
fi

# Namespace names carry a tag of this run: parallel runs never meet.
TAG=spv$VIP_FAMILY.$$
SW=$TAG.sw N1=$TAG.n1 N2=$TAG.n2 NC=$TAG.c
NETNS=""

vip_cleanup() {
	cleanup
	for ns in $NETNS; do ip netns del "$ns" 2>/dev/null; done
}
trap vip_cleanup EXIT

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	for n in n1 n2; do
		[ -f "$TMPD/$n.log" ] || continue
		echo "--- spofd $n log (tail) ---" >&2
		tail -n 40 "$TMPD/$n.log" >&2
	done
	exit 1
}

# ---- the network: n1, n2 and c, each with e0 on the bridge of sw ----

for ns in $SW $N1 $N2 $NC; do
	ip netns add "$ns" || skip "cannot create network namespaces"
	NETNS="$NETNS $ns"
	ip -n "$ns" link set lo up || fail "lo up in $ns"
done
ip -n "$SW" link add br0 type bridge || skip "no bridge support"
ip -n "$SW" link set br0 up || fail "br0 up"
# port NS ADDR: a veth from the bridge to e0 of NS, with ADDR on it.
port() {
	ip -n "$SW" link add "p.$3" type veth peer name e0 netns "$1" || skip "no veth support"
	ip -n "$SW" link set "p.$3" master br0 up || fail "bridge port for $1"
	ip -n "$1" link set e0 up || fail "e0 up in $1"
	# shellcheck disable=SC2086
	ip -n "$1" addr add "$2/$PFX" dev e0 $NODAD || fail "address on e0 of $1"
}
port "$N1" "$A1" n1
port "$N2" "$A2" n2
port "$NC" "$AC" c
MAC1=$(ip -n "$N1" link show e0 | awk '/link\/ether/ {print $2}')
MAC2=$(ip -n "$N2" link show e0 | awk '/link\/ether/ {print $2}')
[ -n "$MAC1" ] && [ -n "$MAC2" ] && [ "$MAC1" != "$MAC2" ] || fail "MACs: '$MAC1' '$MAC2'"

# ---- backends and daemons ----

# backend NAME NS PORT MODE: a testsrv inside NS on every address; sets PID_<NAME>.
backend() {
	rm -f "$TMPD/ready.$1"
	ip netns exec "$2" "$TESTSRV" -r "$TMPD/ready.$1" "$ANY:$3=$4" >>"$TMPD/testsrv.$1.log" 2>&1 &
	bpid=$!
	PIDS="$PIDS $bpid"
	i=0
	while [ ! -s "$TMPD/ready.$1" ]; do
		i=$((i + 1)); [ $i -gt 100 ] && fail "backend $1 did not start: $(cat "$TMPD/testsrv.$1.log")"
		sleep 0.05
	done
	eval "PID_$1=$bpid"
}
backend web1 "$N1" 8080 http:200:n1
backend web2 "$N2" 8080 http:200:n2
backend ghost1 "$N1" 8081 http

# Wait until the client reaches both nodes: links up, bridge forwarding.
i=0
until [ "$(ip netns exec "$NC" curl -g -s --max-time 1 "http://$(member_addr "$A1" 8080)/")" = n1 ] &&
    [ "$(ip netns exec "$NC" curl -g -s --max-time 1 "http://$(member_addr "$A2" 8080)/")" = n2 ]; do
	i=$((i + 1)); [ $i -gt 20 ] && fail "the client cannot reach the backends on n1 and n2"
	sleep 0.25
done

# write_conf NODE [EXTRA_VIP [api]]: the configuration of NODE (n1 or n2),
# web with a second VIP, and a service api.
write_conf() {
	vips="$VIP/$PFX dev e0"
	[ -n "${2:-}" ] && vips="$vips, $2/$PFX dev e0"
	api=
	[ -n "${3:-}" ] && api="
[service api]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2
vip = $VIP3/$PFX dev e0

[member api/m1]
address = $(member_addr "$A1" 8081)
node = n1
priority = 100
"
	cat >"$TMPD/$1.conf" <<EOT
[spofd]
node = $1
control_socket = $TMPD/$1.sock
state_dir = $TMPD/state.$1
log_level = debug

[service web]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2
failover_cooldown = 0ms
vip = $vips
garp_repeat = 3
garp_interval = 100ms

[member web/a]
address = $(member_addr "$A1" 8080)
node = n1
priority = 100

[member web/b]
address = $(member_addr "$A2" 8080)
node = n2
priority = 90

[service ghost]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2
promote_backoff = 1s
vip = $GHOST dev nosuch0

[member ghost/g1]
address = $(member_addr "$A1" 8081)
node = n1
priority = 100
$api
EOT
}

# daemon NODE NS: spofd of NODE inside NS (ip netns exec execs it: same PID).
daemon() {
	rm -f "$TMPD/$1.sock"
	ip netns exec "$2" "$SPOFD" -c "$TMPD/$1.conf" >>"$TMPD/$1.log" 2>&1 &
	dpid=$!
	PIDS="$PIDS $dpid"
	i=0
	while [ ! -S "$TMPD/$1.sock" ]; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "spofd $1 did not open its control socket"
		kill -0 "$dpid" 2>/dev/null || fail "spofd $1 exited early"
		sleep 0.05
	done
	eval "SPOFD_$1=$dpid"
}

# st NODE: status of NODE's daemon as JSON.
st() { "$SPOFCTL" -s "$TMPD/$1.sock" status --json 2>/dev/null; }

# wait_st NODE JQ SECONDS: poll NODE's status until JQ is true.
wait_st() {
	end=$(( $(date +%s) + $3 ))
	while :; do
		out=$(st "$1")
		if [ -n "$out" ] && printf '%s' "$out" | jq -e "$2" >/dev/null 2>&1; then return 0; fi
		[ "$(date +%s)" -ge "$end" ] && fail "$1: timed out after $3s waiting for: $2; last status: $out"
		sleep 0.1
	done
}

web='.services[] | select(.name == "web")'
ghost='.services[] | select(.name == "ghost")'

# has_vip NS ADDR: ADDR is on e0 of NS.
has_vip() { ip -n "$1" addr show dev e0 | grep -q "inet6\{0,1\} $2/"; }

# wait_vip NS ADDR yes|no SECONDS
wait_vip() {
	end=$(( $(date +%s) + $4 ))
	while :; do
		if has_vip "$1" "$2"; then [ "$3" = yes ] && return 0; else [ "$3" = no ] && return 0; fi
		[ "$(date +%s)" -ge "$end" ] && fail "$2 on $1: wanted '$3' within $4s; $(ip -n "$1" addr show dev e0)"
		sleep 0.1
	done
}

# neigh: the client's neighbour entry for the VIP, "LLADDR STATE" (empty if none).
neigh() {
	ip -n "$NC" neigh show "$VIP" dev e0 | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1), $NF }'
}

client_get() { ip netns exec "$NC" curl -g -sS --max-time 3 "$URL_VIP" 2>&1; }

write_conf n1
write_conf n2
"$SPOFD" -t -c "$TMPD/n1.conf" >"$TMPD/t.out" 2>&1 || fail "spofd -t: $(cat "$TMPD/t.out")"
daemon n1 "$N1"
daemon n2 "$N2"

# ---- a is primary: the VIP is on n1, and only there ----

wait_st n1 "$web | .state == \"ok\" and .primary == \"a\" and .vips[0].held == true" 15
wait_st n2 "$web | .state == \"ok\" and .primary == \"a\" and .vips[0].held == false" 15
st n1 | jq -e "$web | .vips == [{\"address\": \"$VIP/$PFX\", \"dev\": \"e0\", \"held\": true}]" >/dev/null ||
	fail "n1 status vips: $(st n1 | jq -c "$web | .vips")"
has_vip "$N1" "$VIP" || fail "$VIP not on n1"
has_vip "$N2" "$VIP" && fail "$VIP on n2 as well"
"$SPOFCTL" -s "$TMPD/n1.sock" status web 2>&1 | grep -q "^  vip $VIP/$PFX dev e0  held\$" ||
	fail "n1's status table lacks the held VIP: $("$SPOFCTL" -s "$TMPD/n1.sock" status web 2>&1)"
"$SPOFCTL" -s "$TMPD/n2.sock" status web 2>&1 | grep -q "^  vip $VIP/$PFX dev e0  not held\$" ||
	fail "n2's status table lacks the VIP line"
grep -q "+vip-added web: $VIP/$PFX dev e0" "$TMPD/n1.log" || fail "no +vip-added in n1's log"
grep -q "+vip-added" "$TMPD/n2.log" && fail "n2 added a VIP"

body=$(client_get)
[ "$body" = n1 ] || fail "through $VIP the client got '$body', wanted n1"
set -- $(neigh)
[ "${1:-}" = "$MAC1" ] || fail "client's entry for $VIP: '$*', wanted n1's MAC $MAC1"

# ---- ghost's interface does not exist: an error, the daemon goes on ----

wait_st n1 "$ghost | .vips[0].error == \"no such interface nosuch0\" and .vips[0].held == false" 15
wait_st n1 "$ghost | .state == \"failed\" and (.state_reason | contains(\"no such interface nosuch0\"))" 15
grep -q "+vip-error ghost: cannot add $GHOST dev nosuch0: no such interface nosuch0" "$TMPD/n1.log" ||
	fail "no +vip-error for ghost in n1's log"
# on n2, g1 is not local: nothing to add, the promotion goes through
wait_st n2 "$ghost | .state == \"ok\" and .primary == \"g1\" and .vips[0].held == false and (.vips[0] | has(\"error\") | not)" 15
pid_alive "$SPOFD_n1" || fail "spofd n1 died"

# ---- n1's backend dies: the VIP moves to n2, and the client learns it at once ----

stop_pid "$PID_web1"
wait_st n1 "$web | .primary == \"b\" and .vips[0].held == false" 15
wait_st n2 "$web | .primary == \"b\" and .vips[0].held == true" 15
wait_vip "$N1" "$VIP" no 5
wait_vip "$N2" "$VIP" yes 5
grep -q -- "-vip-released web: $VIP/$PFX dev e0 (a is no longer primary)" "$TMPD/n1.log" ||
	fail "no -vip-released in n1's log"
# The client sent nothing since: only the announcement can have changed its entry.
i=0
while :; do
	set -- $(neigh)
	[ "${1:-}" = "$MAC2" ] && break
	i=$((i + 1)); [ $i -gt 30 ] && fail "client's entry for $VIP: '$*', wanted n2's MAC $MAC2 (announcement missed)"
	sleep 0.1
done
case "${2:-}" in
FAILED | INCOMPLETE) fail "client's entry for $VIP is $2" ;;
esac
body=$(client_get)
[ "$body" = n2 ] || fail "after the failover the client got '$body', wanted n2"

# ---- someone deletes the VIP on n2: it comes back ----

ip -n "$N2" addr del "$VIP/$PFX" dev e0 || fail "cannot delete $VIP by hand"
wait_vip "$N2" "$VIP" yes 5
wait_file_line "+vip-restored web: $VIP/$PFX dev e0 was removed by someone else; put back" "$TMPD/n2.log" 5
wait_st n2 "$web | .vips[0].held == true" 5

# ---- a reload adds a second VIP: n2 holds it at once, n1 does not ----

write_conf n1 "$VIP2"
write_conf n2 "$VIP2"
"$SPOFCTL" -s "$TMPD/n1.sock" reload >/dev/null || fail "reload n1"
"$SPOFCTL" -s "$TMPD/n2.sock" reload >/dev/null || fail "reload n2"
wait_vip "$N2" "$VIP2" yes 5
wait_st n2 "$web | [.vips[].held] == [true, true]" 5
has_vip "$N1" "$VIP2" && fail "$VIP2 on n1"
has_vip "$N2" "$VIP" || fail "$VIP left n2 on reload"

# A reload adds service api, whose member runs on n1; its VIP was left on n2.
ip -n "$N2" addr add "$VIP3/$PFX" dev e0 $NODAD || fail "cannot add $VIP3 on n2 by hand"
write_conf n1 "$VIP2" api
write_conf n2 "$VIP2" api
"$SPOFCTL" -s "$TMPD/n1.sock" reload >/dev/null || fail "reload n1 (api)"
"$SPOFCTL" -s "$TMPD/n2.sock" reload >/dev/null || fail "reload n2 (api)"
wait_vip "$N2" "$VIP3" no 5
wait_file_line "-vip-released api: $VIP3/$PFX dev e0 (left behind by an earlier run)" "$TMPD/n2.log" 5
wait_vip "$N1" "$VIP3" yes 10
wait_st n1 '.services[] | select(.name == "api") | .primary == "m1" and .vips[0].held == true' 10

# ---- a VIP left on n1 is removed when n1's spofd starts (n1 is not primary) ----

kill -TERM "$SPOFD_n1"; wait "$SPOFD_n1"; rc=$?
[ $rc -eq 0 ] || fail "spofd n1 exited $rc after SIGTERM"
ip -n "$N1" addr add "$VIP/$PFX" dev e0 $NODAD || fail "cannot add $VIP on n1 by hand"
daemon n1 "$N1"
wait_vip "$N1" "$VIP" no 5
wait_file_line "-vip-released web: $VIP/$PFX dev e0 (left behind by an earlier run)" "$TMPD/n1.log" 5
wait_st n1 "$web | .primary == \"b\" and .vips[0].held == false" 10
has_vip "$N2" "$VIP" || fail "$VIP left n2 when n1 started"
# api's primary m1 is on n1 at the current epoch: its VIP, removed at SIGTERM, is back
wait_vip "$N1" "$VIP3" yes 5
wait_st n1 '.services[] | select(.name == "api") | .primary == "m1" and .vips[0].held == true' 10
grep -q -- "-vip-released api: $VIP3/$PFX dev e0 (spofd is stopping)" "$TMPD/n1.log" ||
	fail "no -vip-released for api at n1's shutdown"

# ---- SIGTERM: n2 gives its VIPs up ----

kill -TERM "$SPOFD_n2"; wait "$SPOFD_n2"; rc=$?
[ $rc -eq 0 ] || fail "spofd n2 exited $rc after SIGTERM"
has_vip "$N2" "$VIP" && fail "$VIP still on n2 after SIGTERM"
has_vip "$N2" "$VIP2" && fail "$VIP2 still on n2 after SIGTERM"
grep -q -- "-vip-released web: $VIP/$PFX dev e0 (spofd is stopping)" "$TMPD/n2.log" ||
	fail "no -vip-released at shutdown in n2's log"
pid_alive "$SPOFD_n1" || fail "spofd n1 died"

echo "ok: IPv$VIP_FAMILY VIP on n1, moved to n2 with the client told at once, restored, reloaded, stale one removed, released at SIGTERM"
exit 0
