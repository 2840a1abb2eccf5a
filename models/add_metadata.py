#!/usr/bin/python3
"""Write the shufflenet.* preprocessing / label metadata into an ONNX model
(your own ShuffleNet v1 export), so the element runs it with the right
preprocessing and no further configuration. Keys and formats:
sn_metadata.py and models/README.md.

Usage:
  add_metadata.py MODEL.onnx [-o OUT.onnx] [--preset torchvision|megvii]
      [--channel-order RGB|BGR] [--scale S] [--mean M0,M1,M2]
      [--std S0,S1,S2] [--resize crop|stretch|letterbox]
      [--resize-short-side N] [--labels FILE] [--model-name NAME]
      [--source TEXT] [--fold-pad]
  add_metadata.py MODEL.onnx --show

Preprocessing options override the preset's values; without a preset they
override what the model already says (or, for keys it lacks, the element's
defaults: RGB, 1/255, ImageNet mean/std, crop 256), and all six
preprocessing keys are written. Labels, name and source are written when
given. Other metadata in the file is kept. The model is rewritten atomically
(in place unless -o is given). Errors: one line on stderr, exit status 1.

--fold-pad also rewrites each Pad(zeros) -> AveragePool pair, which is how
PyTorch exports nn.AvgPool2d(3, 2, 1) with its default
count_include_pad=True, into one AveragePool(pads, count_include_pad=1) that
the engine runs (the same numbers; checked by evaluating both graphs with
onnx_numpy.py before writing).
"""
import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sn_metadata as md  # noqa: E402

PRESETS = {
    # torchvision's ImageNet recipe (what most PyTorch-trained models use)
    "torchvision": md.Preprocessing(),
    # Megvii's official ShuffleNet weights
    "megvii": md.MEGVII,
}
PRE_OPTIONS = ("channel_order", "scale", "mean", "std", "resize",
               "resize_short_side")


def _arg_type(parse, what):
    """An argparse type from a sn_metadata parser, with its message."""
    def convert(text):
        try:
            return parse(text, what)
        except md.MetadataError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return convert


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Add shufflenet.* metadata to an ONNX model.")
    ap.add_argument("model", help="ONNX model to read")
    ap.add_argument("-o", "--output", help="write here instead of in place")
    ap.add_argument("--show", action="store_true",
                    help="print the shufflenet.* metadata and exit")
    ap.add_argument("--preset", choices=sorted(PRESETS))
    ap.add_argument("--channel-order", choices=md.CHANNEL_ORDERS)
    ap.add_argument("--scale", type=_arg_type(md.parse_float, "--scale"))
    ap.add_argument("--mean", type=_arg_type(md.parse_triple, "--mean"))
    ap.add_argument("--std", type=_arg_type(md.parse_triple, "--std"))
    ap.add_argument("--resize", choices=md.RESIZE_MODES)
    ap.add_argument("--resize-short-side", type=int)
    ap.add_argument("--labels", help="class names, one per line")
    ap.add_argument("--model-name")
    ap.add_argument("--source")
    ap.add_argument("--fold-pad", action="store_true",
                    help="fold Pad -> AveragePool pairs into AveragePool")
    return ap.parse_args(argv)


def preprocessing(args, model):
    """The Preprocessing to write, or None when no option asks for it."""
    given = {k: getattr(args, k) for k in PRE_OPTIONS
             if getattr(args, k) is not None}
    if args.preset is None and not given:
        return None
    if args.preset:
        base = PRESETS[args.preset]
    else:
        base = md.preprocessing_from_props(md.read_props(model))
    return dataclasses.replace(base, **given)


def fold_pad(model):
    """Fold Pad -> AveragePool pairs in place, checking that the graph
    computes the same as before on a random input. Returns the count."""
    import copy
    import numpy as np
    import onnx_numpy
    from convert_megvii import fold_pad_into_avgpool
    before = copy.deepcopy(model)
    folded = fold_pad_into_avgpool(model)
    if folded == 0:
        return 0
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    rng = np.random.default_rng(7)
    for value in model.graph.input:
        if value.name in inits:
            continue
        # dynamic dims (the batch) as 1: x [1, ...] uniform in 0..1
        dims = [d.dim_value or 1 for d in value.type.tensor_type.shape.dim]
        feeds[value.name] = rng.uniform(0, 1, dims).astype(np.float32)
    try:
        want = onnx_numpy.run(before, feeds)
        got = onnx_numpy.run(model, feeds)
    except onnx_numpy.OnnxNumpyError as e:
        raise md.MetadataError(f"--fold-pad: cannot check the rewrite: {e}")
    for w, g in zip(want, got):
        if not np.allclose(w, g, rtol=1e-9, atol=1e-9):
            raise md.MetadataError("--fold-pad: the folded graph computes "
                                   "other values; nothing written")
    return folded


def show(model):
    props = md.read_props(model)
    for key in md.KEYS:
        if key in props:
            value = props[key]
            if key == md.KEY_LABELS:
                names = value.split("\n")
                value = f"{len(names)} labels: {', '.join(names[:3])}, ..."
            print(f"{key}={value}")


def run(args):
    import onnx
    try:
        model = onnx.load(args.model)
    except FileNotFoundError:
        raise md.MetadataError(f"model not found: {args.model}") from None
    except Exception as e:
        raise md.MetadataError(f"cannot read {args.model} as ONNX: "
                               f"{str(e).splitlines()[0] if str(e) else e!r}")
    if args.show:
        show(model)
        return None
    labels = md.read_labels_file(args.labels) if args.labels else None
    props = md.make_props(preprocessing(args, model), labels, args.model_name,
                          args.source)
    if not props and not args.fold_pad:
        raise md.MetadataError("nothing to write: give --preset or an option")
    folded = fold_pad(model) if args.fold_pad else 0
    md.apply_props(model, props)
    out = args.output or args.model
    md.save_atomic(model, out)
    done = [", ".join(sorted(props))] if props else []
    if args.fold_pad:
        done.append(f"folded {folded} Pad -> AveragePool pairs")
    return f"{out}: wrote {'; '.join(done)}"


def main(argv=None):
    args = parse_args(argv)
    try:
        line = run(args)
    except (md.MetadataError, OSError) as e:
        print(f"add_metadata: error: {e}", file=sys.stderr)
        return 1
    if line:
        print(f"add_metadata: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
