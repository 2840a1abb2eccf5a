#!/usr/bin/python3
"""shufflenetoverlay draws where the text box is and nowhere else.

A real photo (skimage's chelsea) is classified, converted to each format
the overlay accepts, at an even and an odd size (384x288, 385x289), then
split by a tee: one branch as it is, one through the overlay. Both are
converted to RGB and compared:
- the changed pixels fill one rectangle (>= 95 %: the translucent box)
  anchored at the margin of the chosen corner (exact for formats with full
  chroma, within 1 px where chroma is subsampled), as high as the lines of
  text and narrower than the frame; nothing outside it changed;
- inside it the white text is there;
- without a background only the glyphs change (inside the same area);
- a stale result adds a line, a bigger font-size a bigger box;
- buffers without the meta come out byte for byte the same;
- properties changed from another thread while 300 frames flow.

Usage: test_overlay.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import random
import threading

import numpy as np

import pipetest as pt
from pipetest import Gst

FULL_CHROMA = ["RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA",
               "ARGB", "ABGR", "Y444", "AYUV", "GRAY8"]
SUBSAMPLED = ["I420", "YV12", "NV12", "NV21", "Y42B", "YUY2", "UYVY"]
SIZES = [(384, 288), (385, 289)]
MARGIN = 8  # the overlay's default margin


def pipeline(fmt, w, h, overlay="", frames=1, classify="shufflenet top-k=3"):
    return Gst.parse_launch(
        f"filesrc location={pt.photo('chelsea.png')} ! pngdec ! videoconvert "
        f"! videoscale add-borders=false ! video/x-raw,width={w},height={h},pixel-aspect-ratio=1/1 "
        f"! imagefreeze num-buffers={frames} ! {classify} ! videoconvert "
        f"! video/x-raw,format={fmt} ! tee name=t "
        "t. ! queue ! videoconvert ! video/x-raw,format=RGB "
        "! appsink name=plain sync=false "
        f"t. ! queue ! shufflenetoverlay {overlay} ! videoconvert "
        "! video/x-raw,format=RGB ! appsink name=drawn sync=false")


def run_pair(p):
    """[(plain, drawn)] RGB arrays [h, w, 3] int16, one pair per frame."""
    plain, drawn = p.get_by_name("plain"), p.get_by_name("drawn")
    p.set_state(Gst.State.PLAYING)
    pairs = []
    while True:
        a, b = plain.emit("pull-sample"), drawn.emit("pull-sample")
        if a is None or b is None:
            break
        pairs.append(tuple(rgb(s) for s in (a, b)))
    err = p.get_bus().pop_filtered(Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    if err is not None:
        pt.fail(err.parse_error()[0].message)
    return pairs


def rgb(sample):
    s = sample.get_caps().get_structure(0)
    w, h = s.get_value("width"), s.get_value("height")
    buf = sample.get_buffer()
    data = np.frombuffer(buf.extract_dup(0, buf.get_size()), np.uint8)
    stride = len(data) // h  # RGB rows are padded to 4 bytes
    return data.reshape(h, stride)[:, :w * 3].reshape(h, w, 3).astype(np.int16)


def changed_box(plain, drawn):
    """(x0, y0, x1, y1) inclusive bounds of the changed pixels, fill ratio."""
    mask = np.any(plain != drawn, axis=2)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None, 0.0
    box = (xs.min(), ys.min(), xs.max(), ys.max())
    area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    return box, mask.sum() / area


def check_box(where, box, fill, w, h, corner="top-left", tol=0, lines=3,
              font_px=None):
    font_px = font_px or max(9.0, h / 20)
    pt.check(box is not None, f"{where}: nothing drawn")
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0 + 1, y1 - y0 + 1
    left, top = MARGIN, MARGIN
    if corner.endswith("right"):
        left = w - MARGIN - bw
    if corner.startswith("bottom"):
        top = h - MARGIN - bh
    pt.check(abs(x0 - left) <= tol and abs(y0 - top) <= tol,
             f"{where}: box {box} not at the {corner} margin "
             f"({left}, {top})")
    pt.check(fill >= 0.95, f"{where}: only {fill:.0%} of box {box} changed")
    pt.check(lines * font_px <= bh - 2 * tol <= lines * font_px * 1.7 + 12,
             f"{where}: box height {bh} for {lines} lines of {font_px:.1f} px")
    pt.check(4 * font_px < bw < w - MARGIN, f"{where}: box width {bw}")
    return bw, bh


def check_text(where, drawn, box):
    x0, y0, x1, y1 = box
    inside = drawn[y0:y1 + 1, x0:x1 + 1]
    white = np.all(inside >= 200, axis=2).mean()
    pt.check(white > 0.03, f"{where}: {white:.1%} white text pixels")


def test_formats():
    for w, h in SIZES:
        for fmt in FULL_CHROMA + SUBSAMPLED:
            where = f"{fmt} {w}x{h}"
            [(plain, drawn)] = run_pair(pipeline(fmt, w, h))
            box, fill = changed_box(plain, drawn)
            tol = 1 if fmt in SUBSAMPLED else 0
            check_box(where, box, fill, w, h, tol=tol)
            check_text(where, drawn, box)
        print(f"ok: {len(FULL_CHROMA + SUBSAMPLED)} formats at {w}x{h}")


def test_corners_and_options():
    w, h = SIZES[1]
    for corner in ("top-left", "top-right", "bottom-left", "bottom-right"):
        [(plain, drawn)] = run_pair(pipeline("BGRx", w, h,
                                             f"position={corner}"))
        box, fill = changed_box(plain, drawn)
        check_box(corner, box, fill, w, h, corner)
    print("ok: the four corners")

    [(plain, drawn)] = run_pair(pipeline("RGB", w, h))
    full, _ = changed_box(plain, drawn)
    [(plain, drawn)] = run_pair(pipeline("RGB", w, h, "background=0"))
    glyphs, fill = changed_box(plain, drawn)
    pt.check(glyphs is not None and 0.03 < fill < 0.7,
             f"no background: {fill:.0%} of {glyphs} changed")
    pt.check(glyphs[0] >= full[0] and glyphs[1] >= full[1]
             and glyphs[2] <= full[2] and glyphs[3] <= full[3],
             f"glyphs {glyphs} outside the box {full}")
    print(f"ok: without background only glyphs change ({fill:.0%} of "
          f"their bounds)")

    [(plain, drawn)] = run_pair(pipeline("I420", w, h, "font-size=30"))
    box, fill = changed_box(plain, drawn)
    check_box("font-size=30", box, fill, w, h, tol=1, font_px=30)
    [(plain, drawn)] = run_pair(pipeline("RGB", w, h, "top-k=1"))
    box, fill = changed_box(plain, drawn)
    check_box("top-k=1", box, fill, w, h, lines=1)
    print("ok: font-size, top-k")

    for show, extra in (("true", 1), ("false", 0)):
        pairs = run_pair(pipeline("RGB", w, h, f"show-stale={show}", frames=2,
                                  classify="shufflenet top-k=3 interval=2"))
        (b0, f0), (b1, f1) = (changed_box(*pair) for pair in pairs)
        check_box("fresh", b0, f0, w, h)
        check_box(f"stale show-stale={show}", b1, f1, w, h, lines=3 + extra)
    print("ok: stale results get a line of their own (show-stale)")


def test_no_meta_untouched():
    p = Gst.parse_launch(
        "videotestsrc num-buffers=3 pattern=smpte ! "
        "video/x-raw,format=NV12,width=97,height=55 ! tee name=t "
        "t. ! queue ! appsink name=plain sync=false "
        "t. ! queue ! shufflenetoverlay ! appsink name=drawn sync=false")
    plain, drawn = p.get_by_name("plain"), p.get_by_name("drawn")
    p.set_state(Gst.State.PLAYING)
    for i in range(3):
        a, b = plain.emit("pull-sample"), drawn.emit("pull-sample")
        pt.check(a is not None and b is not None, f"frame {i} missing")
        ba, bb = a.get_buffer(), b.get_buffer()
        pt.check(ba.extract_dup(0, ba.get_size())
                 == bb.extract_dup(0, bb.get_size()) and ba.pts == bb.pts,
                 f"frame {i} without meta was changed")
    p.set_state(Gst.State.NULL)
    print("ok: buffers without the meta pass untouched")


def test_properties_while_playing():
    p = Gst.parse_launch(
        "videotestsrc num-buffers=300 ! video/x-raw,width=64,height=48 ! "
        "shufflenet threads=1 interval=5 ! shufflenetoverlay name=o ! "
        "appsink name=sink sync=false")
    o, sink = p.get_by_name("o"), p.get_by_name("sink")
    stop = threading.Event()
    rng = random.Random(7)

    def flip():
        corners = ["top-left", "top-right", "bottom-left", "bottom-right"]
        while not stop.is_set():
            o.set_property("position", rng.choice(corners))
            o.set_property("font-size", rng.choice([0.0, 5.0, 40.0, 400.0]))
            o.set_property("top-k", rng.randint(0, 5))
            o.set_property("font-desc", rng.choice(["Sans", "Serif 30",
                                                    "Mono Bold", ""]))
            o.set_property("show-time", rng.random() < 0.5)

    t = threading.Thread(target=flip)
    t.start()
    p.set_state(Gst.State.PLAYING)
    n = 0
    while sink.emit("pull-sample") is not None:
        n += 1
    stop.set()
    t.join()
    err = p.get_bus().pop_filtered(Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    pt.check(err is None and n == 300, f"{n} frames, error {err}")
    print("ok: 300 frames (64x48, boxes larger than the frame) while "
          "properties changed")


def main():
    pt.setup(ARGS)
    test_formats()
    test_corners_and_options()
    test_no_meta_untouched()
    test_properties_while_playing()


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
