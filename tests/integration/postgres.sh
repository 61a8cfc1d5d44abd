#!/bin/sh
# PostgreSQL end to end, with real servers (tests/pg_cluster.sh: initdb,
# pg_basebackup -R, SCRAM passwords, loopback ports) and the shipped hooks
# (copies of etc/hooks/* in a root-owned 0755 directory, configured by a
# hooks.conf naming both local data directories).  Four services watched
# by one daemon with pg_query = yes:
#   pg      a primary + b standby: kill -9 of a's postmaster; b is promoted
#           by pg-promote, takes an INSERT, reports pg_is_in_recovery() = f;
#           a is fenced by pg-demote (standby.signal), comes back as a
#           standby; started as a primary anyway, it is flagged
#           split-brain-suspect and never taken back.
#   frozen  c primary + d standby: SIGSTOP of c's postmaster; the probes
#           time out and d is promoted; after SIGCONT the stop pg-demote
#           left pending shuts c down.
#   lag     e primary + f standby with max_lag_bytes = 1 MiB: f stops
#           receiving WAL, e writes 20 MB and dies; f is not promoted and
#           status says why; a forced switchover promotes it.
#   badpw   a member logged in to with the wrong password: auth-failed, the
#           daemon carries on, no password in the log or status.
# Needs root (the servers run as postgres, the hooks stop them) and the
# postgresql package; skips otherwise.
. "$top_srcdir/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (PostgreSQL runs as the postgres user; hooks stop it)"
PGC_SOURCED=1
. "$top_srcdir/tests/pg_cluster.sh"
pgc_usable >"$TMPD/why" || skip "$(cat "$TMPD/why")"
command -v timeout >/dev/null 2>&1 || skip "timeout (coreutils) not installed"

pgc_new
trap 'pgc_destroy; cleanup' EXIT

svc() { printf '.services[] | select(.name == "%s")' "$1"; }
mem() { printf '.services[] | select(.name == "%s") | .members[] | select(.name == "%s")' "$1" "$2"; }

# ---- the servers ----
for pair in "a b" "c d" "e f"; do
	set -- $pair
	pgc_primary "$1" || fail "cannot start primary $1"
	pgc_standby "$2" "$1" || fail "cannot start standby $2"
done
pgc_psql a "CREATE TABLE t (x int); INSERT INTO t VALUES (1)" || fail "cannot write on a"
for n in a b c d e f; do eval "P_$n=$(pgc_port $n)"; done

# ---- the hooks, as an admin installs them, and their settings ----
HOOKS=$TMPD/hooks
mkdir -p "$HOOKS" && chmod 0755 "$HOOKS" || fail "cannot create $HOOKS"
for h in pg-promote pg-demote notify; do
	cp "$top_srcdir/etc/hooks/$h" "$HOOKS/$h" && chmod 0755 "$HOOKS/$h" || fail "cannot install $h"
done
HOOKS_CONF=$TMPD/hooks.conf
export HOOKS_CONF
cat >"$HOOKS_CONF" <<EOT
pg_user = postgres
pg_password_file = $PGC_BASE/password
pg_bindir = $PGBIN
connect_timeout = 2
promote_timeout = 15
stop_timeout = 3
notify_syslog = no
notify_file = $TMPD/notify.log
member pg/a 127.0.0.1:$P_a $(pgc_datadir a)
member pg/b 127.0.0.1:$P_b $(pgc_datadir b)
member frozen/c 127.0.0.1:$P_c $(pgc_datadir c)
member frozen/d 127.0.0.1:$P_d $(pgc_datadir d)
member lag/e 127.0.0.1:$P_e $(pgc_datadir e)
member lag/f 127.0.0.1:$P_f $(pgc_datadir f)
EOT
chmod 0644 "$HOOKS_CONF"
WRONG=wrong-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && echo "$WRONG" >"$TMPD/wrong.password")

