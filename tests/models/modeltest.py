"""Shared helpers of the tests in tests/models/ (run with /usr/bin/python3
from meson test; each test prints a line per check and exits 0 on success,
1 on failure, 77 to skip)."""
import json
import os
import subprocess
import sys

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_ROOT = os.path.dirname(os.path.dirname(TESTS_DIR))
MODELS_DIR = os.path.join(SRC_ROOT, "models")
sys.path.insert(0, MODELS_DIR)

SKIP = 77
# The checkpoints the tests use: name -> the file's name in
# SHUFFLENET_WEIGHTS_DIR.
CHECKPOINTS = {name: name + ".pth.tar"
               for name in ("shufflenet_v1_g3_0.5x", "shufflenet_v1_g8_0.5x")}


class Checks:
    """Collects named pass/fail checks and prints one line each."""

    def __init__(self, prefix):
        self.prefix, self.failed, self.passed = prefix, 0, 0

    def check(self, ok, what, detail=""):
        status = "ok  " if ok else "FAIL"
        print(f"{status} {what}{': ' + detail if detail else ''}",
              flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    def finish(self):
        print(f"{self.prefix}: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def weights_dir():
    """SHUFFLENET_WEIGHTS_DIR if it holds the test checkpoints, else None."""
    folder = os.environ.get("SHUFFLENET_WEIGHTS_DIR", "")
    if folder and all(os.path.isfile(os.path.join(folder, f))
                      for f in CHECKPOINTS.values()):
        return folder
    return None


def load_stamp(path):
    """The converted models from prepare_models.py's stamp: {name: onnx
    path}. Exits with SKIP when the checkpoints were unavailable, 1 when the
    conversion failed."""
    with open(path, encoding="utf-8") as f:
        stamp = json.load(f)
    if stamp["status"] == "unavailable":
        print(f"SKIP: no checkpoints: {stamp['message']}")
        sys.exit(SKIP)
    if stamp["status"] != "ok":
        print(f"FAIL: models/fetch.sh failed: {stamp['message']}")
        sys.exit(1)
    return stamp["models"]


def run(cmd, env=None, timeout=300):
    """Run cmd, return (returncode, stdout, stderr)."""
    full_env = dict(os.environ, **(env or {}))
    p = subprocess.run(cmd, capture_output=True, text=True, env=full_env,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def one_error_line(stderr):
    """The single non-empty line of stderr, or None when there are 0 or
    several."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else None


def leftovers(folder):
    """Files in folder (a failed run must leave none: no output, no
    temporary file)."""
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []
