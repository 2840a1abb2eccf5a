"""Shared helpers of the pipeline tests (tests/pipelines/test_*.py).

Every test takes --build BUILD_ROOT (the meson build folder, whose gst/
holds the plugin) and --stamp MODELS_STAMP.json (tests/models' record of
the converted Megvii models, or "-"). The model is the pretrained
shufflenet_v1_g3_0.5x: from the stamp, else the source tree's models/
(models/fetch.sh); without either the test skips (exit 77).
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

SKIP = 77
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PIPELINES = os.path.join(REPO, "pipelines")
MODEL_FILE = "shufflenet_v1_g3_0.5x.onnx"
# ImageNet classes of skimage's photos (top-1 of the 0.5x g3 model, also
# through the clip's scaling and Motion JPEG coding).
EGYPTIAN_CAT, ESPRESSO, MOPED = 285, 967, 665


def photo(name):
    import skimage.data
    return os.path.join(os.path.dirname(skimage.data.__file__), name)


def parse_args(extra=None):
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--stamp", default="-")
    for name in extra or ():
        p.add_argument(name, required=True)
    return p.parse_args()


def model_dir(stamp):
    """The folder holding MODEL_FILE, or None."""
    if stamp != "-" and os.path.isfile(stamp):
        with open(stamp, encoding="utf-8") as f:
            models = json.load(f).get("models", {})
        path = models.get(MODEL_FILE[:-len(".onnx")])
        if path and os.path.isfile(path):
            return os.path.dirname(path)
    source = os.path.join(REPO, "models")
    return source if os.path.isfile(os.path.join(source, MODEL_FILE)) else None


def setup(args):
    """Points the element's default model and GStreamer at this build;
    skips the test without a pretrained model. Returns a scratch folder,
    removed at exit unless $SN_KEEP_TMP is set."""
    d = model_dir(args.stamp)
    if d is None:
        print(f"SKIP: no {MODEL_FILE} (run models/fetch.sh with "
              "SHUFFLENET_WEIGHTS_DIR set)")
        sys.exit(SKIP)
    os.environ["SHUFFLENET_MODEL_DIR"] = d
    gst_dir = os.path.join(os.path.abspath(args.build), "gst")
    os.environ["GST_PLUGIN_PATH"] = gst_dir
    os.environ.pop("GST_PLUGIN_PATH_1_0", None)
    Gst.init(None)
    tmp = tempfile.mkdtemp(prefix="sn-pipelines-")
    if not os.environ.get("SN_KEEP_TMP"):  # set it to look at the outputs
        atexit.register(shutil.rmtree, tmp, True)
    return tmp


def run(argv, expect=0, timeout=120, cwd=None, env=None):
    """Runs a command; fails the test unless its exit status is expect
    (None: any)."""
    print("$", " ".join(argv), flush=True)
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired as e:
        fail(f"no exit within {timeout} s\n--- stdout\n{e.stdout}\n"
             f"--- stderr\n{e.stderr}")
    if expect is not None and p.returncode != expect:
        fail(f"exit status {p.returncode} instead of {expect}\n--- stdout\n"
             f"{p.stdout}\n--- stderr\n{p.stderr}")
    return p


def fail(message):
    print("FAIL:", message, flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def read_jsonl(path):
    """The parsed lines of a JSON Lines file (fails on a bad line)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                fail(f"{path}:{number}: not JSON ({e}): {line!r}")
    return out


def check_result(r, k, where):
    """A JSON result line as shufflenetjson writes it, with k classes."""
    for key in ("frame", "pts", "stale", "age", "model", "inference_ms",
                "classes"):
        check(key in r, f"{where}: no {key!r} in {r}")
    check(len(r["classes"]) == k, f"{where}: {len(r['classes'])} classes")
    scores = [c["score"] for c in r["classes"]]
    check(scores == sorted(scores, reverse=True)
          and all(0.0 <= s <= 1.0 for s in scores), f"{where}: scores {scores}")
    check(all(isinstance(c["label"], str) and c["label"]
              and isinstance(c["id"], int) for c in r["classes"]),
          f"{where}: classes {r['classes']}")
    check(r["inference_ms"] > 0.0, f"{where}: inference_ms {r['inference_ms']}")


