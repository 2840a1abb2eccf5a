#!/usr/bin/env bash
# demo.sh - from a fresh Debian 12 machine to classified photos and video:
#   1. installs the missing Debian packages (tools/install-deps.sh; sudo
#      when not root),
#   2. configures and builds with meson,
#   3. prepares the default model (models/fetch.sh: the Megvii checkpoint
#      from $SHUFFLENET_WEIGHTS_DIR, converted to models/*.onnx),
#   4. classifies python3-skimage's photos, decoded by GStreamer, and prints
#      their top 3 (pipelines/classify-folder.py),
#   5. makes a short video of photos, classifies every frame, draws the
#      labels on it, re-encodes it and prints each frame's labels and scores
#      (pipelines/annotate-video.sh).
#
# Usage: pipelines/demo.sh [OPTIONS]
#
# Options:
#   --build DIR     meson build folder (default: $BUILD_DIR, else build)
#   --out DIR       where the demo's files go (default: a new folder in /tmp)
#   --skip-setup    skip steps 1-3 (use an existing build and model)
#   -h, --help      this text
# Environment: SHUFFLENET_WEIGHTS_DIR (default
#   ../shared/weights/megvii-shufflenet-v1 next to the source tree).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"


build=${BUILD_DIR:-build} out="" setup=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) sn_need_value "$1" $#; build=$2; shift 2 ;;
    --out) sn_need_value "$1" $#; out=$2; shift 2 ;;
    --skip-setup) setup=0; shift ;;
    -h | --help) sn_usage; exit 0 ;;
    *) sn_die "unknown argument '$1' (see --help)" ;;
  esac
done
cd "$sn_repo"
export SHUFFLENET_WEIGHTS_DIR="${SHUFFLENET_WEIGHTS_DIR:-$sn_repo/../shared/weights/megvii-shufflenet-v1}"

step () {
  printf '\n== %s\n' "$*"
}

if [ $setup = 1 ]; then
  step "1/5 Debian packages"
  tools/install-deps.sh
  step "2/5 build ($build)"
  if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" >/dev/null
  else
    meson setup "$build"
  fi
  meson compile -C "$build"
  step "3/5 default model"
  models/fetch.sh
fi
sn_use_plugin "$build"
[ -n "$out" ] || out=$(mktemp -d /tmp/sn-demo.XXXXXX)
mkdir -p "$out/photos"

step "4/5 photos (python3-skimage) -> $out/photos.jsonl"
photos=$(sn_photos_dir)
for p in chelsea.png coffee.png astronaut.png motorcycle_right.png \
    camera.png rocket.jpg; do
  ln -sf "$photos/$p" "$out/photos/$p"
done
/usr/bin/python3 pipelines/classify-folder.py --build "$build" --top-k 3 \
  --output "$out/photos.jsonl" "$out/photos"
/usr/bin/python3 pipelines/sn-results.py show "$out/photos.jsonl"

step "5/5 video: $out/clip.webm -> $out/annotated.webm + annotated.jsonl"
pipelines/make-clip.sh --frames 5 "$out/clip.webm"
pipelines/annotate-video.sh --build "$build" --print "$out/clip.webm" \
  "$out/annotated.webm"
printf '\nDone. Watch %s (labels drawn), results in %s.\n' \
  "$out/annotated.webm" "$out/annotated.jsonl"
