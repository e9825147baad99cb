#!/usr/bin/python3
"""Compares two `*.logits` files (shared/golden/FORMAT.md) and fails when they differ beyond a tolerance.

    compare_logits.py A.logits B.logits --max-rel X [--max-abs Y] [--argmax-agree F [--tie-margin M]] [--max-kl K]
    compare_logits.py A.logits B.logits --print rel|abs|argmax|kl      (prints one metric, checks nothing)

B is the reference. The files must hold the same token ids and the same shape (n_kept, n_vocab).
Metrics (all printed):
  rel       max over positions p of max_v |A[p,v] - B[p,v]| / max_v |B[p,v]|  (error relative to the scale of
            that position's logits, so large and small logit vectors are judged alike)
  abs       max |A - B|
  argmax    fraction of positions whose argmax agrees; with --tie-margin M, positions where B's two best
            logits are within M of each other are left out (a flip there is within the stated error, not a bug)
  kl        max over positions of KL(softmax(B) || softmax(A)), in nats
Exit status: 0 when within every stated tolerance, 1 when not, 2 on unreadable or mismatched files.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logits_file  # noqa: E402


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def compare(a, b, tie_margin=0.0):
    A = a.logits.astype(np.float64)
    B = b.logits.astype(np.float64)
    diff = np.abs(A - B)
    scale = np.maximum(np.abs(B).max(axis=1), 1e-30)
    rel_per_pos = diff.max(axis=1) / scale
    la, lb = log_softmax(A), log_softmax(B)
    kl = (np.exp(lb) * (lb - la)).sum(axis=1)
    top2 = np.sort(B, axis=1)[:, -2:] if B.shape[1] > 1 else np.concatenate([B, B - np.inf], axis=1)
    decisive = (top2[:, 1] - top2[:, 0]) > tie_margin
    agree = (A.argmax(axis=1) == B.argmax(axis=1)) | ~decisive
    return {
        "rel": float(rel_per_pos.max()),
        "rel_pos": int(rel_per_pos.argmax()),
        "abs": float(diff.max()),
        "argmax": float(agree.mean()),
        "ties": int((~decisive).sum()),
        "argmax_bad": [int(i) for i in np.nonzero(~agree)[0]],
        "kl": float(kl.max()),
        "finite": bool(np.isfinite(A).all() and np.isfinite(B).all()),
    }


def main(argv):
    ap = argparse.ArgumentParser(description="compare two *.logits files (B is the reference)")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--max-rel", type=float, help="tolerance on the per-position relative error (required unless --print)")
    ap.add_argument("--max-abs", type=float, help="tolerance on the max absolute difference")
    ap.add_argument("--argmax-agree", type=float, help="minimum fraction of positions with the same argmax")
    ap.add_argument("--tie-margin", type=float, default=0.0,
                    help="leave positions whose reference top-2 gap is <= this out of the argmax check")
    ap.add_argument("--max-kl", type=float, help="tolerance on the max per-position KL divergence (nats)")
    ap.add_argument("--print", choices=["rel", "abs", "argmax", "kl"], help="print this metric and exit 0")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    try:
        a = logits_file.read(args.a)
        b = logits_file.read(args.b)
    except (OSError, logits_file.LogitsError) as e:
        print(f"compare_logits: {e}", file=sys.stderr)
        return 2
    if a.n_tokens != b.n_tokens or not np.array_equal(a.ids, b.ids):
        first = next((i for i in range(min(a.n_tokens, b.n_tokens)) if a.ids[i] != b.ids[i]), None)
        print(f"compare_logits: token ids differ: {args.a} has {a.n_tokens} tokens, {args.b} has {b.n_tokens}"
              + (f"; first difference at index {first} ({a.ids[first]} vs {b.ids[first]})" if first is not None
                 else ""), file=sys.stderr)
        return 2
    if a.logits.shape != b.logits.shape:
        print(f"compare_logits: shapes differ: {args.a} (n_kept, n_vocab) = {a.logits.shape}, "
              f"{args.b} = {b.logits.shape}", file=sys.stderr)
        return 2

    m = compare(a, b, args.tie_margin)
    if args.print:
        print(f"{m[args.print]:.6e}")
        return 0
    if args.max_rel is None:
        ap.error("--max-rel is required")
    n_pos = a.n_kept
    first_pos = a.n_tokens - n_pos
    summary = (f"{os.path.basename(args.a)} vs {os.path.basename(args.b)}: {n_pos} positions x {a.n_vocab} vocab: "
               f"rel {m['rel']:.3e} (at position {first_pos + m['rel_pos']}), abs {m['abs']:.3e}, "
               f"argmax agree {m['argmax']:.4f}" + (f" ({m['ties']} near-ties left out)" if m["ties"] else "") +
               f", max KL {m['kl']:.3e}")
    failures = []
    if not m["finite"]:
        failures.append("non-finite logits")
    if not m["rel"] <= args.max_rel:
        failures.append(f"relative error {m['rel']:.3e} > {args.max_rel:.3e}")
    if args.max_abs is not None and not m["abs"] <= args.max_abs:
        failures.append(f"absolute error {m['abs']:.3e} > {args.max_abs:.3e}")
    if args.argmax_agree is not None and not m["argmax"] >= args.argmax_agree:
        bad = ", ".join(str(first_pos + i) for i in m["argmax_bad"][:10])
        failures.append(f"argmax agreement {m['argmax']:.4f} < {args.argmax_agree:.4f} (positions {bad})")
    if args.max_kl is not None and not m["kl"] <= args.max_kl:
        failures.append(f"KL divergence {m['kl']:.3e} > {args.max_kl:.3e}")
    if failures:
        print(f"FAIL {summary}", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"ok   {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
