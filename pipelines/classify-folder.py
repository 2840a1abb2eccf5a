#!/usr/bin/python3
"""classify-folder.py - classify every image of a folder and write the
results as JSON Lines (one line per image) or CSV (one row per class).

Usage: pipelines/classify-folder.py [OPTIONS] FOLDER

Each image runs through its own small pipeline
    filesrc ! decodebin ! videoconvert ! shufflenet ! fakesink
(GStreamer decodes PNG, JPEG, GIF, BMP, TIFF, ... whatever is installed),
and the result is read from the GstShuffleNetMeta of the frame in a pad
probe. A file that does not decode or classify is reported on standard
error and skipped; the exit status is then 1.

JSON line: {"file": "chelsea.png", "width": 451, "height": 300,
            "model": "...", "inference_ms": 5.1,
            "classes": [{"id": 285, "label": "Egyptian cat", "score": 0.63}, ...]}
CSV columns: file, width, height, inference_ms, rank, id, label, score

Options:
  --format jsonl|csv  output format (default jsonl)
  --output FILE       write there (default: standard output)
  --top-k N           classes per image (default 5)
  --model FILE        ONNX model (default: the element's default model)
  --build DIR         use the plugin of the meson build folder DIR
  --all-files         try every file, not only those with an image extension
"""
import argparse
import csv
import json
import os
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff",
              ".webp", ".pnm", ".ppm", ".pgm")
CSV_FIELDS = ("file", "width", "height", "inference_ms", "rank", "id",
              "label", "score")
META = "GstShuffleNetMeta"
TIMEOUT_S = 60
# shufflenet's errors about its model (not about one image): give up.
MODEL_ERROR_DOMAINS = ("gst-resource-error-quark", "gst-library-error-quark")


def array(structure, name):
    """A GstValueArray field as a Python list."""
    value = structure.get_value(name)
    return list(value.array) if hasattr(value, "array") else list(value)


def on_buffer(pad, info, found):
    """Pad probe: keeps the first classified frame's result and size."""
    buf = info.get_buffer()
    meta = buf.get_custom_meta(META)
    if meta is not None and "result" not in found:
        s = meta.get_structure()
        caps = pad.get_current_caps().get_structure(0)
        found["result"] = {
            "width": caps.get_value("width"),
            "height": caps.get_value("height"),
            "model": s.get_string("model"),
            "inference_ms": s.get_double("inference-time")[1],
            "classes": [{"id": i, "label": label, "score": score}
                        for i, label, score in zip(array(s, "class-ids"),
                                                   array(s, "labels"),
                                                   array(s, "scores"))],
        }
    return Gst.PadProbeReturn.OK


def classify(path, top_k, model):
    """The result dict of one image, or raises RuntimeError."""
    pipeline = Gst.Pipeline.new("classify")
    elements = [Gst.ElementFactory.make(name) for name in
                ("filesrc", "decodebin", "videoconvert", "shufflenet",
                 "fakesink")]
    src, dec, conv, net, sink = elements
    if net is None:
        raise SystemExit("classify-folder.py: GStreamer cannot find the "
                         "shufflenet element: pass --build DIR or set "
                         "GST_PLUGIN_PATH")
    src.set_property("location", path)
    net.set_property("top-k", top_k)
    net.set_property("post-messages", False)
    if model:
        net.set_property("model", model)
    for e in elements:
        pipeline.add(e)
    src.link(dec)
    conv.link(net)
    net.link(sink)
    # decodebin's pad appears once the type is known: link video to conv.
    dec.connect("pad-added", lambda _d, pad: pad.link(conv.get_static_pad(
        "sink")) if pad.query_caps(None).to_string().startswith(
            "video/") else None)
    found = {}
    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer,
                                          found)
    try:
        pipeline.set_state(Gst.State.PLAYING)
        msg = pipeline.get_bus().timed_pop_filtered(
            TIMEOUT_S * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    finally:
        pipeline.set_state(Gst.State.NULL)
    if msg is None:
        raise RuntimeError(f"no result within {TIMEOUT_S} s")
    if msg.type == Gst.MessageType.ERROR:
        err, _ = msg.parse_error()
        if msg.src == net and err.domain in MODEL_ERROR_DOMAINS:
            raise SystemExit(f"classify-folder.py: {err.message}")
        raise RuntimeError(err.message)
    if "result" not in found:
        raise RuntimeError("no video frame in it")
    return found["result"]


def image_files(folder, all_files):
    names = sorted(os.listdir(folder))
    return [n for n in names if os.path.isfile(os.path.join(folder, n))
            and (all_files or n.lower().endswith(EXTENSIONS))]


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Classify every image of a folder (JSON Lines or CSV).")
    p.add_argument("folder")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--output")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--model")
    p.add_argument("--build")
    p.add_argument("--all-files", action="store_true")
    args = p.parse_args(argv)
    if args.top_k < 1:
        p.error("--top-k must be at least 1")
    if not os.path.isdir(args.folder):
        p.error(f"'{args.folder}' is not a folder")
    if args.build:
        gst_dir = os.path.join(args.build, "gst")
        if not os.path.isfile(os.path.join(gst_dir, "libgstshufflenet.so")):
            p.error(f"no built plugin in '{gst_dir}'")
        os.environ["GST_PLUGIN_PATH"] = os.pathsep.join(
            filter(None, (os.path.abspath(gst_dir),
                          os.environ.get("GST_PLUGIN_PATH"))))
    return args


def write(out, fmt, writer, name, result):
    if fmt == "jsonl":
        out.write(json.dumps({"file": name, **result}) + "\n")
        out.flush()
        return
    for rank, c in enumerate(result["classes"], 1):
        writer.writerow({"file": name, **result, "rank": rank, **c})


def main(argv):
    args = parse_args(argv)
    Gst.init(None)
    names = image_files(args.folder, args.all_files)
    if not names:
        sys.exit(f"classify-folder.py: no image files in '{args.folder}'")
    out = open(args.output, "w", newline="", encoding="utf-8") \
        if args.output else sys.stdout
    writer = None
    if args.format == "csv":
        writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
    failed = 0
    for name in names:
        try:
            result = classify(os.path.join(args.folder, name), args.top_k,
                              args.model)
        except RuntimeError as e:
            print(f"classify-folder.py: {name}: {e}", file=sys.stderr)
            failed += 1
            continue
        write(out, args.format, writer, name, result)
    if out is not sys.stdout:
        out.close()
    print(f"classify-folder.py: {len(names) - failed} of {len(names)} images "
          "classified", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
