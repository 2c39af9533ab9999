#!/usr/bin/env python3
"""Writes golden/random-streams.json: munet's own known-answer vectors for named random streams.

An independent implementation of spec/random.md in Python (big integers, no floats except for
the exact conversions), NOT a transcription of the Swift code, so the Swift tests compare two
implementations of the spec. Run once from the repository root:

    python3 tools/random_golden.py > golden/random-streams.json

The tests only read the file; they never write it.
"""
import json
import re
import struct

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1


def philox4x32(ctr, key, rounds=10):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(rounds):
        if r > 0:
            k0 = (k0 + 0x9E3779B9) & M32
            k1 = (k1 + 0xBB67AE85) & M32
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & M32, (p0 >> 32) ^ c3 ^ k1, p0 & M32)
    return [c0, c1, c2, c3]


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def child(key, component):
    label = component[0].encode()
    if len(component) == 1:
        kind, v, tail = 1, 0, b""
    elif isinstance(component[1], int):
        kind, v, tail = 2, component[1], b""
    else:
        value = component[1].encode()
        kind, v, tail = 3, fnv1a64(b"\x03" + value), value
    h = fnv1a64(bytes([kind]) + label + b"\xff" + tail)
    block = philox4x32([v & M32, v >> 32, h & M32, h >> 32], key)
    return (block[0], block[1])


class Stream:
    def __init__(self, key):
        self.key, self.i = key, 0

    def u32(self):
        b, p = divmod(self.i, 4)
        self.i += 1
        return philox4x32([b & M32, b >> 32, 0, 0], self.key)[p]

    def u64(self):
        lo = self.u32()
        return lo | self.u32() << 32

    def float_bits(self):
        # (w >> 8) * 2^-24 is exact in binary32.
        return struct.unpack("<I", struct.pack("<f", (self.u32() >> 8) / 2**24))[0]

    def double_bits(self):
        return struct.unpack("<Q", struct.pack("<d", (self.u64() >> 11) / 2**53))[0]

    def below(self, n):
        x = self.u64() * n
        if x & M64 < n:
            t = (2**64 - n) % n
            while x & M64 < t:
                x = self.u64() * n
        return x >> 64

    def half_power(self, n):
        while n > 0:
            bits = min(32, n)
            if self.u32() & ((1 << bits) - 1):
                return False
            n -= bits
        return True

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
        return items

    def weighted(self, weights):
        r = self.below(sum(weights))
        run = 0
        for i, w in enumerate(weights):
            run += w
            if r < run:
                return i


def hex32(x):
    return "%08x" % x


PATH = [["round", 1], ["task", "mnist"], ["generation", 3], ["child", 5], ["purpose", "mutation"]]
CASES = [
    (0, []),
    (0, PATH),
    (12345, PATH),
    (12345, [["round", 1], ["task", "cifar10"], ["init"]]),
    (M64, [["data"], ["epoch", 2**40 + 7], ["task", "\u00e9t\u00e9"]]),
]
WEIGHTS = [0, 3, 0, 1, 6, 0]


def record(seed, path):
    key = (seed & M32, seed >> 32)
    for component in path:
        key = child(key, component)
    fresh = lambda: Stream(key)
    s = fresh(); u32 = [hex32(s.u32()) for _ in range(8)]
    s = fresh(); u64 = ["%016x" % s.u64() for _ in range(4)]
    s = fresh(); fl = [s.float_bits() for _ in range(8)]
    s = fresh(); db = [s.double_bits() for _ in range(4)]
    s = fresh(); ints = [s.below(10) for _ in range(16)]
    s = fresh(); big = ["%016x" % s.below(3 * 2**62 + 1) for _ in range(4)]
    s = fresh(); half = [s.half_power(1) for _ in range(16)]
    s = fresh(); rational = [s.below(7) < 3 for _ in range(16)]
    s = fresh(); perm = s.shuffle(list(range(10)))
    s = fresh(); picks = [s.weighted(WEIGHTS) for _ in range(16)]
    return {
        "seed": str(seed),
        "path": [{"label": c[0], **({} if len(c) == 1 else
                                    {"index": c[1]} if isinstance(c[1], int) else {"string": c[1]})}
                 for c in path],
        "key": "%08x%08x" % (key[1], key[0]),
        "uint32": u32,
        "uint64": u64,
        "floatBits": [hex32(b) for b in fl],
        "floatValues": [struct.unpack("<f", struct.pack("<I", b))[0] for b in fl],
        "doubleBits": ["%016x" % b for b in db],
        "intBelow10": ints,
        "intBelow3x2p62plus1": big,
        "boolHalfPower1": half,
        "boolNumerator3Denominator7": rational,
        "shuffle0to9": perm,
        "weightedChoice": {"weights": WEIGHTS, "picks": picks},
    }


def main():
    doc = {
        "source": "munet's own vectors, written once by tools/random_golden.py (an independent "
                  "Python implementation of spec/random.md). Each list starts from a fresh stream "
                  "(word 0) of the path's key. Seeds are decimal strings (UInt64).",
        "philoxCheck": [hex32(x) for x in philox4x32([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
                                                     [0xA4093822, 0x299F31D0])],
        "streams": [record(seed, path) for seed, path in CASES],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    # One line per list of scalars, for review.
    flat = lambda m: m.group(1) + re.sub(r"\s*\n\s*", " ", m.group(2)) + m.group(3)
    text = re.sub(r"(\[)\s*([^\[\]{}]*?)\s*(\])", flat, text)
    text = re.sub(r"(\{)\s*([^\[\]{}]*?)\s*(\})", flat, text)
    print(text)


if __name__ == "__main__":
    main()
