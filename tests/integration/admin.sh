#!/bin/sh
# The admin commands against a real daemon: the initial election runs
# on_promote (reason initial); `switchover --to b` runs on_demote before
# on_promote and waits for the new primary; a switchover to an unknown
# member is refused; in maintenance a dead primary is not replaced, and
# the failover comes once maintenance ends; `history` lists the events;
# `status` exits 0 / 1 / 2 as the service is healthy, degraded or without
# a working primary; a user outside the admin group may read but not act.
. "$top_srcdir/tests/integration/lib.sh"

HLOG=$TMPD/hooks.log
EXPECT_WAIT_S=15  # bound on any one awaited change; generous for a loaded CI machine

# A hook that appends "EVENT NEW_PRIMARY EPOCH REASON" to $HLOG.
make_hook() {
	cat >"$TMPD/$1" <<EOT || fail "cannot write hook $1"
#!/bin/sh
echo "\$SPOFD_EVENT \$SPOFD_NEW_PRIMARY \$SPOFD_EPOCH \$SPOFD_REASON" >>'$HLOG'
EOT
	chmod 0755 "$TMPD/$1" || fail "cannot chmod hook $1"
}
make_hook on_promote
make_hook on_demote

# wait_hook_line REGEX: until a line of the hook log matches.
wait_hook_line() {
	wh_end=$(( $(date +%s) + EXPECT_WAIT_S ))
	until grep -q -- "$1" "$HLOG" 2>/dev/null; do
		[ "$(date +%s)" -ge "$wh_end" ] && fail "no hook line '$1' after ${EXPECT_WAIT_S}s; hooks ran: $(cat "$HLOG" 2>/dev/null)"
		sleep 0.1
	done
}

# first_line REGEX: number of the first hook log line matching, empty if none.
first_line() { grep -n -- "$1" "$HLOG" 2>/dev/null | head -n 1 | cut -d: -f1; }

# ctl EXPECTED_RC ARGS...: run spofctl, output in $TMPD/out, require the exit code.
ctl() {
	ctl_want=$1; shift
	"$SPOFCTL" -s "$SOCK" "$@" >"$TMPD/out" 2>&1; ctl_rc=$?
	[ "$ctl_rc" -eq "$ctl_want" ] || fail "spofctl $* exited $ctl_rc, not $ctl_want: $(cat "$TMPD/out")"
}

# out_has TEXT: the last ctl output contains TEXT (fixed string).
out_has() { grep -q -F -- "$1" "$TMPD/out" || fail "output lacks '$1': $(cat "$TMPD/out")"; }

# A non-admin user: nobody, when we are root and may become it.  The
# socket must then be reachable by nobody: the test dir traversable
# (0711, still writable only by us, as the hook check wants) and the
# socket in nobody's primary group.
NOBODY=""
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
	NOBODY_GROUP=$(id -gn nobody)
	chmod 0711 "$TMPD" || fail "chmod $TMPD"
	NOBODY=yes
fi
as_nobody() { setpriv --reuid=nobody --regid="$NOBODY_GROUP" --clear-groups "$@"; }

start_testsrv a http
start_testsrv b http

conf=$TMPD/spofd.conf
{
	config_head
	# Hooks owned by whoever runs the test: root needs no hook_user.
	[ "$(id -u)" -eq 0 ] || echo "hook_user = $(id -un)"
	[ -n "$NOBODY" ] && echo "control_group = $NOBODY_GROUP"
	cat <<EOT

[service web]
check = http
interval = 200ms
timeout = 150ms
rise = 2
fall = 2
failover_cooldown = 0ms
on_promote = $TMPD/on_promote
on_demote = $TMPD/on_demote

[member web/a]
address = 127.0.0.1:$PORT_a
priority = 100

[member web/b]
address = 127.0.0.1:$PORT_b
priority = 90
EOT
} >"$conf"

start_spofd "$conf"

# ---- initial election: a, epoch 1, on_promote with reason initial ----
wait_status '.services[0] | .state == "ok" and .primary == "a" and .epoch == 1' $EXPECT_WAIT_S
wait_hook_line '^promote a 1 initial$'
[ -z "$(first_line '^demote')" ] || fail "on_demote ran at the initial election: $(cat "$HLOG")"
status_json | jq -e '.services[0].members | map({(.name): .role}) | add == {"a": "primary", "b": "standby"}' >/dev/null \
	|| fail "roles after the election: $(status_json)"

# Healthy: exit 0, and the table shows the service line and the roles.
ctl 0 status
out_has "web  state ok  epoch 1  primary a"
grep -E -q '^\| *MEMBER *\| *ROLE *\|' "$TMPD/out" || fail "no MEMBER/ROLE header: $(cat "$TMPD/out")"
grep -E -q '^\| *a *\| *primary *\|' "$TMPD/out" || fail "no primary row for a: $(cat "$TMPD/out")"
grep -E -q '^\| *b *\| *standby *\|' "$TMPD/out" || fail "no standby row for b: $(cat "$TMPD/out")"

