#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus for fuzz-blk (input layout: see fuzz-blk.c).

Each seed is a ring with one or more virtio-blk requests: the valid kinds
(IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES, direct and indirect) and
the hostile ones the unit tests cover.  Run from anywhere:
    python3 tests/fuzz/gen-corpus-blk.py
"""
import os
import struct

DATA = 0x100000          # first data page: its bytes come from the input
DATA1 = DATA + 4096      # then 16 KiB of zeroes, adjacent in IOVA
IND = 0x200000           # RO indirect area (512 bytes from the input)
WO = 0x300000            # device may only write
RO = 0x400000            # device may only read
NEXT, WRITE, INDIRECT = 1, 2, 4
F_EVENT_IDX, F_INDIRECT, F_KICKS_OFF = 1, 2, 4
B_4K, B_RO, B_V1_ONLY, B_SIZE_MAX, B_NULL, B_NO_FLUSH = 1, 2, 4, 8, 16, 32
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13
S_UNMAP = 1
IND_LEN = 512
NUM_MAX = 16


def desc(addr, length, flags=0, nxt=0):
    return struct.pack('<QIHH', addr, length, flags, nxt)


def hdr(rtype, sector=0):
    return struct.pack('<IIQ', rtype, 0, sector)


def rng(sector, num, flags=0):
    return struct.pack('<QII', sector, num, flags)


class Ring:
    """Builds one input: requests are lists of segments.

    A segment is (bytes, False) for readable data placed in the data page,
    (length, True) for writable space in the zeroed area after it, or
    ('at', addr, len, write) for a buffer at a fixed IOVA.
    """

    def __init__(self, log2num=4, vq=F_INDIRECT, blk=0, start=0, mut=(0, 0)):
        self.log2num, self.vq, self.blk, self.start = log2num, vq, blk, start
        self.mut = mut
        self.num = 1 << log2num
        self.descs = {}
        self.next_desc = 0
        self.avail = []
        self.ind = b''
        self.data = bytearray()
        self.wr_off = 0
        self.avail_off = None

    def place(self, seg):
        if seg[0] == 'at':
            return seg[1], seg[2], seg[3]
        payload, write = seg
        if write:
            # Writable space needs no input bytes: the zeroed 16 KiB.
            addr = DATA1 + self.wr_off
            self.wr_off += (payload + 15) & ~15
            assert self.wr_off <= 16384, 'writable area full'
            return addr, payload, True
        addr = DATA + len(self.data)
        self.data += payload
        # 16-byte alignment, like a driver's allocator
        self.data += bytes(-len(self.data) % 16)
        assert len(self.data) <= 4096, 'data page full'
        return addr, len(payload), False

    def req(self, *segs, indirect=False):
        placed = [self.place(s) for s in segs]
        if indirect:
            table = b''
            for i, (a, n, w) in enumerate(placed):
                fl = (WRITE if w else 0) | (NEXT if i + 1 < len(placed) else 0)
                table += desc(a, n, fl, i + 1)
            addr = IND + len(self.ind)
            self.ind += table
            assert len(self.ind) <= IND_LEN, 'indirect area full'
            head = self.raw(addr, len(table), INDIRECT)
        else:
            head = self.next_desc
            for i, (a, n, w) in enumerate(placed):
                last = i + 1 == len(placed)
                fl = (WRITE if w else 0) | (0 if last else NEXT)
                self.raw(a, n, fl, self.next_desc + 1)
        self.avail.append(head)
        return head

    def raw(self, addr, length, flags, nxt=0):
        i = self.next_desc
        assert i < self.num, 'descriptor table full'
        self.descs[i] = desc(addr, length, flags, nxt)
        self.next_desc += 1
        return i

    def mixed(self, direct, table):
        """Direct segments chained into an indirect table at the end."""
        head = self.next_desc
        for seg in direct:
            a, n, w = self.place(seg)
            self.raw(a, n, (WRITE if w else 0) | NEXT, self.next_desc + 1)
        placed = [self.place(s) for s in table]
        t = b''
        for i, (a, n, w) in enumerate(placed):
            fl = (WRITE if w else 0) | (NEXT if i + 1 < len(placed) else 0)
            t += desc(a, n, fl, i + 1)
        addr = IND + len(self.ind)
        self.ind += t
        self.raw(addr, len(t), INDIRECT)
        self.avail.append(head)

    def bytes(self):
        table = b''.join(self.descs.get(i, bytes(16)) for i in range(NUM_MAX))
        ring = b''.join(struct.pack('<H', h) for h in self.avail)
        assert len(self.avail) <= self.num
        avail_off = len(self.avail) if self.avail_off is None else self.avail_off
        out = (bytes([self.log2num, self.vq, self.blk, avail_off & 0xff]) +
               struct.pack('<H', self.start) + bytes(self.mut) +
               table + ring.ljust(2 * NUM_MAX, b'\0') +
               self.ind.ljust(IND_LEN, b'\0') + bytes(self.data))
        return out.rstrip(b'\0') or b'\0'


def status():
    return (1, True)


def seeds():
    s = {}

    r = Ring()
    r.req((hdr(T_IN, 8), False), (1024, True), status())
    s['in'] = r

    r = Ring()
    r.req((hdr(T_IN, 0), False), (4096, True), status(), indirect=True)
    s['in-indirect'] = r

    r = Ring()
    r.req((hdr(T_OUT, 3), False), (b'\x5a' * 512, False), status())
    s['out'] = r

    r = Ring()
    h = hdr(T_OUT, 16)
    r.req((h[:5], False), (h[5:], False), (b'\x11' * 256, False),
          (b'\x22' * 256, False), status(), indirect=True)
    s['out-split-indirect'] = r

    r = Ring()
    r.req((hdr(T_FLUSH), False), status())
    r.req((hdr(T_FLUSH), False), status(), indirect=True)
    s['flush'] = r

    r = Ring(blk=B_NO_FLUSH)
    r.req((hdr(T_OUT, 0), False), (b'\x33' * 512, False), status())
    r.req((hdr(T_FLUSH), False), status())
    s['flush-not-acked'] = r

    r = Ring()
    r.req((hdr(T_GET_ID), False), (20, True), status())
    r.req((hdr(T_GET_ID), False), (2, True), indirect=True)
    s['get-id'] = r

    r = Ring()
    r.req((hdr(T_DISCARD), False),
          (rng(8, 8) + rng(12, 8) + rng(100, 28), False), status())
    s['discard'] = r

    r = Ring()
    r.req((hdr(T_WZ), False), (rng(0, 16, S_UNMAP) + rng(64, 8), False),
          status(), indirect=True)
    s['write-zeroes'] = r

    r = Ring()
    arr = rng(8, 8) + rng(40, 16)
    r.req((hdr(T_DISCARD), False), (arr[:7], False), (arr[7:20], False),
          (arr[20:], False), status())
    s['discard-split'] = r

    r = Ring()
    r.mixed([(hdr(T_IN, 2), False)], [(512, True), status()])
    s['mixed-indirect'] = r

    r = Ring()
    r.req((hdr(T_OUT, 0), False), (b'\x44' * 1024, False), status())
    r.req((hdr(T_IN, 0), False), (1024, True), status(), indirect=True)
    r.req((hdr(T_WZ), False), (rng(1, 1), False), status())
    r.req((hdr(T_GET_ID), False), (20, True), status(), indirect=True)
    r.req((hdr(T_FLUSH), False), status())
    s['batch'] = r

    r = Ring(log2num=2, vq=F_EVENT_IDX | F_INDIRECT | F_KICKS_OFF,
             start=65534)
    r.req((hdr(T_IN, 1), False), (512, True), status())
    r.req((hdr(T_OUT, 1), False), (b'\x55' * 512, False), status(),
          indirect=True)
    s['event-idx-wrap'] = r

    r = Ring(blk=B_4K)
    r.req((hdr(T_OUT, 8), False), (b'\x66' * 2048, False),
          ('at', DATA1 + 8192, 2048, False), status())
    s['block-4k'] = r

    # hostile
    r = Ring()
    r.req((hdr(T_OUT, 0), False), (b'\x77' * 512, False), (b'\xff', False))
    s['no-status'] = r

    r = Ring()
    r.req(('at', WO, 16, True), status())
    s['hdr-writable'] = r

    r = Ring()
    r.req((hdr(T_IN, 0), False), ('at', RO, 1, False))
    s['status-readonly'] = r

    r = Ring()
    r.req(status())
    r.req((hdr(T_OUT, 0), False))
    s['only-status-only-header'] = r

    r = Ring()
    r.req((hdr(0x80000000 | T_IN), False), (512, True), status())
    r.req((hdr(0xffffffff), False), status())
    s['type-high-bits'] = r

    r = Ring()
    r.req((hdr(T_DISCARD), False),
          (rng(0, 8) + rng(0xffffffffffffffff, 8), False), status())
    r.req((hdr(T_WZ), False), (rng(127, 2), False), status())
    s['dwz-out-of-range'] = r

    r = Ring()
    r.req((hdr(T_DISCARD), False),
          (b''.join(rng(i, 1) for i in range(17)), False), status())
    s['dwz-too-many'] = r

    r = Ring()
    r.req((hdr(T_WZ), False), (rng(0, 8)[:15], False), status())
    r.req((hdr(T_DISCARD), False), (rng(0, 8, 2), False), status())
    s['dwz-truncated-flags'] = r

    r = Ring()
    r.req((hdr(T_IN, 0), False), ('at', 0x8000000, 0, False), (0, True),
          (512, True), ('at', 0, 0, True), status())
    s['zero-length'] = r

    r = Ring()
    r.req((hdr(T_IN, 0), False), ('at', DATA1 + 16384 - 512, 1024, True),
          status())
    s['past-mapping'] = r

    r = Ring(blk=B_4K)
    r.req((hdr(T_IN, 1), False), (4096, True), status())
    r.req((hdr(T_DISCARD), False), (rng(8, 4), False), status())
    s['unaligned-4k'] = r

    r = Ring(blk=B_RO)
    r.req((hdr(T_OUT, 0), False), (b'\x01' * 512, False), status())
    r.req((hdr(T_WZ), False), (rng(0, 8), False), status())
    s['readonly'] = r

    r = Ring(blk=B_V1_ONLY | B_NULL)
    r.req((hdr(T_DISCARD), False), (rng(0, 8), False), status())
    r.req((hdr(T_IN, 0), False), (512, True), status())
    s['version-only-null'] = r

    r = Ring(blk=B_SIZE_MAX)
    r.req((hdr(T_IN, 0), False), (8192, True), status())
    r.req((hdr(T_IN, 0), False), (4096, True), ('at', WO, 4096, True),
          status())
    s['size-max'] = r

    r = Ring(mut=(16 * 1 + 8, 0x03))
    r.req((hdr(T_IN, 0), False), (512, True), status())
    r.req((hdr(T_OUT, 1), False), (b'\x02' * 512, False), status())
    r.req((hdr(T_FLUSH), False), status())
    s['mutate'] = r

    r = Ring()
    r.req((hdr(T_FLUSH), False), status())
    r.avail_off = 255
    s['avail-backwards'] = r
    return s


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'corpus', 'blk')
    os.makedirs(out, exist_ok=True)
    for name, ring in seeds().items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(ring.bytes())


if __name__ == '__main__':
    main()
