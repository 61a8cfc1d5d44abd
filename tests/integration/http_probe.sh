#!/bin/sh
# HTTP checks against the test backend: members up, answering 500, with a
# wrong body, hanging, sending an endless body, closing at once, refused;
# the Host header, HEAD, an accepted status list; a kill is noticed within
# fall x interval plus a generous slack.
. "$top_srcdir/tests/integration/lib.sh"

start_testsrv up http
start_testsrv err500 http:500
start_testsrv good 'http:200:all systems healthy\n'
start_testsrv wrong 'http:200:sick\n'
start_testsrv hang hang
start_testsrv endless endless
start_testsrv close close
start_testsrv vhost http-host
start_testsrv head http-method:HEAD
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
rise = 1
fall = 2

[member web/up]
address = 127.0.0.1:$PORT_up

[member web/err500]
address = 127.0.0.1:$PORT_err500

[member web/hang]
address = 127.0.0.1:$PORT_hang

[member web/endless]
address = 127.0.0.1:$PORT_endless

[member web/close]
address = 127.0.0.1:$PORT_close

[member web/refused]
address = 127.0.0.1:$PORT_gone

[service body]
check = http
interval = 200ms
timeout = 150ms
rise = 1
fall = 2
http_path = /health
http_expect_body = healthy

[member body/good]
address = 127.0.0.1:$PORT_good

[member body/wrong]
address = 127.0.0.1:$PORT_wrong

[member body/endless]
address = 127.0.0.1:$PORT_endless

[service vhost]
check = http
interval = 200ms
timeout = 150ms
rise = 1
fall = 2
http_host = www.example.test
http_expect_body = www.example.test

[member vhost/a]
address = 127.0.0.1:$PORT_vhost

[service head]
check = http
interval = 200ms
timeout = 150ms
rise = 1
fall = 2
http_method = HEAD

[member head/a]
address = 127.0.0.1:$PORT_head

[service lenient]
check = http
interval = 200ms
timeout = 150ms
rise = 1
fall = 2
http_expect_status = 200-299, 500

[member lenient/a]
address = 127.0.0.1:$PORT_err500
EOT
} >"$conf"

start_spofd "$conf"
m() { printf '.services[] | select(.name == "%s") | .members[] | select(.name == "%s")' "$1" "$2"; }
up() { wait_status "$(m "$1" "$2") | .health == \"up\" and .reason == \"ok\"" 10; }
down() { wait_status "$(m "$1" "$2") | .health == \"down\" and .reason == \"$3\"" 10; }

up web up
wait_status "$(m web up) | .latency_us > 0" 5
down web err500 "http-status 500"
down web hang timeout
# No body expected: the verdict comes with the head, the endless body is never read.
up web endless
# Closed at accept: curl sees no reply, or a reset if its request was already in.
wait_status "$(m web close) | .health == \"down\" and (.reason == \"closed\" or .reason == \"reset\")" 10
down web refused refused
up body good
down body wrong expect-mismatch
# A body expected: reading stops at the cap, long before the timeout.
down body endless body-too-large
up vhost a
up head a
up lenient a

# The daemon is still answering after all that (the endless body did not stall it).
status_json >/dev/null
[ $? -eq 1 ] || fail "spofctl status should exit 1 with members down"

# Kill the healthy backend: fall (2) x interval (200ms) + timeout, plus slack.
t0=$(date +%s)
stop_pid "$PID_up"
wait_status "$(m web up) | .health == \"down\" and .reason == \"refused\"" 5
t1=$(date +%s)
echo "kill noticed within $((t1 - t0))s"
exit 0
