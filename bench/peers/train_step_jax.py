#!/usr/bin/env python3
"""JAX (CPU, jit) train step of the munet reference ViT; prints one JSON line.

Threads: XLA's CPU runtime cannot be limited to one thread by flags (jax 0.10), so the process
is pinned to its first N cores (as `taskset -c 0..N-1` does) before jax is imported;
bench/train_step_compare.py also launches it under taskset. See common.py for the
configuration. The optimizer is written out (no optax dependency) with optax's semantics:
clip_by_global_norm(1.0) then sgd(lr, momentum=0.9): trace = g + m * trace, update = -lr * trace;
the trace is kept in float32 (the muNet reference keeps it in bfloat16; munet uses float32).
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

args = common.parse_args("JAX")
common.pin_to_cores(args.threads)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

C = common.CONFIG
WIDTH, HEADS, PATCH, MLP = C["width"], C["heads"], C["patch"], C["mlp"]
EPS = C["layer_norm_eps"]


def dense_init(key, fan_in, fan_out):
    return {"kernel": jax.random.normal(key, (fan_in, fan_out), jnp.float32) / math.sqrt(fan_in),
            "bias": jnp.zeros((fan_out,), jnp.float32)}


def norm_init():
    return {"scale": jnp.ones((WIDTH,), jnp.float32), "bias": jnp.zeros((WIDTH,), jnp.float32)}


def init(key):
    keys = iter(jax.random.split(key, 8 + 6 * C["depth"]))
    params = {
        "embedding": dense_init(next(keys), PATCH * PATCH * C["channels"], WIDTH),
        "cls": jnp.zeros((1, 1, WIDTH), jnp.float32),
        "posembed": 0.02 * jax.random.normal(next(keys), (1, common.TOKENS, WIDTH), jnp.float32),
        "blocks": [],
        "encoder_norm": norm_init(),
        "head": dense_init(next(keys), WIDTH, C["classes"]),
    }
    for _ in range(C["depth"]):
        params["blocks"].append({
            "norm1": norm_init(), "query": dense_init(next(keys), WIDTH, WIDTH),
            "key": dense_init(next(keys), WIDTH, WIDTH), "value": dense_init(next(keys), WIDTH, WIDTH),
            "out": dense_init(next(keys), WIDTH, WIDTH), "norm2": norm_init(),
            "mlp1": dense_init(next(keys), WIDTH, MLP), "mlp2": dense_init(next(keys), MLP, WIDTH),
        })
    return params


def dense(p, x):
    return x @ p["kernel"] + p["bias"]


def layer_norm(p, x):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + EPS) * p["scale"] + p["bias"]


def block(p, x):
    b, t, _ = x.shape
    h = layer_norm(p["norm1"], x)
    split = lambda y: y.reshape(b, t, HEADS, WIDTH // HEADS)  # noqa: E731
    q, k, v = split(dense(p["query"], h)), split(dense(p["key"], h)), split(dense(p["value"], h))
    weights = jax.nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(WIDTH // HEADS), axis=-1)
    attended = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, WIDTH)
    x = x + dense(p["out"], attended)
    h = jax.nn.gelu(dense(p["mlp1"], layer_norm(p["norm2"], x)), approximate=True)
    return x + dense(p["mlp2"], h)


def forward(params, images):  # [B, 28, 28, 1]
    b = images.shape[0]
    g = C["image_size"] // PATCH
    patches = images.reshape(b, g, PATCH, g, PATCH, C["channels"]).transpose(0, 1, 3, 2, 4, 5)
    x = dense(params["embedding"], patches.reshape(b, g * g, -1))
    x = jnp.concatenate([jnp.broadcast_to(params["cls"], (b, 1, WIDTH)), x], axis=1) + params["posembed"]
    for p in params["blocks"]:
        x = block(p, x)
    return dense(params["head"], layer_norm(params["encoder_norm"], x)[:, 0])


def loss_fn(params, images, labels):
    logits = forward(params, images)
    one_hot = jax.nn.one_hot(labels, C["classes"])
    return -(jax.nn.log_softmax(logits) * one_hot).sum(-1).mean()


@jax.jit
def train_step(params, trace, images, labels):
    loss, grads = jax.value_and_grad(loss_fn)(params, images, labels)
    leaves = jax.tree_util.tree_leaves(grads)
    norm = jnp.sqrt(sum(jnp.sum(g * g) for g in leaves))
    grads = jax.tree_util.tree_map(
        lambda g: jnp.where(norm < C["clip_norm"], g, g / norm * C["clip_norm"]), grads)
    trace = jax.tree_util.tree_map(lambda g, t: g + C["momentum"] * t, grads, trace)
    params = jax.tree_util.tree_map(lambda p, t: p - C["learning_rate"] * t, params, trace)
    return params, trace, loss


params = init(jax.random.PRNGKey(args.seed))
parameters = sum(x.size for x in jax.tree_util.tree_leaves(params))
trace = jax.tree_util.tree_map(jnp.zeros_like, params)
x_all, y_all, source = common.load_batches(args)
images = [jax.device_put(x) for x in x_all]
labels = [jax.device_put(y) for y in y_all]
state = {"params": params, "trace": trace}


def step(i):
    batch = i % common.BATCHES
    state["params"], state["trace"], loss = train_step(state["params"], state["trace"],
                                                       images[batch], labels[batch])
    return loss


first_loss = float(step(0))  # includes the compilation
rates, losses = common.time_runs(step, args)
assert all(math.isfinite(v) for v in losses), losses
common.report("jax", jax.__version__, args, rates, losses, parameters, source, first_loss)
