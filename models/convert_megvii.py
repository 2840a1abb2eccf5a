#!/usr/bin/python3
"""Convert an official Megvii ShuffleNet v1 checkpoint (ShuffleNet-Series,
MIT licence; legacy torch.save `.pth.tar` holding {'state_dict': ...} with
`module.`-prefixed keys) into a self-describing ONNX model for the engine
and the element.

Groups and widths come from the tensor shapes, so every released size
(g3/g8 at 0.5x, 1.0x, 1.5x, 2.0x) converts. The network is built in PyTorch
as Megvii's (models/README.md, "The Megvii network"), exported
(opset 11, input "input" [N,3,224,224] NCHW float32, output "logits"
[N,1000]), checked with onnx.checker, evaluated by an independent NumPy
interpreter of the ONNX file (onnx_numpy.py) and compared with PyTorch
running the checkpoint, then written atomically with the preprocessing and
labels in its metadata (sn_metadata.py).

Usage: convert_megvii.py CHECKPOINT OUTPUT.onnx [--labels FILE]
                         [--model-name NAME] [--static-batch] [--quiet]
On failure: one line on stderr, exit status 1, OUTPUT untouched.
"""
import argparse
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import sn_metadata  # noqa: E402

INPUT_SIZE = 224
NUM_CLASSES = 1000
# Paper stage widths at 1.0x, per group count (Megvii trains g3 and g8).
PAPER_WIDTHS = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
                4: (272, 544, 1088), 8: (384, 768, 1536)}
# The ops a clean export of this network contains (anything else, e.g.
# Shape/Gather from a dynamic batch, means the export is not clean).
CLEAN_OPS = {"Conv", "Relu", "MaxPool", "AveragePool", "Add", "Concat",
             "Reshape", "Transpose", "ReduceMean", "MatMul"}
# |onnx - torch| <= TOLERANCE * max(1, max |torch|): float32 PyTorch against
# the float64 NumPy interpreter; the observed error is ~1e-6 relative (sums
# over at most 1536 terms in float32), so 1e-4 leaves a wide margin while a
# wrong op, weight or permutation gives errors of order 1.
TOLERANCE = 1e-4


class ConversionError(Exception):
    pass


# ---------------------------------------------------------------- checkpoint

def load_state_dict(path):
    """Checkpoint file -> {name: tensor} without the `module.` prefix."""
    import torch
    if not os.path.isfile(path):
        raise ConversionError(f"checkpoint not found: {path}")
    with open(path, "rb") as f:
        magic = f.read(4)
    # torch.save writes a zip archive (>= 1.6) or a pickle (protocol >= 2)
    if not (magic.startswith(b"PK\x03\x04") or magic.startswith(b"\x80")):
        raise ConversionError(f"cannot read checkpoint {path}: not a "
                              "PyTorch checkpoint (neither zip nor pickle)")
    try:
        # weights_only: the file is data from the internet, never run code
        # from its pickle.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors alike
        raise ConversionError(f"cannot read checkpoint {path}: corrupt or "
                              f"truncated ({load_error_reason(e)})")
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConversionError(f"{path} holds no state dict of tensors")
    sd = {}
    for key, value in obj.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise ConversionError(f"{path}: tensor {key} contains NaN or "
                                  "Inf (a corrupt upload?)")
        sd[name] = value.float() if value.is_floating_point() else value
    return sd


def load_error_reason(e):
    """The useful part of a torch.load exception, on one short line."""
    cause = e.__context__ if e.__context__ is not None else e
    text = str(cause) or type(cause).__name__
    # weights_only=True wraps the real error after this marker
    text = text.split("WeightsUnpickler error: ")[-1]
    return " ".join(text.split())[:160]


# -------------------------------------------------------------- architecture

