#!/usr/bin/python3
"""pipelines/classify-folder.py on a folder of real photos (skimage's
chelsea, coffee, motorcycle and a JPEG) plus a file that is not an image:

- JSON Lines: one line per image that decodes, in name order, with its
  size and k classes; the right top-1 for the cat, the coffee and the
  motorcycle; the broken file reported on stderr, exit status 1;
- CSV: a header and one row per class, the same classes as the JSON;
- the same through sn-results.py csv;
- an empty folder and a missing model are errors with a message.

Usage: test_folder.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import csv
import io
import json
import os

import pipetest as pt

K = 4
PHOTOS = {"a-chelsea.png": ("chelsea.png", 451, 300, pt.EGYPTIAN_CAT),
          "b-coffee.png": ("coffee.png", 600, 400, pt.ESPRESSO),
          "c-moto.png": ("motorcycle_right.png", None, None, pt.MOPED),
          "d-rocket.jpg": ("rocket.jpg", None, None, None)}


def folder_cmd(folder, *extra):
    return ["/usr/bin/python3", pt.script("classify-folder.py"), "--build",
            ARGS.build, "--top-k", str(K), *extra, folder]


def main():
    tmp = pt.setup(ARGS)
    folder = os.path.join(tmp, "photos")
    os.mkdir(folder)
    for name, (src, *_) in PHOTOS.items():
        os.symlink(pt.photo(src), os.path.join(folder, name))
    with open(os.path.join(folder, "e-broken.png"), "w") as f:
        f.write("this is not a PNG\n")
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("skipped: not an image extension\n")

    p = pt.run(folder_cmd(folder), expect=1)
    pt.check("e-broken.png" in p.stderr and "4 of 5" in p.stderr, p.stderr)
    results = [json.loads(ln) for ln in p.stdout.splitlines()]
    pt.check([r["file"] for r in results] == list(PHOTOS),
             f"files {[r['file'] for r in results]}")
    for r in results:
        _, w, h, top1 = PHOTOS[r["file"]]
        pt.check(len(r["classes"]) == K and r["inference_ms"] > 0, str(r))
        pt.check(w is None or (r["width"], r["height"]) == (w, h), str(r))
        pt.check(top1 is None or r["classes"][0]["id"] == top1,
                 f"{r['file']}: top-1 {r['classes'][0]}, want {top1}")
    print(f"ok: JSON lines for {len(results)} images, broken file reported")

    out = os.path.join(tmp, "photos.csv")
    pt.run(folder_cmd(folder, "--format", "csv", "--output", out), expect=1)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    pt.check(len(rows) == K * len(results), f"{len(rows)} CSV rows")
    want = [(r["file"], str(c["id"])) for r in results for c in r["classes"]]
    pt.check([(row["file"], row["id"]) for row in rows] == want,
             "CSV classes differ from the JSON lines")
    jsonl = os.path.join(tmp, "photos.jsonl")
    with open(jsonl, "w") as f:
        f.write(p.stdout)
    p2 = pt.run(["/usr/bin/python3", pt.script("sn-results.py"), "csv", jsonl])
    rows2 = list(csv.DictReader(io.StringIO(p2.stdout)))
    pt.check([(r["file"], r["id"]) for r in rows2] == want,
             "sn-results.py csv differs")
    print(f"ok: CSV, {len(rows)} rows, also through sn-results.py")

    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    p = pt.run(folder_cmd(empty), expect=1)
    pt.check("no image files" in p.stderr, p.stderr)
    p = pt.run(folder_cmd(folder, "--model", "/no/such.onnx"), expect=1)
    pt.check("does not exist" in p.stderr and p.stderr.count("\n") <= 2,
             f"missing model:\n{p.stderr}")
    print("ok: empty folder and missing model refused")


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
