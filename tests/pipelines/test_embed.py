#!/usr/bin/python3
"""The embedding examples, pipelines/embed/sn-classify.c (built by meson
against <gst/shufflenet/gstshufflenetmeta.h> laid out as installed) and
pipelines/embed/sn-classify.py (GI), on a real photo, on a clip of photos
and on videotestsrc: every frame's result is printed from the pad probe
(meta) and from the bus message, the two agree, the photo is an Egyptian
cat; a file that does not decode exits 1 with GStreamer's message. With
--regions (facedetect, then shufflenet inference-region=roi-list) on the
astronaut: her face's result from the meta, the message and the ROI
meta's "shufflenet" parameter agree.

Usage: test_embed.py --build BUILD_ROOT --c-program SN_CLASSIFY
           [--stamp MODELS_STAMP.json]
"""
import re

import pipetest as pt

LINE = re.compile(r"^(meta|message) +frame +(\d+) pts +\S+.*?: (.*)$")


def results(stdout):
    """{"meta"|"message": {frame: classes text}} and the summary line."""
    got = {"meta": {}, "message": {}}
    for line in stdout.splitlines():
        m = LINE.match(line)
        if m:
            got[m.group(1)][int(m.group(2))] = m.group(3)
    summary = re.search(r"frames: (\d+), with a meta: (\d+), bus messages: "
                        r"(-?\d+)", stdout)
    pt.check(summary is not None, f"no summary:\n{stdout}")
    return got, [int(x) for x in summary.groups()]


def check_run(name, argv, frames, first_label=None):
    p = pt.run(argv + ["--top-k", "2"])
    got, counts = results(p.stdout)
    pt.check(counts == [frames] * 3, f"{name}: counts {counts}")
    pt.check(sorted(got["meta"]) == list(range(frames))
             and got["meta"] == got["message"],
             f"{name}: meta and messages differ:\n{p.stdout}")
    first = got["meta"][0]
    pt.check(len(first.split(", ")) == 2, f"{name}: {first}")
    if first_label:
        pt.check(first.startswith(first_label), f"{name}: {first}")
    print(f"ok: {name}: {frames} frames, meta == messages; frame 0: {first}")


REGION = re.compile(r"^(meta|message) +frame +(\d+) region (\d+) (\S+) "
                    r"(\d+),(\d+) (\d+)x(\d+): (\S+) (.*?) ([\d.]+)(,|$)")
PARAM = re.compile(r"^param +frame +(\d+) region (\d+): (\d+) (.*) ([\d.]+)$")


def check_regions(name, argv):
    p = pt.run(argv + ["--regions", pt.photo("astronaut.png")])
    regions = [REGION.match(line) for line in p.stdout.splitlines()]
    regions = {m.group(1): m.groups()[1:] for m in regions if m}
    params = [PARAM.match(line) for line in p.stdout.splitlines()]
    params = [m.groups() for m in params if m]
    pt.check(set(regions) == {"meta", "message"} and len(params) == 1,
             f"{name}: regions {regions}, parameters {params}:\n{p.stdout}")
    meta = regions["meta"]
    pt.check(meta == regions["message"] and meta[2] == "face"
             and meta[3:7] == ("175", "64", "97", "97"),
             f"{name}: meta {meta}, message {regions['message']}")
    # the parameter's label_id, label and confidence: the region's top-1
    pt.check(params[0][2:] == (meta[7], meta[8], meta[9]),
             f"{name}: parameter {params[0]}, region {meta}")
    print(f"ok: {name}: the face at 175,64 97x97 is {meta[8]} {meta[9]} in "
          "the meta, the message and the ROI parameter")


def main():
    tmp = pt.setup(ARGS)
    clip = f"{tmp}/clip.avi"
    pt.make_clip(["--size", "160x120", "--frames", "2"], clip)
    bad = f"{tmp}/bad.avi"
    with open(bad, "w") as f:
        f.write("not a video\n")
    programs = {"C": [ARGS.c_program],
                "Python": ["/usr/bin/python3",
                           pt.script("embed/sn-classify.py")]}
    for lang, argv in programs.items():
        check_run(f"{lang} photo", argv + [pt.photo("chelsea.png")], 1,
                  f"{pt.EGYPTIAN_CAT} Egyptian cat")
        check_run(f"{lang} clip", argv + [clip], 6,
                  f"{pt.EGYPTIAN_CAT} Egyptian cat")
        check_run(f"{lang} videotestsrc", argv, 30)
        check_regions(f"{lang} regions", argv)
        p = pt.run(argv + [bad], expect=1)
        pt.check("sn-classify" in p.stderr and "bus messages: -1" in p.stdout,
                 f"{lang} bad file:\n{p.stdout}\n{p.stderr}")
        print(f"ok: {lang}: a file that does not decode fails with a message")


if __name__ == "__main__":
    ARGS = pt.parse_args(["--c-program"])
    main()