class Arch:
    """What the shapes say: groups, widths, blocks per stage."""

    def __init__(self, groups, stem, blocks, classes):
        self.groups = groups    # g of the grouped 1x1 convs
        self.stem = stem        # channels after first_conv (C0)
        self.blocks = blocks    # [(inp, oup, mid, stride, pw1_groups)]
        self.classes = classes  # K
        widths = [oup for (_, oup, _, s, _) in blocks if s == 2]
        self.widths = widths    # stage output widths
        self.repeats = []
        for (_, _, _, s, _) in blocks:
            if s == 2:
                self.repeats.append(0)
            self.repeats[-1] += 1

    def multiplier(self):
        """"0.5x" etc. from the stage 2 width, or None if not a paper
        width times a released multiplier."""
        base = PAPER_WIDTHS.get(self.groups)
        if base is None:
            return None
        for m in (0.25, 0.5, 1.0, 1.5, 2.0):
            if all(int(b * m) == w for b, w in zip(base, self.widths)):
                return "0.25x" if m == 0.25 else f"{m:.1f}x"  # Megvii's
        return None

    def name(self):
        m = self.multiplier()
        width = m if m else "w" + "-".join(str(w) for w in self.widths)
        return f"shufflenet_v1_g{self.groups}_{width}"


def shape(sd, key, rank, what):
    """The shape of sd[key] as a tuple, checking it exists with `rank`."""
    if key not in sd:
        raise ConversionError(f"{what}: no tensor {key}")
    s = tuple(sd[key].shape)
    if len(s) != rank:
        raise ConversionError(f"{what}: {key} has shape {s}, expected "
                              f"rank {rank}")
    return s


def check_bn(sd, prefix, channels, what):
    for part in ("weight", "bias", "running_mean", "running_var"):
        if shape(sd, f"{prefix}.{part}", 1, what) != (channels,):
            raise ConversionError(f"{what}: {prefix}.{part} is not "
                                  f"[{channels}]")


BLOCK_KEYS = {"branch_main_1.0.weight", "branch_main_1.3.weight",
              "branch_main_2.0.weight"} | {
    f"{bn}.{p}" for bn in ("branch_main_1.1", "branch_main_1.4",
                           "branch_main_2.1")
    for p in ("weight", "bias", "running_mean", "running_var",
              "num_batches_tracked")}


def infer_arch(sd):
    """Read groups, widths and strides from the tensor shapes; raise
    ConversionError if this is not a Megvii ShuffleNet v1 state dict."""
    what = "not a Megvii ShuffleNet v1 checkpoint"
    c0, cin, kh, kw = shape(sd, "first_conv.0.weight", 4, what)
    if (cin, kh, kw) != (3, 3, 3):
        raise ConversionError(f"{what}: first_conv.0.weight is "
                              f"{(c0, cin, kh, kw)}, expected [C0, 3, 3, 3]")
    check_bn(sd, "first_conv.1", c0, what)
    classes, c_last = shape(sd, "classifier.0.weight", 2, what)
    if "classifier.0.bias" in sd:
        raise ConversionError(f"{what}: the classifier has a bias")
    count = 0
    while any(k.startswith(f"features.{count}.") for k in sd):
        count += 1
    if count == 0:
        raise ConversionError(f"{what}: no features.0 block")
    for i in range(count):
        keys = {k[len(f"features.{i}."):] for k in sd
                if k.startswith(f"features.{i}.")}
        if keys != BLOCK_KEYS:
            odd = sorted(keys ^ BLOCK_KEYS)[:3]
            raise ConversionError(f"{what}: features.{i} has other layers "
                                  f"(unexpected/missing: {', '.join(odd)})")
    return arch_from_blocks(sd, count, c0, c_last, classes, what)


