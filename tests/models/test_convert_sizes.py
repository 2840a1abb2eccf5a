#!/usr/bin/python3
"""convert_megvii.py serves every released size, not just the two 0.5x
checkpoints on this machine: for g3 and g8 at 1.0x, 1.5x and 2.0x (stage
channels as in Megvii's ShuffleNet-Series network.py), a checkpoint with
random weights and non-trivial BatchNorm statistics, saved in Megvii's
legacy format, converts with the right inferred name, and our engine runs
the ONNX with PyTorch's logits.

Usage: test_convert_sizes.py --cli SHUFFLENET_CLI
"""
import argparse
import os
import sys
import tempfile

import numpy as np

import modeltest

# Megvii's stage_out_channels[1:] per (groups, size): stem, stage 2..4.
RELEASED = {(3, "1.0x"): (24, 240, 480, 960),
            (3, "1.5x"): (24, 360, 720, 1440),
            (3, "2.0x"): (48, 480, 960, 1920),
            (8, "1.0x"): (24, 384, 768, 1536),
            (8, "1.5x"): (24, 576, 1152, 2304),
            (8, "2.0x"): (48, 768, 1536, 3072)}
REPEATS = (4, 8, 4)
# Random weights give logits of order 1-100; float32 engine vs float32
# PyTorch with different accumulation orders and folded BN: 1e-4 relative.
TOLERANCE = 1e-4


def megvii_arch(groups, channels):
    """The converter's Arch for Megvii's layout: blocks (inp, oup, mid,
    stride, pw1 groups), the very first pw conv ungrouped."""
    import convert_megvii
    blocks, inp = [], channels[0]
    for stage, repeat in enumerate(REPEATS):
        oup = channels[stage + 1]
        for i in range(repeat):
            first = stage == 0 and i == 0
            blocks.append((inp, oup, oup // 4, 2 if i == 0 else 1,
                           1 if first else groups))
            inp = oup
    return convert_megvii.Arch(groups, channels[0], blocks, 1000)


def random_checkpoint(path, groups, channels, seed):
    """Save a Megvii-format checkpoint with random weights; return the
    network (eval mode) that holds them."""
    import torch
    import convert_megvii
    torch.manual_seed(seed)
    net = convert_megvii.build_network(megvii_arch(groups, channels))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c) * 0.1)
                m.running_var.copy_(torch.rand(c) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(c) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(c) * 0.1)
    sd = {"module." + k: v for k, v in net.state_dict().items()}
    torch.save({"state_dict": sd}, path, _use_new_zipfile_serialization=False)
    return net.eval()


def check_size(checks, cli, groups, size, channels, tmp):
    import torch
    import convert_megvii
    import sn_metadata
    name = f"shufflenet_v1_g{groups}_{size}"
    ckpt, onnx_path = (os.path.join(tmp, name + ext)
                       for ext in (".pth.tar", ".onnx"))
    net = random_checkpoint(ckpt, groups, channels, seed=groups * 10 +
                            len(size))
    try:
        convert_megvii.convert(ckpt, onnx_path, os.path.join(
            modeltest.MODELS_DIR, "imagenet-labels.txt"), None, True)
        ok, detail = True, ""
    except convert_megvii.ConversionError as e:
        ok, detail = False, str(e)
    if not checks.check(ok, f"{name}: converts", detail):
        return
    import onnx
    props = sn_metadata.read_props(onnx.load(onnx_path))
    checks.check(props.get(sn_metadata.KEY_MODEL_NAME) == name,
                 f"{name}: inferred name", props.get(
                     sn_metadata.KEY_MODEL_NAME, "none"))
    # x [2, 3, 224, 224] in 0..255 / 64: keeps random-weight logits moderate
    x = np.random.default_rng(groups).uniform(0, 4, (2, 3, 224, 224))
    x = x.astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()  # [2, 1000]
    inp, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(inp, x)
    rc, _, err = modeltest.run([cli, "run", onnx_path, "--input", inp,
                                "--output", out])
    if not checks.check(rc == 0, f"{name}: engine runs", err.strip()):
        return
    diff = float(np.abs(np.load(out) - ref).max())
    limit = TOLERANCE * max(1.0, float(np.abs(ref).max()))
    spread = float(ref.std())
    checks.check(diff <= limit and spread > 1e-2,
                 f"{name}: engine logits match PyTorch",
                 f"max |diff| {diff:.2e} (<= {limit:.2e}), logits std "
                 f"{spread:.2f} (> 0.01: not a degenerate comparison)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    args = ap.parse_args()
    checks = modeltest.Checks("convert-sizes")
    for (groups, size), channels in sorted(RELEASED.items()):
        with tempfile.TemporaryDirectory() as tmp:
            check_size(checks, args.cli, groups, size, channels, tmp)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
