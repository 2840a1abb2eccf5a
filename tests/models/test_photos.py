#!/usr/bin/python3
"""The converted Megvii models (g3 0.5x, g8 0.5x) run by our engine on real
photos give what PyTorch gives running the original checkpoints: logits
within 1e-3, the same top-5, and the right top-1 (skimage's chelsea.png is
285 Egyptian cat, coffee.png 967 espresso). Preprocessing: Megvii's recipe
(megvii_preprocess.py).

The bf16 precision's accuracy gate (where the CPU runs it): on ten of
skimage's images, bf16 logits within BF16_TOLERANCE of our fp32 ones, the
same top-1 wherever fp32's leads its runner-up by more than twice that
(near ties may swap), the right top-1 on the two labelled photos, and the
same bits on 1 and 2 threads.

Usage: test_photos.py --cli SHUFFLENET_CLI --stamp MODELS_STAMP.json
Needs SHUFFLENET_WEIGHTS_DIR (for PyTorch's reference); skips without it.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

import modeltest
from megvii_preprocess import megvii_input

# |engine - torch| on logits of magnitude ~10-30: both are float32 but
# accumulate in different orders, and the engine folds BN into the conv
# weights; ~1e-5 is what we see, 1e-3 is the bound.
TOLERANCE = 1e-3
PHOTOS = (("chelsea", 285), ("coffee", 967))  # skimage.data name, top-1

# bf16 against fp32: each 1x1 conv rounds its weights and inputs to 8
# significant bits; over the 16 units the logits (spanning 7-20) moved by
# 0.06-0.21 on these images (Zen 5, 2026-12-03).
BF16_TOLERANCE = 0.4
# skimage.data images that ship with it (no download): the labelled two,
# then photographs and scans without a label of their own.
GATE_IMAGES = ("chelsea", "coffee", "astronaut", "rocket", "camera", "clock",
               "coins", "brick", "retina", "horse")


def photos_batch():
    """x [2, 3, 224, 224] float32: chelsea and coffee, Megvii-preprocessed."""
    import skimage.data
    return np.concatenate([megvii_input(getattr(skimage.data, name)())
                           for name, _ in PHOTOS])


def gate_batch():
    """x [10, 3, 224, 224] float32: GATE_IMAGES as RGB, Megvii-preprocessed."""
    import skimage.data
    images = []
    for name in GATE_IMAGES:
        im = np.asarray(getattr(skimage.data, name)())
        if im.ndim == 2:  # grey (camera, coins, ...): three equal channels
            im = np.stack([im.astype(np.uint8) * (255 if im.dtype == bool
                                                  else 1)] * 3, axis=-1)
        images.append(megvii_input(im[..., :3]))
    return np.concatenate(images)


def torch_logits(checkpoint, x):
    """PyTorch running the checkpoint: x [N, 3, 224, 224] -> [N, 1000]."""
    import torch
    import convert_megvii
    _, net = convert_megvii.load_network(checkpoint)
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def engine_logits(cli, model, x, tmp, *options):
    """shufflenet-cli run: x [N, 3, 224, 224] -> ([N, 1000] or None, err)."""
    inp, out = os.path.join(tmp, "in.npy"), os.path.join(tmp, "out.npy")
    np.save(inp, x)
    rc, _, err = modeltest.run([cli, "run", model, "--input", inp,
                                "--output", out, *options])
    if rc != 0:
        return None, err.strip()
    return np.load(out), ""


def same_top5(got, ref):
    """Same 5 classes, and the engine's order only differs from PyTorch's
    where PyTorch's logits are within 2 * TOLERANCE (a near tie)."""
    g, r = np.argsort(-got)[:5], np.argsort(-ref)[:5]
    if set(g) != set(r):
        return False
    return all(abs(ref[a] - ref[b]) <= 2 * TOLERANCE
               for a, b in zip(g, r) if a != b)


