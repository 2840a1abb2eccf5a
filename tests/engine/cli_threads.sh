#!/usr/bin/env bash
# engine-cli-threads: shufflenet-cli on 1-3 threads, batches below, at and
# above the thread count, and after idle gaps long enough for the context's
# helper threads to fall asleep (40 ms) or short enough to find them
# spinning (1 ms), with the per-op profile; every run must exit 0 and print
# its timing line. The threads' results are checked by engine-api and the
# variants tests; this one exists for the runs themselves, which the
# ThreadSanitizer pass (tests/reliability/run_tsan.sh) watches.
#
#   tests/engine/cli_threads.sh CLI MODEL...
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 CLI MODEL..." >&2; exit 2; }
cli=$1; shift
runs=0
bench () {
  local out
  if ! out=$("$cli" bench "$@" 2>&1) || ! grep -q 'per batch' <<< "$out"; then
    echo "FAIL: shufflenet-cli bench $*"
    echo "$out"
    exit 1
  fi
  runs=$((runs + 1))
}
for model in "$@"; do
  for threads in 1 2 3; do
    for batch in 1 2 5; do
      bench "$model" --threads "$threads" --batch "$batch" --runs 3
    done
    bench "$model" --threads "$threads" --batch 1 --runs 3 --gap 40
  done
  bench "$model" --threads 2 --batch 1 --runs 4 --gap 1
  bench "$model" --threads 3 --batch 4 --runs 2 --gap 40
  bench "$model" --threads 2 --batch 2 --runs 2 --profile
done
echo "engine-cli-threads: $runs runs of shufflenet-cli bench passed"
