#!/usr/bin/python3
"""Independent numpy reference of the forward pass of Llama-family models (llama, qwen2, qwen3) in float64.

It shares no code with the C++ engine: its own GGUF reader (gguf_reader.py), the architecture written out
from the published model definitions, every operation in float64 on weights decoded to float64. Its output
is the `*.logits` format of shared/golden/FORMAT.md, so it can be compared with the golden oracle and with
`ondi logits`.

    ref_forward.py MODEL.gguf --ids "1 2 3" -o OUT.logits [--last N]
    ref_forward.py MODEL.gguf --ids-file math-ids.txt -o OUT.logits
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_reader  # noqa: E402
import logits_file  # noqa: E402

# Which RoPE layout each architecture uses: llama's converter permutes Q/K so that the rotation pairs are
# adjacent elements (GGUF "normal" mode); Qwen2/Qwen3 keep Hugging Face's half-split pairs (NEOX mode).
ROPE_NEOX = {"llama": False, "qwen2": True, "qwen3": True}


class Hparams:
    def __init__(self, g):
        arch = g.get("general.architecture")
        if arch not in ROPE_NEOX:
            raise SystemExit(f"unsupported architecture {arch!r} (llama, qwen2, qwen3)")
        self.arch = arch

        def req(key):
            full = f"{arch}.{key}"
            if full not in g.metadata:
                raise SystemExit(f"missing metadata key {full}")
            return g.metadata[full]

        self.n_embd = int(req("embedding_length"))
        self.n_layer = int(req("block_count"))
        self.n_head = int(req("attention.head_count"))
        self.n_head_kv = int(g.get(f"{arch}.attention.head_count_kv", self.n_head))
        self.n_ff = int(req("feed_forward_length"))
        self.rope_base = float(g.get(f"{arch}.rope.freq_base", 10000.0))
        self.eps = float(req("attention.layer_norm_rms_epsilon"))
        self.head_dim = int(g.get(f"{arch}.attention.key_length", self.n_embd // self.n_head))
        self.head_dim_v = int(g.get(f"{arch}.attention.value_length", self.head_dim))
        self.n_rot = int(g.get(f"{arch}.rope.dimension_count", self.head_dim))
        if self.n_head % self.n_head_kv:
            raise SystemExit(f"head_count {self.n_head} not a multiple of head_count_kv {self.n_head_kv}")
        if self.n_rot > self.head_dim or self.n_rot % 2:
            raise SystemExit(f"rope.dimension_count {self.n_rot} invalid for head_dim {self.head_dim}")


def rms_norm(x, w, eps):
    # x: (..., n); normalizes over the last axis
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, pos, hp, freq_factors):
    """Rotates the first n_rot dims of each head. x: (T, H, head_dim), pos: (T,)."""
    n_rot = hp.n_rot
    half = n_rot // 2
    i = np.arange(half, dtype=np.float64)
    inv_freq = hp.rope_base ** (-2.0 * i / n_rot)
    if freq_factors is not None:
        inv_freq = inv_freq / freq_factors[:half]
    theta = pos[:, None].astype(np.float64) * inv_freq[None, :]  # (T, half)
    cos = np.cos(theta)[:, None, :]
    sin = np.sin(theta)[:, None, :]
    out = x.copy()
    if ROPE_NEOX[hp.arch]:
        a = x[..., 0:half]
        b = x[..., half:n_rot]
        out[..., 0:half] = a * cos - b * sin
        out[..., half:n_rot] = a * sin + b * cos
    else:
        a = x[..., 0:n_rot:2]
        b = x[..., 1:n_rot:2]
        out[..., 0:n_rot:2] = a * cos - b * sin
        out[..., 1:n_rot:2] = a * sin + b * cos
    return out


def f16(x):
    return x.astype(np.float16).astype(np.float64)


def silu(x):
    return x / (1.0 + np.exp(-x))


def forward(g, ids, kv_f16=False):
    hp = Hparams(g)
    W = lambda name: g.tensor(name, np.float64)  # noqa: E731
    has = lambda name: name in g.tensors  # noqa: E731

    tok_embd = W("token_embd.weight")  # (n_vocab, n_embd)
    n_vocab = tok_embd.shape[0]
    if tok_embd.shape[1] != hp.n_embd:
        raise SystemExit(f"token_embd has width {tok_embd.shape[1]}, embedding_length is {hp.n_embd}")
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size == 0 or ids.min() < 0 or ids.max() >= n_vocab:
        raise SystemExit(f"token ids must be non-empty and in [0, {n_vocab})")
    freq_factors = W("rope_freqs.weight").reshape(-1) if has("rope_freqs.weight") else None
    if freq_factors is not None and freq_factors.size < hp.n_rot // 2:
        raise SystemExit(f"rope_freqs has {freq_factors.size} entries, need {hp.n_rot // 2}")

    T = len(ids)
    pos = np.arange(T)
    x = tok_embd[ids]  # (T, n_embd)
    group = hp.n_head // hp.n_head_kv
    scale = 1.0 / np.sqrt(hp.head_dim)
    causal = np.triu(np.ones((T, T), dtype=bool), k=1)  # True above the diagonal: masked

    for il in range(hp.n_layer):
        p = f"blk.{il}."
        h = rms_norm(x, W(p + "attn_norm.weight"), hp.eps)
        q = h @ W(p + "attn_q.weight").T
        k = h @ W(p + "attn_k.weight").T
        v = h @ W(p + "attn_v.weight").T
        for name, t in (("q", q), ("k", k), ("v", v)):
            if has(p + f"attn_{name}.bias"):
                t += W(p + f"attn_{name}.bias")
        q = q.reshape(T, hp.n_head, hp.head_dim)
        k = k.reshape(T, hp.n_head_kv, hp.head_dim)
        v = v.reshape(T, hp.n_head_kv, hp.head_dim_v)
        # Qwen3: RMSNorm of every head vector (weights of length head_dim), before the rotation
        if has(p + "attn_q_norm.weight"):
            q = rms_norm(q, W(p + "attn_q_norm.weight"), hp.eps)
        if has(p + "attn_k_norm.weight"):
            k = rms_norm(k, W(p + "attn_k_norm.weight"), hp.eps)
        q = rope(q, pos, hp, freq_factors)
        k = rope(k, pos, hp, freq_factors)
        if kv_f16:
            # emulate the golden oracle: K and V cached in F16, and the other operand of each F16 product (Q,
            # then the softmax probabilities) rounded to F16 before the dot product
            k, v, q = f16(k), f16(v), f16(q)

        attn = np.empty((T, hp.n_head, hp.head_dim_v))
        for hh in range(hp.n_head):
            kvh = hh // group  # GQA: consecutive query heads share one KV head
            s = (q[:, hh, :] @ k[:, kvh, :].T) * scale  # (T, T)
            s[causal] = -np.inf
            s = s - s.max(axis=1, keepdims=True)
            pr = np.exp(s)
            pr /= pr.sum(axis=1, keepdims=True)
            if kv_f16:
                pr = f16(pr)
            attn[:, hh, :] = pr @ v[:, kvh, :]
        x = x + attn.reshape(T, -1) @ W(p + "attn_output.weight").T

        h = rms_norm(x, W(p + "ffn_norm.weight"), hp.eps)
        ff = silu(h @ W(p + "ffn_gate.weight").T) * (h @ W(p + "ffn_up.weight").T)
        x = x + ff @ W(p + "ffn_down.weight").T

    x = rms_norm(x, W("output_norm.weight"), hp.eps)
    out_w = W("output.weight") if has("output.weight") else tok_embd  # absent: tied to the embeddings
    return x @ out_w.T  # (T, n_vocab)


def parse_ids(text):
    text = text.strip()
    if text.startswith("ids:"):
        text = text[4:]
    return [int(t) for t in text.replace(",", " ").split()]


def main(argv):
    ap = argparse.ArgumentParser(description="numpy float64 reference forward pass -> *.logits")
    ap.add_argument("model")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--ids", help='token ids, e.g. "1 2 3" (spaces or commas)')
    src.add_argument("--ids-file", help='a file holding ids ("ids: 1 2 3" as in math-ids.txt)')
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--kv-f16", action="store_true",
                    help="emulate the golden oracle's F16 attention: K, V (its F16 cache), Q and the softmax "
                         "probabilities rounded to F16 (explains small differences; not the default)")
    ap.add_argument("--last", type=int, default=0, help="keep logits of the last N positions (default: all)")
    args = ap.parse_args(argv)

    ids = parse_ids(args.ids if args.ids is not None else open(args.ids_file).read())
    g = gguf_reader.GgufFile(args.model)
    logits = forward(g, ids, kv_f16=args.kv_f16)
    n_kept = len(ids) if args.last <= 0 else min(args.last, len(ids))
    logits_file.write(args.output, ids, logits[len(ids) - n_kept:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