def decode_frames(path, caps="video/x-raw,format=RGB"):
    """Decodes a video or image file: a list of (pts, bytes, width, height)."""
    pipeline = Gst.parse_launch(
        f"filesrc name=src ! decodebin ! videoconvert ! {caps} ! "
        "appsink name=sink sync=false")
    pipeline.get_by_name("src").set_property("location", path)
    return pull_all(pipeline)


def count_frames(path):
    """Frames a file decodes to (without copying them to Python)."""
    pipeline = Gst.parse_launch("filesrc name=src ! decodebin ! video/x-raw "
                                "! fakesink name=sink")
    pipeline.get_by_name("src").set_property("location", path)
    n = [0]
    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, lambda p, i: n.__setitem__(0, n[0] + 1)
        or Gst.PadProbeReturn.OK)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    check(msg is not None and msg.type == Gst.MessageType.EOS,
             f"{path} does not decode to its end")
    return n[0]


def pull_all(pipeline, sink_name="sink"):
    """Plays a pipeline ending in an appsink to EOS; its frames as
    (pts, bytes, width, height, buffer)."""
    sink = pipeline.get_by_name(sink_name)
    frames = []
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        buf = sample.get_buffer()
        s = sample.get_caps().get_structure(0)
        frames.append((buf.pts, buf.extract_dup(0, buf.get_size()),
                       s.get_value("width"), s.get_value("height"), buf))
    msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is not None:
        fail(f"pipeline error: {msg.parse_error()[0].message}")
    return frames


def script(name):
    return os.path.join(PIPELINES, name)


def make_clip(args, path, photos=()):
    """pipelines/make-clip.sh ARGS PATH [PHOTOS]: the test input, made by
    GStreamer's own elements only. Run without LD_PRELOAD: it runs no code
    of ours to check (the sanitized run's preloaded ASan only slows it)."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    return run([script("make-clip.sh")] + list(args) + [path] + list(photos),
               env=env)


# The sanitized run (tests/reliability/run_sanitized.sh) preloads ASan into
# the hosted tests; our code is several times slower there.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")

# Real video Debian ships (opencv-doc): a street with pedestrians (MS-MPEG4
# v3 in AVI, 768x576, 10 fps, 795 frames) and a film trailer (MPEG-4 ASP
# with AC-3 audio in AVI, 720x528, 23.976 fps, 11 s).
OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data"
VTEST = os.path.join(OPENCV_DATA, "vtest.avi")
MEGAMIND = os.path.join(OPENCV_DATA, "Megamind.avi")


def need_file(path):
    """Skips the test (exit 77) when a packaged input is missing."""
    if not os.path.isfile(path):
        print(f"SKIP: {path} missing (apt-get install opencv-doc)")
        sys.exit(SKIP)


def make_h264(src, out, frames, size="160x120", audio=False, key_int=10,
              faststart=False):
    """The first frames of the AVI src (vtest.avi: 10 fps) re-encoded as
    H.264 at size in an MP4 (or MKV by out's extension), with a sine as
    AAC/Opus audio when asked. GStreamer's own elements only, run without
    LD_PRELOAD. (The frames are counted before the decoder: an EOS from
    identity after it gave the last frame a wrong timestamp.)"""
    w, h = size.split("x")
    mp4 = out.endswith(".mp4")
    mux = f"mp4mux name=mux faststart={str(faststart).lower()}" if mp4 \
        else "matroskamux name=mux"
    desc = (f"filesrc location={src} ! avidemux ! identity "
            f"eos-after={frames} ! decodebin ! videoscale ! videoconvert "
            f"! video/x-raw,format=I420,width={w},height={h} "
            f"! x264enc speed-preset=ultrafast key-int-max={key_int} "
            f"! h264parse ! {mux} ! filesink location={out}")
    if audio:
        enc = "avenc_aac" if mp4 else "opusenc"
        # frames at 10 fps; 1024-sample buffers at 44.1 kHz
        n = int(frames / 10 * 44100 / 1024)
        desc += (f" audiotestsrc num-buffers={n} ! audio/x-raw,rate=44100 "
                 f"! audioconvert ! {enc} ! mux.")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    run(["gst-launch-1.0", "-q", *desc.split()], env=env)
    return out
