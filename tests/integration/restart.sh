#!/bin/sh
# What survives a restart: after a failover the primary and epoch come back
# from state_dir with no hook run, even though the old primary is healthy
# again; a corrupt state file is reported, kept aside, and the daemon
# elects from its configuration; a broken configuration on reload keeps the
# old one, which still fails over.
. "$top_srcdir/tests/integration/lib.sh"

HLOG=$TMPD/hooks.log
STATE=$TMPD/state/state
write_hook on_promote
write_hook on_demote
write_hook on_change

start_testsrv a http
start_testsrv b http

conf=$TMPD/spofd.conf
# write_conf [broken]: the configuration, or a broken one.
write_conf() {
	{
		config_head
		hook_user_line
		cat <<EOT

[service web]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2
failover_cooldown = 0ms
failback = manual
on_promote = $TMPD/hooks/on_promote
on_demote = $TMPD/hooks/on_demote
on_change = $TMPD/hooks/on_change

[member web/a]
address = 127.0.0.1:$PORT_a
priority = 100

[member web/b]
address = 127.0.0.1:$PORT_b
priority = 90
EOT
		if [ "${1:-}" = broken ]; then
			printf '\n[member web/c]\naddress = 127.0.0.1\npriority = high\n'
			printf '\n[service web]\ninterval = soon\n'
		fi
	} >"$conf"
	return 0
}

svc() { printf '.services[] | select(.name == "%s")' "$1"; }

write_conf
start_spofd "$conf"
wait_status "$(svc web) | .primary == \"a\" and .epoch == 1 and .state == \"ok\"" 15
wait_file_line '^change|web|1|' "$HLOG" 10
[ -f "$STATE" ] || fail "no state file at $STATE after the election"

# ---- failover to b, then a restart: b stays, epoch 2, no hook ----
stop_pid "$PID_a"
wait_status "$(svc web) | .primary == \"b\" and .epoch == 2 and .state == \"ok\"" 15
wait_file_line '^change|web|2|' "$HLOG" 10
[ -f "$STATE" ] || fail "no state file at $STATE after the failover"
stop_spofd
# a is healthy again: a start from configuration would pick it.
start_testsrv_port a "$PORT_a" http
cp "$HLOG" "$TMPD/hooks.before"
start_spofd "$conf"
wait_status "$(svc web) | [.members[] | .health == \"up\"] | all" 15
out=$(status_json web)
printf '%s' "$out" | jq -e '.services[0] | .primary == "b" and .epoch == 2 and .state == "ok"
	and ([.members[] | {(.name): .role}] | add) == {"a": "standby", "b": "primary"}' >/dev/null \
	|| fail "the restart reversed or lost the failover: $out"
sleep 2
out=$(status_json web)
printf '%s' "$out" | jq -e '.services[0] | .primary == "b" and .epoch == 2' >/dev/null \
	|| fail "primary moved after the restart: $out"
cmp -s "$HLOG" "$TMPD/hooks.before" || fail "hooks ran at start with a persisted primary: $(diff "$TMPD/hooks.before" "$HLOG")"

# ---- a corrupt state file: reported, kept aside, start from configuration ----
stop_spofd
printf 'garbage \001\002 {{{ not a state file\n' >"$STATE"
cp "$STATE" "$TMPD/garbage"
: >"$TMPD/spofd.log"
start_spofd "$conf"
kill -0 "$SPOFD_PID" || fail "daemon did not start with a corrupt state file"
grep -i "corrupt" "$TMPD/spofd.log" | grep -q "state" || fail "the corrupt state file is not reported: $(cat "$TMPD/spofd.log")"
kept=""
for f in "$TMPD"/state/state.corrupt.*; do
	[ -f "$f" ] && cmp -s "$f" "$TMPD/garbage" && kept=$f
done
[ -n "$kept" ] || fail "the corrupt state file was not kept aside: $(ls -la "$TMPD/state")"
grep -q "$(basename "$kept")" "$TMPD/spofd.log" || echo "note: the log does not name $(basename "$kept")"
# Elected from configuration: a has the highest priority and is up.
wait_status "$(svc web) | .primary == \"a\" and .state == \"ok\"" 15
wait_file_line "^promote|web|[0-9]*||a|127.0.0.1:$PORT_a|testnode|initial\$" "$HLOG" 10
[ -f "$STATE" ] && ! cmp -s "$STATE" "$TMPD/garbage" || fail "no fresh state file after the election"
epoch=$(service_field web epoch)

# ---- a broken configuration on reload: the old one runs and still fails over ----
write_conf broken
"$SPOFCTL" -s "$SOCK" reload >"$TMPD/reload.out" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "reload of a broken file exited $rc, not 2: $(cat "$TMPD/reload.out")"
kill -HUP "$SPOFD_PID"
sleep 0.5
kill -0 "$SPOFD_PID" || fail "daemon died on a broken reload"
wait_status '.stats.reload_failures == 2' 5
out=$(status_json web)
printf '%s' "$out" | jq -e '[.services[0].members[].name] == ["a", "b"] and .services[0].primary == "a"' >/dev/null \
	|| fail "old configuration not kept: $out"
stop_pid "$PID_a"
next=$((epoch + 1))
wait_status "$(svc web) | .primary == \"b\" and .epoch == $next and .state == \"ok\"" 15
wait_file_line "^change|web|$next|" "$HLOG" 10
grep -qx "promote|web|$next|a|b|127.0.0.1:$PORT_b|testnode|failover" "$HLOG" || fail "failover after a broken reload wrong: $(cat "$HLOG")"
stop_spofd
exit 0
