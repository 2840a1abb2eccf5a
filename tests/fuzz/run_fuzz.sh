#!/usr/bin/env bash
# Build the two libFuzzer targets with clang (ASan + UBSan + libFuzzer) and
# run each for a bounded time.
#
#   tests/fuzz/run_fuzz.sh BUILD_DIR [loader|preprocess|all]
#
# BUILD_DIR is a configured and built meson build directory: the engine's
# sources it builds (meson introspect), its generated engine/onnx.pb-c.c
# and its models (tests/variants/*.onnx, tests/models/megvii/*.onnx) are
# used. Everything this script writes goes
# under BUILD_DIR/fuzz/ except crashers, which are saved next to the
# committed regression inputs in tests/fuzz/corpus-<target>/.
#
# Per target:
#  1. (loader) every full-size model of the build is run once through the
#     target: it must load, plan and run (or be refused, the unsupported
#     variant) under the sanitizers;
#  2. libFuzzer runs for SHUFFLENET_FUZZ_SECONDS (default 60) seconds from
#     the committed regression inputs (tests/fuzz/corpus-<target>/), the
#     seeds (loader: tiny models from make_seeds.py, 10-160 kB with the
#     variants' node patterns; preprocess: the committed seed-NN-FORMAT
#     inputs, one per format) and the corpus grown by earlier runs in this
#     build (BUILD_DIR/fuzz/corpus-*).
# Prints executions, exec/s, coverage; exits non-zero on a crash, a leak,
# a timeout or an out-of-memory, with the input saved as
# tests/fuzz/corpus-<target>/{crash,leak,timeout,oom}-<sha1>.
# Exit 77 (meson: skipped) when clang or libFuzzer is missing.
#
# Environment: SHUFFLENET_FUZZ_SECONDS (per target), CC_FUZZ (default clang).
set -euo pipefail

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 BUILD_DIR [loader|preprocess|all]" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
which_target=${2:-all}
seconds=${SHUFFLENET_FUZZ_SECONDS:-60}
cc=${CC_FUZZ:-clang}
out=$build/fuzz
mkdir -p "$out"

san=(-fsanitize=address,undefined -fno-sanitize-recover=all
     -fno-omit-frame-pointer -g -O1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The preprocessing target uses libgstvideo and no plugin. With the system's
# plugins gst_init () scans them in-process, and on a machine with many
# installed (gstreamer1.0-opencv, -libav, ...) GLib's quark table outgrows
# its first block, which GLib keeps unreferenced on purpose and LSan then
# reports at exit as a leak of GLib's constructor.
mkdir -p "$out/no-plugins"
export GST_PLUGIN_SYSTEM_PATH_1_0="$out/no-plugins" GST_PLUGIN_PATH_1_0=""
export GST_REGISTRY_1_0="$out/no-plugins/registry.bin"

if ! command -v "$cc" >/dev/null \
    || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' \
      | "$cc" -x c -fsanitize=fuzzer,address - -o "$out/probe" 2>/dev/null; then
  echo "SKIP: $cc with libFuzzer not found (Debian: clang libclang-rt-14-dev)"
  exit 77
fi

# Compile `name` from the given sources (another list of sources or flags
# than the last build's, or a file newer than the binary, triggers a
# rebuild). Extra flags after `--`.
build_target () {
  local name=$1 bin=$out/$1; shift
  local sources=() flags=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sources+=("$1"); shift; done
  [ $# -gt 0 ] && shift && flags=("$@")
  local stale=0 f
  for f in "${sources[@]}" "$0" "$src"/engine/*.h "$src"/engine/kernels/*.h \
      "$src"/gst/snpreprocess.h; do
    [ "$f" -nt "$bin" ] && stale=1
  done
  local inputs
  inputs=$(printf '%s\n' "${sources[@]}" -- "${flags[@]}")
  [ "$inputs" = "$(cat "$bin.inputs" 2>/dev/null)" ] || stale=1
  [ "$stale" = 0 ] && return 0
  echo "fuzz: building $name with $cc"
  local objs=() obj
  mkdir -p "$out/obj-$name"
  for f in "${sources[@]}"; do
    obj=$out/obj-$name/$(basename "$f" .c).o
    # The compute loops (compute functions, run loops, kernels) are
    # sanitized but not coverage-traced: their comparisons cost 3/4 of the
    # time and tell the fuzzer nothing about the model's structure.
    local extra=(-fsanitize=fuzzer-no-link)
    # each ISA-specific kernel file with the ISA flags engine/meson.build
    # gives it, from engine/kernels/isa-flags.txt
    case $f in
      */kernels/*.c | */engine/compute.c | */engine/executor.c)
        read -r -a extra <<< "$(awk -v f="$(basename "$f")" \
          '$1 == f { $1 = ""; print }' "$src/engine/kernels/isa-flags.txt")" ;;
    esac
    "$cc" -c "${san[@]}" -std=gnu11 -Wno-unknown-pragmas \
      -Wno-unused-command-line-argument "${extra[@]}" "${flags[@]}" "$f" \
      -o "$obj"
    objs+=("$obj")
  done
  "$cc" "${san[@]}" -fsanitize=fuzzer "${objs[@]}" -o "$bin.tmp" \
    "${flags[@]}" -lm
  mv "$bin.tmp" "$bin"
  printf '%s\n' "$inputs" >"$bin.inputs"
}

# Summary of libFuzzer's -print_final_stats output in $1.
report () {
  local name=$1 log=$2 status=$3
  local execs rate newu rss cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  newu=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9a-zA-Z]*' "$log" \
        | tail -1)
  echo "fuzz $name: ${execs:-?} executions in ${seconds} s (${rate:-?} exec/s)," \
    "${cov:-no coverage line}, ${newu:-?} new inputs, peak RSS ${rss:-?} MB," \
    "exit status $status"
}

