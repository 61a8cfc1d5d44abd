#!/bin/sh
# Clean exit on SIGTERM and SIGINT (socket removed, exit 0), and the
# systemd notification protocol: READY=1, WATCHDOG=1, STOPPING=1.
. "$top_srcdir/tests/integration/lib.sh"
need socat

start_testsrv a http
conf=$TMPD/spofd.conf
{
	config_head
	printf '\n[service web]\ncheck = http\ninterval = 200ms\ntimeout = 150ms\n\n[member web/a]\naddress = 127.0.0.1:%s\n' "$PORT_a"
} >"$conf"

# SIGTERM
start_spofd "$conf"
kill -TERM "$SPOFD_PID"
wait "$SPOFD_PID"; rc=$?
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
[ ! -e "$SOCK" ] || fail "control socket left behind after SIGTERM"

# SIGINT
start_spofd "$conf"
kill -INT "$SPOFD_PID"
wait "$SPOFD_PID"; rc=$?
[ $rc -eq 0 ] || fail "exit status $rc after SIGINT"

# sd_notify: a datagram socket stands in for systemd.
NOTIFY=$TMPD/notify.sock
socat -u "UNIX-RECV:$NOTIFY" "OPEN:$TMPD/notify.log,creat,append" &
PIDS="$PIDS $!"
i=0
while [ ! -S "$NOTIFY" ]; do i=$((i + 1)); [ $i -gt 100 ] && fail "socat did not start"; sleep 0.05; done
rm -f "$SOCK"
NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=200000 "$SPOFD" -c "$conf" >>"$TMPD/spofd.log" 2>&1 &
SPOFD_PID=$!
PIDS="$PIDS $SPOFD_PID"
i=0
until grep -q "WATCHDOG=1" "$TMPD/notify.log" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "no WATCHDOG=1 within 5 s: $(cat "$TMPD/notify.log" 2>/dev/null)"
	sleep 0.05
done
grep -q "READY=1" "$TMPD/notify.log" || fail "no READY=1"
kill -HUP "$SPOFD_PID"
i=0
until grep -q "RELOADING=1" "$TMPD/notify.log"; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "no RELOADING=1 after SIGHUP"
	sleep 0.05
done
kill -TERM "$SPOFD_PID"
wait "$SPOFD_PID"
i=0
until grep -q "STOPPING=1" "$TMPD/notify.log"; do
	i=$((i + 1)); [ $i -gt 40 ] && fail "no STOPPING=1"
	sleep 0.05
done
exit 0
