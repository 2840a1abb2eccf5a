#!/usr/bin/python3
"""Region classification with a real detector and from an application:

- GStreamer's facedetect (gstreamer1.0-opencv, OpenCV's frontal face
  cascade from opencv-data) on scikit-image's astronaut finds her face at
  175,64 97x97; `shufflenet inference-region=roi-list` classifies it and
  the result reads the same from the ROI meta's "shufflenet" parameter
  (DL Streamer's label, label_id, confidence), the GstShuffleNetMeta's
  "rois" and the bus message;
- a Python (GI) application adds regions to appsrc buffers with
  GstVideo.buffer_add_video_region_of_interest_meta: two photos side by
  side are an Egyptian cat and an espresso;
- pipelines/classify-regions.sh on the photo (PNG out) and on a clip
  (WebM out): a JSON line per frame with the face object, its box drawn
  by shufflenetoverlay (also after a videoscale, at the scaled place); on
  opencv-doc's Megamind.avi (MPEG-4 AVI -> H.264 MP4), whole (faces
  numbered by shufflenettrack, reclassify-interval reusing their results)
  and cut in half.

Usage: test_regions.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import json
import os

import gi

import pipetest as pt

gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402

FACE = (175, 64, 97, 97)  # facedetect on astronaut.png (x, y, w, h)
META = "GstShuffleNetMeta"


def values(s, name):
    v = s.get_value(name)
    return list(v.array) if hasattr(v, "array") else list(v)


def detector_chain(photo, frames, tail):
    return (f"filesrc location={photo} ! pngdec ! imagefreeze "
            f"num-buffers={frames} ! videoconvert ! video/x-raw,format=RGB ! "
            "facedetect display=false updates=every_frame ! shufflenet "
            f"name=net inference-region=roi-list top-k=3 ! {tail}")


def collect_results(pipeline):
    """A list that receives a copy of each "shufflenet" message the
    pipeline posts (a sync handler: pull_all's error check drops the
    others from the bus)."""
    out = []

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.has_name("shufflenet"):
            out.append(msg.get_structure().copy())
        return Gst.BusSyncReply.PASS
    pipeline.get_bus().set_sync_handler(on_message)
    return out


def check_face_roi(where, roi):
    box = tuple(roi.get_value(k) for k in ("x", "y", "width", "height"))
    pt.check(box == FACE, f"{where}: face at {box}, expected {FACE}")
    pt.check(roi.get_string("roi-type") == "face", f"{where}: {roi}")
    labels = values(roi, "labels")
    pt.check(len(labels) == 3 and not roi.get_value("stale"),
             f"{where}: {roi}")
    return values(roi, "class-ids"), values(roi, "scores")


def test_real_detector():
    """facedetect -> shufflenet: the face's result in all three places."""
    pipeline = Gst.parse_launch(detector_chain(
        pt.photo("astronaut.png"), 3, "appsink name=sink sync=false"))
    messages = collect_results(pipeline)
    frames = pt.pull_all(pipeline)
    pt.check(len(frames) == 3 and len(messages) == 3,
             f"{len(frames)} frames, {len(messages)} messages")
    for n, (*_, buf) in enumerate(frames):
        meta = buf.get_custom_meta(META)
        pt.check(meta is not None, f"frame {n}: no {META}")
        s = meta.get_structure()
        rois = s.get_value("rois")
        pt.check(rois is not None and len(rois) == 1, f"frame {n}: {s}")
        ids, scores = check_face_roi(f"frame {n} meta", rois[0])
        pt.check((s.get_value("frame-width"), s.get_value("frame-height"))
                 == (512, 512), f"frame {n}: {s}")
        m_ids, m_scores = check_face_roi(
            f"frame {n} message", messages[n].get_value("rois")[0])
        pt.check((ids, scores) == (m_ids, m_scores),
                 f"frame {n}: meta {ids} {scores}, message {m_ids} {m_scores}")
        roi_meta = GstVideo.buffer_get_video_region_of_interest_meta_id(
            buf, rois[0].get_value("id"))
        pt.check(roi_meta is not None, f"frame {n}: no ROI meta")
        param = roi_meta.get_param("shufflenet")
        pt.check(param is not None, f"frame {n}: no shufflenet parameter")
        pt.check(param.get_value("label_id") == ids[0]
                 and abs(param.get_value("confidence") - scores[0]) < 1e-12
                 and param.get_string("label")
                 and param.get_string("model_name") == s.get_string("model"),
                 f"frame {n}: parameter {param}, meta {ids} {scores}")
    print(f"ok: facedetect found the face at {FACE}; classified "
          f"{param.get_string('label')} {scores[0]:.3f}, the same in the ROI "
          "parameter, the meta and the bus message on 3 frames")


