#!/usr/bin/python3
"""Metadata round trip: what convert_megvii.py and add_metadata.py write is
what `shufflenet-cli info MODEL` reports.

  - the converted Megvii models carry exactly Megvii's preprocessing, the
    labels file, their name and source (sn_metadata's keys), and the CLI
    prints every key with the same value (`metadata KEY=VALUE`, newlines and
    backslashes escaped);
  - add_metadata.py rewrites a model's metadata (labels with a backslash,
    unusual values) and the CLI reports the new values; the graph is
    untouched; a refused edit (wrong label count) leaves the file as it was;
  - the documented path for your own model: a plain torch.onnx.export of
    the g3 network (with PyTorch's Pad -> AveragePool), then
    add_metadata.py --fold-pad --preset megvii --labels: the engine runs it
    with the logits PyTorch computes and info reports the keys (needs
    SHUFFLENET_WEIGHTS_DIR).

Usage: test_metadata.py --cli SHUFFLENET_CLI --stamp MODELS_STAMP.json
"""
import argparse
import os
import shutil
import sys
import tempfile

import onnx

import modeltest
import sn_metadata as md


def cli_info(cli, model):
    """(rc, {key: value} from the `metadata KEY=VALUE` lines, other lines,
    stderr)."""
    rc, out, err = modeltest.run([cli, "info", model])
    meta, other = {}, []
    for line in out.splitlines():
        if line.startswith("metadata "):
            key, _, value = line[len("metadata "):].partition("=")
            meta[key] = unescape(value)
        else:
            other.append(line)
    return rc, meta, other, err