def check_model(checks, cli, name, onnx_path, checkpoint, x, tmp):
    ref = torch_logits(checkpoint, x)  # [2, 1000]
    for rows in ((0, 1), (0,), (1,)):  # batch 2, then each photo alone
        sub = x[list(rows)]
        got, err = engine_logits(cli, onnx_path, sub, tmp)
        tag = f"{name} [{', '.join(PHOTOS[r][0] for r in rows)}]"
        if not checks.check(got is not None and got.shape == (len(rows),
                            1000), f"{tag}: engine runs", err):
            continue
        diff = float(np.abs(got - ref[list(rows)]).max())
        checks.check(diff <= TOLERANCE, f"{tag}: logits match PyTorch",
                     f"max |diff| {diff:.2e} (<= {TOLERANCE})")
        for i, row in enumerate(rows):
            photo, want = PHOTOS[row]
            top = [int(c) for c in np.argsort(-got[i])[:5]]
            checks.check(same_top5(got[i], ref[row]),
                         f"{tag} {photo}: top-5 as PyTorch's",
                         f"engine {top}, torch "
                         f"{[int(c) for c in np.argsort(-ref[row])[:5]]}")
            checks.check(top[0] == want and int(np.argmax(ref[row])) == want,
                         f"{tag} {photo}: top-1 is {want}",
                         f"engine {top[0]}, torch {int(np.argmax(ref[row]))}")


def check_bf16(checks, cli, name, onnx_path, x, tmp):
    """The bf16 gate for one model; False when this CPU lacks bf16."""
    fp32, err = engine_logits(cli, onnx_path, x, tmp, "--threads", "1")
    bf16, err16 = engine_logits(cli, onnx_path, x, tmp, "--threads", "1",
                                "--precision", "bf16")
    if bf16 is None and "needs a CPU" in err16:
        print(f"note: {err16}; the bf16 gate is not run here")
        return False
    if not (checks.check(fp32 is not None, f"{name}: fp32 runs", err)
            and checks.check(bf16 is not None, f"{name} bf16: runs", err16)):
        return True
    diff = np.abs(bf16 - fp32).max(axis=1)
    checks.check(float(diff.max()) <= BF16_TOLERANCE,
                 f"{name} bf16: logits within {BF16_TOLERANCE} of fp32",
                 "max |diff| per image " + " ".join(f"{d:.3f}" for d in diff))
    for i, image in enumerate(GATE_IMAGES):
        top2 = np.sort(fp32[i])[-2:]
        if top2[1] - top2[0] > 2 * BF16_TOLERANCE:
            checks.check(int(np.argmax(bf16[i])) == int(np.argmax(fp32[i])),
                         f"{name} bf16 {image}: top-1 as fp32's",
                         f"bf16 {int(np.argmax(bf16[i]))}, fp32 "
                         f"{int(np.argmax(fp32[i]))}")
    for i, (photo, want) in enumerate(PHOTOS):
        checks.check(int(np.argmax(bf16[GATE_IMAGES.index(photo)])) == want,
                     f"{name} bf16 {photo}: top-1 is {want}", "")
    two, err2 = engine_logits(cli, onnx_path, x, tmp, "--threads", "2",
                              "--precision", "bf16")
    checks.check(two is not None and np.array_equal(two, bf16),
                 f"{name} bf16: 2 threads give 1 thread's bits", err2)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--stamp", required=True)
    args = ap.parse_args()
    models = modeltest.load_stamp(args.stamp)
    weights = modeltest.weights_dir()
    if weights is None:
        print("SKIP: SHUFFLENET_WEIGHTS_DIR does not hold the checkpoints "
              "(PyTorch's reference needs them)")
        return modeltest.SKIP
    checks = modeltest.Checks("photos")
    x = photos_batch()
    gate = gate_batch()
    with tempfile.TemporaryDirectory() as tmp:
        for name, onnx_path in sorted(models.items()):
            check_model(checks, args.cli, name, onnx_path,
                        os.path.join(weights, modeltest.CHECKPOINTS[name]),
                        x, tmp)
            check_bf16(checks, args.cli, name, onnx_path, gate, tmp)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
