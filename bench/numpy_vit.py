#!/usr/bin/env python3
"""An independent numpy implementation of munet's model file and ViT forward (spec/formats.md,
spec/model.md), used to pin both down from outside the Swift code.

  python3 bench/numpy_vit.py MODEL.safetensors IMAGES.npy [--logits LOGITS.npy]
                             [--tolerance 1e-4] [--output NUMPY_LOGITS.npy]

Reads the model file by hand (8-byte little-endian header length, JSON header, raw little-endian
F32 data) and checks its structure (canonical form included), its metadata (munet.format,
munet.config) and the SHA-256 of its data section (munet.sha256). Checks that the tensor names
and shapes are exactly the ones the configuration implies, then runs the forward pass in float64
on IMAGES ([B, S, S, C], or [B, S, S] for one channel). When the `safetensors` package is
importable, the tensors are also compared bit for bit with `safetensors.numpy.load_file`.

With --logits (munet's logits, [B, classes]) it prints the largest absolute difference and exits
1 when it exceeds --tolerance; without, it prints the logits. Exit 2: the input is invalid.
Needs only Python 3 and numpy.
"""
import argparse
import hashlib
import json
import math
import struct
import sys

import numpy as np

FORMAT_NAME = "munet-vit-1"
HEADER_BYTES_MAX = 100 << 20
CONFIG_KEYS = {
    "adapterDims", "channels", "classCount", "geluForm", "heads", "imageSize", "layerCount",
    "layerNormEpsilon", "mlpDim", "patchSize", "width",
}


class InvalidInput(Exception):
    """A file this script refuses, with the reason."""


# ---------------------------------------------------------------------------------------------
# The file


def _reject_duplicates(pairs):
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise InvalidInput("duplicate key in the header")
    return dict(pairs)