# ---- a user outside the admin group reads but may not act ----
if [ -n "$NOBODY" ] && as_nobody "$SPOFCTL" -V >/dev/null 2>&1; then
	as_nobody "$SPOFCTL" -s "$SOCK" status >"$TMPD/out" 2>&1; rc=$?
	[ $rc -eq 0 ] || fail "status as nobody exited $rc: $(cat "$TMPD/out")"
	as_nobody "$SPOFCTL" -s "$SOCK" switchover web --to b >"$TMPD/out" 2>&1; rc=$?
	[ $rc -eq 2 ] || fail "switchover as nobody exited $rc, not 2: $(cat "$TMPD/out")"
	out_has "permission denied"
	as_nobody "$SPOFCTL" -s "$SOCK" maintenance web on >"$TMPD/out" 2>&1; rc=$?
	[ $rc -eq 2 ] || fail "maintenance as nobody exited $rc, not 2: $(cat "$TMPD/out")"
	out_has "permission denied"
	status_json | jq -e '.services[0] | .primary == "a" and .epoch == 1 and .maintenance == false' >/dev/null \
		|| fail "a refused command changed something: $(status_json)"
elif [ -n "$NOBODY" ]; then
	echo "note: nobody cannot run $SPOFCTL (its directory is closed); permission case skipped"
else
	echo "note: not root (or no nobody/setpriv); permission case skipped"
fi

# ---- switchover to b: on_demote first, then on_promote; epoch 2 ----
ctl 0 switchover web --to b
out_has "web: primary is now b (epoch 2)"
wait_hook_line '^promote b 2 switchover$'
d=$(first_line '^demote b 2 switchover$')
p=$(first_line '^promote b 2 switchover$')
[ -n "$d" ] || fail "on_demote did not run for the switchover: $(cat "$HLOG")"
[ "$d" -lt "$p" ] || fail "on_promote ran before on_demote: $(cat "$HLOG")"
status_json | jq -e '.services[0] | .state == "ok" and .primary == "b" and .epoch == 2' >/dev/null \
	|| fail "status after the switchover: $(status_json)"
status_json | jq -e '.services[0].members | map({(.name): .role}) | add == {"a": "standby", "b": "primary"}' >/dev/null \
	|| fail "roles after the switchover: $(status_json)"

# ---- refused switchovers: clear errors, exit 2, nothing changes ----
ctl 2 switchover web --to nosuch
out_has "nosuch"
ctl 2 switchover nosvc
out_has "nosvc"
ctl 2 switchover web --to b
ctl 2 switchover
ctl 2 switchover web --bogus
status_json | jq -e '.services[0] | .primary == "b" and .epoch == 2' >/dev/null \
	|| fail "a refused switchover changed something: $(status_json)"

# ---- maintenance: b dies, no failover ----
ctl 0 maintenance web on
out_has "maintenance"
wait_status '.services[0] | .state == "maintenance" and .maintenance == true' $EXPECT_WAIT_S
ctl 1 status
out_has "state maintenance"
ctl 2 maintenance web maybe
nlines=$(wc -l <"$HLOG")
stop_pid "$PID_b"
wait_status '.services[0].members[] | select(.name == "b") | .health == "down"' $EXPECT_WAIT_S
# Several intervals more in which a failover would have happened.
sleep 1.5
status_json | jq -e '.services[0] | .primary == "b" and .epoch == 2 and .state == "maintenance"' >/dev/null \
	|| fail "failover during maintenance: $(status_json)"
[ "$(wc -l <"$HLOG")" -eq "$nlines" ] || fail "hooks ran during maintenance: $(cat "$HLOG")"
ctl 1 status

# ---- maintenance off: the failover to a happens ----
ctl 0 maintenance web off
wait_status '.services[0] | .state == "ok" and .primary == "a" and .epoch == 3' $EXPECT_WAIT_S
wait_hook_line '^promote a 3 failover$'
# b is still down: degraded.
ctl 1 status
out_has "web  state ok  epoch 3  primary a"
# No standby is up now: a switchover has nowhere to go.
ctl 2 switchover web
ctl 2 switchover web --to b

# ---- history ----
ctl 0 history web
for ev in +elected +promoted +switchover +demoted +maintenance -maintenance +failover-start; do
	grep -q -F -- " $ev " "$TMPD/out" || fail "history lacks $ev: $(cat "$TMPD/out")"
done
head -n 1 "$TMPD/out" | grep -E -q '^TIME +SERVICE +EVENT +DETAIL$' || fail "history header: $(head -n 1 "$TMPD/out")"
# Today's events show the time of day with milliseconds.
sed -n 2p "$TMPD/out" | grep -E -q '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}  ' || fail "history time: $(sed -n 2p "$TMPD/out")"
"$SPOFCTL" -s "$SOCK" history web --json >"$TMPD/hist.json" || fail "history --json failed"
jq -e '.ok == true and ([.events[].event] | index("+switchover") != null) and all(.events[]; .service == "web")' \
	"$TMPD/hist.json" >/dev/null || fail "history --json: $(cat "$TMPD/hist.json")"
jq -e '[.events[].event] | (index("+switchover") < index("+maintenance"))' "$TMPD/hist.json" >/dev/null \
	|| fail "history not oldest first: $(cat "$TMPD/hist.json")"
ctl 0 history
ctl 2 history web extra

# ---- no member left: exit 2 ----
stop_pid "$PID_a"
wait_status '.services[0].state == "no-candidate"' $EXPECT_WAIT_S
ctl 2 status
out_has "no-candidate"
status_json >/dev/null; rc=$?
[ $rc -eq 2 ] || fail "status --json with no candidate exited $rc, not 2"

# ---- reload (privileged, as root or the daemon's own user) ----
ctl 0 reload

# ---- the daemon gone: exit 2 ----
kill -TERM "$SPOFD_PID"; wait "$SPOFD_PID" 2>/dev/null
ctl 2 status
ctl 2 switchover web --to a
exit 0
