#!/bin/bash
# Runs on the host: the VM runner carries the guest's exit status out and
# kills a guest that outlives its timeout, reporting a failure, and
# reruns the command once only for the int3 trap TCG can cause.
set -u
run=$(dirname "$0")/run
fail() { echo "FAIL: $*" >&2; exit 1; }

# Native mode (a host kernel with VDUSE) runs the command directly: the
# same statuses, and its timeout is 124 too.  Harmless here: nothing below
# crashes anything in this mode.
VDK_VM=native "$run" -q -- exit 7; [ $? = 7 ] || fail "native: '-- exit 7' should exit 7"
VDK_VM=native "$run" -q -t 2 -- sleep 60; st=$?
[ $st = 124 ] || fail "native: a hung command should fail with 124 at the timeout, got $st"

# Everything else is about the VM (and its crash tests would crash a
# native host): always the VM from here on.
export VDK_VM=qemu
"$run" -q -- true || fail "'-- true' should exit 0"
"$run" -q -- false; [ $? = 1 ] || fail "'-- false' should exit 1"
"$run" -q -- sh -c 'exit 7'; [ $? = 7 ] || fail "'-- sh -c exit 7' should exit 7"
"$run" -q -- exit 7; [ $? = 7 ] || fail "'-- exit 7' should exit 7"
out=$("$run" -q -- sh -c 'pwd; test -w /tmp && test ! -w "$PWD"') ||
	fail "guest /tmp should be writable and the host root read-only"
[ "$out" = "$PWD" ] || fail "guest ran in '$out', expected '$PWD'"
"$run" -q -t 10 -- sleep 60; [ $? = 124 ] || fail "a hung guest should fail with 124 at the timeout"

# A guest that dies is a failure (125), except once for the breakpoint trap
# TCG can cause while the kernel patches its code ("Oops: int3").
crash='echo c > /proc/sysrq-trigger; sleep 5'
int3="echo 'Oops: int3: 0000 [#1] (simulated)' > /dev/console"
"$run" -q -- sh -c "$crash" > /dev/null 2>&1; [ $? = 125 ] ||
	fail "a guest kernel crash should fail with 125"
"$run" -q -- sh -c "$int3; $crash" > /dev/null 2>&1; [ $? = 125 ] ||
	fail "a guest that traps on int3 every time should fail with 125 after one retry"
d=$(mktemp -d) || fail "mktemp"
trap 'rm -rf "$d"' EXIT
err=$("$run" -q --rw "$d" -- sh -c "[ -e $d/once ] && exit 0; touch $d/once; $int3; $crash" 2>&1) ||
	fail "a guest that trapped on int3 once should pass on the second run: $err"
case $err in *"vm-run: RETRIED:"*) ;; *) fail "the int3 retry was not marked: $err" ;; esac
echo "pass"