def side_by_side():
    """chelsea and coffee at 224x224, side by side: RGB bytes, 448x224."""
    pipeline = Gst.parse_launch(
        "filesrc name=src ! pngdec ! videoconvert ! videoscale ! "
        "video/x-raw,format=RGB,width=224,height=224 ! appsink name=sink")
    halves = []
    for name in ("chelsea.png", "coffee.png"):
        pipeline.get_by_name("src").set_property("location", pt.photo(name))
        (_, data, w, h, _), = pt.pull_all(pipeline)
        halves.append(data)
    stride = 224 * 3  # 672: a multiple of 4, so rows are packed
    rows = [halves[0][y * stride:(y + 1) * stride]
            + halves[1][y * stride:(y + 1) * stride] for y in range(224)]
    return b"".join(rows)


def test_app_regions():
    """Regions added by a Python application on appsrc buffers."""
    pipeline = Gst.parse_launch(
        "appsrc name=src format=time caps=video/x-raw,format=RGB,width=448,"
        "height=224,framerate=10/1 ! shufflenet inference-region=roi-list "
        "top-k=1 ! appsink name=sink sync=false")
    src = pipeline.get_by_name("src")
    data = side_by_side()
    pipeline.set_state(Gst.State.PLAYING)
    for i in range(2):
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts, buf.duration = i * Gst.SECOND // 10, Gst.SECOND // 10
        for n, x in enumerate((0, 224)):
            roi = GstVideo.buffer_add_video_region_of_interest_meta(
                buf, "photo", x, 0, 224, 224)
            roi.id = n + 1
        src.emit("push-buffer", buf)
    src.emit("end-of-stream")
    frames = pt.pull_all(pipeline)
    pt.check(len(frames) == 2, f"{len(frames)} frames")
    for n, (*_, buf) in enumerate(frames):
        rois = buf.get_custom_meta(META).get_structure().get_value("rois")
        top1 = [values(r, "class-ids")[0] for r in rois]
        pt.check(top1 == [pt.EGYPTIAN_CAT, pt.ESPRESSO],
                 f"frame {n}: classes {top1}")
        for r in rois:
            param = GstVideo.buffer_get_video_region_of_interest_meta_id(
                buf, r.get_value("id")).get_param("shufflenet")
            pt.check(param.get_value("label_id") == values(r, "class-ids")[0],
                     f"frame {n}: {param}")
    print("ok: regions from a Python application: Egyptian cat, espresso")


