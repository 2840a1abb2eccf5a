#!/usr/bin/python3
"""Tiny seed models for the loader fuzzer: every variant of
tests/variants/gen_models.py (PyTorch, Megvii and Keras/tf2onnx export
styles, BN nodes or folded, auto_pad, dynamic batch, the four heads and
global pools, softmax, the unsupported LeakyRelu) rebuilt with stage widths
of a few dozen channels, 1+3 units per stage and at most 10 classes.

The real variants are 0.3-14 MB; these are 20-60 kB with the same node
patterns, so libFuzzer runs them some hundred times faster.

Usage: make_seeds.py OUTDIR      (Debian's /usr/bin/python3: torch, onnx)
"""
import dataclasses
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "variants"))
import gen_models  # noqa: E402


def tiny(v):
    """The same export options on a small network: stem s, stages of
    s + 4g, s + 8g, s + 16g channels (every unit's channel count divisible
    by the groups, as the engine and the exporters need)."""
    g, s = v.groups, v.stem
    gen_models.STAGE_WIDTHS[g] = (s + 4 * g, s + 8 * g, s + 16 * g)
    h = v.height if v.height <= 80 else 37
    w = v.width if v.width <= 80 else 37
    return dataclasses.replace(v, name="tiny_" + v.name, scale=1.0, height=h,
                               width=w, classes=min(v.classes, 10))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    import torch
    torch.set_num_threads(1)
    for v in gen_models.VARIANTS:
        gen_models.REPEATS = (1, 3, 3) if v.unsupported else (1, 1, 1)
        t = tiny(v)
        gen_models.generate(t, gen_models.DEFAULT_SEED, out, check=True)
        for ext in (".in.npy", ".out.npy"):     # only the .onnx is a seed
            os.remove(os.path.join(out, t.name + ext))


if __name__ == "__main__":
    main()
