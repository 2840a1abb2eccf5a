#!/usr/bin/python3
"""The GstShuffleNetMeta and the bus message read from Python through GI
(Debian's python3-gi, gir1.2-gstreamer-1.0): a pipeline with videoconvert
and videoscale after the element, the meta read on the appsink's buffers
with buf.get_custom_meta(name).get_structure().

Usage: test_meta_python.py MODEL.onnx
"""
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def field_list(structure, name):
    """A GstValueArray field as a Python list."""
    value = structure.get_value(name)
    return list(value.array) if hasattr(value, "array") else list(value)


def main(model):
    Gst.init(None)
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=4 ! video/x-raw,width=96,height=64 ! "
        f'shufflenet model="{model}" threads=1 top-k=3 interval=2 ! '
        "videoconvert ! videoscale ! video/x-raw,format=RGB,width=48,height=32 "
        "! appsink name=sink sync=false")
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    stale = []
    for i in range(4):
        sample = sink.emit("pull-sample")
        assert sample is not None, f"no sample {i}"
        meta = sample.get_buffer().get_custom_meta("GstShuffleNetMeta")
        assert meta is not None, f"buffer {i}: no GstShuffleNetMeta"
        s = meta.get_structure()
        ids = field_list(s, "class-ids")
        labels = field_list(s, "labels")
        scores = field_list(s, "scores")
        assert len(ids) == len(labels) == len(scores) == 3, s.to_string()
        assert all(isinstance(x, int) for x in ids), ids
        assert all(isinstance(x, str) and x for x in labels), labels
        assert scores == sorted(scores, reverse=True), scores
        assert all(0.0 <= x <= 1.0 for x in scores), scores
        ok, frame = s.get_uint64("frame")
        assert ok and frame == i, (ok, frame)
        ok, is_stale = s.get_boolean("stale")
        assert ok
        stale.append(is_stale)
        assert s.get_string("model"), s.to_string()
    assert stale == [False, True, False, True], stale

    bus = pipeline.get_bus()
    messages = 0
    while True:
        msg = bus.pop_filtered(Gst.MessageType.ELEMENT)
        if msg is None:
            break
        if msg.has_name("shufflenet"):
            s = msg.get_structure()
            assert len(field_list(s, "labels")) == 3
            messages += 1
    pipeline.set_state(Gst.State.NULL)
    assert messages == 4, messages
    print("ok: meta and messages read from Python")


if __name__ == "__main__":
    main(sys.argv[1])
