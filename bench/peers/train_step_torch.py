#!/usr/bin/env python3
"""PyTorch (CPU, eager) train step of the munet reference ViT; prints one JSON line.

Threads: torch.set_num_threads(N) (intra-op) and one inter-op thread. See common.py for the
configuration. Usage: train_step_torch.py --threads 1 --runs 3 --steps 30 --warmup 5
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

args = common.parse_args("PyTorch")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)
torch.manual_seed(args.seed)
C = common.CONFIG
WIDTH, HEADS, PATCH = C["width"], C["heads"], C["patch"]
EPS = C["layer_norm_eps"]


class Block(torch.nn.Module):
    """Pre-LN encoder block: x + MHA(LN(x)), then x + MLP(LN(x))."""

    def __init__(self):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(WIDTH, eps=EPS)
        self.qkv = torch.nn.Linear(WIDTH, 3 * WIDTH)  # the q, k and v projections side by side
        self.out = torch.nn.Linear(WIDTH, WIDTH)
        self.norm2 = torch.nn.LayerNorm(WIDTH, eps=EPS)
        self.mlp1 = torch.nn.Linear(WIDTH, C["mlp"])
        self.mlp2 = torch.nn.Linear(C["mlp"], WIDTH)

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, HEADS, WIDTH // HEADS).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d)) v
        x = x + self.out(attended.transpose(1, 2).reshape(b, t, WIDTH))
        return x + self.mlp2(F.gelu(self.mlp1(self.norm2(x)), approximate="tanh"))


class ViT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Linear(PATCH * PATCH * C["channels"], WIDTH)  # = conv 4x4/4
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, WIDTH))
        self.posembed = torch.nn.Parameter(torch.randn(1, common.TOKENS, WIDTH) * 0.02)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(C["depth"]))
        self.encoder_norm = torch.nn.LayerNorm(WIDTH, eps=EPS)
        self.head = torch.nn.Linear(WIDTH, C["classes"])

    def forward(self, images):  # [B, 28, 28, 1]
        b = images.shape[0]
        g = C["image_size"] // PATCH
        patches = images.reshape(b, g, PATCH, g, PATCH, C["channels"]).permute(0, 1, 3, 2, 4, 5)
        x = self.embedding(patches.reshape(b, g * g, -1))
        x = torch.cat([self.cls.expand(b, -1, -1), x], dim=1) + self.posembed
        for block in self.blocks:
            x = block(x)
        return self.head(self.encoder_norm(x)[:, 0])


model = ViT()
parameters = sum(p.numel() for p in model.parameters())
optimizer = torch.optim.SGD(model.parameters(), lr=C["learning_rate"], momentum=C["momentum"],
                            dampening=0, nesterov=False, weight_decay=0)
x_all, y_all, source = common.load_batches(args)
images = [torch.from_numpy(x.copy()) for x in x_all]
labels = [torch.from_numpy(y.astype("int64")) for y in y_all]


def step(i):
    batch = i % common.BATCHES
    optimizer.zero_grad(set_to_none=False)
    loss = F.cross_entropy(model(images[batch]), labels[batch])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), C["clip_norm"])
    optimizer.step()
    return loss.detach()


first_loss = float(step(0))
rates, losses = common.time_runs(step, args)
assert all(math.isfinite(v) for v in losses), losses
common.report("pytorch", torch.__version__, args, rates, losses, parameters, source, first_loss)
