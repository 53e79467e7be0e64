#!/usr/bin/env python3
"""Counts real test results from meson's test logs.

Usage: scripts/test-summary.py BUILDDIR...

Reads BUILDDIR/meson-logs/testlog.json of each build that ran tests and
prints one line: "N passed, N failed, N skipped".  A test that was meant to
run but has no log (a build that failed) is not invented; the caller's exit
status carries that failure.
"""
import json
import os
import sys

passed = failed = skipped = 0
for build in sys.argv[1:]:
    path = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
