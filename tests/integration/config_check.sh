#!/bin/sh
# `spofd -t -c FILE` as an operator uses it: a good file passes (exit 0,
# "configuration ok"), a file with several mistakes shows every one of them
# with its line (exit 1), and a missing file says so (exit 1).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

# Good files, and the example shipped in etc/.
for f in "$top_srcdir"/tests/configs/good/*.conf "$top_srcdir"/etc/spofd.conf; do
	rc=0
	"$SPOFD" -t -c "$f" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
	[ "$rc" -eq 0 ] || fail "$f: exit status $rc, wanted 0; stderr: $(cat "$TMPD/err")"
	grep -qF "$f: configuration ok" "$TMPD/out" ||
		fail "$f: wanted \"$f: configuration ok\" on stdout, got: $(cat "$TMPD/out")"
done

# Three mistakes in one file: all three are shown, in file order.
bad=$TMPD/three.conf
cat >"$bad" <<'EOT'
[service web]
check = http
interval = 5x
rise = 0

[member web/a]
address = 127.0.0.1
EOT
rc=0
"$SPOFD" -t -c "$bad" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
[ "$rc" -eq 1 ] || fail "three errors: exit status $rc, wanted 1; stderr: $(cat "$TMPD/err")"
grep -q "configuration ok" "$TMPD/out" && fail "three errors: stdout says: $(cat "$TMPD/out")"
grep "^$bad:" "$TMPD/err" >"$TMPD/lines"
[ "$(wc -l <"$TMPD/lines")" -eq 3 ] || fail "three errors: wanted 3 error lines, got: $(cat "$TMPD/err")"
sed -n 1p "$TMPD/lines" | grep -qF "$bad:3: interval: bad duration \"5x\"" || fail "line 1: $(cat "$TMPD/lines")"
sed -n 2p "$TMPD/lines" | grep -qF "$bad:4: rise: \"0\" is out of range" || fail "line 2: $(cat "$TMPD/lines")"
sed -n 3p "$TMPD/lines" | grep -qF "$bad:7: address: bad address \"127.0.0.1\": missing port" ||
	fail "line 3: $(cat "$TMPD/lines")"

# A file that is not there.
missing=$TMPD/no-such.conf
rc=0
"$SPOFD" -t -c "$missing" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
[ "$rc" -eq 1 ] || fail "missing file: exit status $rc, wanted 1; stderr: $(cat "$TMPD/err")"
grep -qF "$missing: cannot open: No such file or directory" "$TMPD/err" ||
	fail "missing file: unclear error: $(cat "$TMPD/err")"

echo "ok: good files pass, all errors shown, missing file reported"
exit 0
