#!/bin/sh
# TCP checks against real listeners: plain connect, send/expect, banner,
# a peer that accepts but never answers, a refused port; a kill is noticed.
. "$top_srcdir/tests/integration/lib.sh"

start_testsrv plain echo
start_testsrv echo echo
start_testsrv banner 'banner:+OK ready\r\n'
start_testsrv hang hang
start_testsrv closed http
stop_pid "$PID_closed"

conf=$TMPD/spofd.conf
{
	config_head
	cat <<EOT

[service plain]
check = tcp
interval = 200ms
timeout = 150ms
rise = 1
fall = 2

[member plain/up]
address = 127.0.0.1:$PORT_plain

[member plain/refused]
address = 127.0.0.1:$PORT_closed

[member plain/hang]
address = 127.0.0.1:$PORT_hang

[service ping]
check = tcp
interval = 200ms
timeout = 150ms
rise = 1
fall = 2
tcp_send = PING\r\n
tcp_expect = PING

[member ping/echo]
address = 127.0.0.1:$PORT_echo

[member ping/hang]
address = 127.0.0.1:$PORT_hang

[service banner]
check = tcp
interval = 200ms
timeout = 150ms
rise = 1
fall = 2
tcp_expect = +OK

[member banner/good]
address = 127.0.0.1:$PORT_banner

[member banner/wrong]
address = 127.0.0.1:$PORT_echo
EOT
} >"$conf"

start_spofd "$conf"
m() { printf '.services[] | select(.name == "%s") | .members[] | select(.name == "%s")' "$1" "$2"; }
wait_status "$(m plain up) | .health == \"up\"" 10
wait_status "$(m plain refused) | .health == \"down\" and .reason == \"refused\"" 10
# Plain connect does not need the peer to answer: a hung server still connects.
wait_status "$(m plain hang) | .health == \"up\"" 10
wait_status "$(m ping echo) | .health == \"up\"" 10
wait_status "$(m ping hang) | .health == \"down\" and .reason == \"timeout\"" 10
wait_status "$(m banner good) | .health == \"up\"" 10
wait_status "$(m banner wrong) | .health == \"down\" and .reason == \"timeout\"" 10

stop_pid "$PID_echo"
wait_status "$(m ping echo) | .health == \"down\" and .reason == \"refused\"" 5
exit 0
