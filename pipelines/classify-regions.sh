#!/usr/bin/env bash
# classify-regions.sh - a detector finds objects, shufflenet classifies each
# one (inference-region=roi-list), the boxes and labels are drawn and every
# frame's objects go to a JSON Lines sidecar; one gst-launch-1.0 pipeline:
#
#   filesrc ! decodebin ! videoconvert ! facedetect ! shufflenettrack
#     ! shufflenet inference-region=roi-list ! shufflenetjson
#     ! shufflenetoverlay ! videoconvert ! ENCODER ! filesink
#
# shufflenettrack numbers each object by overlap from frame to frame, so
# that --reclassify-interval and --smoothing work per object.
#
# Usage: pipelines/classify-regions.sh [OPTIONS] INPUT OUTPUT
#
# INPUT is a video file or a photo (.png/.jpg: classified as one frame, or
# as --frames frames). OUTPUT's extension picks the writer: .png (one
# frame), .mp4 and .mkv (H.264), .webm (VP8), .ogv (Theora), .avi (Motion
# JPEG). A video nothing installed decodes fails at once naming the package
# to install; a truncated one ends with an error, its results kept.
# The detector is GStreamer's facedetect (gstreamer1.0-opencv, cascades from
# opencv-data), which attaches a GstVideoRegionOfInterestMeta "face" per
# face; --cascade takes another OpenCV Haar cascade (e.g.
# haarcascade_fullbody.xml for pedestrians) and --object-class the
# roi_type names to classify. Sidecar lines (see shufflenetjson):
#   {"frame":0,...,"objects":[{"id":0,"roi_type":"face","x":175,"y":64,
#    "w":97,"h":97,"stale":false,"age":0,"smoothed":false,
#    "classes":[{"id":419,...}]}]}
#
# Options:
#   --jsonl FILE        the sidecar (default: OUTPUT with the extension .jsonl)
#   --cascade FILE      Haar cascade of the detector (default: OpenCV's
#                       frontal face; a bare name is looked up in
#                       /usr/share/opencv4/haarcascades)
#   --object-class L    roi_types to classify, comma-separated (default: all)
#   --min-size N        smallest object the detector reports and the
#                       classifier takes, in pixels (default 24)
#   --max-rois N        at most N objects a frame, the largest (default 64)
#   --top-k N           classes per object written (default 3)
#   --reclassify-interval N  classify an object every Nth frame it is
#                       seen, reusing its result in between (default 1)
#   --smoothing N       each object's moving average over about N
#                       classifications (default 0: off)
#   --frames N          frames made of a photo INPUT (default 1)
#   --model FILE        ONNX model (default: the element's default model)
#   --print             print every frame's objects when done
#   --build DIR         use the plugin of the meson build folder DIR
#   -h, --help          this text
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"


jsonl="" cascade="" object_class="" min_size=24 max_rois=64 top_k=3
reclassify_interval=1 smoothing=0
frames=1 model="" print=0 build=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jsonl) sn_need_value "$1" $#; jsonl=$2; shift 2 ;;
    --cascade) sn_need_value "$1" $#; cascade=$2; shift 2 ;;
    --object-class) sn_need_value "$1" $#; object_class=$2; shift 2 ;;
    --min-size) sn_need_value "$1" $#; min_size=$2; shift 2 ;;
    --max-rois) sn_need_value "$1" $#; max_rois=$2; shift 2 ;;
    --top-k) sn_need_value "$1" $#; top_k=$2; shift 2 ;;
    --reclassify-interval) sn_need_value "$1" $#; reclassify_interval=$2
      shift 2 ;;
    --smoothing) sn_need_value "$1" $#; smoothing=$2; shift 2 ;;
    --frames) sn_need_value "$1" $#; frames=$2; shift 2 ;;
    --model) sn_need_value "$1" $#; model=$2; shift 2 ;;
    --print) print=1; shift ;;
    --build) sn_need_value "$1" $#; build=$2; shift 2 ;;
    -h | --help) sn_usage; exit 0 ;;
    -*) sn_die "unknown option '$1' (see --help)" ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -eq 2 ] || sn_die "need INPUT and OUTPUT (see --help)"
