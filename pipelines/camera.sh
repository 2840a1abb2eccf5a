#!/usr/bin/env bash
# camera.sh - classify a live camera (v4l2src) and show the picture with
# the labels drawn on it:
#
#   v4l2src ! queue leaky=downstream max-size-buffers=1 ! videoconvert
#     ! videoscale ! video/x-raw,width=W,height=H ! shufflenet
#     ! shufflenetoverlay ! videoconvert ! autovideosink
#
# Latency stays bounded: the one-frame leaky queue drops the frames the
# classifier cannot keep up with instead of piling them up, and the sink,
# synchronised to the clock, tells shufflenet (QoS) which frames are late
# so that it reuses the last result for them. --report-latency measures the
# source-to-sink time of each frame with GStreamer's latency tracer and
# prints min/median/max; --max-latency turns that into a check.
#
# Usage: pipelines/camera.sh [OPTIONS]
#
# Options:
#   --device DEV      camera device (default /dev/video0)
#   --mjpeg           ask the camera for Motion JPEG (decoded by jpegdec)
#   --test-source     no camera: a live videotestsrc stand-in, same pipeline
#   --fps N           frame rate of the test source (default 30)
#   --size WxH        frames are scaled to this (default 640x480)
#   --num-buffers N   stop after N camera frames (default: run until Ctrl-C)
#   --sink ELEMENT    video sink with its properties (default autovideosink;
#                     "fakesink sync=true" to show nothing)
#   --top-k N         classes drawn (default 3)
#   --interval N      classify every Nth frame (default 1)
#   --model FILE      ONNX model (default: the element's default model)
#   --report-latency  print the latency statistics at the end
#   --max-latency MS  exit 1 when a frame's latency exceeded MS milliseconds
#                     (implies --report-latency)
#   --unbounded-queue a queue that never drops instead of the leaky one,
#                     to watch latency grow when frames come too fast
#   --build DIR       use the plugin of the meson build folder DIR
#   -h, --help        this text
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage () {
  sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'
}

device=/dev/video0 mjpeg=0 test_source=0 fps=30 size=640x480 num_buffers=""
sink="autovideosink" top_k=3 interval=1 model="" report=0 max_latency=""
queue="queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0"
build=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) sn_need_value "$1" $#; device=$2; shift 2 ;;
    --mjpeg) mjpeg=1; shift ;;
    --test-source) test_source=1; shift ;;
    --fps) sn_need_value "$1" $#; fps=$2; shift 2 ;;
    --size) sn_need_value "$1" $#; size=$2; shift 2 ;;
    --num-buffers) sn_need_value "$1" $#; num_buffers=$2; shift 2 ;;
    --sink) sn_need_value "$1" $#; sink=$2; shift 2 ;;
    --top-k) sn_need_value "$1" $#; top_k=$2; shift 2 ;;
    --interval) sn_need_value "$1" $#; interval=$2; shift 2 ;;
    --model) sn_need_value "$1" $#; model=$2; shift 2 ;;
    --report-latency) report=1; shift ;;
    --max-latency) sn_need_value "$1" $#; max_latency=$2; report=1; shift 2 ;;
    --unbounded-queue)
      queue="queue max-size-buffers=0 max-size-bytes=0 max-size-time=0"
      shift ;;
    --build) sn_need_value "$1" $#; build=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) sn_die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$size" =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || sn_die "--size wants WxH, not '$size'"
width=${BASH_REMATCH[1]} height=${BASH_REMATCH[2]}
for v in "fps:$fps" "top-k:$top_k" "interval:$interval" \
    "num-buffers:${num_buffers:-1}"; do
  [[ "${v#*:}" =~ ^[1-9][0-9]*$ ]] || sn_die "--${v%%:*} wants a positive integer, not '${v#*:}'"
done
[ -z "$max_latency" ] || [[ "$max_latency" =~ ^[0-9]+([.][0-9]+)?$ ]] \
  || sn_die "--max-latency wants milliseconds, not '$max_latency'"
sn_use_plugin "$build"

# The source: the camera, or its stand-in.
if [ $test_source = 1 ]; then
  source=(videotestsrc is-live=true pattern=ball
    ${num_buffers:+"num-buffers=$num_buffers"}
    ! "video/x-raw,width=$width,height=$height,framerate=$fps/1")
else
  [ -e "$device" ] || sn_die "no camera at $device (use --device, or" \
    "--test-source to run without one)"
  source=(v4l2src "device=$device" ${num_buffers:+"num-buffers=$num_buffers"})
  [ $mjpeg = 0 ] || source+=(! image/jpeg ! jpegdec)
fi
classify=(shufflenet "top-k=$top_k" "interval=$interval")
[ -z "$model" ] || classify+=("model=$model")
read -ra queue <<<"$queue"
read -ra sink <<<"$sink"
launch=("${source[@]}" ! "${queue[@]}" ! videoconvert ! videoscale
  ! "video/x-raw,width=$width,height=$height" ! "${classify[@]}"
  ! shufflenetoverlay "top-k=$top_k" show-time=true ! videoconvert
  ! "${sink[@]}")

if [ $report = 0 ]; then
  sn_run_launch -e "${launch[@]}"
  exit
fi

# The latency tracer logs one "latency, ..., time=(guint64)NS" record per
# frame that reached the sink (source pad push -> sink pad).
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT
status=0
GST_TRACERS=latency GST_DEBUG=GST_TRACER:7 GST_DEBUG_FILE=$trace \
  GST_DEBUG_NO_COLOR=1 sn_run_launch -e "${launch[@]}" || status=$?
[ $status = 0 ] || exit $status
grep -o '[^-]latency, .*time=(guint64)[0-9]*' "$trace" \
  | sed 's/.*time=(guint64)//' | sort -n | awk -v max="$max_latency" \
    -v prog="$sn_prog" '
  { ms[NR] = $1 / 1e6 }
  END {
    if (NR == 0) { print prog ": no latency records (tracer missing?)"; exit 1 }
    printf "%s: latency over %d frames: min %.1f ms, median %.1f ms, max %.1f ms\n",
      prog, NR, ms[1], ms[int((NR + 1) / 2)], ms[NR]
    if (max != "" && ms[NR] > max + 0) {
      printf "%s: latency exceeded %s ms\n", prog, max; exit 1
    }
  }'
