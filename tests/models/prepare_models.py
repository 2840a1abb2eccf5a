#!/usr/bin/python3
"""Build step of the models tests: run models/fetch.sh --dest DIR once per
build and record the outcome in a JSON stamp the tests read, so that a
machine without the checkpoints still builds (the tests then skip) while a
broken conversion fails the tests loudly.

Usage: prepare_models.py FETCH_SH DEST_DIR STAMP.json
Stamp: {"status": "ok"|"unavailable"|"error", "message": str,
        "models": {name: onnx path}}
"""
import json
import os
import subprocess
import sys


def main(fetch, dest, stamp_path):
    p = subprocess.run(["bash", fetch, "--dest", dest], capture_output=True,
                       text=True)
    sys.stdout.write(p.stdout)
    sys.stdout.write(p.stderr)
    last = (p.stderr.strip().splitlines() or [""])[-1]
    models = {}
    if p.returncode == 0:
        status = "ok"
        for name in ("shufflenet_v1_g3_0.5x", "shufflenet_v1_g8_0.5x"):
            path = os.path.join(dest, name + ".onnx")
            if os.path.isfile(path):
                models[name] = path
        if len(models) != 2:
            status, last = "unavailable", "fetch.sh skipped the g8 checkpoint"
    elif p.returncode == 2:
        status = "unavailable"
    else:
        status = "error"
    tmp = stamp_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"status": status, "message": last, "models": models}, f,
                  indent=1)
    os.replace(tmp, stamp_path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
