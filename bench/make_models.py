#!/usr/bin/python3
"""Make the random-weight models the benchmark times: ShuffleNet v1 1x g3 and
1x g8 at 224x224 with 1000 classes, PyTorch-style exports with a dynamic
batch dimension (so that ONNX Runtime can run batch 8 on the same file).

Usage: make_models.py OUTDIR

Writes OUTDIR/NAME.onnx, NAME.in.npy (float32 [1, 3, 224, 224]) and
NAME.out.npy (float32 [1, 1000], the PyTorch logits) through the project's
generator tests/variants/gen_models.py (its Variant description and its
generate()), so the bench runs exactly the kind of graph the tests check.
A model whose three files exist already is kept.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "variants"))

SEED = 1707
# name -> (groups, width multiplier)
MODELS = {
    "shufflenet_v1_g3_1x": (3, 1.0),
    "shufflenet_v1_g8_1x": (8, 1.0),
}


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    todo = [n for n in MODELS
            if not all(os.path.exists(os.path.join(outdir, n + ext))
                       for ext in (".onnx", ".in.npy", ".out.npy"))]
    if not todo:
        return 0
    try:
        import torch
        import gen_models
    except ImportError as e:
        print(f"make_models.py: cannot import the generator ({e}); it needs "
              "tests/variants/gen_models.py and Debian's python3-torch, "
              "python3-onnx", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    for name in todo:
        groups, scale = MODELS[name]
        # Average pool excluding padding (an AveragePool node, as in the
        # peers' reference export), not Pad + AveragePool.
        v = gen_models.V(name, "pytorch", groups, scale, 224, classes=1000,
                         dynamic_batch=True, pool_include_pad=False)
        # check=False: the numpy float64 re-run of a 224x224 graph takes long;
        # the bench compares both engines with the PyTorch logits instead.
        gen_models.generate(v, SEED, outdir, False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
