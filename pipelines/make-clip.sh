#!/usr/bin/env bash
# make-clip.sh - make a short video from still photos (by default three of
# python3-skimage's sample photos: chelsea the cat, a cup of coffee, a
# motorcycle), each shown for a number of frames. The demo and the tests
# run the example pipelines on it.
#
# Usage: pipelines/make-clip.sh [OPTIONS] OUTPUT [PHOTO...]
#
# OUTPUT's extension picks the encoder: .mp4 or .mkv (H.264), .webm (VP8),
# .ogv (Theora), .avi (Motion JPEG). Photos are decoded by GStreamer (PNG, JPEG, ...) and
# scaled to the clip's size, keeping their aspect ratio (black borders).
#
# Options:
#   --size WxH       frame size (default 320x240)
#   --frames N       frames per photo (default 10)
#   --fps N          frames per second (default 10)
#   -h, --help       this text
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"


size=320x240 frames=10 fps=10
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --size) sn_need_value "$1" $#; size=$2; shift 2 ;;
    --frames) sn_need_value "$1" $#; frames=$2; shift 2 ;;
    --fps) sn_need_value "$1" $#; fps=$2; shift 2 ;;
    -h | --help) sn_usage; exit 0 ;;
    -*) sn_die "unknown option '$1' (see --help)" ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -ge 1 ] || sn_die "need an OUTPUT file (see --help)"
output=${args[0]}
photos=("${args[@]:1}")
encoder=$(sn_encoder "$output") || sn_die "cannot tell the format of" \
  "'$output' from its extension: use $sn_out_extensions"
[[ "$size" =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || sn_die "--size wants WxH, not '$size'"
width=${BASH_REMATCH[1]} height=${BASH_REMATCH[2]}
[[ "$frames" =~ ^[1-9][0-9]*$ ]] || sn_die "--frames wants a positive integer, not '$frames'"
[[ "$fps" =~ ^[1-9][0-9]*$ ]] || sn_die "--fps wants a positive integer, not '$fps'"
if [ ${#photos[@]} -eq 0 ]; then
  dir=$(sn_photos_dir)
  photos=("$dir/chelsea.png" "$dir/coffee.png" "$dir/motorcycle_right.png")
fi

# Each photo is decoded, scaled and repeated as N raw I420 frames by a
# pipeline of its own, appended to one raw file; one more pipeline encodes
# that file. (One pipeline with a concat of decodebin branches sometimes
# never ended.)
read -ra encoder <<<"$encoder"
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
for p in "${photos[@]}"; do
  if [ ! -f "$p" ] || [ ! -r "$p" ]; then
    sn_die "cannot read the photo '$p'"
  fi
  sn_run_launch -q filesrc "location=$p" ! decodebin ! videoconvert ! videoscale \
    ! "video/x-raw,format=I420,width=$width,height=$height,pixel-aspect-ratio=1/1" \
    ! imagefreeze "num-buffers=$frames" ! "video/x-raw,framerate=$fps/1" \
    ! filesink "location=$raw" append=true
done
sn_run_launch -q filesrc "location=$raw" \
  ! rawvideoparse format=i420 "width=$width" "height=$height" "framerate=$fps/1" \
  ! videoconvert ! "${encoder[@]}" ! filesink "location=$output"
echo "$sn_prog: $output: $((frames * ${#photos[@]})) frames of ${width}x$height" >&2