def read_safetensors(path):
    """(tensors: name -> float32 array, metadata: dict, data section bytes) of the file."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 8:
        raise InvalidInput(f"{path}: {len(raw)} bytes, the header length alone needs 8")
    (header_length,) = struct.unpack("<Q", raw[:8])
    if header_length > HEADER_BYTES_MAX:
        raise InvalidInput(f"{path}: header of {header_length} bytes is too large")
    if 8 + header_length > len(raw):
        raise InvalidInput(f"{path}: header of {header_length} bytes runs past the end of the file")
    header_bytes = raw[8:8 + header_length]
    if header_length % 8 != 0:
        raise InvalidInput(f"{path}: header length {header_length} is not a multiple of 8")
    header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    if not isinstance(header, dict):
        raise InvalidInput(f"{path}: header is not a JSON object")
    data = raw[8 + header_length:]
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise InvalidInput(f"{path}: __metadata__ is not a string -> string map")

    tensors = {}
    spans = []
    for name, entry in header.items():
        if set(entry) != {"dtype", "shape", "data_offsets"}:
            raise InvalidInput(f"{path}: tensor {name}: keys {sorted(entry)}")
        if entry["dtype"] != "F32":
            raise InvalidInput(f"{path}: tensor {name}: dtype {entry['dtype']}, expected F32")
        shape, offsets = entry["shape"], entry["data_offsets"]
        if not all(isinstance(n, int) and n >= 0 for n in shape + offsets) or len(offsets) != 2:
            raise InvalidInput(f"{path}: tensor {name}: shape or data_offsets malformed")
        begin, end = offsets
        count = math.prod(shape)
        if not (0 <= begin <= end <= len(data)) or end - begin != 4 * count:
            raise InvalidInput(f"{path}: tensor {name}: offsets {begin}, {end} do not fit {shape}")
        tensors[name] = np.frombuffer(data, dtype="<f4", count=count, offset=begin).reshape(shape)
        spans.append((begin, end, name))

    # Canonical form: ascending byte-wise name order, contiguous from 0, no holes.
    names = sorted(tensors, key=lambda n: n.encode("utf-8"))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise InvalidInput(f"{path}: tensor {name} starts at {begin}, expected {position}")
        position = end
    if position != len(data):
        raise InvalidInput(f"{path}: {len(data) - position} bytes after the last tensor")
    if [name for _, _, name in sorted(spans)] != names:
        raise InvalidInput(f"{path}: tensors are not laid out in name order")
    return tensors, metadata, data


def read_config(path, metadata, data):
    """The configuration of a munet model file, after checking its format and checksum."""
    if metadata.get("munet.format") != FORMAT_NAME:
        raise InvalidInput(f"{path}: munet.format is {metadata.get('munet.format')!r}, "
                           f"expected {FORMAT_NAME!r}")
    digest = hashlib.sha256(data).hexdigest()
    if metadata.get("munet.sha256") != digest:
        raise InvalidInput(f"{path}: data SHA-256 is {digest}, munet.sha256 says "
                           f"{metadata.get('munet.sha256')!r}")
    config = json.loads(metadata["munet.config"], object_pairs_hook=_reject_duplicates)
    if set(config) != CONFIG_KEYS:
        raise InvalidInput(f"{path}: munet.config keys {sorted(config)}, expected {sorted(CONFIG_KEYS)}")
    if config["geluForm"] not in ("tanh", "exact"):
        raise InvalidInput(f"{path}: geluForm {config['geluForm']!r}")
    if len(config["adapterDims"]) != config["layerCount"]:
        raise InvalidInput(f"{path}: adapterDims has {len(config['adapterDims'])} entries")
    # The engine uses the Float nearest to the decimal.
    config["epsilon"] = float(np.float32(float(config["layerNormEpsilon"])))
    return config


def expected_shapes(config):
    """Every tensor name of the model with its shape (spec/model.md), derived independently."""
    p, c, d = config["patchSize"], config["channels"], config["width"]
    h, m, k = config["heads"], config["mlpDim"], config["classCount"]
    grid = config["imageSize"] // p
    shapes = {
        "embedding/kernel": [p, p, c, d], "embedding/bias": [d], "cls": [1, 1, d],
        "posembed_input/pos_embedding": [1, grid * grid + 1, d],
        "encoder_norm/scale": [d], "encoder_norm/bias": [d],
        "head/kernel": [d, k], "head/bias": [k],
    }
    for i in range(config["layerCount"]):
        block = f"encoderblock_{i}"
        for norm in ("LayerNorm_0", "LayerNorm_2"):
            shapes[f"{block}/{norm}/scale"] = [d]
            shapes[f"{block}/{norm}/bias"] = [d]
        attention = f"{block}/MultiHeadDotProductAttention_1"
        for projection in ("query", "key", "value"):
            shapes[f"{attention}/{projection}/kernel"] = [d, h, d // h]
            shapes[f"{attention}/{projection}/bias"] = [h, d // h]
        shapes[f"{attention}/out/kernel"] = [h, d // h, d]
        shapes[f"{attention}/out/bias"] = [d]
        shapes[f"{block}/MlpBlock_3/Dense_0/kernel"] = [d, m]
        shapes[f"{block}/MlpBlock_3/Dense_0/bias"] = [m]
        shapes[f"{block}/MlpBlock_3/Dense_1/kernel"] = [m, d]
        shapes[f"{block}/MlpBlock_3/Dense_1/bias"] = [d]
        a = config["adapterDims"][i]
        if a is not None:
            adapter = f"residual_adapter_{i}"
            shapes[f"{adapter}/LayerNorm_0/scale"] = [d]
            shapes[f"{adapter}/LayerNorm_0/bias"] = [d]
            shapes[f"{adapter}/Dense_1/kernel"] = [d, a]
            shapes[f"{adapter}/Dense_1/bias"] = [a]
            shapes[f"{adapter}/Dense_2/kernel"] = [a, d]
            shapes[f"{adapter}/Dense_2/bias"] = [d]
    return shapes


def load_model(path):
    tensors, metadata, data = read_safetensors(path)
    config = read_config(path, metadata, data)
    shapes = expected_shapes(config)
    if set(shapes) != set(tensors):
        missing = sorted(set(shapes) - set(tensors))
        extra = sorted(set(tensors) - set(shapes))
        raise InvalidInput(f"{path}: tensors differ from the configuration: missing {missing}, extra {extra}")
    for name, shape in shapes.items():
        if list(tensors[name].shape) != shape:
            raise InvalidInput(f"{path}: {name} has shape {list(tensors[name].shape)}, expected {shape}")
    cross_check_with_safetensors(path, tensors)
    params = {name: value.astype(np.float64) for name, value in tensors.items()}
    return config, params


def cross_check_with_safetensors(path, tensors):
    try:
        from safetensors.numpy import load_file
    except ImportError:
        print("safetensors package not importable: skipped the cross-check with load_file")
        return
    theirs = load_file(path)
    if set(theirs) != set(tensors):
        raise InvalidInput(f"{path}: safetensors.numpy.load_file sees other tensor names")
    for name, value in tensors.items():
        other = theirs[name]
        if other.dtype != np.float32 or other.shape != value.shape or \
                other.view(np.uint32).tobytes() != value.astype("<f4").view("<u4").tobytes():
            raise InvalidInput(f"{path}: safetensors.numpy.load_file disagrees on {name}")
    print(f"safetensors.numpy.load_file agrees bit for bit on {len(tensors)} tensors")


# ---------------------------------------------------------------------------------------------
# The forward pass (spec/model.md), float64 throughout


def layer_norm(x, scale, bias, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * scale + bias


def gelu(x, form):
    if form == "tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def dense(x, params, prefix):
    kernel = params[prefix + "/kernel"]
    bias = params[prefix + "/bias"]
    # The kernel's leading dimensions are the input features (HWIO, [D, H, dh], [H, dh, D]).
    rows = x.reshape(-1, x.shape[-1])  # one 2-D product (numpy's stacked matmul is slow)
    return (rows @ kernel.reshape(x.shape[-1], -1) + bias.reshape(-1)).reshape(*x.shape[:-1], -1)


def encoder_block(x, params, config, i):
    name = f"encoderblock_{i}"
    eps, heads = config["epsilon"], config["heads"]
    b, t, d = x.shape
    dh = d // heads
    h = layer_norm(x, params[f"{name}/LayerNorm_0/scale"], params[f"{name}/LayerNorm_0/bias"], eps)
    attention = f"{name}/MultiHeadDotProductAttention_1"
    # The scale multiplies Q after its bias.
    q = dense(h, params, attention + "/query") * (1.0 / math.sqrt(dh))
    k = dense(h, params, attention + "/key")
    v = dense(h, params, attention + "/value")
    q, k, v = (z.reshape(b, t, heads, dh) for z in (q, k, v))
    scores = np.einsum("bqhd,bkhd->bhqk", q, k)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = scores / scores.sum(axis=-1, keepdims=True)
    context = np.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, d)
    out_kernel = params[attention + "/out/kernel"].reshape(d, d)
    mid = (context @ out_kernel + params[attention + "/out/bias"]) + x
    h = layer_norm(mid, params[f"{name}/LayerNorm_2/scale"], params[f"{name}/LayerNorm_2/bias"], eps)
    h = gelu(dense(h, params, f"{name}/MlpBlock_3/Dense_0"), config["geluForm"])
    return dense(h, params, f"{name}/MlpBlock_3/Dense_1") + mid


def residual_adapter(x, params, config, i):
    name = f"residual_adapter_{i}"
    h = layer_norm(x, params[f"{name}/LayerNorm_0/scale"], params[f"{name}/LayerNorm_0/bias"],
                   config["epsilon"])
    h = gelu(dense(h, params, f"{name}/Dense_1"), config["geluForm"])
    return x + dense(h, params, f"{name}/Dense_2")


def forward(config, params, images):
    s, p, c = config["imageSize"], config["patchSize"], config["channels"]
    g = s // p
    b = images.shape[0]
    # Patches flattened in (py, px, c) order; patch row gy·G + gx.
    patches = images.reshape(b, g, p, g, p, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, g * g, p * p * c)
    embedded = dense(patches, params, "embedding")
    cls = np.broadcast_to(params["cls"].reshape(1, 1, -1), (b, 1, embedded.shape[-1]))
    x = np.concatenate([cls, embedded], axis=1) + params["posembed_input/pos_embedding"]
    for i in range(config["layerCount"]):
        if config["adapterDims"][i] is not None:
            x = residual_adapter(x, params, config, i)
        x = encoder_block(x, params, config, i)
    features = layer_norm(x[:, 0], params["encoder_norm/scale"], params["encoder_norm/bias"],
                          config["epsilon"])
    return dense(features, params, "head")


# ---------------------------------------------------------------------------------------------


def load_images(path, config):
    images = np.load(path, allow_pickle=False)
    s, c = config["imageSize"], config["channels"]
    if images.ndim == 3 and c == 1:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[1:] != (s, s, c):
        raise InvalidInput(f"{path}: images of shape {images.shape}, the model takes [B, {s}, {s}, {c}]")
    return images.astype(np.float64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="munet model file (.safetensors)")
    parser.add_argument("images", help=".npy of [B, S, S, C] (or [B, S, S]) images")
    parser.add_argument("--logits", help=".npy of munet's logits [B, classes] to compare with")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest allowed |numpy - munet| (default 1e-4)")
    parser.add_argument("--output", help="write numpy's logits (float64) to this .npy")
    args = parser.parse_args(argv)
    try:
        config, params = load_model(args.model)
        images = load_images(args.images, config)
        logits = forward(config, params, images)
        if args.output:
            np.save(args.output, logits)
        if args.logits is None:
            np.set_printoptions(precision=6, suppress=True, linewidth=120)
            print(logits)
            return 0
        theirs = np.load(args.logits, allow_pickle=False)
        if theirs.shape != logits.shape:
            raise InvalidInput(f"{args.logits}: shape {theirs.shape}, numpy's logits have {logits.shape}")
    except (InvalidInput, OSError, ValueError, KeyError, TypeError) as error:
        print(f"numpy_vit: {error}", file=sys.stderr)
        return 2
    difference = np.abs(theirs.astype(np.float64) - logits)
    worst = float(difference.max()) if difference.size else 0.0
    scale = float(np.abs(logits).max()) if logits.size else 0.0
    print(f"{len(params)} tensors, {images.shape[0]} images, {logits.size} logits (max |logit| {scale:.6g})")
    print(f"max |difference| = {worst:.3e} (tolerance {args.tolerance:g})")
    if not worst <= args.tolerance:
        print("numpy_vit: FAIL: difference exceeds the tolerance", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
