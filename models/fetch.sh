#!/usr/bin/env bash
# fetch.sh - get the official Megvii ShuffleNet v1 checkpoints, verify their
# sha256 and convert them to the self-describing ONNX models the engine and
# the element run (models/README.md).
#
#   models/fetch.sh [--dest DIR]
#
# For each checkpoint of the table below, the first source that has it:
#   1. $SHUFFLENET_WEIGHTS_DIR/NAME.pth.tar   (a folder on this machine)
#   2. the download cache ($SHUFFLENET_CACHE_DIR, default
#      ${XDG_CACHE_HOME:-~/.cache}/gst-shufflenet)
#   3. a download: the table's URL, else $SHUFFLENET_WEIGHTS_URL/NAME.pth.tar
#      (a mirror); curl gives up fast (connect 5 s) so offline runs stay quick
# Every copy's sha256 is checked, wherever it comes from. Each is then
# converted to DIR/NAME.onnx (default DIR: this folder, where the element
# looks for shufflenet_v1_g3_0.5x.onnx), unless that file is newer than the
# checkpoint and the converter. Optional checkpoints are skipped when absent.
#
# Exit status: 0 done; 1 error (bad checksum, failed download or conversion,
# usage); 2 a required checkpoint is in none of the sources (one line says
# what to do).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${SHUFFLENET_PYTHON:-/usr/bin/python3}
cache=${SHUFFLENET_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gst-shufflenet}
dest=$here

# The checkpoints: name (file NAME.pth.tar), required|optional, sha256, URL.
# Megvii publishes them only in a OneDrive folder share
# (https://1drv.ms/f/s!AgaP37NGYuEXhRfQxHRseR7eSxXo, linked from
# github.com/megvii-model/ShuffleNet-Series), which has no stable per-file
# download URL: the URL column is "-" until one exists, and downloads go
# through SHUFFLENET_WEIGHTS_URL. Other released sizes (g3/g8 at 1.0x, 1.5x,
# 2.0x) convert too: add a row with their sha256, or run convert_megvii.py.
CHECKPOINTS=(
  "shufflenet_v1_g3_0.5x required da5df689f1d8f278fd1446e73f3a63aa7809206fadc6678bfd7580aad412abde -"
  "shufflenet_v1_g8_0.5x optional 324922040c0ee642ce7168f32259aca0c9e16baf6b2abade4122edff6ba58382 -"
)

die () {
  echo "fetch.sh: error: $*" >&2
  exit 1
}

usage () {
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dest) [ $# -ge 2 ] || die "--dest needs a folder"; dest=$2; shift 2 ;;
    --dest=*) dest=${1#--dest=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (usage: fetch.sh [--dest DIR])" ;;
  esac
done
mkdir -p "$dest" || die "cannot create $dest"

# verify FILE SHA256 [WHAT]: the file's sha256 must be SHA256.
verify () {
  local sum
  sum=$(sha256sum "$1" | cut -d' ' -f1) || die "cannot read $1"
  [ "$sum" = "$2" ] || die "${3:-$1}: sha256 $sum, expected $2 (a corrupt" \
    "or different file: use the official checkpoint)"
}

# download NAME URL SHA256: fetch into the cache, verified, or fail.
download () {
  local part="$cache/$1.pth.tar.part" msg
  mkdir -p "$cache" || die "cannot create the cache $cache"
  if ! msg=$(curl -fsSL --connect-timeout 5 --max-time 300 -o "$part" \
      "$2" 2>&1); then
    rm -f "$part"
    die "download of $2 failed (${msg#curl: }); offline? set" \
      "SHUFFLENET_WEIGHTS_DIR to a folder holding $1.pth.tar instead"
  fi
  # a wrong download is removed, so that no bad copy stays in the cache
  ( verify "$part" "$3" "download of $2" ) || { rm -f "$part"; exit 1; }
  mv -f "$part" "$cache/$1.pth.tar"
}

# locate NAME SHA256 URL: print the verified checkpoint's path, or nothing
# when no source has it.
locate () {
  local name=$1 sum=$2 url=$3 file=$1.pth.tar
  local dir=${SHUFFLENET_WEIGHTS_DIR:-}
  if [ -n "$dir" ] && [ -f "$dir/$file" ]; then
    verify "$dir/$file" "$sum"
    echo "$dir/$file"
    return
  fi
  if [ -f "$cache/$file" ]; then
    verify "$cache/$file" "$sum"
    echo "$cache/$file"
    return
  fi
  if [ "$url" = "-" ] && [ -n "${SHUFFLENET_WEIGHTS_URL:-}" ]; then
    url=${SHUFFLENET_WEIGHTS_URL%/}/$file
  fi
  if [ "$url" != "-" ]; then
    download "$name" "$url" "$sum"
    echo "$cache/$file"
  fi
}

# convert CHECKPOINT NAME: DEST/NAME.onnx, unless it is up to date.
convert () {
  local ckpt=$1 out=$dest/$2.onnx dep fresh=1
  if [ -f "$out" ]; then
    for dep in "$ckpt" "$here/convert_megvii.py" "$here/sn_metadata.py" \
        "$here/onnx_numpy.py" "$here/imagenet-labels.txt"; do
      [ "$out" -nt "$dep" ] || fresh=0
    done
  else
    fresh=0
  fi
  if [ $fresh = 1 ]; then
    echo "fetch.sh: $out is up to date"
    return
  fi
  # on failure the converter prints the one error line, and leaves no file
  "$python" "$here/convert_megvii.py" --quiet "$ckpt" "$out" || exit 1
  echo "fetch.sh: converted $ckpt -> $out"
}

for row in "${CHECKPOINTS[@]}"; do
  read -r name need sum url <<<"$row"
  ckpt=$(locate "$name" "$sum" "$url") || exit 1
  if [ -z "$ckpt" ]; then
    if [ "$need" = required ]; then
      echo "fetch.sh: $name.pth.tar not found: set SHUFFLENET_WEIGHTS_DIR" \
        "to a folder holding the Megvii checkpoints, or" \
        "SHUFFLENET_WEIGHTS_URL to a mirror and connect to the internet" \
        "(models/README.md)" >&2
      exit 2
    fi
    echo "fetch.sh: $name.pth.tar not available, skipped"
    continue
  fi
  convert "$ckpt" "$name"
done
