#!/usr/bin/env bash
# ab.sh - is engine build B faster than build A? Interleaved rounds on the
# same model, for judging one engine change on a noisy machine (the main
# benchmark compares against ONNX Runtime; this compares two of ours).
#
#   bench/ab.sh CLI_A CLI_B MODEL [--threads N] [--batch B] [--rounds R]
#               [--runs N]
#
# CLI_A, CLI_B: two shufflenet-cli binaries (e.g. a copy of
# build/engine/shufflenet-cli made before the change, and the rebuilt one).
# Each round runs A then B (`shufflenet-cli bench`, --runs each, default
# 150) and reads their medians; the order swaps every round. Prints every
# round, then the median over rounds of each side's median, their minimums
# and B/A. Defaults: 1 thread, batch 1, 9 rounds. Exit status 2 on usage
# errors, 1 when a run fails.
set -euo pipefail

usage () {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -ge 3 ] || usage
a=$1 b=$2 model=$3
shift 3
threads=1 batch=1 rounds=9 runs=150
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case "$1" in
        --threads) threads=$2 ;;
        --batch) batch=$2 ;;
        --rounds) rounds=$2 ;;
        --runs) runs=$2 ;;
        *) usage ;;
    esac
    shift 2
done
for v in "$threads" "$batch" "$rounds" "$runs"; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "ab.sh: '$v' is not a positive count" >&2; exit 2; }
done
for cli in "$a" "$b"; do
    [ -x "$cli" ] || { echo "ab.sh: $cli is not an executable" >&2; exit 2; }
done

# median_of CLI: one bench run's median ms per batch.
median_of () {
    local line
    line=$("$1" bench "$model" --threads "$threads" --batch "$batch" \
        --runs "$runs") || { echo "ab.sh: $1 failed on $model" >&2; exit 1; }
    sed -n 's/.*median \([0-9.]*\) ms per batch.*/\1/p' <<< "$line"
}

echo "round  A ms  B ms  (medians of $runs runs; $threads thread(s), batch $batch)"
results=""
for r in $(seq "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        ma=$(median_of "$a"); mb=$(median_of "$b")
    else
        mb=$(median_of "$b"); ma=$(median_of "$a")
    fi
    printf '%5d  %s  %s\n' "$r" "$ma" "$mb"
    results+="$ma $mb"$'\n'
done
/usr/bin/python3 -c '
import statistics as st, sys
pairs = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
a = [p[0] for p in pairs]; b = [p[1] for p in pairs]
ma, mb = st.median(a), st.median(b)
print(f"A: median {ma:.3f} ms (min {min(a):.3f});  B: median {mb:.3f} ms "
      f"(min {min(b):.3f});  B/A {mb / ma:.3f} (min {min(b) / min(a):.3f})")
' <<< "$results"
