#!/usr/bin/python3
"""Run shufflenet-cli on every ShuffleNet v1 variant written by gen_models.py
and compare with the PyTorch references.

Usage: test_variants.py --cli PATH/shufflenet-cli --models DIR
                        [--threads 1,2,3,4,7] [--only NAME[,NAME]] [--timeout S]

For each variant in DIR/manifest.json:
  * `shufflenet-cli info MODEL` exits 0 and prints the input layout (NCHW or
    NHWC), the numbers 3, H and W, and the class count on a line that says
    "class";
  * `shufflenet-cli run MODEL --input IN.npy --output OUT.npy --threads T`
    for each T writes float32 [N, classes] within tolerance of NAME.out.npy;
  * a variant with "expect_error" must be refused: exit status != 0 (not a
    signal), exactly one line on stderr naming the op and the node, and no
    output file.
Prints one line per variant, then `variants: P passed, F failed`; exits 1
when anything failed (or when there was nothing to test).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

# Logits: max|engine - ref| <= LOGIT_REL_TOL * max(1, max|ref|).  The engine
# folds BatchNorm into the conv weights (every weight rounded differently
# from conv-then-BN) and sums in fp32 in another order than PyTorch (blocked
# GEMMs, per-thread tiles); across the ~50 layers of these random-weight
# networks that typically leaves ~1e-5 relative difference.  1e-4 keeps a
# 10x margin, while a real mistake (a pad on the wrong side, the shuffle the
# wrong way round, a slice off by one channel) moves the logits by > 1e-2.
LOGIT_REL_TOL = 1e-4
# Probabilities are in [0, 1] and sum to 1: an absolute bound, plus the same
# top-1 (gen_models.py keeps the top-2 gap of every reference > 1e-3).
PROB_ABS_TOL = 1e-5


def cli_call(argv, timeout):
    """Run the CLI; returns (returncode, stdout, stderr).  A timeout or an
    unstartable binary is reported as returncode None with the reason."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {timeout} s"
    except OSError as e:
        return None, "", f"cannot run {argv[0]}: {e}"
    return p.returncode, p.stdout, p.stderr


def describe_exit(rc, err):
    if rc is None:
        return err
    if rc < 0:
        return f"killed by signal {-rc} (crash); stderr: {err.strip()[-300:]!r}"
    return f"exit {rc}; stderr: {err.strip()[-300:]!r}"


def ints_of(line):
    return [int(t) for t in re.findall(r"\d+", line)]


def check_info(args, entry, model):
    """Problems (strings) with `info`; empty when it is right."""
    rc, out, err = cli_call([args.cli, "info", model], args.timeout)
    if rc != 0:
        return [f"info: {describe_exit(rc, err)}"]
    problems = []
    # Variant names carry sizes ("..._65x49_..."): judge the text without them.
    out = out.replace(model, "MODEL").replace(os.path.basename(model), "MODEL")
    lines = out.splitlines()
    if not re.search(r"\b%s\b" % entry["layout"], out, re.IGNORECASE):
        problems.append(f"info does not say {entry['layout']}")
    # The input shape: 3, H and W must all be printed (H twice when H == W).
    need, have = [3, entry["height"], entry["width"]], ints_of(out)
    if any(have.count(n) < need.count(n) for n in need):
        problems.append(f"info does not print the input shape 3, {entry['height']}, "
                        f"{entry['width']}")
    # Logits or probabilities: when info names one, it must be the right one.
    said = {w for w in ("logits", "probabilities") if w[:-1] in out.lower()}
    if said and said != {entry["outputs"]}:
        problems.append(f"info says {'/'.join(sorted(said))}, the model gives {entry['outputs']}")
    if not any(re.search("class", ln, re.IGNORECASE) and entry["classes"] in ints_of(ln)
               for ln in lines):
        problems.append(f"info has no 'class' line with {entry['classes']}")
    if problems:
        problems.append("info printed: " + " | ".join(lines[:12]))
    return problems


def compare(entry, got, ref):
    """(ok, summary) for one engine output against the reference."""
    if got.dtype != np.float32 or got.shape != ref.shape:
        return False, f"output {got.dtype} {list(got.shape)}, want float32 {list(ref.shape)}"
    if not np.all(np.isfinite(got)):
        return False, "output has NaN/Inf"
    err = float(np.abs(got.astype(np.float64) - ref).max())
    if entry["outputs"] == "probabilities":
        same_top1 = bool(np.all(got.argmax(1) == ref.argmax(1)))
        ok = err <= PROB_ABS_TOL and same_top1
        note = "" if same_top1 else ", top-1 differs"
        return ok, f"abs err {err:.2e} (tol {PROB_ABS_TOL:.0e}){note}"
    tol = LOGIT_REL_TOL * max(1.0, float(np.abs(ref).max()))
    return err <= tol, f"abs err {err:.2e} (tol {tol:.1e})"


