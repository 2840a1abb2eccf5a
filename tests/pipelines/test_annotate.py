#!/usr/bin/python3
"""pipelines/make-clip.sh and pipelines/annotate-video.sh on a clip of real
photos (chelsea, coffee, motorcycle: 5 frames each, 320x240):

- the annotated video decodes with the same frame count and timestamps;
- the labels were drawn: the top-left corner (inside the text box) changed
  a lot, the rest of the picture only by coding noise;
- the JSON Lines sidecar parses, one line per frame, frames 0..N-1 in
  order with the input's timestamps, k classes each, the right top-1 class
  on each photo;
- --interval 2 marks every other frame stale; sn-results.py shows and
  converts the sidecar (CSV: one row per class);
- bad input fails with a clear message: unknown extension, missing file,
  a file that is not a video.

Usage: test_annotate.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import csv
import os

import numpy as np

import pipetest as pt

FRAMES_PER_PHOTO, W, H, K = 5, 320, 240, 3
TOP1 = [pt.EGYPTIAN_CAT, pt.ESPRESSO, pt.MOPED]


def rgb(frame):
    pts, data, w, h, _ = frame
    return np.frombuffer(data, np.uint8).reshape(h, w, 3).astype(np.int16)


def check_drawn(src_frames, out_frames):
    """The overlay (top-left box) changed the corner, not the rest."""
    corner, rest = [], []
    for a, b in zip(src_frames, out_frames):
        d = np.abs(rgb(a) - rgb(b))
        corner.append(d[10:20, 10:40].mean())
        rest.append(d[H // 2:, W // 2:].mean())
    # Lossy coding changes every pixel a little (Theora's default quality:
    # up to ~10 levels on average); the box darkens by ~60 %.
    pt.check(min(corner) > 20, f"box corner barely changed: {corner}")
    pt.check(max(rest) < 12 and min(corner) > 3 * max(rest),
             f"picture outside the box changed: {rest} (corner {corner})")
    print(f"ok: corner changed by {min(corner):.0f}+ levels, the rest by "
          f"at most {max(rest):.1f} (coding noise)")


def check_sidecar(results, src_frames, interval=1):
    n = len(src_frames)
    pt.check(len(results) == n, f"{len(results)} JSON lines for {n} frames")
    for i, (r, f) in enumerate(zip(results, src_frames)):
        pt.check_result(r, K, f"line {i + 1}")
        pt.check(r["frame"] == i, f"line {i + 1}: frame {r['frame']}")
        pt.check(r["pts"] == f[0], f"frame {i}: pts {r['pts']} != {f[0]}")
        stale = interval > 1 and i % interval != 0
        pt.check(r["stale"] == stale and r["age"] == i % interval,
                 f"frame {i}: stale {r['stale']} age {r['age']}")
        want = TOP1[(i - r["age"]) // FRAMES_PER_PHOTO]  # classified frame
        pt.check(r["classes"][0]["id"] == want,
                 f"frame {i}: top-1 {r['classes'][0]} instead of {want}")
    print(f"ok: {n} JSON lines, top-1 per photo {TOP1}, interval {interval}")


def annotate(tmp, clip, out, extra=()):
    p = pt.run([pt.script("annotate-video.sh"), "--build", ARGS.build,
                "--top-k", str(K), *extra, clip, out])
    return p, os.path.splitext(out)[0] + ".jsonl"


def check_errors(tmp, clip):
    p = pt.run([pt.script("annotate-video.sh"), clip, f"{tmp}/x.flv"],
               expect=1)
    pt.check("extension" in p.stderr, p.stderr)
    p = pt.run([pt.script("annotate-video.sh"), f"{tmp}/none.webm",
                f"{tmp}/x.webm"], expect=1)
    pt.check("cannot read" in p.stderr, p.stderr)
    bad = f"{tmp}/bad.webm"
    with open(bad, "w") as f:
        f.write("not a video\n")
    p = pt.run([pt.script("annotate-video.sh"), "--build", ARGS.build, bad,
                f"{tmp}/x.webm"], expect=None)
    pt.check(p.returncode != 0 and "is not a video GStreamer can read"
             in p.stderr, p.stderr)
    print("ok: bad arguments and input refused with a message")


def main():
    tmp = pt.setup(ARGS)
    clip = f"{tmp}/clip.avi"
    pt.make_clip(["--size", f"{W}x{H}", "--frames", str(FRAMES_PER_PHOTO)],
                 clip)
    src = pt.decode_frames(clip)
    pt.check(len(src) == 3 * FRAMES_PER_PHOTO, f"clip has {len(src)} frames")

    for out in (f"{tmp}/annotated.webm", f"{tmp}/annotated.ogv"):
        _, sidecar = annotate(tmp, clip, out)
        got = pt.decode_frames(out)
        pt.check(len(got) == len(src), f"{out}: {len(got)} frames decoded, "
                 f"input {len(src)}")
        pt.check([f[0] for f in got] == [f[0] for f in src],
                 f"{out}: timestamps differ")
        print(f"ok: {os.path.basename(out)} decodes to {len(got)} frames")
        check_drawn(src, got)
        check_sidecar(pt.read_jsonl(sidecar), src)

    p, sidecar = annotate(tmp, clip, f"{tmp}/every2.avi",
                          ["--interval", "2", "--print"])
    check_sidecar(pt.read_jsonl(sidecar), src, interval=2)
    lines = [ln for ln in p.stdout.splitlines() if "%" in ln]
    pt.check(len(lines) == len(src) and "Egyptian cat" in lines[0]
             and "stale" in lines[1], f"--print output:\n{p.stdout}")
    p = pt.run(["/usr/bin/python3", pt.script("sn-results.py"), "csv", sidecar,
                f"{tmp}/every2.csv"])
    with open(f"{tmp}/every2.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    pt.check(len(rows) == K * len(src) and rows[0]["label"] == "Egyptian cat"
             and rows[0]["rank"] == "1", f"CSV rows: {rows[:2]}")
    print(f"ok: --print and CSV ({len(rows)} rows)")
    check_errors(tmp, clip)


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
