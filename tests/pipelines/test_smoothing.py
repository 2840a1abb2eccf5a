#!/usr/bin/python3
"""Results over time on real photos, end to end:

- the element's smoothing against a NumPy reference: one pipeline runs
  `shufflenet top-k=1000` (every probability, raw) and behind it
  `shufflenet smoothing=5 top-k=5` on a clip of scikit-image's photos; the
  reference averages the recorded raw vectors (alpha = 2 / 6) and its
  top-5 must equal the element's (ids exactly, scores within 1e-5);
- change events on a clip built from real photos with abrupt cuts and
  short noisy stretches (a 3-frame cut-in of another photo, 2 frames
  drowned in noise): with smoothing=10 change-hold=3 the events fall after
  the true cuts and nowhere else, while without smoothing the noise fires
  events of its own (so the noise is real). The average needs a few frames
  to turn after a cut (about half the smoothing window for photos this
  confident), then change-hold frames: each event comes at most
  smoothing / 2 + change-hold frames after its cut;
- the classes filter: "Egyptian cat,espresso" reports those two alone
  and fires events between them alone;
- `shufflenetjson events-only=true` on make-clip.sh's clip (cat, coffee,
  motorcycle, 10 frames each): the three changes alone, 3 frames after
  each cut, with the message's fields; without it the frames' lines carry
  them as "events"; lines say "smoothed" true with smoothing=4 alone.

Usage: test_smoothing.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import numpy as np

import pipetest as pt
from pipetest import Gst

SIDE = 224


def photo_rgb(name):
    """A photo as SIDE x SIDE RGB, uint8 [SIDE][SIDE][3]."""
    pipeline = Gst.parse_launch(
        "filesrc name=src ! pngdec ! videoconvert ! videoscale ! "
        f"video/x-raw,format=RGB,width={SIDE},height={SIDE} ! "
        "appsink name=sink")
    pipeline.get_by_name("src").set_property("location", pt.photo(name))
    (_, data, w, h, _), = pt.pull_all(pipeline)
    return np.frombuffer(data, np.uint8).reshape(SIDE, SIDE, 3)  # packed


def run_frames(frames, element):
    """Pushes RGB frames through appsrc ! ELEMENT ! appsink; returns
    (each output buffer's meta structure, the change messages)."""
    pipeline = Gst.parse_launch(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,"
        f"width={SIDE},height={SIDE},framerate=10/1 ! {element} ! "
        "appsink name=sink sync=false")
    changes = []

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and \
                msg.has_name("shufflenet-change"):
            changes.append(msg.get_structure().copy())
        return Gst.BusSyncReply.PASS
    pipeline.get_bus().set_sync_handler(on_message)
    src = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    for i, f in enumerate(frames):
        buf = Gst.Buffer.new_wrapped(np.ascontiguousarray(f).tobytes())
        buf.pts, buf.duration = i * Gst.SECOND // 10, Gst.SECOND // 10
        src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    out = pt.pull_all(pipeline)
    pt.check(len(out) == len(frames), f"{len(out)} of {len(frames)} frames")
    return [b.get_custom_meta("GstShuffleNetMeta").get_structure()
            for *_, b in out], changes


def values(s, name):
    v = s.get_value(name)
    return list(v.array) if hasattr(v, "array") else list(v)


def frame_index(change):
    return change.get_value("timestamp") // (Gst.SECOND // 10)


def test_ema_reference(photos):
    frames = [photos[n] for n in ("chelsea.png", "coffee.png",
                                  "motorcycle_right.png") for _ in range(6)]
    metas, _ = run_frames(frames, "shufflenet name=raw top-k=1000 "
                          "change-hold=0 ! shufflenet name=smooth "
                          "smoothing=5 top-k=5 change-hold=0")
    alpha, avg = 2.0 / 6.0, None
    for n, s in enumerate(metas):
        raw, smooth = (r for r in values(s, "results"))
        pt.check(raw.get_string("element") == "raw"
                 and smooth.get_value("smoothed"), f"frame {n}: {s}")
        p = np.zeros(1000)
        p[values(raw, "class-ids")] = values(raw, "scores")
        avg = p if avg is None else avg + alpha * (p - avg)
        want = np.argsort(-avg, kind="stable")[:5]
        got_ids, got_scores = values(smooth, "class-ids"), \
            values(smooth, "scores")
        pt.check(list(want) == got_ids, f"frame {n}: top-5 {got_ids}, "
                 f"reference {list(want)}")
        pt.check(np.allclose(avg[want], got_scores, atol=1e-5),
                 f"frame {n}: scores {got_scores}, reference {avg[want]}")
    print(f"ok: smoothing=5 equals the NumPy EMA of the raw vectors on "
          f"{len(metas)} frames")


def cut_clip(photos):
    """Segments of 14 frames (cat, coffee, motorcycle, cat: cuts at 14, 28,
    42), a 3-frame cut-in of the coffee inside the first cat segment and 2
    noisy frames inside the coffee one. Returns the frames and the cuts."""
    rng = np.random.default_rng(7)
    order = ["chelsea.png", "coffee.png", "motorcycle_left.png", "chelsea.png"]
    frames = [photos[n] for n in order for _ in range(14)]
    for i in (5, 6, 7):
        frames[i] = photos["coffee.png"]
    for i in (19, 20):
        noisy = frames[i].astype(np.int16) + rng.normal(0, 90, frames[i].shape)
        frames[i] = np.clip(noisy, 0, 255).astype(np.uint8)
    return frames, [14, 28, 42]


def test_events_at_cuts(photos):
    frames, cuts = cut_clip(photos)
    _, raw = run_frames(frames, "shufflenet change-hold=3")
    _, smooth = run_frames(frames, "shufflenet smoothing=10 change-hold=3")
    at = [frame_index(c) for c in smooth]
    print(f"events without smoothing at frames {[frame_index(c) for c in raw]}"
          f", with smoothing=10 at {at}")
    pt.check(smooth[0].get_value("from-id") == -1 and at[0] == 2,
             f"first event {smooth[0]}")
    pt.check(len(at) == 1 + len(cuts) and all(
        cut <= a <= cut + 10 // 2 + 3 for a, cut in zip(at[1:], cuts)),
        f"smoothed events at {at}, cuts at {cuts}")
    spurious = [frame_index(c) for c in raw[1:]
                if not any(cut <= frame_index(c) <= cut + 3 for cut in cuts)]
    pt.check(spurious, "without smoothing the noise fired nothing: "
             "the test's noise is too weak to show anything")
    print(f"ok: smoothed events only after the cuts {cuts}; without "
          f"smoothing {len(spurious)} more at {spurious}")


def test_class_filter(photos):
    frames = [photos[n] for n in ("chelsea.png", "motorcycle_right.png",
                                  "coffee.png") for _ in range(5)]
    metas, changes = run_frames(
        frames, "shufflenet classes=\"Egyptian cat,espresso\" change-hold=2")
    for n, s in enumerate(metas):
        pt.check(set(values(s, "class-ids")) <= {pt.EGYPTIAN_CAT, pt.ESPRESSO},
                 f"frame {n}: {values(s, 'labels')}")
    to = [c.get_value("to-id") for c in changes]
    pt.check(to and to[0] == pt.EGYPTIAN_CAT and set(to) <= {
        pt.EGYPTIAN_CAT, pt.ESPRESSO} and to[-1] == pt.ESPRESSO,
        f"events to {to}")
    print(f"ok: classes=\"Egyptian cat,espresso\": only those reported, "
          f"events to {to}")


def test_json_events(tmp):
    clip, events, frames, smooth = f"{tmp}/clip.avi", \
        f"{tmp}/events.jsonl", f"{tmp}/frames.jsonl", f"{tmp}/smooth.jsonl"
    pt.make_clip(["--frames", "10"], clip)
    for path, element, extra in ((events, [], ["events-only=true"]),
                                 (frames, [], []),
                                 (smooth, ["smoothing=4"], [])):
        pt.run(["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!",
                "decodebin", "!", "videoconvert", "!", "shufflenet",
                *element, "!", "shufflenetjson", f"location={path}", *extra,
                "!", "fakesink"])
    raw, smoothed = pt.read_jsonl(frames), pt.read_jsonl(smooth)
    pt.check(len(raw) == len(smoothed) == 30
             and not any(r["smoothed"] for r in raw)
             and all(r["smoothed"] for r in smoothed)
             and raw[11]["classes"] != smoothed[11]["classes"],
             f"the lines' smoothed fields: {[r['smoothed'] for r in raw]} "
             f"{[r['smoothed'] for r in smoothed]}")
    lines = pt.read_jsonl(events)
    got = [(e["event"], e["pts"] // 100000000, e["from_id"], e["to_id"])
           for e in lines]
    want = [("change", 2, -1, pt.EGYPTIAN_CAT),
            ("change", 12, pt.EGYPTIAN_CAT, pt.ESPRESSO),
            ("change", 22, pt.ESPRESSO, pt.MOPED)]
    pt.check(got == want, f"events {got}, expected {want}")
    pt.check(all({"from_label", "to_label", "score", "held", "element",
                  "running_time", "stream_time"} <= set(e) for e in lines)
             and lines[1]["held"] == 1000000000, f"{lines}")
    framed = [e for r in pt.read_jsonl(frames) for e in r.get("events", [])]
    pt.check(framed == lines, f"the frames' events {framed} differ")
    print(f"ok: events-only wrote the 3 changes "
          f"{[e['to_label'] for e in lines]}; lines say smoothed")


def main():
    tmp = pt.setup(ARGS)
    photos = {n: photo_rgb(n) for n in ("chelsea.png", "coffee.png",
                                        "motorcycle_right.png",
                                        "motorcycle_left.png")}
    test_ema_reference(photos)
    test_events_at_cuts(photos)
    test_class_filter(photos)
    test_json_events(tmp)


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
