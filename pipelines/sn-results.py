#!/usr/bin/python3
"""Show or convert the JSON Lines that shufflenetjson (and
classify-folder.py) write.

Usage:
  sn-results.py show FILE.jsonl        one readable line per frame or image
  sn-results.py csv FILE.jsonl [OUT]   CSV, one row per class (default OUT:
                                       standard output)

Reads "-" as standard input. Exit status 1 on a line that is not a result.
"""
import csv
import json
import sys

CSV_FIELDS = ("frame", "file", "pts", "stale", "age", "inference_ms", "rank",
              "id", "label", "score")


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


def show(path):
    rows = []
    for _, r in read_results(path):
        where = r.get("file") or f"{r.get('frame', '?'):>5} {clock(r.get('pts'))}"
        classes = " | ".join(f"{c['label']} {100 * c['score']:.1f}%"
                             for c in r["classes"]) or "(no class)"
        stale = f" (stale, {r.get('age')} frames old)" if r.get("stale") else ""
        rows.append((where, f"{r.get('inference_ms', 0):5.1f} ms  {classes}"
                     f"{stale}"))
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
    if out is not sys.stdout:
        out.close()


def main(argv):
    if len(argv) == 2 and argv[0] == "show":
        show(argv[1])
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
