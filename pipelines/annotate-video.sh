#!/usr/bin/env bash
# annotate-video.sh - classify every frame of a video file, draw the labels
# onto the picture, re-encode it to a new file (keeping the audio) and
# write a JSON Lines sidecar (one line per frame), with one pipeline:
#
#   filesrc ! decodebin ! videoconvert ! shufflenet ! shufflenetjson
#     ! shufflenetoverlay ! videoconvert ! ENCODER ! MUXER ! filesink
#   (decodebin's audio, when there is some: ! AUDIO-ENCODER ! MUXER)
#
# Usage: pipelines/annotate-video.sh [OPTIONS] INPUT OUTPUT
#
# INPUT: any video GStreamer decodes here (H.264/H.265/MPEG-4 in MP4, MKV or
# AVI with gstreamer1.0-libav, VP8/VP9 WebM, Theora, Motion JPEG, ...).
# OUTPUT's extension picks the encoder: .mp4 or .mkv (H.264; audio AAC or
# Opus), .webm (VP8, Opus), .ogv (Theora, Vorbis), .avi (Motion JPEG, PCM).
# An input nothing here decodes fails at once with the codec and the
# Debian package to install; a truncated input fails after writing the
# frames it holds. Sidecar lines (see shufflenetjson):
#   {"frame":0,"pts":0,...,"inference_ms":5.1,"classes":[{"id":285,
#    "label":"Egyptian cat","score":0.63},...]}
#
# Options:
#   --jsonl FILE     the sidecar (default: OUTPUT with the extension .jsonl)
#   --top-k N        classes per frame, written and drawn (default 3)
#   --interval N     classify every Nth frame; the others reuse the last
#                    result, marked stale (default 1)
#   --smoothing N    draw and write the moving average over about N frames
#                    (shufflenet smoothing=N: labels that hold still; 0 off)
#   --model FILE     ONNX model (default: the element's default model)
#   --position P     corner of the labels: top-left, top-right, bottom-left,
#                    bottom-right (default top-left)
#   --no-audio       leave the input's audio out
#   --print          print every frame's classes when done
#   --build DIR      use the plugin of the meson build folder DIR (default:
#                    $GST_PLUGIN_PATH, else ./build if built, else installed)
#   -h, --help       this text
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"


jsonl="" top_k=3 interval=1 smoothing=0 model="" position=top-left print=0 build=""
keep_audio=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jsonl) sn_need_value "$1" $#; jsonl=$2; shift 2 ;;
    --top-k) sn_need_value "$1" $#; top_k=$2; shift 2 ;;
    --interval) sn_need_value "$1" $#; interval=$2; shift 2 ;;
    --smoothing) sn_need_value "$1" $#; smoothing=$2; shift 2 ;;
    --model) sn_need_value "$1" $#; model=$2; shift 2 ;;
    --position) sn_need_value "$1" $#; position=$2; shift 2 ;;
    --no-audio) keep_audio=0; shift ;;
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
  sn_die "cannot read the video '$input'"
fi
sn_video_encoder "$output" >/dev/null || sn_die "cannot tell the format of" \
  "'$output' from its extension: use $sn_out_extensions"
[[ "$top_k" =~ ^[1-9][0-9]*$ ]] || sn_die "--top-k wants a positive integer, not '$top_k'"
[[ "$interval" =~ ^[1-9][0-9]*$ ]] || sn_die "--interval wants a positive integer, not '$interval'"
[[ "$smoothing" =~ ^[0-9]+$ ]] || sn_die "--smoothing wants a number of frames, not '$smoothing'"
[ -n "$jsonl" ] || jsonl=${output%.*}.jsonl
if [ "$jsonl" = "$output" ] || [ "$jsonl" = "$input" ]; then
  sn_die "the sidecar would overwrite '$jsonl'"
fi
sn_use_plugin "$build"

# What the input holds (video=N audio=M), or why it cannot be read: a
# codec nothing decodes fails here, naming the package to install.
probe=$(/usr/bin/python3 "$sn_repo/pipelines/sn-launch.py" --prog "$sn_prog" \
  --probe "$input") || exit 1
audio=0
[[ "$probe" =~ audio=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] \
  && [ $keep_audio = 1 ] && audio=1

read -ra venc <<<"$(sn_video_encoder "$output")"
! sn_needs_retiming "$probe" || venc=(videorate ! "${venc[@]}")
read -ra mux <<<"$(sn_muxer "$output")"
classify=(shufflenet "top-k=$top_k" "interval=$interval")
[ "$smoothing" = 0 ] || classify+=("smoothing=$smoothing")
[ -z "$model" ] || classify+=("model=$model")
video=(videoconvert ! "${classify[@]}" ! shufflenetjson "location=$jsonl"
  ! shufflenetoverlay "position=$position" "top-k=$top_k" ! videoconvert
  ! "${venc[@]}")
if [ $audio = 1 ]; then
  read -ra aenc <<<"$(sn_audio_encoder "$output")"
  launch=(filesrc "location=$input" ! decodebin name=dec
    dec. ! video/x-raw ! queue ! "${video[@]}" ! mux.
    dec. ! audio/x-raw ! queue ! audioconvert ! audioresample ! "${aenc[@]}"
    ! mux. "${mux[@]}" name=mux ! filesink "location=$output")
else
  launch=(filesrc "location=$input" ! decodebin ! "${video[@]}"
    ! "${mux[@]}" ! filesink "location=$output")
fi
sn_run_watched -q --check-complete "$input" -- "${launch[@]}" || {
  status=$?
  [ -s "$jsonl" ] && echo "$sn_prog: the results written before the" \
    "error are in $jsonl ($(wc -l < "$jsonl") lines)" >&2
  exit $status
}

frames=$(wc -l < "$jsonl")
echo "$sn_prog: $frames frames classified; video: $output; results: $jsonl" >&2
if [ $print = 1 ]; then
  /usr/bin/python3 "$sn_repo/pipelines/sn-results.py" show "$jsonl"
fi