def check_run(args, entry, model, tmp, threads):
    out = os.path.join(tmp, f"{entry['name']}.t{threads}.npy")
    inp = os.path.join(args.models, entry["input"])
    rc, _, err = cli_call([args.cli, "run", model, "--input", inp, "--output", out,
                           "--threads", str(threads)], args.timeout)
    if rc != 0:
        return False, f"t{threads}: run {describe_exit(rc, err)}", None
    try:
        got = np.load(out)
    except (OSError, ValueError) as e:
        return False, f"t{threads}: unreadable output: {e}", None
    ref = np.load(os.path.join(args.models, entry["output"])).astype(np.float64)
    ok, summary = compare(entry, got, ref)
    return ok, f"t{threads}: {summary}", got


def check_refusal(args, entry, model, tmp):
    """The engine must refuse the model with one clear line."""
    bad = entry["expect_error"]
    out = os.path.join(tmp, entry["name"] + ".refused.npy")
    inp = os.path.join(args.models, entry["input"])
    rc, _, err = cli_call([args.cli, "run", model, "--input", inp, "--output", out,
                           "--threads", "1"], args.timeout)
    if rc is None or rc <= 0:
        return False, f"expected a refusal, got {describe_exit(rc, err)}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    problems = []
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, want 1")
    for what in ("op", "node"):
        if bad[what] not in err:
            problems.append(f"error does not name the {what} {bad[what]!r}")
    if os.path.exists(out):
        problems.append("an output file was written")
    if problems:
        return False, "; ".join(problems) + f"; stderr: {err.strip()[:300]!r}"
    return True, f"refused (exit {rc}): {lines[0].strip()[:120]}"


def check_variant(args, entry, tmp):
    """(ok, one-line detail) for one variant."""
    model = os.path.join(args.models, entry["onnx"])
    if entry.get("expect_error"):
        return check_refusal(args, entry, model, tmp)
    problems = check_info(args, entry, model)
    details = []
    first = None                # (threads, output) of the first run
    for t in args.threads:
        ok, summary, got = check_run(args, entry, model, tmp, t)
        details.append(summary)
        if not ok:
            problems.append(summary)
        elif first is None:
            first = (t, got)
        elif not np.array_equal(got, first[1]):
            # threads split the work, never a sum: the same bits for any count
            diff = float(np.abs(got.astype(np.float64) - first[1]).max())
            problems.append(f"t{t} differs from t{first[0]} by {diff:.2e}")
    if problems:
        return False, "; ".join(problems)
    return True, ", ".join(details)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="path to shufflenet-cli")
    ap.add_argument("--models", required=True, help="gen_models.py output folder")
    ap.add_argument("--threads", default="1,2,3,4,7",
                    help="thread counts (default 1,2,3,4,7: 3 and 7 give uneven "
                         "row bands, 7 thin ones; every count must give the "
                         "same bits)")
    ap.add_argument("--only", default="", help="comma-separated variant names")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per CLI call")
    args = ap.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    # meson passes targets relative to the build dir ("shufflenet-cli" for a
    # top-level one): never let that become a PATH lookup.
    args.cli = os.path.abspath(args.cli)
    return args


def main():
    args = parse_args()
    try:
        with open(os.path.join(args.models, "manifest.json")) as f:
            variants = json.load(f)["variants"]
    except (OSError, ValueError, KeyError) as e:
        print(f"test_variants: no usable manifest in {args.models}: {e}")
        return 1
    if args.only:
        names = set(args.only.split(","))
        variants = [v for v in variants if v["name"] in names]
    if not (os.path.isfile(args.cli) and os.access(args.cli, os.X_OK)):
        print(f"test_variants: {args.cli} is not an executable file")
        print(f"variants: 0 passed, {len(variants)} failed")
        return 1
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="sn-variants-") as tmp:
        for entry in variants:
            ok, detail = check_variant(args, entry, tmp)
            passed, failed = passed + ok, failed + (not ok)
            print(f"{'PASS' if ok else 'FAIL'} {entry['name']}: {detail}", flush=True)
    print(f"variants: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
