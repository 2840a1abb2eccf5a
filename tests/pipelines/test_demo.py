#!/usr/bin/python3
"""pipelines/demo.sh (--skip-setup: the build and the model are there
already; the setup steps are what tests/run.sh does too) runs to the end
and prints readable results: the top 3 of each photo (chelsea an Egyptian
cat, coffee an espresso) and one line per frame of the annotated clip,
whose files it leaves in --out.

Usage: test_demo.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import os
import re

import pipetest as pt


def main():
    tmp = pt.setup(ARGS)
    out = os.path.join(tmp, "demo")
    p = pt.run([pt.script("demo.sh"), "--skip-setup", "--build", ARGS.build,
                "--out", out])
    lines = p.stdout.splitlines()
    for photo, label in (("chelsea.png", "Egyptian cat"),
                         ("coffee.png", "espresso")):
        row = [ln for ln in lines if ln.startswith(photo)]
        pt.check(len(row) == 1 and re.search(rf"  {label} \d+\.\d%", row[0]),
                 f"{photo}: {row}\n{p.stdout}")
    frames = [ln for ln in lines if re.match(r"^ +\d+ \d:\d\d:\d\d\.\d{3} ", ln)]
    pt.check(len(frames) == 15 and "Egyptian cat" in frames[0]
             and "espresso" in frames[5] and "moped" in frames[10],
             f"{len(frames)} frame lines:\n{p.stdout}")
    for name in ("photos.jsonl", "clip.webm", "annotated.webm",
                 "annotated.jsonl"):
        pt.check(os.path.getsize(os.path.join(out, name)) > 0, name)
    print(f"ok: demo printed 6 photos and {len(frames)} frames")


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