conf=$TMPD/spofd.conf
{
	config_head
	for s in "pg a b" "frozen c d" "lag e f"; do
		set -- $s
		cat <<EOT

[service $1]
check = postgres
pg_query = yes
pg_password_file = $PGC_BASE/password
interval = 500ms
timeout = 400ms
rise = 2
fall = 2
failover_cooldown = 0ms
hook_timeout = 30s
on_promote = $HOOKS/pg-promote
on_demote = $HOOKS/pg-demote
on_change = $HOOKS/notify
EOT
		[ "$1" = lag ] && echo "max_lag_bytes = 1048576"
		cat <<EOT

[member $1/$2]
address = 127.0.0.1:$(pgc_port "$2")
priority = 100

[member $1/$3]
address = 127.0.0.1:$(pgc_port "$3")
priority = 90
EOT
	done
	cat <<EOT

[service badpw]
check = postgres
pg_query = yes
pg_password_file = $TMPD/wrong.password
interval = 500ms
timeout = 400ms

[member badpw/x]
address = 127.0.0.1:$P_e
EOT
} >"$conf"
"$SPOFD" -t -c "$conf" >"$TMPD/t.out" 2>&1 || fail "spofd -t rejects the test config: $(cat "$TMPD/t.out")"
start_spofd "$conf"

