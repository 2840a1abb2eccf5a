#!/usr/bin/python3
"""sn-classify.py - gst-shufflenet embedded in a Python (GI) program: builds
a pipeline, reads each frame's classification from the buffer meta in a pad
probe and from the "shufflenet" bus messages, and prints both.

    filesrc ! decodebin ! videoconvert ! shufflenet ! videoconvert ! fakesink
                                                      (probe on its sink pad)

With --regions a detector finds faces first (GStreamer's facedetect, from
gstreamer1.0-opencv) and shufflenet classifies each one
(inference-region=roi-list); each region's result is printed from the
meta's "rois", from the bus message and from the "shufflenet" parameter of
the region's GstVideoRegionOfInterestMeta:

    ... ! videoconvert ! facedetect ! shufflenet inference-region=roi-list ! ...

A file nothing installed decodes fails at once, naming the codec and the
Debian package to install (the missing-plugin message decodebin posts;
without this watch a pipeline waits forever).

Needs Debian's python3-gi, python3-gst-1.0, gir1.2-gstreamer-1.0 and
gir1.2-gst-plugins-base-1.0, and the plugin (installed, or
GST_PLUGIN_PATH=<build>/gst).

Usage: sn-classify.py [--top-k N] [--model FILE] [--regions] [VIDEO-OR-IMAGE]
Without a file it classifies 30 frames of videotestsrc. Exit status 0 when
every frame had a result in both places, 1 otherwise.
"""
import argparse
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstPbutils", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstPbutils, GstVideo  # noqa: E402

META = "GstShuffleNetMeta"
# The Debian 12 package with the decoder of the common video formats
# (pipelines/sn-launch.py has a longer table).
DECODER_PACKAGES = {
    "video/x-h264": "gstreamer1.0-libav",
    "video/x-h265": "gstreamer1.0-libav",
    "video/mpeg": "gstreamer1.0-libav",
    "video/x-divx": "gstreamer1.0-libav",
    "video/x-xvid": "gstreamer1.0-libav",
    "video/x-msmpeg": "gstreamer1.0-libav",
    "video/x-wmv": "gstreamer1.0-libav",
    "video/x-vp9": "gstreamer1.0-plugins-good",
    "video/x-av1": "gstreamer1.0-plugins-bad",
}
# The probe prints from the streaming thread, the bus loop from the main one.
print_lock = threading.Lock()


def values(structure, name):
    """A GstValueArray field (class-ids, labels, scores) as a list."""
    value = structure.get_value(name)
    return list(value.array) if hasattr(value, "array") else list(value)


def format_classes(s):
    """"285 Egyptian cat 0.635, ..." for a result or a "rois" entry."""
    return ", ".join(f"{i} {label} {score:.3f}" for i, label, score in zip(
        values(s, "class-ids"), values(s, "labels"), values(s, "scores")))


def print_result(where, s, buf=None):
    """The frame's result, then one line per region ("rois": roi-list) and,
    given the buffer, the region's ROI meta parameter."""
    _, frame = s.get_uint64("frame")
    _, pts = s.get_uint64("timestamp")
    _, ms = s.get_double("inference-time")
    _, stale = s.get_boolean("stale")
    when = f"{pts / Gst.SECOND:8.3f} s" if pts != Gst.CLOCK_TIME_NONE else "       -  "
    lines = [f"{where:<7} frame {frame:3} pts {when} {ms:5.1f} ms"
             f"{' (stale)' if stale else ''}: {format_classes(s)}"]
    for roi in (s.get_value("rois") or []):
        rid = roi.get_value("id")
        box = (f"{roi.get_value('x')},{roi.get_value('y')} "
               f"{roi.get_value('width')}x{roi.get_value('height')}")
        lines.append(f"{where:<7} frame {frame:3} region {rid} "
                     f"{roi.get_string('roi-type')} {box}: "
                     f"{format_classes(roi)}")
        meta = GstVideo.buffer_get_video_region_of_interest_meta_id(buf, rid) \
            if buf is not None else None
        param = meta.get_param("shufflenet") if meta is not None else None
        if param is not None:
            lines.append(f"param   frame {frame:3} region {rid}: "
                         f"{param.get_value('label_id')} "
                         f"{param.get_string('label')} "
                         f"{param.get_value('confidence'):.3f}")
    with print_lock:
        print("\n".join(lines), flush=True)


