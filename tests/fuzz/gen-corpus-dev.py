#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus for fuzz-dev (input layout: see fuzz-dev.c).

Run from anywhere: python3 tests/fuzz/gen-corpus-dev.py
"""
import os
import struct

ACK, DRIVER, DRIVER_OK, FEATURES_OK = 1, 2, 4, 8
NEEDS_RESET, FAILED = 0x40, 0x80
BOOT = [ACK, ACK | DRIVER, ACK | DRIVER | FEATURES_OK,
        ACK | DRIVER | FEATURES_OK | DRIVER_OK]
F_EVENT_IDX, F_INDIRECT, F_VERSION_1, F_PLATFORM = 1, 2, 4, 8
(F_GETFEATURES, F_GETINFO, F_KICKFD, F_GETFD, F_MMAP, F_EVENTFD,
 F_WRITE) = (1 << i for i in range(7))
RD_EINTR, RD_SHORT, RD_EIO = 1, 2, 3


def header(nq=1, log2size=2, feats=F_VERSION_1 | F_PLATFORM, layout=0,
           shift=0, ready=0xf):
    """log2size: queue size 2 << log2size (0..3)."""
    return bytes([(nq - 1) | log2size << 2, feats, layout | shift << 4,
                  ready])


def op(code, a=0, b=0, c=0):
    return bytes([code, a & 0xff, b & 0xff, c & 0xff])


def status(s, refuse=False):
    return op(0, s, 1 if refuse else 0)


def status_abs(s):
    """A status as given, not added to the last: it may clear bits."""
    return op(0, s, 0, 1)


def vq_state(index):
    if index < 0x80:
        return op(1, index)
    # b bit 7 selects the 32-bit form: (c << 24 | b << 8 | a).
    return op(1, index & 0xff, ((index >> 8) & 0xff) | 0x80, index >> 24)


def iotlb(kind, rng=0, b=0, c=0):
    """kind 0 none, 1 remove entry b, 2 add at page b (c: size, perm,
    shift), 3 new layout c; rng 0 exact, 1 everything, 2 wider, 3 junk
    first."""
    return op(2, kind | rng << 2, b, c)


def unknown(t):
    return op(3, t & 0xff, (t >> 8) & 0xff, (t >> 16) & 0xff)


def info(q, field, c):
    """field 0 ready, 1 num, 2 desc, 3 driver, 4 device, 5 avail index,
    6 feature bit, 7 defaults (c: ready)."""
    return op(4, q, field, c)


def post(q, n):
    return op(5, q, n - 1)


def flush():
    return op(6)


def fault(mask):
    return op(7, mask)


def read_mode(mode, short=0):
    return op(8, mode, 0, short)


def req_id(i):
    return op(9, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff)


def boot(refuse=False):
    out = b''.join(status(s) for s in BOOT[:2])
    out += status(BOOT[2], refuse)
    return out + status(BOOT[3]) + flush()


def states(nq):
    return b''.join(vq_state(i) for i in range(nq)) + flush()


SEEDS = {
    'boot': header() + boot() + states(1) + post(0, 3) + flush() +
    states(1) + status(0) + flush(),
    'boot-4q': header(nq=4, log2size=3) + boot() + states(4) +
    b''.join(post(q, q + 1) for q in range(4)) + flush() + states(4),
    'boot-some-ready': header(nq=3, ready=0b101) + boot() + states(3),
    'boot-event-idx': header(feats=F_EVENT_IDX | F_INDIRECT | F_VERSION_1) +
    boot() + post(0, 5) + flush() + states(1),
    'boot-one-batch': header(nq=2) + b''.join(status(s) for s in BOOT) +
    vq_state(0) + vq_state(1) + vq_state(2) + flush(),
    'features-refused': header() + boot(refuse=True) + states(1) +
    status(BOOT[2]) + status(BOOT[3]) + flush(),
    'driver-ok-first': header() + status(DRIVER_OK) + flush() +
    status(FEATURES_OK) + flush() + states(1),
    'status-any-order': header(nq=2) + status(FEATURES_OK) +
    status(DRIVER_OK) + status(ACK) + status(FAILED) + status(NEEDS_RESET) +
    flush() + status(0) + status(0xff) + flush(),
    'reset-running': header(nq=2) + boot() + post(0, 2) + flush() +
    status(0) + flush() + states(2) + boot() + post(1, 2) + flush() +
    states(2),
    'vq-index-bad': header(nq=2) + boot() + vq_state(2) + vq_state(0x7f) +
    vq_state(0xffff) + vq_state(0xffffffff) + vq_state(0x80000000) + flush(),
    'unknown-types': header() + unknown(0) + unknown(1) + unknown(0xff) +
    unknown(0xffffff) + boot() + unknown(2) + flush(),
    'request-ids': header() + req_id(0xffffff) + status(ACK) + req_id(0) +
    status(ACK | DRIVER) + req_id(0) + vq_state(0) + flush(),
    'iotlb-idle': header(layout=1) + iotlb(0) + iotlb(1, 0, 2) +
    iotlb(2, 1, 3, 0x05) + flush(),
    'iotlb-remap-running': header(nq=2, layout=1, shift=3) + boot() +
    post(0, 2) + flush() + iotlb(2, 0, 0, 0x38) + flush() + post(0, 2) +
    flush() + states(2),
    'iotlb-unmap-running': header(nq=2, layout=1) + boot() + iotlb(1, 0, 0) +
    flush() + states(2) + post(1, 1) + flush(),
    'iotlb-new-map': header(layout=2) + boot() + iotlb(3, 1, 0, 0x11) +
    flush() + post(0, 1) + flush() + iotlb(3, 0, 0, 3) + flush(),
    'iotlb-wide': header(layout=1) + boot() + iotlb(1, 2, 4, 2) + flush() +
    iotlb(0, 2, 0xff, 0xff) + flush(),
    'iotlb-inverted': header(layout=0) + boot() + iotlb(0, 3, 5, 7) +
    iotlb(2, 3, 0, 0x7) + flush() + states(1),
    'iotlb-batch': header(nq=2, layout=1) + status(ACK) +
    status(ACK | DRIVER | FEATURES_OK | DRIVER_OK) + iotlb(1, 0, 0) +
    iotlb(2, 0, 0, 0x15) + vq_state(0) + flush(),
    'unmapped-at-start': header(layout=3) + boot() + states(1) +
    iotlb(2, 0, 0, 0x3f) + iotlb(2, 0, 4, 0x00) + status(0) + flush() +
    boot() + post(0, 1) + flush(),
    'ring-ro': header(layout=3) + iotlb(2, 0, 0, 0x00) + boot(),
    'ring-misaligned': header() + info(0, 2, 1) + info(0, 3, 3) + boot() +
    status(0) + info(0, 7, 1) + info(0, 4, 5) + boot(),
    'ring-size': header(log2size=1) + info(0, 1, 0) + boot() + status(0) +
    info(0, 1, 5) + boot() + status(0) + info(0, 1, 0x83) + boot(),
    'avail-index': header() + info(0, 5, 0xff) + boot() + post(0, 4) +
    flush() + states(1),
    'overlapping-rings': header() + info(0, 4, 14) + boot() + post(0, 8) +
    flush() + states(1),
    'features-change': header() + status(BOOT[1]) + info(0, 6, 29) +
    info(0, 6, 60) + status(BOOT[2]) + status(BOOT[3]) + flush(),
    'read-eintr': header() + read_mode(RD_EINTR) + status(ACK) + boot(),
    'read-short': header() + status(ACK) + read_mode(RD_SHORT, 7) +
    status(ACK | DRIVER) + status(ACK | DRIVER | FEATURES_OK) + flush(),
    'read-eio': header() + boot() + read_mode(RD_EIO) + vq_state(0) +
    flush() + vq_state(0) + flush(),
    'write-late': header() + boot() + fault(F_WRITE) + vq_state(0) +
    flush() + vq_state(0) + flush(),
}
for bit, name in ((F_GETFEATURES, 'features'), (F_GETINFO, 'info'),
                  (F_KICKFD, 'kickfd'), (F_GETFD, 'getfd'), (F_MMAP, 'mmap'),
                  (F_EVENTFD, 'eventfd')):
    SEEDS['fault-' + name] = (header(nq=2) + fault(bit) + boot() +
                              states(2) + boot() + post(0, 1) + flush())
# Bits cleared without a reset: refused, the queues keep running once.
SEEDS['status-drops-driver-ok'] = (header() + boot() + post(0, 2) + flush() +
                                   status_abs(BOOT[2]) + flush() +
                                   status(BOOT[3]) + flush() + states(1))
SEEDS['status-drops-features-ok'] = (header() + status(BOOT[0]) +
                                     status(BOOT[1]) + status(BOOT[2]) +
                                     status_abs(BOOT[1]) + flush() +
                                     status(BOOT[3]) + flush() + states(1))
SEEDS['fault-getfd-iotlb'] = (header(layout=1) + boot() + fault(F_GETFD) +
                              iotlb(2, 1, 0, 0x30) + flush() + states(1))


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'corpus', 'dev')
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print(f'{len(SEEDS)} seeds in {out}')


if __name__ == '__main__':
    main()
