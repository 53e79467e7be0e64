#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Finds cycles of calls between source files, from their object files.

    scripts/call-cycles.py OBJ|DIR...

A DIR stands for every *.o in it (meson's TARGET.p folders).
An undefined symbol of A.o that B.o defines is an edge A -> B.  Every set
of files that reach each other (a strongly connected component of more
than one file, or a file that only calls itself through another) is a
cycle; each is printed with one edge per line that closes it.  Exits 1 if
there is any cycle, 0 if calls go one way only, 2 on bad usage.
"""
import os
import subprocess
import sys


def symbols(obj):
    """(defined, undefined) global symbol names of one object file."""
    out = subprocess.run(["nm", "-g", obj], check=True, capture_output=True,
                         text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] not in ("U", "w", "v"):
            defined.add(parts[2])
    return defined, undefined


def name_of(obj):
    """lib/libvdk-internal.a.p/dev.c.o -> lib/dev.c (the source it came from)."""
    base = os.path.basename(obj)
    if base.endswith(".o"):
        base = base[:-2]
    folder = os.path.basename(os.path.dirname(os.path.dirname(obj)))
    return f"{folder}/{base}" if folder else base


def components(nodes, edges):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                result.append(sorted(comp))
    return result


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    objs = []
    for arg in argv[1:]:
        if os.path.isdir(arg):
            objs += sorted(os.path.join(arg, f) for f in os.listdir(arg)
                           if f.endswith(".o"))
        else:
            objs.append(arg)
    if not objs:
        print("call-cycles: no object files given", file=sys.stderr)
        return 2
    defined_by, undefined = {}, {}
    for obj in objs:
        name = name_of(obj)
        d, u = symbols(obj)
        undefined[name] = u
        for sym in d:
            defined_by.setdefault(sym, set()).add(name)
    nodes = sorted(undefined)
    edges = {n: set() for n in nodes}
    why = {}
    for a in nodes:
        for sym in undefined[a]:
            for b in defined_by.get(sym, ()):
                if b != a:
                    edges[a].add(b)
                    why.setdefault((a, b), sym)
    cycles = [c for c in components(nodes, edges) if len(c) > 1]
    for comp in cycles:
        members = set(comp)
        print("cycle: " + ", ".join(comp))
        for a in comp:
            for b in sorted(edges[a] & members):
                print(f"  {a} -> {b} ({why[(a, b)]})")
    print(f"{len(nodes)} files, {sum(len(e) for e in edges.values())} edges, "
          f"{len(cycles)} cycles")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
