#!/usr/bin/env bash
# regions.sh - region classification speed: regions per second of
# `shufflenet inference-region=roi-list` for 1, 4 and 16 regions on a 1080p
# I420 frame (a real photo), batched (all of a frame's regions in batches of
# the runner) against one region at a time (one region a frame), next to the
# engine's own batch-8 images per second for the same model, and the
# per-region preprocessing time. Interleaved rounds; min and median.
#
#   bench/regions.sh [--build DIR] [--rounds N] [--threads T] [--model FILE]
#
#   --build DIR     meson build folder (default: build)
#   --rounds N      interleaved rounds (default 3)
#   --threads T     the element's and the engine's threads (default 2)
#   --model FILE    default: models/shufflenet_v1_g3_0.5x.onnx
#
# Target (issue: region classification): at 16 regions, batched throughput
# at least 0.8x the engine's batch-8 images per second.
# Tools (roi_bench.c, pre_bench.c) are compiled into bench/out/bin with cc.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=$root/build rounds=3 threads=2 model=$root/models/shufflenet_v1_g3_0.5x.onnx
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "regions.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -f "$model" ] || { echo "regions.sh: no model $model (models/fetch.sh)" >&2; exit 1; }
cli=$build/engine/shufflenet-cli
[ -x "$cli" ] && [ -f "$build/gst/libgstshufflenet.so" ] \
  || { echo "regions.sh: build $build first" >&2; exit 1; }
out=$here/out/bin
mkdir -p "$out"
cflags=(-O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter)
# shellcheck disable=SC2046 # pkg-config output is a list of flags
cc "${cflags[@]}" "$here/roi_bench.c" -o "$out/roi_bench" \
  $(pkg-config --cflags --libs gstreamer-1.0 gstreamer-video-1.0 gstreamer-app-1.0)
# shellcheck disable=SC2046
cc "${cflags[@]}" -I"$root/gst" -I"$root/engine" "$here/pre_bench.c" \
  "$build/gst/libsnpreprocess.a" "$build/engine/libshufflenet-engine.a" \
  $(pkg-config --cflags --libs gstreamer-video-1.0) -fopenmp -lprotobuf-c -lm \
  -o "$out/pre_bench"

export GST_PLUGIN_PATH=$build/gst
export SN_BENCH_PHOTO
SN_BENCH_PHOTO=$(/usr/bin/python3 -c 'import os, skimage.data;
print(os.path.join(os.path.dirname(skimage.data.__file__), "chelsea.png"))')
log=$here/out/regions.log
: > "$log"
echo "regions.sh: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)," \
  "$threads threads, $(basename "$model"), $rounds rounds; raw lines in $log" >&2
for round in $(seq "$rounds"); do
  for r in 1 4 16; do
    "$out/roi_bench" --regions "$r" --frames 60 --threads "$threads" \
      --model "$model" >> "$log"
    "$out/roi_bench" --regions "$r" --frames 60 --threads "$threads" \
      --model "$model" --one-at-a-time >> "$log"
    "$out/pre_bench" --runs 50 --threads "$threads" --regions "$r" I420 \
      | grep ' crop ' >> "$log"
  done
  "$cli" bench "$model" --threads "$threads" --batch 8 --runs 40 \
    | sed 's/^/engine /' >> "$log"
  echo "regions.sh: round $round done" >&2
done

/usr/bin/python3 - "$log" <<'PY'
import re, statistics, sys
roi, pre, engine = {}, {}, []
for line in open(sys.argv[1]):
    w = line.split()
    if w[0] == "roi":
        d = dict(zip(w[1::2], w[2::2]))
        roi.setdefault((int(d["regions"]), d["batched"] == "1"), []).append(
            float(d["regions_per_s"]))
        roi.setdefault(("rss", int(d["regions"])), []).append(int(d["rss_kb"]))
    elif w[0] == "preroi":
        pre.setdefault(int(w[-1]), []).append(float(w[5]) / int(w[-1]))
    elif w[0] == "engine":
        engine.append(float(re.search(r"([\d.]+) images/s", line).group(1)))
e_med, e_max = statistics.median(engine), max(engine)
print(f"engine batch 8: {e_med:.0f} images/s median, {e_max:.0f} best")
print("| regions | batched regions/s (median, best) | one at a time | "
      "batched / one at a time | batched / engine batch 8 (median, best) | "
      "preprocessing per region, median ms | peak RSS MB |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for r in (1, 4, 16):
    b, o = roi[(r, True)], roi[(r, False)]
    print(f"| {r} | {statistics.median(b):.0f}, {max(b):.0f} | "
          f"{statistics.median(o):.0f}, {max(o):.0f} | "
          f"{statistics.median(b) / statistics.median(o):.2f} | "
          f"{statistics.median(b) / e_med:.2f}, {max(b) / e_max:.2f} | "
          f"{statistics.median(pre[r]):.3f} | "
          f"{max(roi[('rss', r)]) / 1024:.1f} |")
PY
