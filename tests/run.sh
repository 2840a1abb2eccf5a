#!/usr/bin/env bash
# The test command (README, .ci/run): install what is missing, configure,
# build, prepare the models, run the whole suite with meson test.
#   tests/run.sh [extra meson test args]
# Environment: SHUFFLENET_WEIGHTS_DIR (default ../shared/weights/megvii-shufflenet-v1),
#              BUILD_DIR (default build),
#              SHUFFLENET_SANITIZE=0 to skip the ASan/UBSan pass,
#              SHUFFLENET_VALGRIND=0 to skip the memcheck pass,
#              SHUFFLENET_TSAN=0 to skip the ThreadSanitizer pass.
# Four passes, each failing the run on any failure:
#   1. the whole suite (meson test) on the normal build;
#   2. the suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#      (tests/reliability/run_sanitized.sh, its own build folder);
#   3. the element and engine C tests under valgrind memcheck
#      (meson test --setup valgrind: no definite/indirect leak, no invalid
#      access; suppressions in tests/valgrind.supp);
#   4. the engine's threaded tests and the element's multi-threaded tests
#      under ThreadSanitizer (tests/reliability/run_tsan.sh: clang-14, LLVM's
#      libomp with Archer, its own build folder build-tsan; no report; the
#      element's GLib-ordered handoffs suppressed in tests/tsan.supp).
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

# The memcheck pass: the element's tests and the engine's API test.
valgrind_default="gst-element gst-errors engine-api preprocess"

status=0
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" || status=$?
logs=("$build/meson-logs/testlog.json")

if [ "${SHUFFLENET_SANITIZE:-1}" != 0 ] && [ $# -eq 0 ]; then
  echo "run.sh: pass 2: the suite under ASan + UBSan"
  asan_build="${ASAN_BUILD_DIR:-build-asan}"
  rm -f "$asan_build"/meson-logs/testlog{,-hosted}.json   # no stale counts
  ASAN_BUILD_DIR="$asan_build" tests/reliability/run_sanitized.sh || status=1
  logs+=("$asan_build/meson-logs/testlog.json"
         "$asan_build/meson-logs/testlog-hosted.json")
fi

if [ "${SHUFFLENET_VALGRIND:-1}" != 0 ] && [ $# -eq 0 ]; then
  echo "run.sh: pass 3: element and engine tests under valgrind memcheck"
  rm -f "$build/meson-logs/testlog-valgrind.json"
  read -r -a valgrind_tests <<< "${SHUFFLENET_VALGRIND_TESTS:-$valgrind_default}"
  meson test -C "$build" --setup valgrind --print-errorlogs --num-processes 2 \
    "${valgrind_tests[@]}" || status=1
  logs+=("$build/meson-logs/testlog-valgrind.json")
fi

if [ "${SHUFFLENET_TSAN:-1}" != 0 ] && [ $# -eq 0 ]; then
  echo "run.sh: pass 4: threaded tests under ThreadSanitizer"
  tsan_status=0
  BUILD_DIR="$build" tests/reliability/run_tsan.sh || tsan_status=$?
  if [ "$tsan_status" = 77 ]; then
    echo "run.sh: ThreadSanitizer pass skipped (clang-14 or libomp-14-dev missing)"
  else
    [ "$tsan_status" = 0 ] || status=1
    logs+=("$build/meson-logs/testlog-tsan-engine-tsan_wrap.sh.json"
           "$build/meson-logs/testlog-tsan-element-tsan_wrap.sh.json")
  fi
fi

# One closing line a CI reader (and a person) can count on.
/usr/bin/python3 - "${logs[@]}" <<'PY'
import json, os, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "ERROR": 0, "EXPECTEDFAIL": 0, "UNEXPECTEDPASS": 0}
passes = []
for path in sys.argv[1:]:
    if not os.path.exists(path):
        print(f"run.sh: {path} is missing: that pass did not run its tests")
        counts["ERROR"] += 1
        continue
    n = 0
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            counts[r["result"]] = counts.get(r["result"], 0) + 1
            n += 1
    passes.append(f"{os.path.basename(os.path.dirname(os.path.dirname(path)))}/{os.path.basename(path)}: {n}")
failed = counts["FAIL"] + counts["TIMEOUT"] + counts["ERROR"] + counts["UNEXPECTEDPASS"]
print("runs: " + ", ".join(passes))
print(f"{counts['OK'] + counts['EXPECTEDFAIL']} passed, {failed} failed, {counts['SKIP']} skipped")
PY
exit $status
