#!/usr/bin/env bash
# meson test --wrapper of the ThreadSanitizer pass (run_tsan.sh): runs a
# test of the plain build with the TSan build's programs. Every argument
# naming a program of the plain build (SN_TSAN_PLAIN) that the TSan build
# (SN_TSAN_BUILD) has too is swapped for it (the test itself, the
# shufflenet-cli a script runs); models and data stay the plain build's.
# GStreamer loads the TSan build's plugin, scanned in this process: the
# uninstrumented gst-plugin-scanner cannot load it.
set -euo pipefail
plain=${SN_TSAN_PLAIN:?} tsan=${SN_TSAN_BUILD:?}
args=()
for a in "$@"; do
  if [[ $a == "$plain"/* ]]; then
    t=$tsan/${a#"$plain"/}
    [ -f "$t" ] && [ -x "$t" ] && a=$t
  fi
  args+=("$a")
done
export GST_PLUGIN_PATH_1_0="$tsan/gst" GST_REGISTRY_1_0="$tsan/registry-tsan.bin"
export GST_REGISTRY_FORK=no LD_LIBRARY_PATH="$tsan/gst${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# GSlice hands a freed block to the next allocation through per-thread
# magazines TSan cannot see: a new GstBuffer would seem to race with the
# old one that had its memory.
export G_SLICE=always-malloc
exec "${args[@]}"
