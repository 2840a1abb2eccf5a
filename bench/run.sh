#!/usr/bin/env bash
# run.sh - the benchmark in one command: our engine against ONNX Runtime on
# the same ONNX files and inputs (interleaved), the per-layer profile, the
# element's preprocessing and a whole pipeline. See bench/README.md.
#
#   bench/run.sh [--build DIR] [--quick] [--no-ort] [--update-readme]
#                [bench.py options: --runs N --chunk N --only g3_1x ...]
#
#   --build DIR       meson build folder holding the engine, the
#                     preprocessing library and the plugin (default: build)
#   --quick           a smoke run (30 runs instead of 300): not for the README
#   --no-ort          time our engine alone (no node/npm needed)
#   --update-readme   also write the tables into bench/README.md
#
# Steps: build the tools into bench/out/bin with cc against DIR's libraries
# (unless DIR has them from bench/meson.build); install onnxruntime-node into
# bench/node_modules when missing (npm --ignore-scripts); make the models in
# bench/out/models; run bench/bench.py, which prints the report and writes
# bench/out/report.md and bench/out/results.json.
# Exit status: 0 done; 1 a step failed (one line says which); 2 usage;
# 3 the engines disagree numerically (see the Agreement table).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
python=${SHUFFLENET_PYTHON:-/usr/bin/python3}
cc=${CC:-cc}
build=$root/build
out=$here/out
ort=1
extra=()
command="bench/run.sh $*"

die () {
    echo "run.sh: error: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --build)
            if [ $# -lt 2 ]; then
                echo "run.sh: --build needs a folder" >&2
                exit 2
            fi
            build=$(cd "$2" 2>/dev/null && pwd) || die "no build folder $2"
            shift 2 ;;
        --quick)
            extra+=(--runs 30 --batch-runs 10 --profile-runs 10 --frames 60)
            shift ;;
        --no-ort) ort=0; shift ;;
        --update-readme) extra+=(--update-readme "$here/README.md"); shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) extra+=("$1"); shift ;;
    esac
done

engine_lib=$build/engine/libshufflenet-engine.a
[ -f "$engine_lib" ] || die "$engine_lib is missing: build first" \
    "(meson setup $build && meson compile -C $build), or pass --build DIR"
"$python" -c 'import numpy' 2>/dev/null \
    || die "$python lacks numpy (apt-get install python3-numpy)"
mkdir -p "$out/bin" "$out/models"

# stale TARGET SOURCES...: true when TARGET is missing or older than one.
stale () {
    local t=$1 s
    shift
    [ -f "$t" ] || return 0
    for s in "$@"; do
        [ "$t" -nt "$s" ] || return 0
    done
    return 1
}

# tool NAME MESON_NAME: prints the path of a built tool. DIR/bench/ wins
# (bench/meson.build); else it is compiled into bench/out/bin by the caller.
tool () {
    if [ -x "$build/bench/$2" ]; then
        echo "$build/bench/$2"
    else
        echo "$out/bin/$1"
    fi
}

cflags=(-O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter)
worker=$(tool sn_worker sn-worker)
if [ "$worker" = "$out/bin/sn_worker" ] && stale "$worker" "$here/sn_worker.c" \
        "$root/engine/npy.c" "$engine_lib"; then
    "$cc" "${cflags[@]}" -I"$root/engine" "$here/sn_worker.c" \
        "$root/engine/npy.c" "$engine_lib" -fopenmp -lprotobuf-c -lm \
        -o "$worker" \
        || die "cannot build sn_worker against $engine_lib"
fi

bench_args=(--worker "$worker" --models "$out/models" --out "$out")

probe=$(tool scale_probe scale-probe)
if [ "$probe" = "$out/bin/scale_probe" ] && stale "$probe" \
        "$here/scale_probe.c" "$engine_lib"; then
    "$cc" "${cflags[@]}" -I"$root/engine" "$here/scale_probe.c" \
        "$engine_lib" -fopenmp -lprotobuf-c -lm -o "$probe" \
        || die "cannot build scale_probe against $engine_lib"
