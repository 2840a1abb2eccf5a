#!/usr/bin/env bash
# The suite under AddressSanitizer + UndefinedBehaviorSanitizer (gcc's, via
# meson -Db_sanitize=address,undefined), assertions on.
#
#   tests/reliability/run_sanitized.sh [extra meson test args]
#
# Environment: ASAN_BUILD_DIR (default build-asan), SHUFFLENET_WEIGHTS_DIR
# (as tests/run.sh), SANITIZE_EXCLUDE (extended regex of test names not to
# run, default below).
#
# Two runs. First every test executable of the project (instrumented), with
# leak checking: a leak, an invalid access or undefined behaviour aborts the
# test. Then (log testlog-hosted.json) the tests whose host process is not
# ours (gst-launch-1.0, gst-inspect-1.0, python with gi loading the
# instrumented plugin): ASan and UBSan preloaded, so bad accesses and
# undefined behaviour in our code still abort them, but no leak checking
# (the hosts' own allocations would drown it). The tests make their input
# clips without the preload (tests/pipelines/pipetest.py, make_clip:
# make-clip.sh runs no code of ours; its former decodebin + concat pipeline
# sometimes hung with ASan preloaded); pipelines-demo is left out of this run
# because demo.sh makes its clip inside the script (the
# element's paths it takes are the other pipeline tests'). Not run here:
# python-only tests that run no code of ours (converter, fetch script,
# labels) and the fuzz suite, which builds its own clang ASan binaries in
# the plain build. The soak runs its 10,000 frames with the resident-memory and
# latency bounds reported, not enforced (freed memory sits in ASan's
# quarantine, ~150 MB over the soak; leaks are LeakSanitizer's job here).
# A leak, an invalid access or undefined behaviour aborts the test.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
build="${ASAN_BUILD_DIR:-build-asan}"
export SHUFFLENET_WEIGHTS_DIR="${SHUFFLENET_WEIGHTS_DIR:-$top/../shared/weights/megvii-shufflenet-v1}"
exclude="${SANITIZE_EXCLUDE:-^(pipelines-.*|gst-meta-python|gst-inspect-launch-line|models-labels|models-fetch|models-convert-errors|models-convert-sizes|fuzz)$}"

opts=(-Db_sanitize=address,undefined -Db_lundef=false -Db_ndebug=false)
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" "${opts[@]}" >/dev/null
else
  meson setup "$build" "${opts[@]}"
fi
meson compile -C "$build"

# fast_unwind_on_malloc=0: full allocation stacks through GLib (no frame
# pointers there), which the LSan suppressions need.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0:print_summary=1"
export LSAN_OPTIONS="suppressions=$top/tests/reliability/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1"
# Scan plugins in the (instrumented) test process: the uninstrumented
# gst-plugin-scanner cannot load an ASan plugin and would blacklist it.
export GST_REGISTRY_FORK=no
# But only ours: each registry the tests use first gets the system's
# plugins as the uninstrumented scanner sees them, so a test loads the
# system plugins it uses, not all of them (scanning every installed plugin
# in-process ran their initialisation under LeakSanitizer: libudev device
# monitors, fontconfig, openni2 leak there).
for registry in "$build/tests/gst/registry.bin" \
    "$build/tests/pipelines/registry.bin" ""; do
  env -u GST_PLUGIN_PATH GST_PLUGIN_PATH_1_0= GST_REGISTRY_FORK=yes \
    ${registry:+GST_REGISTRY_1_0="$registry"} gst-inspect-1.0 >/dev/null 2>&1 \
    || true
done

mapfile -t tests < <(meson test -C "$build" --list 2>/dev/null \
  | sed -n 's|^.* / ||p' | grep -Ev "$exclude")
echo "sanitized run: ${#tests[@]} tests (excluded: $exclude)"
status=0
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" "${tests[@]}" \
  || status=$?

hosted_re='^(pipelines-.*|gst-meta-python|gst-inspect-launch-line)$'
mapfile -t hosted < <(meson test -C "$build" --list 2>/dev/null \
  | sed -n 's|^.* / ||p' | grep -E "$hosted_re" | grep -Ev '^pipelines-demo$')
if [ $# -eq 0 ] && [ ${#hosted[@]} -gt 0 ]; then
  echo "sanitized run, hosted tests with ASan preloaded: ${#hosted[@]} tests"
  rm -f "$build/meson-logs/testlog-hosted.json"
  env LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=0:print_summary=1" \
    meson test -C "$build" --logbase testlog-hosted --print-errorlogs \
    --num-processes 2 "${hosted[@]}" || status=1
fi
exit $status