def unescape(text):
    """Undo the CLI's escaping: \\n -> newline, \\\\ -> backslash."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append({"n": "\n", "\\": "\\"}.get(text[i + 1],
                                                   "\\" + text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def diff_keys(got, want):
    """"" when equal, else which keys differ."""
    keys = sorted(k for k in set(got) | set(want)
                  if got.get(k) != want.get(k))
    return f"keys differ: {', '.join(keys)}" if keys else ""


def megvii_expected(name):
    labels = md.read_labels_file(os.path.join(modeltest.MODELS_DIR,
                                              "imagenet-labels.txt"))
    return md.make_props(md.MEGVII, labels, name, md.MEGVII_SOURCE)


def check_converted(checks, cli, name, path):
    props = md.read_props(onnx.load(path))
    want = megvii_expected(name)
    checks.check(props == want, f"{name}: the converter wrote Megvii's keys",
                 diff_keys(props, want))
    literal = {"shufflenet.channel_order": "BGR", "shufflenet.scale": "1",
               "shufflenet.mean": "0,0,0", "shufflenet.std": "1,1,1",
               "shufflenet.resize": "crop",
               "shufflenet.resize_short_side": "256",
               "shufflenet.model_name": name,
               "shufflenet.source": "Megvii ShuffleNet-Series (MIT), "
                                    "converted by gst-shufflenet"}
    checks.check(all(props.get(k) == v for k, v in literal.items()),
                 f"{name}: the values are the issue's literal texts")
    rc, meta, other, err = cli_info(cli, path)
    checks.check(rc == 0, f"{name}: shufflenet-cli info runs", err.strip())
    checks.check(meta == props, f"{name}: info reports every key as written",
                 diff_keys(meta, props))
    checks.check("input: N x 3 x 224 x 224 float32 NCHW" in other
                 and "classes: 1000" in other,
                 f"{name}: info reports input [N,3,224,224] NCHW, 1000 "
                 "classes", "; ".join(other[:4]))


def check_add_metadata(checks, cli, source_model, tmp):
    model = os.path.join(tmp, "mine.onnx")
    shutil.copy(source_model, model)
    labels = [f"class {i}" for i in range(1000)]
    labels[7] = "back\\slash = tricky"
    labels_file = os.path.join(tmp, "labels.txt")
    with open(labels_file, "w", encoding="utf-8") as f:
        f.write("\n".join(labels) + "\n")
    graph_before = onnx.load(model).graph.SerializeToString()
    tool = [sys.executable, os.path.join(modeltest.MODELS_DIR,
                                         "add_metadata.py"), model]
    rc, _, err = modeltest.run(tool + [
        "--channel-order", "RGB", "--scale", "0.5", "--mean", "1,2.5,-3",
        "--std", "4,5,6", "--resize", "letterbox",
        "--resize-short-side", "300", "--labels", labels_file,
        "--model-name", "my model", "--source", "a test"])
    checks.check(rc == 0, "add_metadata.py writes the keys", err.strip())
    want = {md.KEY_CHANNEL_ORDER: "RGB", md.KEY_SCALE: "0.5",
            md.KEY_MEAN: "1,2.5,-3", md.KEY_STD: "4,5,6",
            md.KEY_RESIZE: "letterbox", md.KEY_RESIZE_SHORT_SIDE: "300",
            md.KEY_LABELS: "\n".join(labels), md.KEY_MODEL_NAME: "my model",
            md.KEY_SOURCE: "a test"}
    written = onnx.load(model)
    checks.check(md.read_props(written) == want,
                 "add_metadata.py wrote exactly the given values")
    checks.check(written.graph.SerializeToString() == graph_before,
                 "add_metadata.py left the graph untouched")
    rc, meta, _, err = cli_info(cli, model)
    checks.check(rc == 0 and meta == want,
                 "info reports add_metadata.py's values",
                 err.strip() or diff_keys(meta, want))
    # a refused edit: 999 labels for 1000 classes
    with open(labels_file, "w", encoding="utf-8") as f:
        f.write("\n".join(labels[:999]) + "\n")
    before = open(model, "rb").read()
    rc, _, err = modeltest.run(tool + ["--labels", labels_file])
    line = modeltest.one_error_line(err)
    checks.check(rc != 0 and line is not None and "labels" in line,
                 "add_metadata.py refuses 999 labels in one line",
                 line or err.strip())
    checks.check(open(model, "rb").read() == before
                 and modeltest.leftovers(tmp) == ["labels.txt", "mine.onnx"],
                 "the refused edit left the model as it was, no temp file",
                 str(modeltest.leftovers(tmp)))


def check_user_export(checks, cli, weights, tmp):
    import numpy as np
    import torch
    import convert_megvii
    ckpt = os.path.join(weights,
                        modeltest.CHECKPOINTS["shufflenet_v1_g3_0.5x"])
    _, net = convert_megvii.load_network(ckpt)
    model = os.path.join(tmp, "user.onnx")
    # x [2, 3, 224, 224]: pixels in 0..255, as the Megvii weights expect
    x = np.random.default_rng(3).uniform(0, 255, (2, 3, 224, 224))
    x = x.astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()  # [2, 1000]
        torch.onnx.export(net, torch.from_numpy(x[:1]), model,
                          opset_version=11, input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": {0: "N"},
                                        "logits": {0: "N"}})
    pads = sum(n.op_type == "Pad" for n in onnx.load(model).graph.node)
    labels = os.path.join(modeltest.MODELS_DIR, "imagenet-labels.txt")
    rc, out, err = modeltest.run([
        sys.executable, os.path.join(modeltest.MODELS_DIR, "add_metadata.py"),
        model, "--fold-pad", "--preset", "megvii", "--labels", labels,
        "--model-name", "user g3"])
    checks.check(rc == 0 and pads == 3 and "folded 3" in out,
                 "user export: add_metadata.py --fold-pad folds PyTorch's 3 "
                 "Pad nodes", (out + err).strip())
    inp, outp = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
    np.save(inp, x)
    rc, _, err = modeltest.run([cli, "run", model, "--input", inp,
                                "--output", outp])
    diff = float(np.abs(np.load(outp) - ref).max()) if rc == 0 else None
    checks.check(rc == 0 and diff <= 1e-3,
                 "user export: the engine gives PyTorch's logits",
                 err.strip() or f"max |diff| {diff:.2e}")
    want = md.make_props(md.MEGVII, md.read_labels_file(labels), "user g3")
    rc, meta, _, err = cli_info(cli, model)
    checks.check(rc == 0 and meta == want,
                 "user export: info reports the keys",
                 err.strip() or diff_keys(meta, want))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--stamp", required=True)
    args = ap.parse_args()
    models = modeltest.load_stamp(args.stamp)
    checks = modeltest.Checks("metadata")
    for name, path in sorted(models.items()):
        check_converted(checks, args.cli, name, path)
    with tempfile.TemporaryDirectory() as tmp:
        check_add_metadata(checks, args.cli,
                           models["shufflenet_v1_g3_0.5x"], tmp)
    weights = modeltest.weights_dir()
    if weights is None:
        print("note: SHUFFLENET_WEIGHTS_DIR unset: user export case skipped")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            check_user_export(checks, args.cli, weights, tmp)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
