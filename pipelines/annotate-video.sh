#!/usr/bin/env bash
# annotate-video.sh - classify every frame of a video file, draw the labels
# onto the picture, re-encode it to a new file and write a JSON Lines
# sidecar (one line per frame), with one gst-launch-1.0 pipeline:
#
#   filesrc ! decodebin ! videoconvert ! shufflenet ! shufflenetjson
#     ! shufflenetoverlay ! videoconvert ! ENCODER ! MUXER ! filesink
#
# Usage: pipelines/annotate-video.sh [OPTIONS] INPUT OUTPUT
#
# OUTPUT's extension picks the encoder: .webm or .mkv (VP8), .ogv (Theora),
# .avi (Motion JPEG). Audio is left out. Sidecar lines (see shufflenetjson):
#   {"frame":0,"pts":0,...,"inference_ms":5.1,"classes":[{"id":285,
#    "label":"Egyptian cat","score":0.63},...]}
#
# Options:
#   --jsonl FILE     the sidecar (default: OUTPUT with the extension .jsonl)
#   --top-k N        classes per frame, written and drawn (default 3)
#   --interval N     classify every Nth frame; the others reuse the last
#                    result, marked stale (default 1)
#   --model FILE     ONNX model (default: the element's default model)
#   --position P     corner of the labels: top-left, top-right, bottom-left,
#                    bottom-right (default top-left)
#   --print          print every frame's classes when done
#   --build DIR      use the plugin of the meson build folder DIR (default:
#                    $GST_PLUGIN_PATH, else ./build if built, else installed)
#   -h, --help       this text
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage () {
  sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
}

jsonl="" top_k=3 interval=1 model="" position=top-left print=0 build=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jsonl) sn_need_value "$1" $#; jsonl=$2; shift 2 ;;
    --top-k) sn_need_value "$1" $#; top_k=$2; shift 2 ;;
    --interval) sn_need_value "$1" $#; interval=$2; shift 2 ;;
    --model) sn_need_value "$1" $#; model=$2; shift 2 ;;
    --position) sn_need_value "$1" $#; position=$2; shift 2 ;;
    --print) print=1; shift ;;
    --build) sn_need_value "$1" $#; build=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) sn_die "unknown option '$1' (see --help)" ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -eq 2 ] || sn_die "need INPUT and OUTPUT (see --help)"
input=${args[0]} output=${args[1]}
if [ ! -f "$input" ] || [ ! -r "$input" ]; then
  sn_die "cannot read the video '$input'"
fi
encoder=$(sn_encoder "$output") || sn_die "cannot tell the format of" \
  "'$output' from its extension: use .webm, .mkv, .ogv or .avi"
[[ "$top_k" =~ ^[1-9][0-9]*$ ]] || sn_die "--top-k wants a positive integer, not '$top_k'"
[[ "$interval" =~ ^[1-9][0-9]*$ ]] || sn_die "--interval wants a positive integer, not '$interval'"
[ -n "$jsonl" ] || jsonl=${output%.*}.jsonl
if [ "$jsonl" = "$output" ] || [ "$jsonl" = "$input" ]; then
  sn_die "the sidecar would overwrite '$jsonl'"
fi
sn_use_plugin "$build"

read -ra encoder <<<"$encoder"
classify=(shufflenet "top-k=$top_k" "interval=$interval")
[ -z "$model" ] || classify+=("model=$model")
sn_run_launch -q filesrc "location=$input" ! decodebin ! videoconvert \
  ! "${classify[@]}" ! shufflenetjson "location=$jsonl" \
  ! shufflenetoverlay "position=$position" "top-k=$top_k" ! videoconvert \
  ! "${encoder[@]}" ! filesink "location=$output"

frames=$(wc -l < "$jsonl")
echo "$sn_prog: $frames frames classified; video: $output; results: $jsonl" >&2
if [ $print = 1 ]; then
  /usr/bin/python3 "$sn_repo/pipelines/sn-results.py" show "$jsonl"
fi