def arch_from_blocks(sd, count, c0, c_last, classes, what):
    """Second half of infer_arch: walk the blocks with known input widths."""
    blocks, groups, inp = [], None, c0
    pw2 = [shape(sd, f"features.{i}.branch_main_2.0.weight", 4, what)
           for i in range(count)]
    for i in range(count):
        pre = f"features.{i}."
        mid, pw1_in, k1, _ = shape(sd, pre + "branch_main_1.0.weight", 4, what)
        dw = shape(sd, pre + "branch_main_1.3.weight", 4, what)
        out, pw2_in, k2, _ = pw2[i]
        if k1 != 1 or k2 != 1 or dw != (mid, 1, 3, 3) or mid % pw2_in:
            raise ConversionError(f"{what}: features.{i} is not pw 1x1 -> "
                                  "dw 3x3 -> grouped pw 1x1")
        g = mid // pw2_in
        groups = groups or g
        pw1_groups = inp // pw1_in if inp % pw1_in == 0 else 0
        if g != groups or pw1_groups not in ((1, g) if i == 0 else (g,)):
            raise ConversionError(f"{what}: features.{i} groups do not "
                                  f"match (pw1 {pw1_groups}, pw2 {g}, "
                                  f"network {groups})")
        # Output width = next block's input, read from its first conv.
        if i + 1 < count:
            nxt = shape(sd, f"features.{i + 1}.branch_main_1.0.weight", 4,
                        what)[1] * groups
        else:
            nxt = c_last
        stride = 1 if nxt == inp else 2
        if out != (inp if stride == 1 else nxt - inp):
            raise ConversionError(f"{what}: features.{i} writes {out} "
                                  f"channels, its shortcut needs "
                                  f"{inp if stride == 1 else nxt - inp}")
        for bn, ch in (("branch_main_1.1", mid), ("branch_main_1.4", mid),
                       ("branch_main_2.1", out)):
            check_bn(sd, pre + bn, ch, what)
        blocks.append((inp, nxt, mid, stride, pw1_groups))
        inp = nxt
    arch = Arch(groups, c0, blocks, classes)
    if blocks[0][3] != 2 or len(arch.widths) != 3:
        raise ConversionError(f"{what}: expected 3 stages starting with a "
                              f"stride-2 block, found {len(arch.widths)}")
    return arch


# ------------------------------------------------------------------ network

