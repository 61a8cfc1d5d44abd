#!/bin/sh
# One-node failover on real backends: the initial election, a killed
# primary replaced by the best standby with hooks run once each in order
# (on_demote, on_promote, on_change) and the right environment, manual and
# automatic failback, failover_cooldown holding a second failover, no
# candidate (priority 0 is never promoted), and a candidate coming back.
. "$top_srcdir/tests/integration/lib.sh"

HLOG=$TMPD/hooks.log
write_hook on_promote
write_hook on_demote
write_hook on_change
HOOKS_DIR=$TMPD/hooks

# web: the main failover and failback.  cd: failover_cooldown.  nc: no candidate.
start_testsrv a http
start_testsrv b http
start_testsrv c http
start_testsrv p http
start_testsrv q http
start_testsrv r http
start_testsrv m1 http
start_testsrv z http
# m2's port is held by nothing at first: it comes up later.
start_testsrv m2 http
stop_pid "$PID_m2"

conf=$TMPD/spofd.conf
# write_conf FAILBACK: the whole configuration, web's failback as given.
write_conf() {
	if [ "$1" = auto ]; then
		fb='failback = auto
failback_delay = 1s'
	else
		fb='failback = manual'
	fi
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
on_promote = $HOOKS_DIR/on_promote
on_demote = $HOOKS_DIR/on_demote
on_change = $HOOKS_DIR/on_change
$fb

[member web/a]
address = 127.0.0.1:$PORT_a
priority = 100

[member web/b]
address = 127.0.0.1:$PORT_b
priority = 90

[member web/c]
address = 127.0.0.1:$PORT_c
priority = 80

[service cd]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2
failover_cooldown = 3s
on_promote = $HOOKS_DIR/on_promote
on_demote = $HOOKS_DIR/on_demote
on_change = $HOOKS_DIR/on_change

[member cd/p]
address = 127.0.0.1:$PORT_p
priority = 100

[member cd/q]
address = 127.0.0.1:$PORT_q
priority = 90

[member cd/r]
address = 127.0.0.1:$PORT_r
priority = 80

[service nc]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2
failover_cooldown = 0ms
on_promote = $HOOKS_DIR/on_promote
on_change = $HOOKS_DIR/on_change

[member nc/m1]
address = 127.0.0.1:$PORT_m1
priority = 50

[member nc/m2]
address = 127.0.0.1:$PORT_m2
priority = 40

[member nc/z]
address = 127.0.0.1:$PORT_z
priority = 0
EOT
	} >"$conf"
}

svc() { printf '.services[] | select(.name == "%s")' "$1"; }

write_conf manual
"$SPOFD" -t -c "$conf" >"$TMPD/t.out" 2>&1 || fail "spofd -t rejects the test config: $(cat "$TMPD/t.out")"
start_spofd "$conf"

# ---- initial election: the highest priority, epoch 1, on_promote once ----
wait_status "$(svc web) | .primary == \"a\" and .epoch == 1 and .state == \"ok\"" 15
wait_status "$(svc cd) | .primary == \"p\" and .epoch == 1 and .state == \"ok\"" 15
wait_status "$(svc nc) | .primary == \"m1\" and .epoch == 1 and .state == \"ok\"" 15
wait_file_line '^change|web|1|' "$HLOG" 10
[ "$(count_lines '^promote|web|' "$HLOG")" -eq 1 ] || fail "on_promote of web ran not exactly once: $(cat "$HLOG")"
grep -qx "promote|web|1||a|127.0.0.1:$PORT_a|testnode|initial" "$HLOG" \
	|| fail "initial on_promote environment wrong: $(cat "$HLOG")"
[ "$(count_lines '^demote|web|' "$HLOG")" -eq 0 ] || fail "on_demote ran with no old primary: $(cat "$HLOG")"
[ "$(line_no '^promote|web|1|' "$HLOG")" -lt "$(line_no '^change|web|1|' "$HLOG")" ] \
	|| fail "on_change ran before on_promote: $(cat "$HLOG")"
grep -q '+elected' "$TMPD/spofd.log" || fail "no +elected event in the log"
out=$(status_json web)
printf '%s' "$out" | jq -e '.services[0] | [.members[] | .role] == ["primary", "standby", "standby"]
	and .maintenance == false and (.state_since | test("^[0-9-]+T[0-9:.]+Z$"))' >/dev/null \
	|| fail "roles or state fields wrong after the election: $out"

