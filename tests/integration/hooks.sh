#!/bin/sh
# Hooks: a hanging on_promote is killed at hook_timeout with its whole
# process group while the daemon keeps answering, the service shows
# "failed" and the next candidate is promoted after promote_backoff
# (reason retry); an on_promote that fails for one member leads to the
# next one; hook output is logged under the hook's name; a hook others
# could modify is refused by `spofd -t` and by a reload.
. "$top_srcdir/tests/integration/lib.sh"

HLOG=$TMPD/hooks.log

# h1: on_promote hangs for member a.  It records its PID, its process
# group and the PID of its sleep, so we can see that all of them die.
write_hook h1/on_promote "if [ \"\$SPOFD_NEW_PRIMARY\" = a ]; then
	sed 's/^.*) //' /proc/\$\$/stat | cut -d' ' -f3 >'$TMPD/hang.pgid'
	echo \$\$ >'$TMPD/hang.pid'
	sleep 100 &
	echo \$! >'$TMPD/sleep.pid.tmp' && mv '$TMPD/sleep.pid.tmp' '$TMPD/sleep.pid'
	wait
fi
exit 0"
HOOK_H1=$HOOK
# h2: on_promote fails for member b and talks on stdout and stderr.
write_hook h2/on_promote "echo \"stdout-marker new=\$SPOFD_NEW_PRIMARY\"
echo \"stderr-marker new=\$SPOFD_NEW_PRIMARY\" >&2
[ \"\$SPOFD_NEW_PRIMARY\" = b ] && exit 1
exit 0"
HOOK_H2=$HOOK

start_testsrv a1 http
start_testsrv b1 http
start_testsrv a2 http
start_testsrv b2 http
start_testsrv c2 http

conf=$TMPD/spofd.conf
# write_conf [H2_HOOK [EXTRA_MEMBER]]: the configuration; h2's on_promote may be swapped.
write_conf() {
	{
		config_head
		hook_user_line
		cat <<EOT

[service h1]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2
failover_cooldown = 0ms
hook_timeout = 2s
hook_kill_grace = 1s
promote_backoff = 2s
on_promote = $HOOK_H1

[member h1/a]
address = 127.0.0.1:$PORT_a1
priority = 100

[member h1/b]
address = 127.0.0.1:$PORT_b1
priority = 90

[service h2]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2
failover_cooldown = 0ms
hook_timeout = 10s
promote_backoff = 2s
on_promote = ${1:-$HOOK_H2}

[member h2/a]
address = 127.0.0.1:$PORT_a2
priority = 100

[member h2/b]
address = 127.0.0.1:$PORT_b2
priority = 90

[member h2/c]
address = 127.0.0.1:$PORT_c2
priority = 80
EOT
		[ -n "${2:-}" ] && printf '\n[member h2/%s]\naddress = 127.0.0.1:%s\npriority = 10\n' "$2" "$PORT_a1"
	} >"$conf"
	return 0
}

svc() { printf '.services[] | select(.name == "%s")' "$1"; }

write_conf
"$SPOFD" -t -c "$conf" >"$TMPD/t.out" 2>&1 || fail "spofd -t rejects the test config: $(cat "$TMPD/t.out")"
start_spofd "$conf"

# ---- h1: the hanging hook ----
wait_file_line '[0-9]' "$TMPD/sleep.pid" 15
hook_pid=$(cat "$TMPD/hang.pid"); hook_pgid=$(cat "$TMPD/hang.pgid"); sleep_pid=$(cat "$TMPD/sleep.pid")
[ "$hook_pgid" = "$hook_pid" ] || fail "the hook does not lead its own process group (pid $hook_pid, pgid $hook_pgid)"
[ "$hook_pgid" != "$(sed 's/^.*) //' "/proc/$SPOFD_PID/stat" | cut -d' ' -f3)" ] || fail "the hook shares the daemon's process group"
# The daemon answers while the hook hangs, and says a change is under way.
pid_alive "$sleep_pid" || fail "the hook's sleep died before its timeout"
out=$(status_json h1) # exit 1: a change under way is "degraded"
pid_alive "$sleep_pid" || fail "the hook was killed at once, not at its timeout"
printf '%s' "$out" | jq -e '.ok == true and (.services[0].state | . == "failing-over" or . == "electing")' >/dev/null \
	|| fail "status during the hook does not show a change under way: $out"
grep -qx "promote|h1|1||a|127.0.0.1:$PORT_a1|testnode|initial" "$HLOG" || fail "hanging hook environment wrong: $(cat "$HLOG")"
# Killed at hook_timeout (2 s), KILL after the grace (1 s): allow 10 s.
end=$(( $(date +%s) + 10 ))
while pid_alive "$sleep_pid" || pid_alive "$hook_pid"; do
	[ "$(date +%s)" -ge "$end" ] && fail "hook (pid $hook_pid) or its sleep (pid $sleep_pid) still alive 10 s after start"
	sleep 0.1
done
wait_status "$(svc h1) | .state == \"failed\"" 5
grep -q -- '+hook-timeout' "$TMPD/spofd.log" || fail "no +hook-timeout event in the log"
grep -q -- '+promote-failed' "$TMPD/spofd.log" || fail "no +promote-failed event in the log"
# After promote_backoff, the next candidate in a new epoch.
wait_status "$(svc h1) | .primary == \"b\" and .epoch == 2 and .state == \"ok\"" 15
grep -q "^promote|h1|2|[^|]*|b|127.0.0.1:$PORT_b1|testnode|retry\$" "$HLOG" || fail "retry on_promote wrong: $(cat "$HLOG")"
[ "$(count_lines '^promote|h1|' "$HLOG")" -eq 2 ] || fail "h1 hooks ran other than twice: $(cat "$HLOG")"

# ---- h2: on_promote fails for b, c is next ----
wait_status "$(svc h2) | .primary == \"a\" and .epoch == 1 and .state == \"ok\"" 15
stop_pid "$PID_a2"
wait_file_line '^promote|h2|2|a|b|' "$HLOG" 15
wait_status "$(svc h2) | .state == \"failed\"" 10
wait_status "$(svc h2) | .primary == \"c\" and .epoch == 3 and .state == \"ok\"" 15
grep -q "^promote|h2|3|[^|]*|c|127.0.0.1:$PORT_c2|testnode|retry\$" "$HLOG" || fail "on_promote of c wrong: $(cat "$HLOG")"
sleep 1
[ "$(count_lines '^promote|h2|' "$HLOG")" -eq 3 ] || fail "h2 hooks ran other than three times: $(cat "$HLOG")"
out=$(status_json h2)
printf '%s' "$out" | jq -e '([.services[0].members[] | {(.name): .role}] | add) == {"a": "standby", "b": "standby", "c": "primary"}' >/dev/null \
	|| fail "roles after the retry wrong: $out"

# Hook output, both streams, logged line by line under the hook's name.
for m in "stdout-marker new=a" "stderr-marker new=a" "stdout-marker new=b" "stdout-marker new=c"; do
	grep -q -- "$m" "$TMPD/spofd.log" || fail "hook output '$m' not in the log"
	grep -- "$m" "$TMPD/spofd.log" | grep -q on_promote || fail "hook output '$m' not logged under on_promote: $(grep -- "$m" "$TMPD/spofd.log")"
done
grep on_promote "$TMPD/spofd.log" | grep -q "exit 1" || fail "the failing hook's exit status is not logged"

# ---- a hook others could modify is refused ----
write_hook bad/on_promote
bad=$HOOK
bconf=$TMPD/bad.conf
check_refused() {
	write_conf "$bad"
	cp "$conf" "$bconf"
	bline=$(grep -n "^on_promote = $bad\$" "$bconf" | cut -d: -f1)
	"$SPOFD" -t -c "$bconf" >"$TMPD/t.out" 2>&1; rc=$?
	[ $rc -eq 1 ] || fail "spofd -t with a $1 hook exited $rc, not 1: $(cat "$TMPD/t.out")"
	grep -q "bad.conf:$bline: on_promote: ." "$TMPD/t.out" || fail "no 'bad.conf:$bline: on_promote: ...' error for a $1 hook: $(cat "$TMPD/t.out")"
}
# The group root is trusted: make the file's group another one (root may).
if [ "$(stat -c %g "$bad")" = 0 ]; then
	chgrp 65534 "$bad" 2>/dev/null || skip "cannot give the hook a group other than root"
fi
chmod 0775 "$bad"; check_refused group-writable
chmod 0757 "$bad"; check_refused world-writable
chmod 0755 "$bad"; chmod 0777 "$(dirname "$bad")"; check_refused "writable-directory"
chmod 0755 "$(dirname "$bad")"; chmod 0644 "$bad"; check_refused "non-executable"
chmod 0755 "$bad"
write_conf "$bad"
"$SPOFD" -t -c "$conf" >"$TMPD/t.out" 2>&1 || fail "spofd -t refuses a proper hook: $(cat "$TMPD/t.out")"

# A reload with a group-writable hook (and a new member) keeps the old configuration.
chmod 0775 "$bad"
write_conf "$bad" d
"$SPOFCTL" -s "$SOCK" reload >"$TMPD/reload.out" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "reload with a writable hook exited $rc, not 2: $(cat "$TMPD/reload.out")"
grep -q "on_promote" "$TMPD/reload.out" || fail "reload did not report the hook: $(cat "$TMPD/reload.out")"
kill -0 "$SPOFD_PID" || fail "daemon died on a refused reload"
out=$(status_json)
printf '%s' "$out" | jq -e "($(svc h2) | [.members[].name] == [\"a\", \"b\", \"c\"] and .primary == \"c\") and .stats.reload_failures == 1" >/dev/null \
	|| fail "old configuration not kept after a refused reload: $out"
stop_spofd
exit 0
