#!/bin/sh
# exec checks run by the daemon: one command per service, told which member
# it checks through SPOFD_* variables.  Members whose command exits 0, exits
# 2, is killed by a signal, hangs past the timeout (ignoring SIGTERM, so
# SIGKILL after the grace), and a command that does not exist; the output
# reaches the log; no child process is left behind, neither while the
# daemon runs nor after it stops.
. "$top_srcdir/tests/integration/lib.sh"
need pgrep

# The script's path is under $TMPD: it marks every process of ours in `ps`.
check=$TMPD/check.sh
cat >"$check" <<'EOT'
#!/bin/sh
case "$SPOFD_MEMBER" in
ok)
	# An exec member without an address gets no address variables.
	[ -z "${SPOFD_MEMBER_ADDRESS+set}" ] || exit 10
	[ "$SPOFD_SERVICE" = job ] || exit 11
	echo "all good"
	exit 0 ;;
env)
	[ "$SPOFD_SERVICE" = job ] || exit 11
	[ "$SPOFD_MEMBER_ADDRESS" = 127.0.0.1:7 ] || exit 12
	[ "$SPOFD_MEMBER_HOST" = 127.0.0.1 ] || exit 13
	[ "$SPOFD_MEMBER_PORT" = 7 ] || exit 14
	exit 0 ;;
bad)
	echo "replica lag too high" >&2
	exit 2 ;;
sig)
	kill -KILL $$ ;;
hang)
	# Deaf to SIGTERM: only the SIGKILL after the grace ends it.
	trap '' TERM
	while :; do sleep 0.1; done ;;
esac
exit 99
EOT
chmod 755 "$check"

conf=$TMPD/spofd.conf
{
	config_head
	cat <<EOT

[service job]
check = exec
interval = 300ms
timeout = 250ms
rise = 1
fall = 1
exec_command = /bin/sh $check
exec_kill_grace = 200ms

[member job/ok]

[member job/env]
address = 127.0.0.1:7

[member job/bad]

[member job/sig]

[member job/hang]

[service missing]
check = exec
interval = 300ms
timeout = 250ms
rise = 1
fall = 1
exec_command = $TMPD/no-such-command --flag

[member missing/m]
EOT
} >"$conf"

# Processes of ours: the shell running $check (its sleeps live shortly).
ours() { pgrep -f "$check" 2>/dev/null | wc -l; }

start_spofd "$conf"
wait_status '[.services[] | select(.name == "job") | .members[] | select(.name == "ok" or .name == "env") | .health == "up"] | all' 10
wait_status '.services[] | select(.name == "job") | .members[] | select(.name == "bad") | .health == "down"' 10
wait_status '.services[] | select(.name == "job") | .members[] | select(.name == "sig") | .health == "down"' 10
wait_status '.services[] | select(.name == "job") | .members[] | select(.name == "hang") | .health == "down"' 10
wait_status '.services[] | select(.name == "missing") | .members[0].health == "down"' 10

for m in ok env bad sig hang; do
	eval "r_$m=\$(member_field job $m reason)"
done
[ "$r_ok" = ok ] || fail "job/ok reason '$r_ok', not ok"
[ "$r_env" = ok ] || fail "job/env reason '$r_env', not ok (SPOFD_* variables wrong)"
[ "$r_bad" = "exec-exit 2" ] || fail "job/bad reason '$r_bad', not exec-exit 2"
[ "$r_sig" = "exec-signal 9" ] || fail "job/sig reason '$r_sig', not exec-signal 9"
[ "$r_hang" = timeout ] || fail "job/hang reason '$r_hang', not timeout"
r=$(member_field missing m reason)
[ "$r" = exec-error ] || fail "missing/m reason '$r', not exec-error"

# Output is logged with the member and the stream.
i=0
until grep -q 'exec job/bad stderr: replica lag too high' "$TMPD/spofd.log"; do
	i=$((i + 1)); [ $i -gt 50 ] && fail "stderr of job/bad not in the log"
	sleep 0.1
done
grep -q 'exec job/ok stdout: all good' "$TMPD/spofd.log" || fail "stdout of job/ok not in the log"

# Several hang runs were killed by now; they must not pile up.  At most the
# one in flight may exist (give a run being killed a moment to go).
sleep 1
n=$(ours)
[ "$n" -le 2 ] || fail "$n check processes alive while the daemon runs: $(pgrep -af "$check")"

# Stop the daemon, most likely with a hang run in flight: nothing survives.
kill -TERM "$SPOFD_PID"
wait "$SPOFD_PID"; rc=$?
[ $rc -eq 0 ] || fail "spofd exited $rc after SIGTERM"
i=0
while [ "$(ours)" -gt 0 ]; do
	i=$((i + 1))
	[ $i -gt 30 ] && fail "check processes left after the daemon stopped: $(pgrep -af "$check")"
	sleep 0.1
done
exit 0
