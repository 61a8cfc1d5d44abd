#!/bin/sh
# Garbage on the control socket: binary bytes, NUL, bad UTF-8, control
# characters, an unterminated quote, an unknown command, a 1 MiB line,
# 100 connections at once.  The daemon must answer each bad request with
# an error (or hang up), count it in .stats.control_rejected, and go on
# serving.  Raw bytes go through socat.
. "$top_srcdir/tests/integration/lib.sh"
need socat

start_testsrv up http

conf=$TMPD/spofd.conf
{
	config_head
	cat <<EOT

[service web]
check = tcp
interval = 200ms
timeout = 150ms
rise = 1
fall = 1

[member web/a]
address = 127.0.0.1:$PORT_up
EOT
} >"$conf"

start_spofd "$conf"
wait_status '.services[0].members[0].health == "up"' 10

rejected() { status_json | jq -r '.stats.control_rejected'; }
alive() { kill -0 "$SPOFD_PID" 2>/dev/null || fail "spofd died after: $*"; }

before=$(rejected)
case $before in
''|*[!0-9]*) fail "status has no numeric .stats.control_rejected: '$before'" ;;
esac

# raw_reply NAME: send stdin as it is on one connection, keep the reply
# lines in $TMPD/reply.NAME.  -t: wait that long for replies after our
# end is sent; -T: give up on a silent connection.
raw_reply() {
	socat -t 2 -T 10 - "UNIX-CONNECT:$SOCK" >"$TMPD/reply.$1" 2>"$TMPD/socat.$1.log"
}

# expect_error NAME: exactly one reply line, ok:false with a message.
expect_error() {
	jq -e -s 'length == 1 and .[0].ok == false and (.[0].error | type == "string" and length > 0)' \
		"$TMPD/reply.$1" >/dev/null 2>&1 || fail "$1: expected one error reply, got: $(cat "$TMPD/reply.$1")"
	alive "$1"
}

n_bad=0
printf 'stat\000us\001\002\377\376\n' | raw_reply nul; expect_error nul; n_bad=$((n_bad + 1))
printf '\377\376\375garbage\n' | raw_reply utf8; expect_error utf8; n_bad=$((n_bad + 1))
printf '\300\257\n' | raw_reply overlong; expect_error overlong; n_bad=$((n_bad + 1))
printf 'status \033[31mred\n' | raw_reply escape; expect_error escape; n_bad=$((n_bad + 1))
printf '%s\n' "status 'unterminated" | raw_reply quote; expect_error quote; n_bad=$((n_bad + 1))
printf '\n' | raw_reply empty; expect_error empty; n_bad=$((n_bad + 1))
printf 'no-such-command with args\n' | raw_reply unknown; expect_error unknown; n_bad=$((n_bad + 1))
grep -q 'quote' "$TMPD/reply.quote" || fail "quote error unclear: $(cat "$TMPD/reply.quote")"

# Garbage, then good requests on the same connection: answered in order.
printf 'x\001y\nstatus\r\n\377\nstatus web\n' | raw_reply mixed
jq -e -s 'length == 4 and (map(.ok) == [false, true, false, true]) and .[3].services[0].name == "web"' \
	"$TMPD/reply.mixed" >/dev/null || fail "mixed connection replies wrong: $(cat "$TMPD/reply.mixed")"
n_bad=$((n_bad + 2))
alive mixed

# Half a line, then gone: no reply, no harm, not counted.
printf 'status web' | raw_reply partial
[ ! -s "$TMPD/reply.partial" ] || fail "a reply to an unterminated line: $(cat "$TMPD/reply.partial")"
alive partial

# A 1 MiB line: an error reply and a hang-up.  socat may fail to send the
# rest once the daemon has closed, and so may or may not show the reply.
{ head -c 1048576 /dev/zero | tr '\000' 'a'; printf '\n'; } | raw_reply huge
if [ -s "$TMPD/reply.huge" ]; then
	grep -q 'request too long' "$TMPD/reply.huge" || fail "1 MiB line: unexpected reply: $(head -c 300 "$TMPD/reply.huge")"
fi
n_bad=$((n_bad + 1))
alive "a 1 MiB line"

after=$(rejected)
[ "$after" -ge $((before + n_bad)) ] || fail "control_rejected went from $before to $after, expected +$n_bad"

# 100 connections at once, each held open for 3 s: the daemon serves up
# to its client limit, tells the others it is full, and recovers.
many_pids=""
i=0
while [ $i -lt 100 ]; do
	i=$((i + 1))
	{ printf 'status\n'; sleep 3; } | socat -t 1 -T 10 - "UNIX-CONNECT:$SOCK" >"$TMPD/many.$i" 2>/dev/null &
	many_pids="$many_pids $!"
	PIDS="$PIDS $!"
done
i=0
for p in $many_pids; do
	while kill -0 "$p" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 300 ] && fail "socat clients did not finish within 30 s"
		sleep 0.1
	done
done
alive "100 connections"
served=$(cat "$TMPD"/many.* | grep -c '"ok":true' || true)
full=$(cat "$TMPD"/many.* | grep -c 'too many clients' || true)
echo "100 connections: $served served, $full told the daemon is full"
# A refused socat may lose the race between sending its request and
# reading the "full" reply, so only the served count is firm.
[ "$served" -ge 1 ] || fail "none of the 100 connections was served"
[ "$served" -le 100 ] || fail "more replies than connections"

# Still serving, and still counting.
wait_status '.ok == true and .services[0].members[0].health == "up"' 10
out=$(status_json)
printf '%s' "$out" | jq -e --argjson min $((before + n_bad)) '.stats.control_rejected >= $min' >/dev/null \
	|| fail "control_rejected lost: $out"
if [ "$full" -gt 0 ]; then
	printf '%s' "$out" | jq -e '(.stats.control_clients_refused // 1) >= 1' >/dev/null \
		|| fail "refused clients not counted: $out"
fi
"$SPOFCTL" -s "$SOCK" status >/dev/null || fail "spofctl status failed after the garbage"
grep -E -q 'AddressSanitizer|runtime error|fatal' "$TMPD/spofd.log" && fail "spofd log shows a crash or sanitizer report"
exit 0
