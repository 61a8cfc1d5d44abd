#!/bin/sh
# Every file of tests/configs/bad must be refused by `spofd -t` (exit 1)
# with the error its first line announces: "# expect: :LINE: key: ..." is
# looked for on stderr right after the file's path.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

dir=$top_srcdir/tests/configs/bad
n=0
for f in "$dir"/*; do
	[ -f "$f" ] || continue
	expect=$(sed -n '1s/^# expect: //p' "$f")
	[ -n "$expect" ] || fail "$f: the first line must be '# expect: :LINE: key: ...'"
	rc=0
	"$SPOFD" -t -c "$f" >"$TMPD/out" 2>"$TMPD/err" || rc=$?
	[ "$rc" -eq 1 ] || fail "$f: exit status $rc, wanted 1; stderr: $(cat "$TMPD/err")"
	grep -qF -- "$f$expect" "$TMPD/err" ||
		fail "$f: wanted \"$f$expect\" on stderr, got: $(cat "$TMPD/err")"
	grep -q "configuration ok" "$TMPD/out" && fail "$f: refused, yet stdout says: $(cat "$TMPD/out")"
	n=$((n + 1))
done
[ "$n" -ge 20 ] || fail "only $n bad configurations in $dir"
echo "ok: $n bad configurations refused, each with its expected error"
exit 0
