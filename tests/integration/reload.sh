#!/bin/sh
# SIGHUP and `spofctl reload`: a bad new file is reported and the old
# configuration stays in force; a good one applies, and unchanged members
# keep their health (no return to unknown, check count goes on).
. "$top_srcdir/tests/integration/lib.sh"

start_testsrv a http
start_testsrv b http
start_testsrv c http

conf=$TMPD/spofd.conf
write_conf() {
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
address = 127.0.0.1:$PORT_a

[member web/b]
address = 127.0.0.1:$PORT_b
EOT
		[ "${1:-}" = with_c ] && printf '\n[member web/c]\naddress = 127.0.0.1:%s\n' "$PORT_c"
		[ "${1:-}" = broken ] && printf '\n[member web/c]\naddress = 127.0.0.1\ninterval = soon\n'
	} >"$conf"
	return 0
}

write_conf
start_spofd "$conf"
wait_status '[.services[0].members[] | .health == "up"] | all' 10

# A broken file on SIGHUP: errors logged with file:line, old config kept.
write_conf broken
kill -HUP "$SPOFD_PID"
i=0
until grep -q "spofd.conf:[0-9]*: address" "$TMPD/spofd.log"; do
	i=$((i + 1)); [ $i -gt 50 ] && fail "no file:line error in the log after a bad reload"
	sleep 0.1
done
grep -q "spofd.conf:[0-9]*: interval" "$TMPD/spofd.log" || fail "second error of the bad file not logged"
kill -0 "$SPOFD_PID" || fail "daemon died on a bad reload"
status_json | jq -e '[.services[0].members[].name] == ["a", "b"] and .stats.reload_failures == 1' >/dev/null \
	|| fail "old configuration not kept: $(status_json)"

# The same through spofctl: exit 2 and the errors on stderr.
"$SPOFCTL" -s "$SOCK" reload >"$TMPD/out" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "spofctl reload of a bad file exited $rc, not 2"
grep -q "address" "$TMPD/out" || fail "spofctl reload did not show the error: $(cat "$TMPD/out")"

# A good file adding c: a keeps its health record, c starts from unknown.
checks_before=$(member_field web a checks)
write_conf with_c
"$SPOFCTL" -s "$SOCK" reload >"$TMPD/out" 2>&1 || fail "spofctl reload failed: $(cat "$TMPD/out")"
out=$(status_json)
printf '%s' "$out" | jq -e '[.services[0].members[].name] == ["a", "b", "c"]' >/dev/null || fail "c not added: $out"
printf '%s' "$out" | jq -e --argjson n "$checks_before" \
	'.services[0].members[0] | .health == "up" and .checks >= $n' >/dev/null \
	|| fail "a lost its health across the reload (had $checks_before checks): $out"
wait_status '.services[0].members[2].health == "up"' 10

# A changed check resets health: the member is probed afresh.
sed -i 's/^rise = 2/rise = 3/' "$conf"
kill -HUP "$SPOFD_PID"
wait_status '.stats.reloads == 2' 5
wait_status '[.services[0].members[] | .health == "up"] | all' 10
exit 0