fi
bench_args+=(--probe "$probe")

pre_lib=$build/gst/libsnpreprocess.a
pre=$(tool pre_bench pre-bench)
if [ "$pre" != "$out/bin/pre_bench" ]; then
    bench_args+=(--pre-bench "$pre")
elif [ ! -f "$pre_lib" ]; then
    bench_args+=(--pre-skip-reason
        "$pre_lib is not built (the GStreamer part of the build)")
elif ! pkg-config --exists gstreamer-video-1.0; then
    bench_args+=(--pre-skip-reason
        "gstreamer-video-1.0 development files missing")
else
    if stale "$pre" "$here/pre_bench.c" "$pre_lib" "$engine_lib" \
            "$root/gst/snpreprocess.h"; then
        # shellcheck disable=SC2046 # pkg-config output is a list of flags
        # the engine for its ISA decision (sn_isa_name), which the
        # preprocessing follows
        "$cc" "${cflags[@]}" -I"$root/gst" -I"$root/engine" \
            "$here/pre_bench.c" "$pre_lib" "$engine_lib" \
            $(pkg-config --cflags --libs gstreamer-video-1.0) -fopenmp \
            -lprotobuf-c -lm -o "$pre" \
            || die "cannot build pre_bench against $pre_lib"
    fi
    bench_args+=(--pre-bench "$pre")
fi

plugin=$build/gst/libgstshufflenet.so
pipe=$(tool pipe_bench pipe-bench)
if [ ! -f "$plugin" ]; then
    bench_args+=(--pipe-skip-reason "the element $plugin is not built")
elif [ "$pipe" = "$out/bin/pipe_bench" ] \
        && ! pkg-config --exists gstreamer-1.0; then
    bench_args+=(--pipe-skip-reason "gstreamer-1.0 development files missing")
else
    if [ "$pipe" = "$out/bin/pipe_bench" ] \
            && stale "$pipe" "$here/pipe_bench.c"; then
        # shellcheck disable=SC2046
        "$cc" "${cflags[@]}" "$here/pipe_bench.c" \
            $(pkg-config --cflags --libs gstreamer-1.0) -o "$pipe" \
            || die "cannot build pipe_bench"
    fi
    bench_args+=(--pipe-bench "$pipe" --plugin-dir "$build/gst")
fi

if [ $ort = 1 ]; then
    command -v node >/dev/null \
        || die "node not found (apt-get install nodejs npm); or use --no-ort"
    if [ ! -f "$here/node_modules/onnxruntime-node/package.json" ]; then
        echo "run.sh: installing onnxruntime-node into $here/node_modules" >&2
        # --ignore-scripts: its install script fetches GPU files (fails
        # offline); the CPU library ships inside the package.
        (cd "$here" && npm install --ignore-scripts --no-save \
            --no-package-lock --no-audit --no-fund --prefix "$here" \
            onnxruntime-node >&2) \
            || die "npm install onnxruntime-node failed (offline?);" \
                "use --no-ort"
    fi
    bench_args+=(--ort-worker "$here/ort_worker.js"
        --node-path "$here/node_modules")
fi

"$python" "$here/make_models.py" "$out/models" \
    || die "cannot make the random-weight models"
pretrained=shufflenet_v1_g3_0.5x.onnx
if [ -f "$root/models/$pretrained" ]; then
    ln -sf "$root/models/$pretrained" "$out/models/$pretrained"
elif [ -n "${SHUFFLENET_WEIGHTS_DIR:-}" ]; then
    "$root/models/fetch.sh" --dest "$out/models" >&2 \
        || bench_args+=(--skip "g3_0.5x:models/fetch.sh failed")
elif [ ! -f "$out/models/$pretrained" ]; then
    bench_args+=(--skip "g3_0.5x:no models/$pretrained, and no\
 SHUFFLENET_WEIGHTS_DIR to convert it from (models/fetch.sh)")
fi

exec "$python" "$here/bench.py" "${bench_args[@]}" --command "$command" \
    "${extra[@]}"
