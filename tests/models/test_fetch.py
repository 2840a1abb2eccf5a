#!/usr/bin/python3
"""models/fetch.sh: sources, checksums, idempotence, and its errors.

  - no source has the checkpoints: ONE line naming SHUFFLENET_WEIGHTS_DIR,
    exit 2, quickly, nothing written;
  - a modified copy in SHUFFLENET_WEIGHTS_DIR: one sha256 error line,
    exit 1, no model written;
  - a download (file:// mirror through SHUFFLENET_WEIGHTS_URL) of a
    modified copy: the same, and nothing kept in the cache;
  - an unreachable mirror: one error line, exit 1, within seconds;
  - a good mirror: both models converted, the checkpoints cached; a second
    run converts nothing and leaves the models untouched; a checkpoint
    newer than its model is converted again;
  - a bad argument: one error line.

Usage: test_fetch.py FETCH_SH   (cases that need the real checkpoints are
skipped without SHUFFLENET_WEIGHTS_DIR)
"""
import os
import shutil
import sys
import tempfile
import time

import modeltest

G3, G8 = "shufflenet_v1_g3_0.5x", "shufflenet_v1_g8_0.5x"


def fetch(script, dest, weights_dir="", url="", cache="", args=None):
    """Run fetch.sh --dest dest with exactly these sources; returns
    (rc, stdout, stderr, seconds)."""
    env = {"SHUFFLENET_WEIGHTS_DIR": weights_dir,
           "SHUFFLENET_WEIGHTS_URL": url, "SHUFFLENET_CACHE_DIR": cache}
    start = time.monotonic()
    rc, out, err = modeltest.run(["bash", script] + (args or ["--dest",
                                                             dest]), env=env)
    return rc, out, err, time.monotonic() - start


def expect_error(checks, what, result, rc_want, text, dest, max_s=None):
    rc, _, err, secs = result
    line = modeltest.one_error_line(err)
    checks.check(rc == rc_want and line is not None and text in line,
                 f"{what}: exit {rc_want}, one line with '{text}'",
                 f"exit {rc}: {line or err.strip()[-300:]}")
    checks.check(modeltest.leftovers(dest) == [],
                 f"{what}: no model written", str(modeltest.leftovers(dest)))
    if max_s is not None:
        checks.check(secs <= max_s, f"{what}: done in <= {max_s} s",
                     f"{secs:.1f} s")


def modified_copy(weights, folder):
    """folder/ with both checkpoints, the g3 one with one byte changed."""
    os.makedirs(folder)
    for name in (G3, G8):
        shutil.copy(os.path.join(weights, name + ".pth.tar"), folder)
    path = os.path.join(folder, G3 + ".pth.tar")
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(100000)
        byte = f.read(1)
        f.seek(100000)
        f.write(bytes([byte[0] ^ 1]))


def offline_cases(checks, script, tmp):
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    dest = os.path.join(tmp, "dest-missing")
    expect_error(checks, "no checkpoints anywhere",
                 fetch(script, dest, empty, "", os.path.join(tmp, "c0")),
                 2, "SHUFFLENET_WEIGHTS_DIR", dest, max_s=10)
    dest = os.path.join(tmp, "dest-unreachable")
    # port 9 (discard) on localhost: connection refused at once
    expect_error(checks, "unreachable mirror",
                 fetch(script, dest, empty, "http://127.0.0.1:9/w",
                       os.path.join(tmp, "c1")),
                 1, "download", dest, max_s=15)
    rc, _, err, _ = fetch(script, "", args=["--bogus"])
    line = modeltest.one_error_line(err)
    checks.check(rc == 1 and line is not None and "--bogus" in line,
                 "bad argument: exit 1, one error line", line or err)


def checksum_cases(checks, script, weights, tmp):
    bad = os.path.join(tmp, "bad")
    modified_copy(weights, bad)
    dest = os.path.join(tmp, "dest-bad-local")
    expect_error(checks, "modified copy in SHUFFLENET_WEIGHTS_DIR",
                 fetch(script, dest, bad, "", os.path.join(tmp, "c2")),
                 1, "sha256", dest)
    dest, cache = os.path.join(tmp, "dest-bad-mirror"), \
        os.path.join(tmp, "c3")
    expect_error(checks, "modified copy from a mirror",
                 fetch(script, dest, os.path.join(tmp, "empty"),
                       "file://" + bad, cache), 1, "sha256", dest)
    checks.check(modeltest.leftovers(cache) == [],
                 "the bad download is not kept in the cache",
                 str(modeltest.leftovers(cache)))


def download_cases(checks, script, weights, tmp):
    dest, cache = os.path.join(tmp, "dest-good"), os.path.join(tmp, "c4")
    empty = os.path.join(tmp, "empty")
    rc, out, err, _ = fetch(script, dest, empty, "file://" + weights, cache)
    want = [G3 + ".onnx", G8 + ".onnx"]
    checks.check(rc == 0 and modeltest.leftovers(dest) == want,
                 "good mirror: both models converted",
                 f"exit {rc}: {err.strip()[-300:]} "
                 f"{modeltest.leftovers(dest)}")
    checks.check(modeltest.leftovers(cache) == [G3 + ".pth.tar",
                                                G8 + ".pth.tar"],
                 "good mirror: checkpoints cached",
                 str(modeltest.leftovers(cache)))
    if rc != 0:
        return
    models = [os.path.join(dest, f) for f in want]
    stamps = [os.stat(m).st_mtime_ns for m in models]
    # second run: everything from the cache, nothing converted
    rc, out, err, secs = fetch(script, dest, empty, "", cache)
    checks.check(rc == 0 and out.count("up to date") == 2
                 and [os.stat(m).st_mtime_ns for m in models] == stamps,
                 "second run converts nothing", f"{secs:.1f} s: {out}{err}")
    # a checkpoint newer than its model: that model only is converted again
    future = time.time() + 5
    os.utime(os.path.join(cache, G8 + ".pth.tar"), (future, future))
    rc, out, err, _ = fetch(script, dest, empty, "", cache)
    checks.check(rc == 0 and "up to date" in out and "converted" in out
                 and os.stat(models[0]).st_mtime_ns == stamps[0]
                 and os.stat(models[1]).st_mtime_ns != stamps[1],
                 "a newer checkpoint is converted again, the other not",
                 out + err)


def main():
    if len(sys.argv) != 2:
        print("usage: test_fetch.py FETCH_SH", file=sys.stderr)
        return 2
    script = sys.argv[1]
    weights = modeltest.weights_dir()
    checks = modeltest.Checks("fetch")
    with tempfile.TemporaryDirectory() as tmp:
        offline_cases(checks, script, tmp)
        if weights is None:
            print("note: SHUFFLENET_WEIGHTS_DIR unset: checksum and "
                  "download cases skipped")
        else:
            checksum_cases(checks, script, weights, tmp)
            download_cases(checks, script, weights, tmp)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
