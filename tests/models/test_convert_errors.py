#!/usr/bin/python3
"""convert_megvii.py on bad input: a missing checkpoint, corrupt files
(random bytes, random bytes behind a pickle header, a truncated real
checkpoint, an empty file), state dicts of other architectures (a random
one, torchvision's ShuffleNet v2, Megvii's ShuffleNet v2 layout, a v1 with
a 5x5 depthwise conv), a checkpoint with NaN weights, a missing output
folder. Each must give exactly one error line that names the problem, a
non-zero exit status, and leave no file (output or temporary) behind.

Usage: test_convert_errors.py   (cases built from a real checkpoint need
SHUFFLENET_WEIGHTS_DIR; they are skipped without it)
"""
import os
import sys
import tempfile

import modeltest

CONVERTER = os.path.join(modeltest.MODELS_DIR, "convert_megvii.py")


def save_legacy(path, state_dict):
    """torch.save in the legacy (non-zip) format Megvii used, with their
    {'state_dict': ...} wrapper and `module.` prefix."""
    import torch
    torch.save({"state_dict": {"module." + k: v
                               for k, v in state_dict.items()}}, path,
               _use_new_zipfile_serialization=False)


def megvii_v2_like():
    """A state dict laid out like Megvii's ShuffleNet v2 checkpoints."""
    import torch
    sd = {"first_conv.0.weight": torch.randn(24, 3, 3, 3)}
    for p in ("weight", "bias", "running_mean", "running_var"):
        sd["first_conv.1." + p] = torch.rand(24) + 0.5
    sd["features.0.branch_main.0.weight"] = torch.randn(24, 24, 1, 1)
    sd["features.0.branch_proj.0.weight"] = torch.randn(24, 1, 3, 3)
    sd["classifier.0.weight"] = torch.randn(1000, 1024)
    return sd


def real_state_dict(weights):
    import torch
    path = os.path.join(weights, modeltest.CHECKPOINTS[
        "shufflenet_v1_g3_0.5x"])
    sd = torch.load(path, map_location="cpu")["state_dict"]
    return {k[len("module."):]: v for k, v in sd.items()}, path


def make_cases(folder, weights):
    """[(name, checkpoint path, text the error line must contain)]"""
    import torch
    import torchvision
    cases = [("missing", os.path.join(folder, "absent.pth.tar"),
              "not found")]

    def put(name, data, expect):
        path = os.path.join(folder, name + ".pth.tar")
        with open(path, "wb") as f:
            f.write(data)
        cases.append((name, path, expect))

    put("random-bytes", os.urandom(65536).replace(b"\x80", b"\x00"),
        "not a PyTorch checkpoint")
    put("pickle-header-then-garbage", b"\x80\x02" + os.urandom(65536),
        "corrupt or truncated")
    put("empty", b"", "not a PyTorch checkpoint")

    def put_sd(name, sd, expect):
        path = os.path.join(folder, name + ".pth.tar")
        save_legacy(path, sd)
        cases.append((name, path, expect))

    put_sd("random-state-dict", {"a.weight": torch.randn(4, 4)},
           "not a Megvii ShuffleNet v1 checkpoint")
    put_sd("torchvision-shufflenet-v2",
           torchvision.models.shufflenet_v2_x0_5().state_dict(),
           "not a Megvii ShuffleNet v1 checkpoint")
    put_sd("megvii-shufflenet-v2-layout", megvii_v2_like(),
           "not a Megvii ShuffleNet v1 checkpoint")
    if weights is None:
        return cases
    sd, path = real_state_dict(weights)
    with open(path, "rb") as f:
        data = f.read()
    put("truncated", data[:len(data) // 2], "corrupt or truncated")
    wrong = dict(sd)
    wrong["features.5.branch_main_1.3.weight"] = torch.randn(60, 1, 5, 5)
    put_sd("depthwise-5x5", wrong, "not a Megvii ShuffleNet v1 checkpoint")
    nan = dict(sd)
    nan["classifier.0.weight"] = sd["classifier.0.weight"].clone()
    nan["classifier.0.weight"][3, 5] = float("nan")
    put_sd("nan-weights", nan, "NaN")
    cases.append(("output-folder-missing", path, "output folder"))
    return cases


def check_case(checks, name, checkpoint, expect, out_dir):
    out = os.path.join(out_dir, "model.onnx")
    if name == "output-folder-missing":
        out = os.path.join(out_dir, "no", "such", "folder", "model.onnx")
    rc, _, err = modeltest.run([sys.executable, CONVERTER, checkpoint, out])
    line = modeltest.one_error_line(err)
    checks.check(rc != 0 and line is not None and expect in line
                 and "Traceback" not in err,
                 f"{name}: exit {rc}, one error line with '{expect}'",
                 line or err.strip()[-300:])
    checks.check(modeltest.leftovers(out_dir) == [],
                 f"{name}: nothing left behind",
                 str(modeltest.leftovers(out_dir)))


def main():
    weights = modeltest.weights_dir()
    checks = modeltest.Checks("convert-errors")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "inputs")
        os.mkdir(inputs)
        for name, path, expect in make_cases(inputs, weights):
            out_dir = os.path.join(tmp, "out-" + name)
            os.mkdir(out_dir)
            check_case(checks, name, path, expect, out_dir)
    if weights is None:
        print("note: SHUFFLENET_WEIGHTS_DIR unset: the cases built from a "
              "real checkpoint were skipped")
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