def build_network(arch):
    """The PyTorch network with the checkpoint's parameter names (so that
    load_state_dict(strict=True) checks every tensor). Built in a function
    so that importing this module does not import torch."""
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        """One unit; x [N, inp, H, W] -> [N, oup, H/s, W/s]."""

        def __init__(self, inp, oup, mid, stride, pw1_groups, groups, out_hw):
            super().__init__()
            self.stride, self.groups, self.mid = stride, groups, mid
            self.out_hw = out_hw  # (H/s, W/s), fixed so the export is clean
            out = oup if stride == 1 else oup - inp
            self.branch_main_1 = nn.Sequential(
                nn.Conv2d(inp, mid, 1, groups=pw1_groups, bias=False),
                nn.BatchNorm2d(mid, eps=1e-5), nn.ReLU(),
                nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
                nn.BatchNorm2d(mid, eps=1e-5))
            self.branch_main_2 = nn.Sequential(
                nn.Conv2d(mid, out, 1, groups=groups, bias=False),
                nn.BatchNorm2d(out, eps=1e-5))
            # count_include_pad: the border windows always divide by 9.
            self.pool = nn.AvgPool2d(3, 2, 1, count_include_pad=True)

        def shuffle(self, y):
            """Megvii's direction: y [N, C, h, w] viewed as [N, C/g, g, h, w]
            with the two channel axes swapped, i.e.
            out[i * (C/g) + j] = in[j * g + i]. The batch stays -1."""
            c, g = self.mid, self.groups
            h, w = self.out_hw
            y = y.reshape(-1, c // g, g, h, w).transpose(1, 2)
            return y.reshape(-1, c, h, w)

        def forward(self, x):
            y = self.branch_main_1(x)  # [N, mid, H/s, W/s]
            if self.groups > 1:
                y = self.shuffle(y)
            y = self.branch_main_2(y)  # [N, out, H/s, W/s]
            if self.stride == 1:
                return torch.relu(x + y)
            # pooled shortcut FIRST, then the branch
            return torch.cat([self.pool(x), torch.relu(y)], 1)

    class MegviiShuffleNetV1(nn.Module):
        """x [N, 3, 224, 224] (BGR, 0..255) -> logits [N, classes]."""

        def __init__(self):
            super().__init__()
            self.first_conv = nn.Sequential(
                nn.Conv2d(3, arch.stem, 3, 2, 1, bias=False),
                nn.BatchNorm2d(arch.stem, eps=1e-5), nn.ReLU())
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            hw = INPUT_SIZE // 4  # after first_conv and maxpool
            blocks = []
            for (inp, oup, mid, stride, pw1_groups) in arch.blocks:
                hw = (hw - 1) // stride + 1  # 3x3, pad 1
                blocks.append(Block(inp, oup, mid, stride, pw1_groups,
                                    arch.groups, (hw, hw)))
            self.features = nn.Sequential(*blocks)
            c_last = arch.blocks[-1][1]
            self.classifier = nn.Sequential(
                nn.Linear(c_last, arch.classes, bias=False))

        def forward(self, x):
            x = self.maxpool(self.first_conv(x))  # [N, C0, 56, 56]
            x = self.features(x)                  # [N, C_last, 7, 7]
            x = x.mean((2, 3))                    # [N, C_last]
            return self.classifier(x)             # [N, classes]

    return MegviiShuffleNetV1()


def load_network(path):
    """Checkpoint -> (arch, network in eval mode with its weights)."""
    sd = load_state_dict(path)
    arch = infer_arch(sd)
    net = build_network(arch)
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ConversionError(f"{path}: weights do not fit the inferred "
                              f"network: {str(e).splitlines()[0]}")
    return arch, net.eval()


# ------------------------------------------------------------------- export

def _constant_value(graph, name):
    """The array of a Constant node output or initializer `name`, or None."""
    from onnx import numpy_helper
    for t in graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return numpy_helper.to_array(node.attribute[0].t)
    return None


def fold_pad_into_avgpool(model):
    """PyTorch writes AvgPool2d(count_include_pad=True, padding=1) as
    Pad(zeros) -> AveragePool(pads 0). Fold each such pair into one
    AveragePool(pads, count_include_pad=1): same numbers (ONNX divides by
    the full window then), one op fewer. Returns the number folded."""
    import onnx
    graph = model.graph
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    folded, dead = 0, []
    for pad in [n for n in graph.node if n.op_type == "Pad"]:
        users = consumers.get(pad.output[0], [])
        pads = _constant_value(graph, pad.input[1]) if len(pad.input) > 1 \
            else None
        value = _constant_value(graph, pad.input[2]) \
            if len(pad.input) > 2 and pad.input[2] else 0.0
        mode = [a.s for a in pad.attribute if a.name == "mode"]
        if (len(users) != 1 or users[0].op_type != "AveragePool"
                or pads is None or len(pads) != 8 or any(pads[[0, 1, 4, 5]])
                or float(value) != 0.0 or mode not in ([], [b"constant"])):
            continue
        pool = users[0]
        attrs = {a.name: onnx.helper.get_attribute_value(a)
                 for a in pool.attribute}
        if any(attrs.get("pads", [0, 0, 0, 0])):
            continue
        keep = [a for a in pool.attribute
                if a.name not in ("pads", "count_include_pad")]
        del pool.attribute[:]
        pool.attribute.extend(keep + [
            onnx.helper.make_attribute("pads", [int(p) for p in
                                                pads[[2, 3, 6, 7]]]),
            onnx.helper.make_attribute("count_include_pad", 1)])
        pool.input[0] = pad.input[0]
        dead.append(pad)
        folded += 1
    for pad in dead:
        graph.node.remove(pad)
    drop_unused_constants(graph)
    return folded


def drop_unused_constants(graph):
    used = {name for node in graph.node for name in node.input}
    used |= {o.name for o in graph.output}
    for node in [n for n in graph.node if n.op_type == "Constant"
                 and n.output[0] not in used]:
        graph.node.remove(node)


def export_onnx(net, dynamic_batch):
    """Trace `net` to an ONNX ModelProto: opset 11, "input" [N,3,224,224]
    -> "logits" [N,K], Pad+AveragePool folded. Falls back to a static batch
    of 1 when the dynamic export contains ops outside CLEAN_OPS."""
    import io
    import onnx
    import torch
    x = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)  # [1, 3, 224, 224]
    for dynamic in ((True, False) if dynamic_batch else (False,)):
        axes = {"input": {0: "N"}, "logits": {0: "N"}} if dynamic else None
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, x, buf, opset_version=11,
                              input_names=["input"],
                              output_names=["logits"], dynamic_axes=axes,
                              do_constant_folding=True)
        model = onnx.load_from_string(buf.getvalue())
        fold_pad_into_avgpool(model)
        ops = {n.op_type for n in model.graph.node}
        if ops <= CLEAN_OPS | {"Constant"}:
            return model
    raise ConversionError("the ONNX export contains unexpected operators: "
                          f"{', '.join(sorted(ops - CLEAN_OPS))}")


# ------------------------------------------------------------------- verify