def report_missing_plugin(msg):
    """Prints what is missing and where to get it; True when fatal
    (anything but an audio decoder: only video is classified)."""
    desc = GstPbutils.missing_plugin_message_get_description(msg)
    detail = GstPbutils.missing_plugin_message_get_installer_detail(msg) or ""
    what = detail.rsplit("|", 1)[-1]  # gstreamer|1.0|APP|DESC|decoder-CAPS
    name = ""
    if what.startswith("decoder-"):
        caps = Gst.Caps.from_string(what[len("decoder-"):])
        if caps and caps.get_size():
            name = caps.get_structure(0).get_name()
    if name.startswith("audio/"):
        print(f"sn-classify.py: no decoder for the audio ({desc}): ignored",
              file=sys.stderr)
        return False
    package = DECODER_PACKAGES.get(name)
    hint = (f"Install the Debian package {package} (sudo apt-get install "
            f"{package})" if package else "(gstreamer1.0-libav, "
            "gstreamer1.0-plugins-bad and gstreamer1.0-plugins-ugly hold most "
            "decoders)")
    print(f"sn-classify.py: cannot decode the input: no GStreamer plugin for "
          f"{desc} is installed. {hint}", file=sys.stderr)
    return True


def on_buffer(pad, info, counts):
    """Streaming thread: every buffer at the sink; the meta went through
    videoconvert with the frame."""
    counts["buffers"] += 1
    buf = info.get_buffer()
    meta = buf.get_custom_meta(META)
    if meta is not None:
        counts["meta"] += 1
        print_result("meta", meta.get_structure(), buf)
    return Gst.PadProbeReturn.OK


def build_pipeline(path, top_k, model, regions, counts):
    source = "filesrc name=src ! decodebin" if path else \
        "videotestsrc num-buffers=30"
    # facedetect takes RGB; it attaches one region (roi_type "face") a face
    detect = "video/x-raw,format=RGB ! facedetect display=false " \
        "updates=every_frame ! " if regions else ""
    mode = "inference-region=roi-list" if regions else ""
    pipeline = Gst.parse_launch(
        f"{source} ! videoconvert ! {detect}shufflenet name=net {mode} ! "
        "videoconvert ! fakesink name=sink")
    if path:
        pipeline.get_by_name("src").set_property("location", path)
    net = pipeline.get_by_name("net")
    net.set_property("top-k", top_k)
    if model:
        net.set_property("model", model)
    pad = pipeline.get_by_name("sink").get_static_pad("sink")
    pad.add_probe(Gst.PadProbeType.BUFFER, on_buffer, counts)
    return pipeline


def run(pipeline):
    """Runs to EOS, printing the bus results; their number, or -1 on an
    error."""
    bus = pipeline.get_bus()
    messages = 0
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        messages = -1  # the error message says why
    while True:
        msg = bus.timed_pop_filtered(
            Gst.CLOCK_TIME_NONE, Gst.MessageType.ELEMENT
            | Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg.type == Gst.MessageType.ELEMENT and msg.has_name("shufflenet"):
            print_result("message", msg.get_structure())
            if messages >= 0:
                messages += 1
        elif msg.type == Gst.MessageType.ELEMENT and \
                GstPbutils.is_missing_plugin_message(msg):
            if report_missing_plugin(msg):
                messages = -1
                break
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print(f"sn-classify.py: {err.message}\n({debug})", file=sys.stderr)
            messages = -1
            break
        elif msg.type == Gst.MessageType.EOS:
            break
    pipeline.set_state(Gst.State.NULL)
    return messages


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file", nargs="?", help="video or image (default: "
                   "30 frames of videotestsrc)")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--model")
    p.add_argument("--regions", action="store_true", help="classify the "
                   "faces facedetect finds (gstreamer1.0-opencv)")
    args = p.parse_args(argv)
    if args.top_k < 1:
        p.error("--top-k must be at least 1")
    Gst.init(None)
    GstPbutils.pb_utils_init()
    if Gst.ElementFactory.find("shufflenet") is None:
        sys.exit("sn-classify.py: no shufflenet element: set GST_PLUGIN_PATH "
                 "to the build's gst/ folder, or meson install")
    counts = {"buffers": 0, "meta": 0}
    if args.regions and Gst.ElementFactory.find("facedetect") is None:
        sys.exit("sn-classify.py: --regions needs the facedetect element "
                 "(apt-get install gstreamer1.0-opencv opencv-data)")
    pipeline = build_pipeline(args.file, args.top_k, args.model, args.regions,
                              counts)
    messages = run(pipeline)
    print(f"frames: {counts['buffers']}, with a meta: {counts['meta']}, "
          f"bus messages: {messages}")
    ok = messages > 0 and messages == counts["meta"] == counts["buffers"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
