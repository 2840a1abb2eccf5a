#!/usr/bin/env bash
# The ThreadSanitizer pass (tests/run.sh, pass 4): the engine's threaded
# tests and the element's multi-threaded tests, built with clang-14
# -fsanitize=thread and LLVM's OpenMP runtime (libomp), whose Archer tool
# tells TSan what OpenMP's own synchronization orders (GCC's libgomp is not
# TSan-aware).
#
#   tests/reliability/run_tsan.sh [extra meson test args]
#
# Environment: BUILD_DIR (default build: the configured and built plain
# build), TSAN_BUILD_DIR (default build-tsan), SHUFFLENET_TSAN_SOAK_FRAMES
# (default 300: faults-soak's frames here; the plain suite runs 10,000).
#
# Only programs are built in TSAN_BUILD_DIR (about 30 s on 2 cores): the
# tests run from the plain build (`meson test -C BUILD_DIR --wrapper
# tsan_wrap.sh`, which swaps each program of the plain build for its TSan
# build and loads the TSan plugin), with the plain build's models and data.
# Two runs, each failing on any report (TSan exits 66 after reporting):
#  1. the engine, without suppressions: engine-api (1-3 threads, batches,
#     sn_context_parallel, runs after the helpers fell asleep) and
#     engine-cli-threads (shufflenet-cli bench on 1-3 threads, batches,
#     --gap 1 and 40 ms, --profile); log testlog-tsan-engine-*;
#  2. the element's multi-threaded C tests (tests/gst, tests/faults) with
#     tests/tsan.supp: GLib's locks are invisible to TSan and each
#     suppression there names the lock that orders what it hides; log
#     testlog-tsan-element-*.
# ignore_noninstrumented_modules=1: calls that uninstrumented libraries
# (GLib, GStreamer, libomp) make to intercepted functions (malloc, free,
# memcpy, pthread_mutex_*) are not checked; their ordering is invisible.
# Exit 77 when clang-14 or libomp-14-dev (Archer) is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
plain=$(cd "${BUILD_DIR:-build}" && pwd)
tsan=$top/${TSAN_BUILD_DIR:-build-tsan}
cc=clang-14

if ! command -v "$cc" >/dev/null; then
  echo "SKIP: $cc not found (Debian: clang-14)"
  exit 77
fi
archer=$(dirname "$(readlink -f "$(command -v "$cc")")")/../lib/libarcher.so
if [ ! -f "$archer" ]; then
  echo "SKIP: $archer not found (Debian: libomp-14-dev)"
  exit 77
fi

# -O2 -g: reports name inlined functions and lines.
opts=(-Db_sanitize=thread -Db_lundef=false -Dbuildtype=debugoptimized)
if [ -f "$tsan/build.ninja" ]; then
  meson setup --reconfigure "$tsan" "${opts[@]}" >/dev/null
else
  CC=$cc meson setup "$tsan" "${opts[@]}" >/dev/null
fi

engine_tests=(engine-api engine-cli-threads)
element_tests=(gst-element gst-errors gst-stress gst-regions gst-temporal
               gst-track
               faults-midstream faults-multi faults-soak)
# The programs those tests run (their executables, and the CLI and plugin
# they load), by their meson target names.
meson compile -C "$tsan" shufflenet-cli test_engine gstshufflenet \
  test_element test_errors test_stress test_regions test_temporal test_track \
  test_midstream test_multi test_soak >/dev/null

# The system's plugins as the uninstrumented gst-plugin-scanner sees them,
# in the TSan runs' registry: each test then scans only our plugin
# in-process (GST_REGISTRY_FORK=no, tsan_wrap.sh), and loads the system's
# plugins it uses, not all of them (opencv's and others' libraries make
# their own reports at load).
env -u GST_PLUGIN_PATH GST_PLUGIN_PATH_1_0= \
  GST_REGISTRY_1_0="$tsan/registry-tsan.bin" gst-inspect-1.0 >/dev/null 2>&1

export SN_TSAN_PLAIN=$plain SN_TSAN_BUILD=$tsan
export OMP_TOOL_LIBRARIES=$archer
export SN_SOAK_FRAMES=${SHUFFLENET_TSAN_SOAK_FRAMES:-300}
base_options="halt_on_error=0 exitcode=66 ignore_noninstrumented_modules=1 second_deadlock_stack=1"
wrapper=$top/tests/reliability/tsan_wrap.sh
status=0

echo "tsan: the engine's threaded tests (no suppressions)"
rm -f "$plain"/meson-logs/testlog-tsan-*.json
TSAN_OPTIONS=$base_options \
  meson test -C "$plain" --wrapper "$wrapper" --logbase testlog-tsan-engine \
  --print-errorlogs --num-processes 2 "$@" "${engine_tests[@]}" || status=1

echo "tsan: the element's multi-threaded tests (tests/tsan.supp)"
TSAN_OPTIONS="$base_options suppressions=$top/tests/tsan.supp" \
  meson test -C "$plain" --wrapper "$wrapper" --logbase testlog-tsan-element \
  --print-errorlogs --num-processes 2 "$@" "${element_tests[@]}" || status=1
exit $status
