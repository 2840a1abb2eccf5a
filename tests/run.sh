#!/usr/bin/env bash
# The test command (README, .ci/run): install what is missing, configure,
# build, prepare the models, run the whole suite with meson test.
#   tests/run.sh [extra meson test args]
# Environment: SHUFFLENET_WEIGHTS_DIR (default ../shared/weights/megvii-shufflenet-v1),
#              BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
build="${BUILD_DIR:-build}"
export SHUFFLENET_WEIGHTS_DIR="${SHUFFLENET_WEIGHTS_DIR:-$top/../shared/weights/megvii-shufflenet-v1}"

tools/install-deps.sh

if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build"
fi
meson compile -C "$build"

# The element's default model (models/shufflenet_v1_g3_0.5x.onnx), as the
# demo prepares it; without the checkpoints the tests that need it skip.
models/fetch.sh || echo "run.sh: no pretrained model; tests that need it will skip"

status=0
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || status=$?

# One closing line a CI reader (and a person) can count on.
/usr/bin/python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "ERROR": 0, "EXPECTEDFAIL": 0, "UNEXPECTEDPASS": 0}
with open(sys.argv[1]) as f:
    for line in f:
        r = json.loads(line)
        counts[r["result"]] = counts.get(r["result"], 0) + 1
failed = counts["FAIL"] + counts["TIMEOUT"] + counts["ERROR"] + counts["UNEXPECTEDPASS"]
print(f"{counts['OK'] + counts['EXPECTEDFAIL']} passed, {failed} failed, {counts['SKIP']} skipped")
PY
exit $status