run_fuzzer () {
  local name=$1; shift
  local regress=$src/tests/fuzz/corpus-$name work=$out/corpus-$name seeds=
  [ -d "$out/seeds-$name" ] && seeds=$out/seeds-$name
  mkdir -p "$work" "$regress"
  local log=$out/$name.log status=0
  # -error_exitcode: libFuzzer's default 77 would read as "skipped"
  "$out/fuzz_$name" -max_total_time="$seconds" -timeout=30 \
    -rss_limit_mb=4096 -report_slow_units=100000 -print_final_stats=1 \
    -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$regress/" \
    "$@" "$work" "$regress" ${seeds:+"$seeds"} >"$log" 2>&1 || status=$?
  grep -E '^(==|SUMMARY|#[0-9]+[[:space:]]+(INITED|DONE))|ERROR|artifact|Test unit' \
    "$log" | head -40 || true
  report "$name" "$log" "$status"
  if [ "$status" != 0 ]; then
    echo "fuzz $name FAILED: full log $log; the input is in $regress/"
    return 1
  fi
}

# ------------------------------------------------------------------ loader
# The engine's sources as meson builds them (`meson introspect --targets`
# of the build): those of every static library engine/meson.build defines,
# the engine and its ISA-specific kernel files, with the generated
# protobuf-c parser.
engine_sources () {
  meson introspect --targets "$build" | /usr/bin/python3 -c '
import json, os, sys
here = os.path.realpath(os.path.join(sys.argv[1], "engine", "meson.build"))
for t in json.load(sys.stdin):
    if t["type"] != "static library" or os.path.realpath(t["defined_in"]) != here:
        continue
    for ts in t["target_sources"]:
        for f in ts.get("sources", []) + ts.get("generated_sources", []):
            print(f)
' "$src"
}

fuzz_loader () {
  local pbc=$build/engine/onnx.pb-c.c
  [ -f "$pbc" ] || { echo "fuzz: $pbc missing (build $build first)"; return 1; }
  local e=$src/engine sources
  mapfile -t sources < <(engine_sources)
  [ ${#sources[@]} -gt 0 ] \
    || { echo "fuzz: no engine sources from meson introspect $build"; return 1; }
  build_target fuzz_model_loader "$src/tests/fuzz/fuzz_model_loader.c" \
    "${sources[@]}" -- -I"$e" -I"$build/engine" -lprotobuf-c
  ln -sf fuzz_model_loader "$out/fuzz_loader"

  local seeds=$out/seeds-loader
  if [ ! -f "$seeds/.done" ] || [ "$src/tests/fuzz/make_seeds.py" -nt "$seeds/.done" ] \
      || [ "$src/tests/variants/gen_models.py" -nt "$seeds/.done" ]; then
    rm -rf "$seeds"
    echo "fuzz: generating tiny seed models (make_seeds.py)"
    /usr/bin/python3 "$src/tests/fuzz/make_seeds.py" "$seeds" >"$out/seeds.log" 2>&1 \
      || { cat "$out/seeds.log"; return 1; }
    touch "$seeds/.done"
  fi

  local models=()
  shopt -s nullglob
  models=("$build"/tests/variants/*.onnx "$build"/tests/models/megvii/*.onnx)
  shopt -u nullglob
  if [ ${#models[@]} -gt 0 ]; then
    local t0=$SECONDS
    "$out/fuzz_loader" -error_exitcode=1 -rss_limit_mb=4096 "${models[@]}" \
      >"$out/loader-models.log" 2>&1 \
      || { tail -60 "$out/loader-models.log"; echo "fuzz loader: a build model failed"; return 1; }
    echo "fuzz loader: ${#models[@]} full-size models of the build loaded and ran" \
      "under ASan/UBSan in $((SECONDS - t0)) s"
  else
    echo "fuzz loader: no built models found under $build/tests (seeds only)"
  fi
  run_fuzzer loader -max_len=262144
}

# -------------------------------------------------------------- preprocess
fuzz_preprocess () {
  local gflags
  if ! gflags=$(pkg-config --cflags gstreamer-video-1.0 2>/dev/null); then
    echo "SKIP: fuzz preprocess: gstreamer-video-1.0 development files missing"
    return 0
  fi
  # shellcheck disable=SC2086
  # engine/isa.c: the engine's ISA decision, which the kernels follow
  build_target fuzz_preprocess "$src/tests/fuzz/fuzz_preprocess.c" \
    "$src/gst/snpreprocess.c" "$src/engine/isa.c" -- -I"$src/gst" \
    -I"$src/engine" $gflags \
    $(pkg-config --libs gstreamer-video-1.0)
  run_fuzzer preprocess -max_len=4096
}

status=0
case $which_target in
  loader) fuzz_loader || status=1 ;;
  preprocess) fuzz_preprocess || status=1 ;;
  all) fuzz_loader || status=1; fuzz_preprocess || status=1 ;;
  *) echo "unknown target '$which_target' (loader, preprocess, all)" >&2; exit 2 ;;
esac
exit $status
