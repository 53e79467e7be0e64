#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus for fuzz-vq (input layout: see fuzz-vq.c).

Run from anywhere: python3 tests/fuzz/gen-corpus.py
"""
import os
import struct

DATA = 0x100000      # two RW pages
IND = 0x200000       # RO indirect area
WO = 0x300000        # device write-only page
NEXT, WRITE, INDIRECT = 1, 2, 4
F_EVENT_IDX, F_INDIRECT, F_KICKS_OFF = 1, 2, 4


def desc(addr, length, flags=0, nxt=0):
    return struct.pack('<QIHH', addr, length, flags, nxt)


def seed(log2num, feats, avail_off, start, descs, avail, ind=b'',
         push_len=1, b7=0):
    num = 1 << log2num
    table = b''.join(descs).ljust(16 * 16, b'\0')
    ring = b''.join(struct.pack('<H', h) for h in avail).ljust(2 * 16, b'\0')
    assert len(avail) <= num
    return (bytes([log2num, feats]) + struct.pack('<HH', avail_off, start) +
            bytes([push_len, b7]) + table + ring + ind)


def chain(*segs):
    """Direct chain 0..n-1 of (addr, len, write)."""
    out = []
    for i, (a, n, w) in enumerate(segs):
        fl = (WRITE if w else 0) | (NEXT if i + 1 < len(segs) else 0)
        out.append(desc(a, n, fl, i + 1))
    return out


def table(*segs):
    return b''.join(chain(*segs))


SEEDS = {
    'direct': seed(3, 0, 1, 0, chain((DATA, 16, 0), (DATA + 64, 32, 1)), [0]),
    'direct-cross': seed(3, 0, 1, 0,
                         chain((DATA + 4090, 12, 0), (DATA + 8000, 100, 1)),
                         [0]),
    'zero-length': seed(2, 0, 1, 0,
                        chain((DATA, 0, 0), (DATA, 8, 0), (DATA, 0, 1),
                              (DATA + 8, 8, 1)), [0]),
    'indirect': seed(3, F_INDIRECT, 1, 0,
                     [desc(IND, 48, INDIRECT)], [0],
                     table((DATA, 16, 0), (DATA + 16, 16, 0),
                           (DATA + 32, 64, 1))),
    'mixed': seed(3, F_INDIRECT, 1, 0,
                  [desc(DATA, 8, NEXT, 1), desc(IND, 32, INDIRECT)], [0],
                  table((DATA + 4094, 4, 1), (WO, 16, 1))),
    'many': seed(4, 0, 5, 0,
                 [desc(DATA + 16 * i, 16, WRITE if i % 2 else NEXT, i + 1)
                  for i in range(10)], [0, 2, 4, 6, 8]),
    'event-idx-wrap': seed(2, F_EVENT_IDX, 3, 65534,
                           [desc(DATA, 4), desc(DATA + 8, 4, WRITE),
                            desc(WO, 4, WRITE)], [0, 1, 2], b7=1),
    'kicks-off': seed(3, F_EVENT_IDX | F_INDIRECT | F_KICKS_OFF, 2, 100,
                      [desc(IND, 32, INDIRECT), desc(DATA, 64, WRITE)],
                      [0, 1], table((DATA, 4, 0), (DATA + 8, 4, 1))),
    'no-interrupt': seed(1, 0, 2, 7, chain((DATA, 4, 0)) + [desc(DATA, 4)],
                         [0, 1], b7=1),
    'loop': seed(3, 0, 1, 0, [desc(DATA, 4, NEXT, 1), desc(DATA, 4, NEXT, 0)],
                 [0]),
    'nested-indirect': seed(3, F_INDIRECT, 1, 0, [desc(IND, 32, INDIRECT)],
                            [0], desc(IND, 16, INDIRECT) + desc(DATA, 4)),
    'perm': seed(3, 0, 1, 0, [desc(WO, 16, 0)], [0]),
    'avail-jump': seed(2, 0, 9, 0, [desc(DATA, 4)], [0]),
    'head-oob': seed(2, 0, 1, 0, [desc(DATA, 4)], [9]),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'corpus', 'vq')
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
