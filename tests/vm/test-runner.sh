#!/bin/bash
# Runs on the host: the VM runner carries the guest's exit status out and
# kills a guest that outlives its timeout, reporting a failure.
set -u
run=$(dirname "$0")/run
fail() { echo "FAIL: $*" >&2; exit 1; }
"$run" -q -- true || fail "'-- true' should exit 0"
"$run" -q -- false; [ $? = 1 ] || fail "'-- false' should exit 1"
"$run" -q -- sh -c 'exit 7'; [ $? = 7 ] || fail "'-- sh -c exit 7' should exit 7"
"$run" -q -- exit 7; [ $? = 7 ] || fail "'-- exit 7' should exit 7"
out=$("$run" -q -- sh -c 'pwd; test -w /tmp && test ! -w "$PWD"') ||
	fail "guest /tmp should be writable and the host root read-only"
[ "$out" = "$PWD" ] || fail "guest ran in '$out', expected '$PWD'"
"$run" -q -t 5 -- sleep 60; [ $? = 124 ] || fail "a hung guest should fail with 124 at the timeout"
echo "pass"
