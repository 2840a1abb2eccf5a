#!/usr/bin/python3
"""shufflenetjson: one JSON line per frame, to a file or standard output.

- every line parses; frames 0..N-1 with their pts and duration, k classes;
- standard output when no location is set (gst-launch-1.0 -q);
- append=true adds to the file; write-stale=false keeps classified frames
  only; flush-mode eos and fsync write the same lines;
- with flush-mode=line each line is in the file before its buffer reaches
  the sink;
- after videoscale/videoconvert (the meta survives them) the lines are
  the same; without the meta nothing is written;
- labels with quotes, backslashes, tabs and non-ASCII come back intact;
- an unwritable location and a full disk (/dev/full) fail with a message.

Usage: test_json.py --build BUILD_ROOT [--stamp MODELS_STAMP.json]
"""
import os

import pipetest as pt
from pipetest import Gst

N, K = 12, 2
SRC = (f"videotestsrc num-buffers={N} ! "
       "video/x-raw,format=I420,width=96,height=64,framerate=25/1")
FRAME_NS = 40000000


def launch(*words, expect=0):
    return pt.run(["gst-launch-1.0", "-q", *words], expect=expect)


def lines_of(tmp, name, classify=f"shufflenet top-k={K}", json="",
             between=""):
    path = f"{tmp}/{name}.jsonl"
    launch(*f"{SRC} ! {classify} ! {between} shufflenetjson {json}".split(),
           f"location={path}", "!", "fakesink")
    return pt.read_jsonl(path)


def check_lines(results, frames=range(N), where=""):
    pt.check([r["frame"] for r in results] == list(frames),
             f"{where}: frames {[r['frame'] for r in results]}")
    for r in results:
        pt.check_result(r, K, f"{where} frame {r['frame']}")
        pt.check(r["pts"] == r["frame"] * FRAME_NS
                 and r["duration"] == FRAME_NS
                 and r["stream_time"] == r["pts"] == r["running_time"],
                 f"{where}: times {r}")


def test_file_and_stdout(tmp):
    base = lines_of(tmp, "base")
    check_lines(base, where="file")
    p = launch(*f"{SRC} ! shufflenet top-k={K} ! shufflenetjson ! fakesink"
               .split())
    out = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    pt.check(len(out) == N, f"stdout: {len(out)} lines:\n{p.stdout}")
    print(f"ok: {N} lines to a file and to standard output")
    return base


def test_options(tmp, base):
    path = f"{tmp}/twice.jsonl"
    for _ in range(2):
        launch(*f"{SRC} ! shufflenet top-k={K} ! shufflenetjson append=true"
               .split(), f"location={path}", "!", "fakesink")
    twice = pt.read_jsonl(path)
    pt.check(len(twice) == 2 * N, f"append: {len(twice)} lines")
    fresh = lines_of(tmp, "fresh", f"shufflenet top-k={K} interval=3",
                     "write-stale=false")
    check_lines(fresh, range(0, N, 3), "write-stale=false")
    pt.check(not any(r["stale"] for r in fresh), "stale line written")
    for mode in ("eos", "fsync"):
        got = lines_of(tmp, mode, json=f"flush-mode={mode}")
        check_lines(got, where=mode)
    scaled = lines_of(tmp, "scaled", between="videoscale ! "
                      "video/x-raw,width=33,height=17 ! videoconvert ! "
                      "video/x-raw,format=NV12 !")
    pt.check([r["classes"] for r in scaled] == [r["classes"] for r in base],
             "after videoscale/videoconvert the classes differ")
    empty = lines_of(tmp, "empty", classify="identity")
    pt.check(empty == [], f"{len(empty)} lines without shufflenet")
    print("ok: append, write-stale, flush modes, after converters, no meta")


def test_flushed_per_line(tmp):
    path = f"{tmp}/live.jsonl"
    p = Gst.parse_launch(f"{SRC} ! shufflenet top-k={K} ! shufflenetjson "
                         "name=j ! appsink name=sink sync=false "
                         "max-buffers=1")
    p.get_by_name("j").set_property("location", path)
    sink = p.get_by_name("sink")
    p.set_state(Gst.State.PLAYING)
    for i in range(N):
        pt.check(sink.emit("pull-sample") is not None, f"no frame {i}")
        with open(path, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        pt.check(n >= i + 1, f"frame {i} at the sink, {n} lines in the file")
    p.set_state(Gst.State.NULL)
    print("ok: flush-mode=line: each line is in the file before its frame "
          "reaches the sink")


def test_odd_labels(tmp):
    labels = [f'cl"ass\\ {i}\tété ✓' for i in range(1000)]
    path = f"{tmp}/labels.txt"
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(labels) + "\n")
    got = lines_of(tmp, "odd", f"shufflenet top-k={K} labels={path}")
    check_lines(got, where="odd labels")
    for r in got:
        for c in r["classes"]:
            pt.check(c["label"] == labels[c["id"]],
                     f"label {c['label']!r} != {labels[c['id']]!r}")
    print("ok: quotes, backslashes, tabs and UTF-8 in labels survive")


def test_errors(tmp):
    p = launch(*f"{SRC} ! shufflenet ! shufflenetjson".split(),
               f"location={tmp}/no/such/dir/x.jsonl", "!", "fakesink",
               expect=None)
    pt.check(p.returncode != 0 and "Could not open file" in p.stdout
             + p.stderr, f"missing folder:\n{p.stdout}\n{p.stderr}")
    if os.path.exists("/dev/full"):
        p = launch(*f"{SRC} ! shufflenet ! shufflenetjson location=/dev/full "
                   "! fakesink".split(), expect=None)
        pt.check(p.returncode != 0 and "Could not write" in p.stdout
                 + p.stderr, f"/dev/full:\n{p.stdout}\n{p.stderr}")
    print("ok: unwritable location and full disk are errors")


def main():
    tmp = pt.setup(ARGS)
    base = test_file_and_stdout(tmp)
    test_options(tmp, base)
    test_flushed_per_line(tmp)
    test_odd_labels(tmp)
    test_errors(tmp)


if __name__ == "__main__":
    ARGS = pt.parse_args()
    main()
