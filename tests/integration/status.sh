#!/bin/sh
# spofctl status: table, JSON shape, service filter, exit codes 0/1/2
# (0 healthy, 1 degraded, 2 a service without a primary or no daemon),
# and a killed backend noticed within fall x interval (plus slack).
. "$top_srcdir/tests/integration/lib.sh"

start_testsrv up http
start_testsrv up2 http
# A port with nothing behind it: bind by a short-lived testsrv, then kill it.
start_testsrv gone http
stop_pid "$PID_gone"

conf=$TMPD/spofd.conf
{
	config_head
	cat <<EOT

[service web]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2

[member web/a]
address = 127.0.0.1:$PORT_up
priority = 100

[member web/b]
address = 127.0.0.1:$PORT_up2
priority = 90

[service db]
check = tcp
interval = 200ms
timeout = 150ms
rise = 1
fall = 1

[member db/gone]
address = 127.0.0.1:$PORT_gone

[service cache]
check = tcp
interval = 200ms
timeout = 150ms
rise = 1
fall = 1

[member cache/up]
address = 127.0.0.1:$PORT_up2
priority = 100

[member cache/gone]
address = 127.0.0.1:$PORT_gone
priority = 90
EOT
} >"$conf"

start_spofd "$conf"
wait_status '[.services[] | select(.name == "web") | .members[] | .health == "up"] | all' 10
wait_status '.services[] | select(.name == "db") | .members[0].health == "down"' 10

out=$(status_json) || true
printf '%s' "$out" | jq -e '.ok == true and .node == "testnode"' >/dev/null || fail "bad header: $out"
printf '%s' "$out" | jq -e '[.services[].name] == ["web", "db", "cache"]' >/dev/null || fail "services not in file order: $out"
printf '%s' "$out" | jq -e '.services[0].members[0] | (.name == "a") and (.address | test(":[0-9]+$")) and (.reason == "ok") and (.latency_us | type == "number") and (.since | test("^[0-9-]+T[0-9:]+Z$")) and (.checks >= 2)' >/dev/null \
	|| fail "member fields wrong: $out"
printf '%s' "$out" | jq -e '.services[1].members[0].reason == "refused"' >/dev/null || fail "refused reason missing: $out"
printf '%s' "$out" | jq -e '.stats.probes_completed > 0 and (.stats.late_p99_us | type == "number")' >/dev/null || fail "stats missing: $out"

# Exit codes: 2 while a service has no primary (db), 1 when a standby is
# down but the primary is up (cache), 0 when all is well (web).
wait_status '.services[] | select(.name == "cache") | .state == "ok" and .primary == "up"' 10
wait_status '.services[] | select(.name == "db") | .state == "no-candidate"' 10
"$SPOFCTL" -s "$SOCK" status >"$TMPD/table" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "status with a service without primary exited $rc, not 2"
"$SPOFCTL" -s "$SOCK" status cache >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] || fail "status with a standby down exited $rc, not 1"
grep -q "refused" "$TMPD/table" || fail "table lacks the reason: $(cat "$TMPD/table")"
grep -q "web" "$TMPD/table" && grep -q "gone" "$TMPD/table" || fail "table lacks rows: $(cat "$TMPD/table")"
"$SPOFCTL" -s "$SOCK" status web >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] || fail "status web (all up) exited $rc, not 0"
status_json web | jq -e '[.services[].name] == ["web"]' >/dev/null || fail "filter did not filter"
"$SPOFCTL" -s "$SOCK" status nosuch >/dev/null 2>"$TMPD/err"; rc=$?
[ $rc -eq 2 ] || fail "status of an unknown service exited $rc, not 2"
grep -q "nosuch" "$TMPD/err" || fail "unknown service error unclear: $(cat "$TMPD/err")"

# Kill a backend: down within fall x interval = 400 ms, allow 5 s on a loaded machine.
stop_pid "$PID_up"
t0=$(date +%s)
wait_status '.services[0].members[0].health == "down"' 5
reason=$(member_field web a reason)
[ "$reason" = "refused" ] || fail "reason after kill is '$reason', not refused"
grep -q '+sdown web/a: refused' "$TMPD/spofd.log" || fail "no +sdown event in the log"
echo "down noticed within $(( $(date +%s) - t0 ))s"

# The daemon gone: exit 2, with a message.
kill -TERM "$SPOFD_PID"; wait "$SPOFD_PID" 2>/dev/null
"$SPOFCTL" -s "$SOCK" status >/dev/null 2>"$TMPD/err"; rc=$?
[ $rc -eq 2 ] || fail "status without a daemon exited $rc, not 2"
[ -s "$TMPD/err" ] || fail "no error message without a daemon"
exit 0