# ---- the primary dies: b, epoch 2, demote -> promote -> change, once each ----
stop_pid "$PID_a"
wait_status "$(svc web) | .primary == \"b\" and .epoch == 2 and .state == \"ok\"" 15
wait_file_line '^change|web|2|' "$HLOG" 10
sleep 1 # anything that would run twice has had its chance
[ "$(count_lines '^demote|web|2|' "$HLOG")" -eq 1 ] || fail "on_demote not run exactly once in epoch 2: $(cat "$HLOG")"
[ "$(count_lines '^promote|web|2|' "$HLOG")" -eq 1 ] || fail "on_promote not run exactly once in epoch 2: $(cat "$HLOG")"
[ "$(count_lines '^change|web|2|' "$HLOG")" -eq 1 ] || fail "on_change not run exactly once in epoch 2: $(cat "$HLOG")"
[ "$(count_lines '^promote|web|' "$HLOG")" -eq 2 ] || fail "extra promotions of web: $(cat "$HLOG")"
grep -qx "promote|web|2|a|b|127.0.0.1:$PORT_b|testnode|failover" "$HLOG" \
	|| fail "on_promote environment of the failover wrong: $(cat "$HLOG")"
grep -qx "demote|web|2|a|b|127.0.0.1:$PORT_b|testnode|failover" "$HLOG" \
	|| fail "on_demote environment of the failover wrong: $(cat "$HLOG")"
grep -qx "change|web|2|a|b|127.0.0.1:$PORT_b|testnode|failover" "$HLOG" \
	|| fail "on_change environment of the failover wrong: $(cat "$HLOG")"
d=$(line_no '^demote|web|2|' "$HLOG"); p=$(line_no '^promote|web|2|' "$HLOG"); c=$(line_no '^change|web|2|' "$HLOG")
[ "$d" -lt "$p" ] && [ "$p" -lt "$c" ] || fail "hooks out of order (demote $d, promote $p, change $c): $(cat "$HLOG")"
out=$(status_json web)
printf '%s' "$out" | jq -e '.services[0] | .primary == "b" and .epoch == 2 and .state == "ok"
	and ([.members[] | {(.name): .role}] | add) == {"a": "standby", "b": "primary", "c": "standby"}
	and (.members[0].health == "down")' >/dev/null \
	|| fail "status after the failover wrong: $out"
for ev in +sdown +failover-start +demoted +promoted; do
	grep -q -- "$ev" "$TMPD/spofd.log" || fail "no $ev event in the log"
done

# ---- a comes back; failback = manual: nothing changes ----
start_testsrv_port a "$PORT_a" http
wait_status "$(svc web) | .members[0].health == \"up\"" 10
sleep 3
out=$(status_json web)
printf '%s' "$out" | jq -e '.services[0] | .primary == "b" and .epoch == 2 and .state == "ok"' >/dev/null \
	|| fail "a recovered member took over with failback = manual: $out"
[ "$(count_lines '^promote|web|' "$HLOG")" -eq 2 ] || fail "a hook ran with failback = manual: $(cat "$HLOG")"

# ---- failback = auto (reload): a is primary again after failback_delay ----
write_conf auto
"$SPOFCTL" -s "$SOCK" reload >"$TMPD/reload.out" 2>&1 || fail "reload to failback = auto failed: $(cat "$TMPD/reload.out")"
wait_status "$(svc web) | .primary == \"a\" and .epoch == 3 and .state == \"ok\"" 15
wait_file_line '^change|web|3|' "$HLOG" 10
grep -qx "demote|web|3|b|a|127.0.0.1:$PORT_a|testnode|failback" "$HLOG" \
	|| fail "on_demote of the failback wrong or missing: $(cat "$HLOG")"
grep -qx "promote|web|3|b|a|127.0.0.1:$PORT_a|testnode|failback" "$HLOG" \
	|| fail "on_promote of the failback wrong or missing: $(cat "$HLOG")"
