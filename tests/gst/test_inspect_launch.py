#!/usr/bin/python3
"""gst-inspect-1.0 shufflenet documents an example launch line, and that
line runs as written with gst-launch-1.0: it exits 0 and prints one
"shufflenet" element message per frame (30). The default model comes from
$SHUFFLENET_MODEL_DIR (tests/gst/meson.build points it at the test model).
"""
import re
import shlex
import subprocess
import sys


def main():
    inspect = subprocess.run(["gst-inspect-1.0", "shufflenet"],
                             capture_output=True, text=True, timeout=120)
    if inspect.returncode != 0:
        sys.exit("gst-inspect-1.0 shufflenet failed:\n" + inspect.stderr)
    for needle in ("Example: gst-launch-1.0", "model", "top-k", "interval",
                   "resize-mode", "channel-order", "latency"):
        if needle not in inspect.stdout:
            sys.exit(f"gst-inspect output lacks {needle!r}")
    line = re.search(r"Example: (gst-launch-1\.0 [^\n]*)", inspect.stdout)
    argv = shlex.split(line.group(1))
    print("running:", " ".join(argv))
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    results = re.findall(r"\(element\): shufflenet, ", run.stdout)
    if run.returncode != 0:
        sys.exit(f"exit status {run.returncode}:\n{run.stdout}\n{run.stderr}")
    if len(results) != 30:
        sys.exit(f"{len(results)} shufflenet messages instead of 30:\n"
                 + run.stdout)
    print(f"ok: {len(results)} shufflenet messages")


if __name__ == "__main__":
    main()
