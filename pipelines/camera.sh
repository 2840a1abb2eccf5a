#!/usr/bin/env bash
# camera.sh - classify a live camera and show the picture with the labels
# drawn on it; optionally write or publish every frame's result:
#
#   SOURCE ! queue leaky=downstream max-size-buffers=1 ! videoconvert
#     ! videoscale ! video/x-raw,width=W,height=H ! shufflenet
#     [! shufflenetjson location=RESULTS] ! shufflenetoverlay ! videoconvert
#     ! autovideosink
#
# SOURCE: a V4L2 camera (v4l2src), or --uri: an RTSP camera (rtspsrc, over
# TCP, 200 ms jitter buffer, then decodebin), an HTTP(S) stream or a file
# (uridecodebin). A camera that drops, ends its stream or stalls is
# reconnected with backoff (0.5 s doubling to 10 s; the pipeline restarts
# and results continue, appended to a --results file); a decoder missing
# for the camera's codec, or refused credentials, end the run at once with
# the reason. The pipelines run through pipelines/sn-launch.py.
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
#   --uri URI         rtsp://, http(s)://, file:// (or a file path) instead
#                     of the V4L2 camera. A user name may be in the URI; its
#                     password is better not (other users see command
#                     lines): --password-file or $SHUFFLENET_CAMERA_PASSWORD
#   --password-file F the camera's password, first line of F (chmod 600)
#   --rtsp-transport P  tcp (default), udp or auto
#   --latency MS      RTSP jitter buffer (default 200)
#   --stall-timeout S a live camera without a frame for S seconds counts as
#                     dropped (default 10; 0: never)
#   --no-reconnect    end the run when the camera drops
#   --results LOC     write every frame's result as JSON Lines to the file
#                     LOC, or publish it to mqtt[s]://[user@]host[:port]/topic
#                     (password: $SHUFFLENET_MQTT_PASSWORD or
#                     --results-password-file; see shufflenetjson)
#   --results-password-file F  the MQTT password, first line of F
#   --test-source     no camera: a live videotestsrc stand-in, same pipeline
#   --fps N           frame rate of the test source (default 30)
#   --size WxH        frames are scaled to this (default 640x480)
#   --num-buffers N   stop after N frames (of the test source; of a camera:
#                     that reached the classifier) (default: until Ctrl-C)
#   --sink ELEMENT    video sink with its properties (default autovideosink;
#                     "fakesink sync=true" to show nothing)
#   --top-k N         classes drawn (default 3)
#   --interval N      classify every Nth frame (default 1)
#   --smoothing N     draw and send the moving average over about N
#                     classified frames (labels that hold still; 0 off)
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


device=/dev/video0 mjpeg=0 test_source=0 fps=30 size=640x480 num_buffers=""
sink="autovideosink" top_k=3 interval=1 smoothing=0 model="" report=0 max_latency=""
leaky="queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0"
unbounded="queue max-size-buffers=0 max-size-bytes=0 max-size-time=0"
queue=$leaky uri="" password_file="" transport=tcp latency=200
stall_timeout=10 reconnect=1 results="" results_password_file="" build=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) sn_need_value "$1" $#; device=$2; shift 2 ;;
    --mjpeg) mjpeg=1; shift ;;
    --uri) sn_need_value "$1" $#; uri=$2; shift 2 ;;
    --password-file) sn_need_value "$1" $#; password_file=$2; shift 2 ;;
    --rtsp-transport) sn_need_value "$1" $#; transport=$2; shift 2 ;;
    --latency) sn_need_value "$1" $#; latency=$2; shift 2 ;;
    --stall-timeout) sn_need_value "$1" $#; stall_timeout=$2; shift 2 ;;
    --no-reconnect) reconnect=0; shift ;;
    --results) sn_need_value "$1" $#; results=$2; shift 2 ;;
    --results-password-file) sn_need_value "$1" $#
      results_password_file=$2; shift 2 ;;
    --test-source) test_source=1; shift ;;
    --fps) sn_need_value "$1" $#; fps=$2; shift 2 ;;
    --size) sn_need_value "$1" $#; size=$2; shift 2 ;;
    --num-buffers) sn_need_value "$1" $#; num_buffers=$2; shift 2 ;;
    --sink) sn_need_value "$1" $#; sink=$2; shift 2 ;;
    --top-k) sn_need_value "$1" $#; top_k=$2; shift 2 ;;
    --interval) sn_need_value "$1" $#; interval=$2; shift 2 ;;
    --smoothing) sn_need_value "$1" $#; smoothing=$2; shift 2 ;;
    --model) sn_need_value "$1" $#; model=$2; shift 2 ;;
    --report-latency) report=1; shift ;;
    --max-latency) sn_need_value "$1" $#; max_latency=$2; report=1; shift 2 ;;
    --unbounded-queue) queue=$unbounded; shift ;;
    --build) sn_need_value "$1" $#; build=$2; shift 2 ;;
    -h | --help) sn_usage; exit 0 ;;
    *) sn_die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$size" =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]] || sn_die "--size wants WxH, not '$size'"
