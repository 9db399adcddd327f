#!/usr/bin/env python3
"""Reference implementation of the store's data set content hash (docs/store.md).

Written from the description in docs/store.md, independently of src/store/store.c, to pin the
value test_store.c expects for a small data set. The hash is part of the stored format: if this
script and the C code ever disagree, one of them changed the format.

Run from the repository root:  python3 tests/data/store/hash_reference.py
(prints the hash of the data set in test_hash_order_independent's "pin" case).
"""
import math
import struct

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
ITEM_TAG = 0x6974656D2D747331  # "item-ts1"
OBS_TAG = 0x6F62732D2D747331  # "obs--ts1"
MISSING_BITS = 0x7FF80000DEADBEEF
LANE_SEED = [0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89]


def mix(x):
    """splitmix64's finaliser."""
    x &= M64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    x ^= x >> 31
    return x


def hash_str(s, seed):
    b = s.encode("utf-8")
    h = mix(seed ^ ((len(b) * GOLDEN) & M64))
    i = 0
    while len(b) - i >= 8:
        h = mix(h ^ int.from_bytes(b[i:i + 8], "little"))
        i += 8
    return mix(h ^ int.from_bytes(b[i:], "little") ^ GOLDEN)


def item_key(item_id):
    return [hash_str(item_id, LANE_SEED[j]) for j in range(4)]


def item_hash(key, dims):
    out = []
    for j in range(4):
        h = mix(key[j] ^ ITEM_TAG)
        for i, v in enumerate(dims):
            h = mix(h + hash_str(v, LANE_SEED[j] ^ (((i + 1) * GOLDEN) & M64)))
        out.append(h)
    return out


def obs_hash(key, t, v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        bits = MISSING_BITS
    elif v == 0:
        bits = 0
    else:
        bits = struct.unpack("<Q", struct.pack("<d", v))[0]
    return [mix(mix(((key[j] ^ OBS_TAG) + (t & M64) * GOLDEN) & M64) ^ bits) for j in range(4)]


def dataset_hash(items, observations):
    """items: {item_id: [dim values]}; observations: [(item_id, t_seconds, value or None)]."""
    acc = [0, 0, 0, 0]
    for item_id, dims in items.items():
        h = item_hash(item_key(item_id), dims)
        acc = [(a + x) & M64 for a, x in zip(acc, h)]
    for item_id, t, v in observations:
        h = obs_hash(item_key(item_id), t, v)
        acc = [(a + x) & M64 for a, x in zip(acc, h)]
    return "".join("%016x" % a for a in acc)


if __name__ == "__main__":
    day = 86400
    jan1 = 1704067200  # 2024-01-01T00:00:00Z
    print(dataset_hash({"a": ["north"], "b": ["south"]},
                       [("a", jan1, 1.5), ("a", jan1 + day, None), ("b", jan1, -2.0)]))
