#!/usr/bin/env python3
"""Counts real test results from meson's test logs.

Usage: scripts/test-summary.py [--failed-step NAME]... LABEL=BUILDDIR[:SUITE]...

For each build, reads BUILDDIR/meson-logs/testlog.json (the caller removes
it before building, so a log is never a previous run's) and compares it
with `meson test --list` for that build and suite: a test that was listed
but did not run is reported by name and counted as failed, since nothing
shows it passed.  Each --failed-step (a build, or the dependency install,
that failed) is reported and counted as one failure.

A test whose VM run was repeated after a guest kernel trap (a
"vm-run: RETRIED" line in its output, see tests/vm/run) still counts by
its result, and is named on a line of its own so that it cannot hide.

Prints a line per build and suite ("unit (plain): N passed, ...", with the
names of the tests that failed or did not run under it), then,
as the very last line, "N passed, N failed, N skipped".
"""
import json
import os
import subprocess
import sys

GROUPS = ("unit", "fuzz", "vm")


def group_of(suites):
    """unit, fuzz or vm for a test's suites ("vdusekit:unit+fuzz")."""
    names = set()
    for s in suites:
        names.update(s.split(":", 1)[-1].split("+"))
    for g in GROUPS:
        if g in names:
            return g
    return "other"


def suites_of(name):
    """The suites in a listed name, "vdusekit:unit+fuzz / case"."""
    return [name.split(" / ", 1)[0]] if " / " in name else []


def listed(build, suite):
    """The names meson would run, or None if the build has no test list."""
    cmd = ["meson", "test", "-C", build, "--list", "--no-rebuild"]
    if suite:
        cmd += ["--suite", suite]
    if not os.path.exists(os.path.join(build, "build.ninja")):
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [l.strip() for l in out.splitlines() if " / " in l]


RETRIED = "vm-run: RETRIED"


def results(build, retried):
    """{name: result} from the build's testlog.json, {} if it has none;
    appends the names of tests that were run twice to @retried."""
    path = os.path.join(build, "meson-logs", "testlog.json")
    got = {}
    if not os.path.exists(path):
        return got
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                entry = json.loads(line)
                name = entry.get("name", "")
                got[name] = (entry.get("result"), suites_of(name))
                out = (entry.get("stdout") or "") + (entry.get("stderr") or "")
                if RETRIED in out:
                    retried.append(name.split(" / ", 1)[-1])
    return got


def short_list(names, most=10):
    """The first @most names without their suite prefix, and how many more."""
    shown = ", ".join(n.split(" / ", 1)[-1] for n in names[:most])
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return shown + more


def main(argv):
    failed_steps, builds = [], []
    args = iter(argv)
    for a in args:
        if a == "--failed-step":
            failed_steps.append(next(args, "?"))
        elif "=" in a:
            label, spec = a.split("=", 1)
            build, _, suite = spec.partition(":")
            builds.append((label, build, suite))
        else:
            sys.exit(f"test-summary: expected LABEL=BUILDDIR[:SUITE], got '{a}'")

    total = {"passed": 0, "failed": 0, "skipped": 0}
    retried = []
    for step in failed_steps:
        print(f"{step}: failed")
        total["failed"] += 1
    for label, build, suite in builds:
        got = results(build, retried)
        want = listed(build, suite)
        # group -> outcome -> the names with that outcome; counts are lengths.
        counts = {}
        def bump(group, key, name):
            c = counts.setdefault(group, {"passed": [], "failed": [], "skipped": [],
                                          "not run": []})
            c[key].append(name)
        for name, (result, suites) in got.items():
            if result in ("OK", "EXPECTEDFAIL"):
                bump(group_of(suites), "passed", name)
            elif result == "SKIP":
                bump(group_of(suites), "skipped", name)
            else:
                bump(group_of(suites), "failed", f"{name} ({result})")
        if want is None:
            print(f"{label} ({build}): no test list (the build was never set up)")
        else:
            for name in want:
                if name not in got:
                    bump(group_of(suites_of(name)), "not run", name)
        for group in sorted(counts, key=lambda g: (GROUPS + (g,)).index(g)):
            n = {key: len(names) for key, names in counts[group].items()}
            line = (f"{group} ({label}): {n['passed']} passed, {n['failed']} failed, "
                    f"{n['skipped']} skipped")
            if want is not None:
                line += f", {n['not run']} of {sum(n.values())} listed not run"
            print(line)
            for key in ("failed", "not run"):
                if n[key]:
                    print(f"  {key}: {short_list(counts[group][key])}")
            total["passed"] += n["passed"]
            total["skipped"] += n["skipped"]
            total["failed"] += n["failed"] + n["not run"]
    if retried:
        print(f"{len(retried)} run twice after a guest kernel trap: {', '.join(retried)}")
    print(f"{total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")


if __name__ == "__main__":
    main(sys.argv[1:])