width=${BASH_REMATCH[1]} height=${BASH_REMATCH[2]}
for v in "fps:$fps" "top-k:$top_k" "interval:$interval" \
    "num-buffers:${num_buffers:-1}" "latency:$latency"; do
  [[ "${v#*:}" =~ ^[0-9]+$ ]] && [ "${v#*:}" -gt 0 ] \
    || [ "$v" = "latency:0" ] \
    || sn_die "--${v%%:*} wants a positive integer, not '${v#*:}'"
done
[ -z "$max_latency" ] || [[ "$max_latency" =~ ^[0-9]+([.][0-9]+)?$ ]] \
  || sn_die "--max-latency wants milliseconds, not '$max_latency'"
[[ "$stall_timeout" =~ ^[0-9]+([.][0-9]+)?$ ]] \
  || sn_die "--stall-timeout wants seconds, not '$stall_timeout'"
[[ "$smoothing" =~ ^[0-9]+$ ]] \
  || sn_die "--smoothing wants a number of frames, not '$smoothing'"
case "$transport" in
  tcp | udp) protocols=$transport ;;
  auto) protocols="tcp+udp-mcast+udp" ;;
  *) sn_die "--rtsp-transport wants tcp, udp or auto, not '$transport'" ;;
esac

# A password must not travel on a command line: one found in a URL moves
# to the environment of the runner (readable by this user only), the URL
# keeps the user name.
runner=(-e)
split_userinfo () {  # URL -> sets url_plain, url_user, url_password
  url_plain=$1 url_user="" url_password=""
  if [[ "$1" =~ ^([A-Za-z][A-Za-z0-9+.-]*://)([^/@]*@)?(.*)$ ]] \
      && [ -n "${BASH_REMATCH[2]}" ]; then
    local info=${BASH_REMATCH[2]%@}
    url_plain=${BASH_REMATCH[1]}${BASH_REMATCH[3]}
    url_user=${info%%:*}
    [ "$info" = "$url_user" ] || url_password=${info#*:}
  fi
}
# take_url_password WHOSE OPTION VARIABLE: after split_userinfo, a password
# that was in the URL is warned about (other users see command lines) and
# handed on in VARIABLE; fails when there was none.
take_url_password () {
  [ -n "$url_password" ] || return 1
  echo "$sn_prog: warning: the $1 password was on the command line," \
    "where other users can see it; use $2 or \$$3" >&2
  export "$3=$url_password"
}

# The source.
live=1 netqueue=()
if [ -n "$uri" ]; then
  [ $test_source = 0 ] || sn_die "--uri and --test-source exclude each other"
  case "$uri" in
    rtsp://* | rtsps://* | http://* | https://* | file://*) ;;
    *://*) sn_die "--uri wants rtsp://, http(s)://, file:// or a file path, not '${uri%%://*}://'" ;;
    *) [ -f "$uri" ] && [ -r "$uri" ] || sn_die "cannot read the video '$uri'"
       uri="file://$(cd "$(dirname "$uri")" && pwd)/$(basename "$uri")" ;;
  esac
  split_userinfo "$uri"
  take_url_password "camera's" --password-file SHUFFLENET_CAMERA_PASSWORD \
    || true
  [ -z "$url_user" ] || runner+=(--source-user "$url_user")
  [ -z "$password_file" ] || runner+=(--source-password-file "$password_file")
  case "$url_plain" in
    rtsp* | http*)
      netqueue=(queue leaky=downstream max-size-buffers=0 max-size-bytes=0
        max-size-time=2000000000) ;;
  esac
  case "$url_plain" in
    rtsp*)
      source=(rtspsrc name=src "location=$url_plain" "latency=$latency"
        "protocols=$protocols" ! application/x-rtp,media=video ! decodebin) ;;
    *)
      # The video pad only (an audio track stays unlinked).
      source=(uridecodebin name=src "uri=$url_plain" ! video/x-raw)
      [[ "$url_plain" != file://* ]] || live=0 ;;
  esac
elif [ $test_source = 1 ]; then
  source=(videotestsrc name=src is-live=true pattern=ball
    ${num_buffers:+"num-buffers=$num_buffers"}
    ! "video/x-raw,width=$width,height=$height,framerate=$fps/1")
  num_buffers="" reconnect=0
else
  [ -e "$device" ] || sn_die "no camera at $device (use --device, or" \
    "--test-source to run without one, or --uri for a network camera)"
  source=(v4l2src name=src "device=$device")
  [ $mjpeg = 0 ] || source+=(! image/jpeg ! jpegdec)
fi
# A file plays at its own pace (the sink's clock): nothing to drop.
[ $live = 1 ] || { queue=$unbounded; reconnect=0; }
[ $reconnect = 0 ] || runner+=(--reconnect)
[ $live = 0 ] || [ $test_source = 1 ] \
  || runner+=(--stall-timeout "$stall_timeout")
[ -z "$num_buffers" ] || runner+=(--stop-after "$num_buffers")
sn_use_plugin "$build"

classify=(shufflenet "top-k=$top_k" "interval=$interval")
[ "$smoothing" = 0 ] || classify+=("smoothing=$smoothing")
[ -z "$model" ] || classify+=("model=$model")
if [ -n "$results" ]; then
  json=(shufflenetjson)
  case "$results" in
    mqtt://* | mqtts://*)
      split_userinfo "$results"
      if take_url_password "broker's" --results-password-file \
          SHUFFLENET_MQTT_PASSWORD; then
        results=${url_plain/:\/\//://$url_user@}
      fi
      [ -z "$results_password_file" ] \
        || json+=("mqtt-password-file=$results_password_file") ;;
  esac
  classify+=(! "${json[@]}" "location=$results")
fi
read -ra queue <<<"$queue"
read -ra sink <<<"$sink"
# A network camera's frames wait for their time at the sink (the jitter
# buffer's latency): a queue of its own there keeps that wait off the
# classifier's thread, whose leaky queue would otherwise drop the frames
# that arrive meanwhile.
[ ${#netqueue[@]} = 0 ] || sink=("${netqueue[@]}" ! "${sink[@]}")
launch=("${source[@]}" ! "${queue[@]}" ! videoconvert ! videoscale
  ! "video/x-raw,width=$width,height=$height" ! "${classify[@]}"
  ! shufflenetoverlay "top-k=$top_k" show-time=true ! videoconvert
  ! "${sink[@]}")

if [ $report = 0 ]; then
  sn_run_watched "${runner[@]}" -- "${launch[@]}"
  exit
fi

# The latency tracer logs one "latency, ..., time=(guint64)NS" record per
# frame that reached the sink (source pad push -> sink pad).
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT
status=0
GST_TRACERS=latency GST_DEBUG=GST_TRACER:7 GST_DEBUG_FILE=$trace \
  GST_DEBUG_NO_COLOR=1 sn_run_watched "${runner[@]}" -- "${launch[@]}" \
  || status=$?
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