d=$(line_no '^demote|web|3|' "$HLOG"); p=$(line_no '^promote|web|3|' "$HLOG"); c=$(line_no '^change|web|3|' "$HLOG")
[ "$d" -lt "$p" ] && [ "$p" -lt "$c" ] || fail "failback hooks out of order (demote $d, promote $p, change $c): $(cat "$HLOG")"
grep -q -- '+failback' "$TMPD/spofd.log" || fail "no +failback event in the log"
sleep 1
[ "$(count_lines '^promote|web|' "$HLOG")" -eq 3 ] || fail "failback promoted more than once: $(cat "$HLOG")"

# ---- failover_cooldown: the second failover in a row waits ----
# cd's first election was long enough ago that its cooldown is over.
stop_pid "$PID_p"
wait_status "$(svc cd) | .primary == \"q\" and .epoch == 2 and .state == \"ok\"" 15
t_q=$(date +%s)
stop_pid "$PID_q"
wait_status "$(svc cd) | .state == \"primary-down\" and .primary == \"q\" and .epoch == 2" 5
echo "cd held: $(service_field cd state_reason)"
[ "$(count_lines '^promote|cd|3|' "$HLOG")" -eq 0 ] || fail "cd failed over inside its cooldown: $(cat "$HLOG")"
wait_status "$(svc cd) | .primary == \"r\" and .epoch == 3 and .state == \"ok\"" 15
# 3 s of cooldown from the start of the first failover, in whole seconds.
[ $(( $(date +%s) - t_q )) -ge 2 ] || fail "the second failover did not wait for failover_cooldown"
wait_file_line '^change|cd|3|' "$HLOG" 10
grep -qx "promote|cd|3|q|r|127.0.0.1:$PORT_r|testnode|failover" "$HLOG" \
	|| fail "on_promote after the cooldown wrong: $(cat "$HLOG")"
[ "$(count_lines '^promote|cd|' "$HLOG")" -eq 3 ] || fail "cd promoted other than once per epoch: $(cat "$HLOG")"

# ---- no candidate: m1 dies, m2 is down, z has priority 0 ----
stop_pid "$PID_m1"
wait_status "$(svc nc) | .state == \"no-candidate\"" 10
out=$(status_json nc)
printf '%s' "$out" | jq -e '.services[0] | (.members[] | select(.name == "z") | .health == "up" and .role == "standby")
	and .epoch == 1' >/dev/null || fail "priority-0 member promoted or epoch moved: $out"
"$SPOFCTL" -s "$SOCK" status >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "status with a service in no-candidate exited $rc, not 2"
"$SPOFCTL" -s "$SOCK" status nc >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "status nc in no-candidate exited $rc, not 2"
grep -q -- '+no-candidate' "$TMPD/spofd.log" || fail "no +no-candidate event in the log"
# Every backend of nc gone: still no candidate, still no hook.
stop_pid "$PID_z"
wait_status "$(svc nc) | (.members[] | select(.name == \"z\") | .health == \"down\") and .state == \"no-candidate\"" 10
[ "$(count_lines '^promote|nc|' "$HLOG")" -eq 1 ] || fail "a hook ran for nc with no candidate: $(cat "$HLOG")"
# m2 comes up: promoted in epoch 2.
start_testsrv_port m2 "$PORT_m2" http
wait_status "$(svc nc) | .primary == \"m2\" and .epoch == 2 and .state == \"ok\"" 15
wait_file_line '^change|nc|2|' "$HLOG" 10
grep -q "^promote|nc|2|m1|m2|127.0.0.1:$PORT_m2|testnode|" "$HLOG" || fail "on_promote of m2 wrong: $(cat "$HLOG")"
grep -q '^[a-z]*|nc|[0-9]*|[^|]*|z|' "$HLOG" && fail "priority-0 member z appeared as new primary: $(cat "$HLOG")"

# Every hook line carries this node; nothing ran twice per epoch.
[ "$(count_lines '|testnode|' "$HLOG")" -eq "$(wc -l <"$HLOG")" ] || fail "a hook line without SPOFD_NODE: $(cat "$HLOG")"
for e in 1 2 3; do
	[ "$(count_lines "^promote|web|$e|" "$HLOG")" -eq 1 ] || fail "web epoch $e promoted not once: $(cat "$HLOG")"
done
kill -0 "$SPOFD_PID" || fail "daemon died"
stop_spofd
exit 0