input=${args[0]} output=${args[1]}
if [ ! -f "$input" ] || [ ! -r "$input" ]; then
  sn_die "cannot read '$input'"
fi
[[ "$smoothing" =~ ^[0-9]+$ ]] \
  || sn_die "--smoothing wants a number of frames, not '$smoothing'"
for v in min_size max_rois top_k frames reclassify_interval; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] \
    || sn_die "--${v//_/-} wants a positive integer, not '${!v}'"
done
case "${output,,}" in
  *.png) encoder="pngenc" ;;
  *) encoder=$(sn_encoder "$output") || sn_die "cannot tell the format of" \
       "'$output' from its extension: use .png, $sn_out_extensions" ;;
esac
if [ -z "$cascade" ]; then
  cascade=/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
elif [[ "$cascade" != */* ]]; then
  cascade=/usr/share/opencv4/haarcascades/$cascade
fi
[ -r "$cascade" ] || sn_die "cannot read the cascade '$cascade'" \
  "(apt-get install opencv-data)"
[ -n "$jsonl" ] || jsonl=${output%.*}.jsonl
if [ "$jsonl" = "$output" ] || [ "$jsonl" = "$input" ]; then
  sn_die "the sidecar would overwrite '$jsonl'"
fi
sn_use_plugin "$build"
gst-inspect-1.0 facedetect >/dev/null 2>&1 || sn_die "the facedetect" \
  "element is missing (apt-get install gstreamer1.0-opencv opencv-data)"

# A photo becomes --frames frames; a video is decoded as it is, once
# sn-launch.py has found what it holds (or why nothing decodes it).
source=(filesrc "location=$input" ! decodebin ! videoconvert)
probe="" watch=()
case "${input,,}" in
  *.png | *.jpg | *.jpeg) source+=(! imagefreeze "num-buffers=$frames"
                                   ! videoconvert) ;;
  *) probe=$(/usr/bin/python3 "$sn_repo/pipelines/sn-launch.py" \
       --prog "$sn_prog" --probe "$input") || exit 1
     watch=(--check-complete "$input") ;;
esac
read -ra encoder <<<"$encoder"
[[ "${output,,}" != *.png ]] || encoder+=("snapshot=true")
! sn_needs_retiming "$probe" || encoder=(videorate ! "${encoder[@]}")
classify=(shufflenet inference-region=roi-list "top-k=$top_k"
          "reclassify-interval=$reclassify_interval" "smoothing=$smoothing"
          "min-roi-size=$min_size" "max-rois=$max_rois")
[ -z "$object_class" ] || classify+=("object-class=$object_class")
[ -z "$model" ] || classify+=("model=$model")
# facedetect draws nothing (display=false) and reports each frame; OpenCV
# prints an error for each of its optional nose/mouth/eye cascades that
# opencv-data lacks: harmless, those parts are simply not detected.
sn_run_watched -q "${watch[@]}" -- "${source[@]}" ! video/x-raw,format=RGB \
  ! facedetect display=false updates=every_frame "profile=$cascade" \
    "min-size-width=$min_size" "min-size-height=$min_size" \
  ! shufflenettrack ! "${classify[@]}" ! shufflenetjson "location=$jsonl" \
  ! videoconvert ! shufflenetoverlay ! videoconvert \
  ! "${encoder[@]}" ! filesink "location=$output" 2> >(grep -v \
    "persistence.cpp.*Can't open file: '.*haarcascade_mcs" >&2)

lines=$(wc -l < "$jsonl")
objects=$(/usr/bin/python3 -c 'import json, sys
print(sum(len(json.loads(l).get("objects", [])) for l in open(sys.argv[1])))' \
  "$jsonl")
echo "$sn_prog: $lines frames, $objects objects classified; output: $output;" \
  "results: $jsonl" >&2
if [ $print = 1 ]; then
  /usr/bin/python3 "$sn_repo/pipelines/sn-results.py" show "$jsonl"
fi
