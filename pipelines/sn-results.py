#!/usr/bin/python3
"""Show or convert the JSON Lines that shufflenetjson (and
classify-folder.py) write.

Usage:
  sn-results.py show FILE.jsonl        one readable line per frame or image
  sn-results.py changes FILE.jsonl     how often the top-1 class changes:
                                       changes, minutes of video, changes
                                       per minute (frames; objects by id)
  sn-results.py csv FILE.jsonl [OUT]   CSV, one row per class (default OUT:
                                       standard output); for region results
                                       (shufflenet inference-region=roi-list)
                                       one row per class of each object

Reads "-" as standard input. Exit status 1 on a line that is not a result.
"""
import csv
import json
import sys

CSV_FIELDS = ("frame", "file", "pts", "object", "roi_type", "x", "y", "w", "h",
              "stale", "age", "inference_ms", "rank", "id", "label", "score")


def read_results(path):
    """Yields (line number, result dict) for each non-empty line."""
    f = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                result = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{number}: not JSON: {e}")
            if not isinstance(result, dict) or not isinstance(
                    result.get("classes"), list):
                raise SystemExit(f"{path}:{number}: not a result (no "
                                 "\"classes\" list)")
            yield number, result


def clock(ns):
    """Nanoseconds as H:MM:SS.mmm, like GStreamer prints times."""
    if ns is None:
        return "-"
    s, ms = divmod(int(ns) // 1000000, 1000)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}.{ms:03d}"


def describe(classes, result):
    """'label 63.5% | ...' and a stale note."""
    text = " | ".join(f"{c['label']} {100 * c['score']:.1f}%"
                      for c in classes) or "(no class)"
    if result.get("stale"):
        text += f" (stale, {result.get('age')} frames old)"
    return text


def show(path):
    rows = []
    for _, r in read_results(path):
        where = r.get("file") or f"{r.get('frame', '?'):>5} {clock(r.get('pts'))}"
        if "objects" not in r:
            rows.append((where, f"{r.get('inference_ms', 0):5.1f} ms  "
                         f"{describe(r['classes'], r)}"))
            continue
        objects = [f"{o.get('roi_type')} #{o.get('id')} at {o.get('x')},"
                   f"{o.get('y')} {o.get('w')}x{o.get('h')}: "
                   f"{describe(o.get('classes', []), o)}"
                   for o in r["objects"]]
        rows.append((where, f"{r.get('inference_ms', 0):5.1f} ms  "
                     + ("; ".join(objects) or "(no object)")))
    width = max((len(where) for where, _ in rows), default=0)
    for where, rest in rows:
        print(f"{where:<{width}}  {rest}")


def to_csv(path, out_path=None):
    out = open(out_path, "w", newline="", encoding="utf-8") if out_path \
        else sys.stdout
    writer = csv.DictWriter(out, CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for _, r in read_results(path):
        for rank, c in enumerate(r["classes"], 1):
            writer.writerow({**r, "rank": rank, **c})
        for o in r.get("objects", []):
            for rank, c in enumerate(o.get("classes", []), 1):
                writer.writerow({**r, **o, "object": o.get("id"),
                                 "rank": rank, **c})
    if out is not sys.stdout:
        out.close()


def changes(path):
    """Top-1 changes of the frames (and of each object id) over the video's
    duration, from the lines' pts."""
    last, count, first_pts, last_pts = {}, 0, None, None
    for _, r in read_results(path):
        pts = r.get("pts")
        if pts is not None:
            first_pts = pts if first_pts is None else first_pts
            last_pts = pts + (r.get("duration") or 0)
        tops = {"frame": r["classes"][0]["id"] if r["classes"] else None}
        for o in r.get("objects", []):
            if o.get("id") and o.get("classes"):
                tops[f"object {o['id']}"] = o["classes"][0]["id"]
        for key, top in tops.items():
            if top is None:
                continue
            if key in last and last[key] != top:
                count += 1
            last[key] = top
    minutes = (last_pts - first_pts) / 60e9 if first_pts is not None else 0
    rate = f"{count / minutes:.1f}" if minutes > 0 else "-"
    print(f"{count} top-1 changes in {minutes:.2f} min: {rate} per minute")


def main(argv):
    if len(argv) == 2 and argv[0] == "show":
        show(argv[1])
    elif len(argv) == 2 and argv[0] == "changes":
        changes(argv[1])
    elif len(argv) in (2, 3) and argv[0] == "csv":
        to_csv(*argv[1:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
    except OSError as e:
        sys.exit(f"sn-results.py: {e}")
