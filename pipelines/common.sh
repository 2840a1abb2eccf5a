# shellcheck shell=bash
# common.sh - sourced by the pipeline scripts: finding the plugin and the
# skimage photos, error messages. Not a script of its own.

sn_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sn_prog=$(basename "$0")

# sn_usage: the calling script's help, its comment block after the #! line.
sn_usage () {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

sn_die () {
  echo "$sn_prog: error: $*" >&2
  exit 1
}

# sn_use_plugin [BUILD_DIR]: make gst-launch-1.0 find the shufflenet plugin.
# With BUILD_DIR (a meson build folder of this project) its gst/ goes first
# in GST_PLUGIN_PATH; without it an existing GST_PLUGIN_PATH is kept, else
# the source tree's build/ is used when built, else the installed plugin.
sn_use_plugin () {
  local build=${1:-} dir
  if [ -n "$build" ]; then
    dir=$build/gst
    [ -f "$dir/libgstshufflenet.so" ] || sn_die "$dir/libgstshufflenet.so" \
      "not found: is '$build' a built meson build folder of gst-shufflenet?"
    dir=$(cd "$dir" && pwd)
    export GST_PLUGIN_PATH="$dir${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
  elif [ -z "${GST_PLUGIN_PATH:-}${GST_PLUGIN_PATH_1_0:-}" ] \
      && [ -f "$sn_repo/build/gst/libgstshufflenet.so" ]; then
    export GST_PLUGIN_PATH="$sn_repo/build/gst"
  fi
  command -v gst-launch-1.0 >/dev/null \
    || sn_die "gst-launch-1.0 not found (apt-get install gstreamer1.0-tools)"
  gst-inspect-1.0 shufflenet >/dev/null 2>&1 \
    || sn_die "GStreamer cannot find the shufflenet plugin: build it" \
      "(meson setup build && meson compile -C build) and pass --build build," \
      "or set GST_PLUGIN_PATH to the build's gst/ folder, or meson install"
}

# sn_photos_dir: the folder of python3-skimage's sample photos.
sn_photos_dir () {
  local d
  d=$(/usr/bin/python3 -c 'import os, skimage.data;
print(os.path.dirname(skimage.data.__file__))' 2>/dev/null) \
    || sn_die "python3-skimage is not installed (apt-get install python3-skimage)"
  echo "$d"
}

# sn_need_value OPTION ARGC: the option needs a value.
sn_need_value () {
  [ "$2" -ge 2 ] || sn_die "$1 needs a value"
}

# The writers of each output extension (gst-launch words, one line each),
# chosen by FILE's extension; they fail for an extension we have no writer
# for. Read one into an array: read -ra enc <<<"$(sn_encoder F)".
# sn_video_encoder FILE: raw video -> the encoded stream (H.264 as 4:2:0,
# which every player takes; without B-frames, with which mp4mux 1.22 lost
# a frame and shifted the timestamps of an MP4's re-encoding).
sn_video_encoder () {
  case "${1,,}" in
    *.mp4 | *.mkv) echo "video/x-raw,format=I420 ! x264enc speed-preset=veryfast bframes=0 ! h264parse" ;;
    *.webm) echo "vp8enc deadline=1" ;;
    *.ogv | *.ogg) echo "theoraenc" ;;
    *.avi) echo "jpegenc" ;;
    *) return 1 ;;
  esac
}
# sn_muxer FILE: the container.
sn_muxer () {
  case "${1,,}" in
    *.mp4) echo "mp4mux" ;;
    *.mkv) echo "matroskamux" ;;
    *.webm) echo "webmmux" ;;
    *.ogv | *.ogg) echo "oggmux" ;;
    *.avi) echo "avimux" ;;
    *) return 1 ;;
  esac
}
# sn_audio_encoder FILE: raw audio -> the container's audio (AAC, Opus,
# Vorbis, PCM in AVI).
sn_audio_encoder () {
  case "${1,,}" in
    *.mp4) echo "avenc_aac" ;;
    *.mkv | *.webm) echo "opusenc" ;;
    *.ogv | *.ogg) echo "vorbisenc" ;;
    *.avi) echo "audio/x-raw,format=S16LE" ;;
    *) return 1 ;;
  esac
}
# sn_encoder FILE: encoder and muxer in one chain (video only).
sn_encoder () {
  local v m
  v=$(sn_video_encoder "$1") && m=$(sn_muxer "$1") || return 1
  echo "$v ! $m"
}
# sn_needs_retiming PROBE: whether decoded frames of the input that
# sn-launch.py --probe described need videorate before an encoder. AVI has
# a constant frame rate by design, and MPEG-4 in AVI with packed B-frames
# decodes to repeated or missing timestamps (opencv-doc's Megamind.avi),
# which mp4mux refuses: videorate puts every frame back in its slot.
sn_needs_retiming () {
  [[ "$1" == *container=video/x-msvideo* ]]
}
sn_out_extensions=".mp4, .mkv (H.264), .webm (VP8), .ogv (Theora) or .avi (Motion JPEG)"

# sn_quote ARG...: the arguments as one shell-readable line.
sn_quote () {
  local a line=""
  for a in "$@"; do
    if [[ "$a" =~ ^[][A-Za-z0-9_./:=,+!@%-]+$ ]]; then
      line+=" $a"
    else
      line+=" $(printf '%q' "$a")"
    fi
  done
  echo "${line# }"
}

# sn_run_watched [RUNNER-OPTIONS --] WORD...: print the pipeline, then run
# it with pipelines/sn-launch.py, which fails fast on missing plugins and
# can reconnect live sources (sn-launch.py --help). The printed line runs
# as it is with gst-launch-1.0, without those checks.
sn_run_watched () {
  local opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  echo "$sn_prog: gst-launch-1.0 $(sn_quote "$@")" >&2
  /usr/bin/python3 "$sn_repo/pipelines/sn-launch.py" --prog "$sn_prog" \
    "${opts[@]}" -- "$@"
}

# sn_run_launch ARG...: print the gst-launch-1.0 command, then run it.
sn_run_launch () {
  echo "$sn_prog: gst-launch-1.0 $(sn_quote "$@")" >&2
  gst-launch-1.0 "$@"
}
