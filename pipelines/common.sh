# shellcheck shell=bash
# common.sh - sourced by the pipeline scripts: finding the plugin and the
# skimage photos, error messages. Not a script of its own.

sn_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sn_prog=$(basename "$0")

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

# sn_encoder FILE: the encoder and muxer (gst-launch words, one line) that
# write FILE, chosen by its extension; fails for an extension we have no
# writer for. Read it into an array: read -ra enc <<<"$(sn_encoder F)".
sn_encoder () {
  case "${1,,}" in
    *.webm) echo "vp8enc deadline=1 ! webmmux" ;;
    *.mkv) echo "vp8enc deadline=1 ! matroskamux" ;;
    *.ogv | *.ogg) echo "theoraenc ! oggmux" ;;
    *.avi) echo "jpegenc ! avimux" ;;
    *) return 1 ;;
  esac
}

# sn_run_launch ARG...: print the gst-launch-1.0 command, then run it.
sn_run_launch () {
  local a line="gst-launch-1.0"
  for a in "$@"; do
    if [[ "$a" =~ ^[][A-Za-z0-9_./:=,+!@%-]+$ ]]; then
      line+=" $a"
    else
      line+=" $(printf '%q' "$a")"
    fi
  done
  echo "$sn_prog: $line" >&2
  gst-launch-1.0 "$@"
}