# ---- start: the primaries elected, roles and WAL positions shown ----
for s in "pg a b" "frozen c d" "lag e f"; do
	set -- $s
	wait_status "$(svc $1) | .primary == \"$2\" and .epoch == 1 and .state == \"ok\"" 30
	wait_status "($(mem $1 $2) | .reported_role == \"primary\" and .lsn > 0 and .health == \"up\")
		and ($(mem $1 $3) | .reported_role == \"standby\" and .lsn > 0 and .health == \"up\"
		and (.lag_bytes | type) == \"number\")" 15
done
wait_file_line 'pg-promote: pg/a at .* is a primary already' "$TMPD/spofd.log" 10

# ---- wrong password: a clear reason, nothing leaked, the daemon fine ----
wait_status "($(mem badpw x)) | .reason == \"auth-failed\" and (.detail | test(\"password authentication failed\"))" 10
pw=$(pgc_password)
grep -q -- "$WRONG" "$TMPD/spofd.log" && fail "the wrong password appears in the log"
grep -q -- "$pw" "$TMPD/spofd.log" && fail "the password appears in the log"
status_json | grep -q -- "$WRONG" && fail "the wrong password appears in status"
status_json | grep -q -- "$pw" && fail "the password appears in status"
kill -0 "$SPOFD_PID" || fail "daemon died"

# ---- pg: kill -9 of the primary's postmaster ----
pid_a=$(pgc_pid a)
[ -n "$pid_a" ] || fail "no postmaster pid for a"
kill -KILL "$pid_a"
wait_status "$(svc pg) | .primary == \"b\" and .epoch == 2 and .state == \"ok\"" 60
[ "$(pgc_psql b 'SELECT pg_is_in_recovery()')" = f ] || fail "b still in recovery after its promotion"
pgc_psql b "INSERT INTO t VALUES (2)" || fail "the new primary b refuses an INSERT"
[ "$(pgc_psql b 'SELECT count(*) FROM t')" = 2 ] || fail "b lost the row written on a"
wait_status "$(mem pg b) | .reported_role == \"primary\" and .role == \"primary\" and .health == \"up\"" 10
grep -q 'pg-promote: promoting pg/b' "$TMPD/spofd.log" || fail "pg-promote did not promote b"
grep -q 'pg-demote: pg/a: standby.signal written' "$TMPD/spofd.log" || fail "pg-demote did not fence a"
grep -q 'pg-demote: pg/a: not running here' "$TMPD/spofd.log" || fail "pg-demote did not see a was down"
[ -f "$(pgc_datadir a)/standby.signal" ] || fail "no standby.signal in a's data directory"
wait_file_line 'primary a -> b (127.0.0.1:'"$P_b"'), epoch 2, failover' "$TMPD/notify.log" 10

# a starts again: fenced, it comes back a standby, not a primary.
pgc_start a || fail "cannot start a again"
wait_status "$(mem pg a) | .reported_role == \"standby\" and .health == \"up\" and .role == \"standby\"" 30
[ "$(pgc_psql a 'SELECT pg_is_in_recovery()')" = t ] || fail "the fenced a is not in recovery"
out=$(status_json)
printf '%s' "$out" | jq -e "$(svc pg) | .primary == \"b\" and .epoch == 2" >/dev/null ||
	fail "a took its role back: $out"

# Unfenced by hand and started as a primary: a second primary, flagged, never taken back.
pgc_stop a || fail "cannot stop a"
rm -f "$(pgc_datadir a)/standby.signal"
pgc_start a || fail "cannot start a as a primary"
[ "$(pgc_psql a 'SELECT pg_is_in_recovery()')" = f ] || fail "a did not start as a primary"
wait_status "$(mem pg a) | .reason == \"split-brain-suspect\" and .health == \"down\" and .role == \"standby\"" 15
wait_file_line '+split-brain-suspect pg/a' "$TMPD/spofd.log" 5
sleep 2
out=$(status_json)
printf '%s' "$out" | jq -e "$(svc pg) | .primary == \"b\" and .epoch == 2" >/dev/null ||
	fail "the second primary a was accepted: $out"
pgc_stop a immediate

# ---- frozen: SIGSTOP of the primary's postmaster ----
pid_c=$(pgc_pid c)
[ -n "$pid_c" ] || fail "no postmaster pid for c"
kill -STOP "$pid_c"
wait_status "$(mem frozen c) | .reason == \"timeout\" and .health == \"down\"" 15
wait_status "$(svc frozen) | .primary == \"d\" and .epoch == 2 and .state == \"ok\"" 60
[ "$(pgc_psql d 'SELECT pg_is_in_recovery()')" = f ] || fail "d still in recovery after its promotion"
pgc_psql d "CREATE TABLE after_freeze (x int); INSERT INTO after_freeze VALUES (1)" ||
	fail "the new primary d refuses writes"
grep -q 'pg-demote: frozen/c: stopping' "$TMPD/spofd.log" || fail "pg-demote did not try to stop c"
# Thawed, c finds the stop requests waiting and shuts down instead of serving as a primary.
kill -CONT "$pid_c"
end=$(( $(date +%s) + 30 ))
while pid_alive "$pid_c"; do
	[ "$(date +%s)" -ge "$end" ] && fail "the thawed old primary c kept running"
	sleep 0.2
done
[ -f "$(pgc_datadir c)/standby.signal" ] || fail "no standby.signal in c's data directory"

# ---- lag: a standby too far behind is not promoted automatically ----
pgc_psql f "ALTER SYSTEM SET primary_conninfo = ''" >/dev/null || fail "cannot cut f off"
pgc_psql f "SELECT pg_reload_conf()" >/dev/null
end=$(( $(date +%s) + 20 ))
until [ "$(pgc_psql e "SELECT count(*) FROM pg_stat_replication")" = 0 ]; do
	[ "$(date +%s)" -ge "$end" ] && fail "f kept streaming from e"
	sleep 0.2
done
pgc_psql e "CREATE TABLE big AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 20000) g" ||
	fail "cannot write 20 MB on e"
# The WAL positions the probes report show the gap.
wait_status "(($(mem lag e) | .lsn) - ($(mem lag f) | .lsn)) > 1048576" 15
kill -KILL "$(pgc_pid e)"
wait_status "$(svc lag) | .state == \"no-candidate\" and (.state_reason | test(\"max_lag_bytes\"))" 20
echo "lag held: $(service_field lag state_reason)"
wait_status "$(mem lag f) | .lag_bytes > 1048576" 5
sleep 2
out=$(status_json)
printf '%s' "$out" | jq -e "$(svc lag) | .primary == \"e\" and .epoch == 1" >/dev/null ||
	fail "a standby beyond max_lag_bytes was promoted: $out"
[ "$(pgc_psql f 'SELECT pg_is_in_recovery()')" = t ] || fail "f left recovery without being asked"
grep -q 'promoting lag/f' "$TMPD/spofd.log" && fail "pg-promote ran for the lagging f"
# An admin may accept the loss.
"$SPOFCTL" -s "$SOCK" switchover lag --to f >"$TMPD/sw.out" 2>&1 &&
	fail "a switchover to the lagging f went through without --force: $(cat "$TMPD/sw.out")"
grep -q 'max_lag_bytes' "$TMPD/sw.out" || fail "the refused switchover does not say why: $(cat "$TMPD/sw.out")"
"$SPOFCTL" -s "$SOCK" switchover lag --to f --force >"$TMPD/sw.out" 2>&1 ||
	fail "forced switchover to f failed: $(cat "$TMPD/sw.out")"
wait_status "$(svc lag) | .primary == \"f\" and .epoch == 2 and .state == \"ok\"" 30
[ "$(pgc_psql f 'SELECT pg_is_in_recovery()')" = f ] || fail "f not promoted by the forced switchover"

kill -0 "$SPOFD_PID" || fail "daemon died"
for s in pg frozen lag; do
	[ "$(count_lines "^.*spofd: $s: primary" "$TMPD/notify.log")" -ge 2 ] ||
		fail "notify did not log the changes of $s: $(cat "$TMPD/notify.log")"
done
stop_spofd
exit 0