def check_interface(model, classes):
    """One float input "input" [N|1, 3, 224, 224], output "logits"
    [N|1, classes]."""
    def dims(value):
        return [d.dim_param or d.dim_value
                for d in value.type.tensor_type.shape.dim]
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    outputs = list(model.graph.output)
    if (len(inputs) != 1 or inputs[0].name != "input"
            or dims(inputs[0])[1:] != [3, INPUT_SIZE, INPUT_SIZE]
            or len(outputs) != 1 or outputs[0].name != "logits"
            or dims(outputs[0])[1:] != [classes]):
        raise ConversionError("the export's interface is not input [N, 3, "
                              f"{INPUT_SIZE}, {INPUT_SIZE}] -> logits "
                              f"[N, {classes}]")
    return dims(inputs[0])[0] == "N"


def verify(model, net, classes):
    """onnx.checker, then the ONNX file evaluated by onnx_numpy against
    PyTorch running the checkpoint. Returns max |onnx - torch|."""
    import onnx
    import torch
    import onnx_numpy
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ConversionError("onnx.checker rejects the export: "
                              f"{str(e).splitlines()[0]}")
    dynamic = check_interface(model, classes)
    # x [B, 3, 224, 224]: pixels in 0..255 as the model expects; batch 2
    # also checks that the dynamic batch really works.
    rng = np.random.default_rng(20240601)
    batch = 2 if dynamic else 1
    x = rng.uniform(0, 255, (batch, 3, INPUT_SIZE, INPUT_SIZE))
    x = x.astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()  # [B, K] float32
    got = onnx_numpy.run(model, {"input": x})[0]  # [B, K] float64
    err = float(np.abs(got - ref).max())
    limit = TOLERANCE * max(1.0, float(np.abs(ref).max()))
    if not err <= limit:
        raise ConversionError(f"the ONNX file computes other logits than "
                              f"PyTorch: max |diff| {err:.3g} > {limit:.3g}")
    return err


# --------------------------------------------------------------------- main

def convert(checkpoint, output, labels_path, model_name, dynamic_batch):
    """The whole conversion; returns a one-line summary."""
    import onnx_numpy
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise ConversionError(f"output folder does not exist: {folder}")
    arch, net = load_network(checkpoint)
    labels = sn_metadata.read_labels_file(labels_path)
    if len(labels) != arch.classes:
        raise ConversionError(f"{labels_path} has {len(labels)} labels, the "
                              f"checkpoint {arch.classes} classes")
    name = model_name or arch.name()
    model = export_onnx(net, dynamic_batch)
    try:
        err = verify(model, net, arch.classes)
    except onnx_numpy.OnnxNumpyError as e:
        raise ConversionError(f"cannot evaluate the export: {e}")
    model.doc_string = (f"ShuffleNet v1 g{arch.groups}, stage widths "
                        f"{'/'.join(map(str, arch.widths))}, from "
                        f"{os.path.basename(checkpoint)}")
    sn_metadata.apply_props(model, sn_metadata.make_props(
        sn_metadata.MEGVII, labels, name, sn_metadata.MEGVII_SOURCE))
    sn_metadata.save_atomic(model, output)
    params = sum(p.numel() for p in net.parameters())
    return (f"{output}: {name} (groups {arch.groups}, widths "
            f"{'/'.join(map(str, arch.widths))}, {params:,} parameters), "
            f"max |onnx - torch| {err:.2g}")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Convert a Megvii ShuffleNet v1 checkpoint to ONNX.")
    ap.add_argument("checkpoint", help="Megvii .pth.tar checkpoint")
    ap.add_argument("output", help="ONNX file to write")
    ap.add_argument("--labels", default=os.path.join(
        HERE, "imagenet-labels.txt"), help="class names, one per line "
        "(default: %(default)s)")
    ap.add_argument("--model-name", help="shufflenet.model_name (default: "
                    "from the architecture, e.g. shufflenet_v1_g3_0.5x)")
    ap.add_argument("--static-batch", action="store_true",
                    help="fix the batch dimension to 1")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        line = convert(args.checkpoint, args.output, args.labels,
                       args.model_name, not args.static_batch)
    except (ConversionError, sn_metadata.MetadataError, OSError) as e:
        print(f"convert_megvii: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug or an unforeseen input: still one line
        detail = str(e).splitlines()[0] if str(e) else ""
        print(f"convert_megvii: error: {args.checkpoint}: "
              f"{type(e).__name__}: {detail}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"convert_megvii: wrote {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