def white_outline(path, box, scale=1.0):
    """Whether the left edge of box (x, y, w, h) is drawn white in the PNG."""
    (_, data, w, h, _), = pt.decode_frames(path)
    x, y, bw, bh = (round(v * scale) for v in box)
    column = [data[(yy * w + x) * 3:(yy * w + x) * 3 + 3]
              for yy in range(y + bh // 4, y + 3 * bh // 4)]
    return all(min(px) >= 240 for px in column)


def test_script_photo(tmp):
    out = f"{tmp}/astronaut.png"
    p = pt.run([pt.script("classify-regions.sh"), "--build", ARGS.build,
                "--print", pt.photo("astronaut.png"), out])
    lines = pt.read_jsonl(f"{tmp}/astronaut.jsonl")
    pt.check(len(lines) == 1, f"{len(lines)} lines")
    r = lines[0]
    pt.check(r["frame_width"] == 512 and len(r["objects"]) == 1, f"{r}")
    o = r["objects"][0]
    pt.check((o["x"], o["y"], o["w"], o["h"]) == FACE
             and o["roi_type"] == "face" and len(o["classes"]) == 3, f"{o}")
    pt.check(f"face #{o['id']} at 175,64 97x97" in p.stdout, p.stdout)
    pt.check(white_outline(out, FACE), "no outline drawn at the face")
    print(f"ok: classify-regions.sh photo: {o['classes'][0]['label']}, "
          "outline drawn")


def test_script_clip(tmp):
    clip, out = f"{tmp}/astronaut.webm", f"{tmp}/out.webm"
    pt.make_clip(["--size", "512x512", "--frames", "4"], clip,
                 [pt.photo("astronaut.png")])
    pt.run([pt.script("classify-regions.sh"), "--build", ARGS.build, clip,
            out])
    lines = pt.read_jsonl(f"{tmp}/out.jsonl")
    pt.check(len(lines) == 4, f"{len(lines)} lines")
    for r in lines:
        # VP8 coding moves the face by a pixel or two (and may add a false
        # detection): one face object lies at the photo's face
        pt.check(any(o["roi_type"] == "face" and o["classes"] and all(
            abs(a - b) <= 4 for a, b in zip(
                (o["x"], o["y"], o["w"], o["h"]), FACE))
            for o in r["objects"]), f"{r}")
    frames = pt.decode_frames(out)
    pt.check(len(frames) == 4, f"{len(frames)} frames in {out}")
    print("ok: classify-regions.sh clip: 4 frames, the face object on each")


def test_script_real_video(tmp):
    """classify-regions.sh on a film trailer Debian ships (MPEG-4 in AVI,
    whose decoded frames repeat timestamps): an H.264 MP4 of every frame
    with faces found and classified, and the same file cut in half ends
    with an error that names the truncation and keeps its frames'
    results."""
    if pt.UNDER_ASAN:
        print("skipped under ASan: Megamind.avi (about a minute there)")
        return
    pt.check(os.path.isfile(pt.MEGAMIND), f"{pt.MEGAMIND} missing: "
             "apt-get install opencv-doc (tools/debian-packages.txt)")
    out = f"{tmp}/megamind.mp4"
    pt.run([pt.script("classify-regions.sh"), "--build", ARGS.build,
            "--reclassify-interval", "4", pt.MEGAMIND, out])
    lines = pt.read_jsonl(f"{tmp}/megamind.jsonl")
    pt.check([r["frame"] for r in lines] == list(range(270)),
             f"{len(lines)} lines for Megamind.avi's 270 frames")
    objects = [o for r in lines for o in r["objects"]]
    pt.check(len(objects) >= 100 and all(
        len(o["classes"]) == 3 and o["x"] + o["w"] <= 720
        and o["y"] + o["h"] <= 528 for o in objects),
        f"{len(objects)} objects: {objects[:3]}")
    pt.check(pt.count_frames(out) == 270, f"{out}: not 270 frames")
    # shufflenettrack numbers the faces (facedetect leaves every id 0), so
    # reclassify-interval=4 reuses a face's result on most of its frames
    ids = {o["id"] for o in objects}
    stale = sum(o["stale"] for o in objects)
    pt.check(0 not in ids and len(ids) < len(objects) // 4
             and stale >= len(objects) // 2,
             f"{len(ids)} ids, {stale} of {len(objects)} results reused")

    half = f"{tmp}/megamind-cut.avi"
    with open(pt.MEGAMIND, "rb") as f, open(half, "wb") as g:
        g.write(f.read(os.path.getsize(pt.MEGAMIND) // 2))
    held = len(pt.decode_frames(half, "video/x-raw,format=GRAY8"))
    p = pt.run([pt.script("classify-regions.sh"), "--build", ARGS.build,
                half, f"{tmp}/cut.webm"], expect=1)
    pt.check("truncated" in p.stderr, p.stderr)
    cut = pt.read_jsonl(f"{tmp}/cut.jsonl")
    pt.check(0 < held == len(cut), f"{len(cut)} lines for {held} frames")
    print(f"ok: classify-regions.sh Megamind.avi -> .mp4: 270 frames, "
          f"{len(objects)} faces, {len(ids)} tracked ids, {stale} results "
          f"reused; cut in half: exit 1, {held} frames' results kept")


def test_overlay_after_videoscale(tmp):
    """The boxes refer to the frame shufflenet saw; the overlay scales
    them to the frame it draws on."""
    out = f"{tmp}/scaled.png"
    pt.run(["gst-launch-1.0", "-q"] + detector_chain(
        pt.photo("astronaut.png"), 1,
        "videoscale ! video/x-raw,width=256,height=256 ! videoconvert ! "
        "shufflenetoverlay ! videoconvert ! pngenc ! filesink "
        f"location={out}").split())
    pt.check(white_outline(out, FACE, 0.5), "no outline at the scaled face")
    print("ok: the outline follows a videoscale")


def main():
    tmp = pt.setup(ARGS)
    if Gst.ElementFactory.find("facedetect") is None:
        pt.fail("no facedetect element: apt-get install gstreamer1.0-opencv "
                "opencv-data (tools/debian-packages.txt)")
    test_real_detector()
    test_app_regions()
    test_script_photo(tmp)
    test_script_clip(tmp)
    test_script_real_video(tmp)
    test_overlay_after_videoscale(tmp)


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
