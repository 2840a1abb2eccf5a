#!/usr/bin/python3
"""The benchmark driver: our engine against ONNX Runtime on the same ONNX
files and inputs, interleaved in one run, then preprocessing and a whole
pipeline.  bench/run.sh builds the tools and calls this; see bench/README.md.

Two persistent workers speak the line protocol of sn_worker.c: ours
(bench/sn_worker.c) and ONNX Runtime's (bench/ort_worker.js under node).
For every model and thread count both are warmed up, then timed in
alternating chunks (CHUNK runs ours, CHUNK runs ONNX Runtime, first mover
swapped every round, 2 untimed runs at the start of each chunk) until each
has RUNS timings, so that both see the same machine noise.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (key, label, file name in the models folder, how to get it when missing)
MODELS = [
    ("g3_1x", "1x g3 (random weights)", "shufflenet_v1_g3_1x.onnx",
     "bench/make_models.py"),
    ("g8_1x", "1x g8 (random weights)", "shufflenet_v1_g8_1x.onnx",
     "bench/make_models.py"),
    ("g3_0.5x", "0.5x g3 (Megvii pretrained)", "shufflenet_v1_g3_0.5x.onnx",
     "models/fetch.sh with SHUFFLENET_WEIGHTS_DIR set"),
]
PROFILE_MODEL = "g3_1x"
# Targets of the project (ShuffleNet v1 1x g3, fp32).
TARGET_RATIO = {1: 0.6, 2: 0.5}     # ours / ORT median, batch 1
TARGET_B8_MS = 1.7                  # ms per image, batch 8, 2 threads
TARGET_SPEEDUP = 1.6                # 2 threads vs 1
TARGET_PRE_MS = 0.5                 # 1080p -> 224x224
TARGET_RSS_MB = 64.0                # peak RSS of a 1x g3 pipeline
# Engines "agree" when max |difference| of the logits <= AGREE_TOL x
# max(1, largest |logit|): fp32 sums in another order differ by ~1e-6
# relative here, a wrong layer by O(1).
AGREE_TOL = 1e-3


class WorkerError(RuntimeError):
    pass


class Worker:
    """A persistent worker process and its line protocol."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     bufsize=1, env=env)

    def _line(self):
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"{self.name} worker exited "
                              f"(status {self.proc.poll()})")
        return line.rstrip("\n")

    def ask(self, command):
        """Send one command; return the lines before the final reply and
        the reply's words after "ok"."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self._line()
            if line.startswith("error"):
                raise WorkerError(f"{self.name}: {line[6:]}")
            if line == "ok" or line.startswith("ok "):
                return lines, line.split()[1:]
            lines.append(line)

    def time(self, threads, batch, runs, warm):
        return [float(v) for v in
                self.ask(f"time {threads} {batch} {runs} {warm}")[1]]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------ helpers

def stats(t):
    t = np.asarray(t)
    return {"n": int(t.size), "min": float(t.min()),
            "median": float(np.median(t)), "max": float(t.max())}


def fmt(v, digits=3):
    return "n/a" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def environment(args):
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ort = None
    pkg = os.path.join(args.node_path, "onnxruntime-node", "package.json")
    if args.ort_worker and os.path.exists(pkg):
        with open(pkg) as f:
            ort = json.load(f).get("version")
    head = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    commit = (head + ("+changes" if dirty else "")) if head else "unknown"
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "cpu": cpu, "cores": os.cpu_count(), "load_before": os.getloadavg(),
            "onnxruntime": ort, "commit": commit}


# -------------------------------------------------------------- the models

def make_input(info, models_dir, file_name, batch):
    """[batch, C, H, W] (or NHWC) float32, uniform in [-2, 2) with seed 1;
    image 0 is the generator's reference input when there is one (so the
    check can compare with the PyTorch logits too)."""
    c, h, w, layout = info["c"], info["h"], info["w"], info["layout"]
    shape = (c, h, w) if layout == "NCHW" else (h, w, c)
    x = np.random.default_rng(1).uniform(-2, 2, (batch,) + shape)
    x = x.astype(np.float32)
    ref_in = os.path.join(models_dir, file_name.replace(".onnx", ".in.npy"))
    ref_out = os.path.join(models_dir, file_name.replace(".onnx", ".out.npy"))
    ref = None
    if os.path.exists(ref_in) and os.path.exists(ref_out):
        a = np.load(ref_in)
        if a.shape[1:] == shape:
            x[0] = a[0]
            ref = np.load(ref_out)[0]
    return x, ref


def load_model(ours, ort, path, input_path, args, models_dir, file_name):
    """Load a model in both workers; returns (info, reference logits of
    image 0 or None)."""
    c, h, w, layout, classes, ops, macs = ours.ask(f"load {path}")[1]
    info = {"c": int(c), "h": int(h), "w": int(w), "layout": layout,
            "classes": int(classes), "ops": int(ops), "macs": float(macs)}
    x, ref = make_input(info, models_dir, file_name, args.batch)
    np.save(input_path, x)
    ours.ask(f"input {input_path}")
    if ort:
        ort.ask(f"load {path}")
        ort.ask(f"input {input_path}")
    return info, ref


def check(ours, ort, args, ref, batch):
    """Both engines on the same `batch` images: max |ours - ORT| over all
    logits, and of each against the PyTorch reference of image 0."""
    out = {}
    a_path = os.path.join(args.out, "check_ours.npy")
    ours.ask(f"run 1 {batch} {a_path}")
    a = np.load(a_path)
    scale = float(np.abs(a).max())
    out["max_abs_logit"] = scale
    if ref is not None:
        out["ours_vs_torch"] = float(np.abs(a[0] - ref).max())
    if ort:
        b_path = os.path.join(args.out, "check_ort.npy")
        ort.ask(f"run 1 {batch} {b_path}")
        b = np.load(b_path)
        out["ours_vs_ort"] = float(np.abs(a - b).max())
        out["top1_agree"] = int((a.argmax(1) == b.argmax(1)).sum())
        if ref is not None:
            out["ort_vs_torch"] = float(np.abs(b[0] - ref).max())
    out["batch"] = batch
    limit = AGREE_TOL * max(1.0, scale)
    out["agree"] = all(out.get(k, 0.0) <= limit for k in
                       ("ours_vs_ort", "ours_vs_torch", "ort_vs_torch"))
    return out


def interleave(ours, ort, threads, batch, runs, chunk):
    """RUNS timings of each engine, in alternating chunks."""
    for w in (ours, ort):
        if w:
            w.time(threads, batch, 1, 10)       # warm-up
    acc = {"ours": [], "ort": []}
    pair = [("ours", ours), ("ort", ort)] if ort else [("ours", ours)]
    rnd = 0
    while any(len(acc[k]) < runs for k, _ in pair):
        for key, w in (pair if rnd % 2 == 0 else pair[::-1]):
            n = min(chunk, runs - len(acc[key]))
            if n > 0:
                acc[key] += w.time(threads, batch, n, 2)
                time.sleep(0.005)               # let the other's threads park
        rnd += 1
    return {k: stats(v) if v else None for k, v in acc.items()}


def ort_batch_ok(ort, batch):
    """False when the ONNX file has a fixed batch of 1 for ORT."""
    try:
        ort.time(1, batch, 1, 0)
        return True
    except WorkerError:
        return False


def bench_bf16(ours, ours16, ort, path, input_path, args, entry):
    """The optional bf16 precision: our bf16 engine interleaved with ORT
    (fp32) at batch 1, and its logits against our fp32 ones."""
    ours16.ask(f"load {path}")
    ours16.ask(f"input {input_path}")
    a_path = os.path.join(args.out, "check_ours.npy")
    b_path = os.path.join(args.out, "check_ours_bf16.npy")
    ours.ask(f"run 1 {args.batch} {a_path}")
    ours16.ask(f"run 1 {args.batch} {b_path}")
    a, b = np.load(a_path), np.load(b_path)
    entry["bf16"] = {"latency": {}, "vs_fp32": float(np.abs(a - b).max()),
                     "top1_agree": int((a.argmax(1) == b.argmax(1)).sum()),
                     "images": int(a.shape[0])}
    for t in args.threads:
        print(f"  {entry['label']}: bf16, batch 1, {t} thread(s), "
              f"{args.runs} runs each", file=sys.stderr, flush=True)
        entry["bf16"]["latency"][t] = interleave(ours16, ort, t, 1, args.runs,
                                                 args.chunk)


def bench_model(ours, ort, key, label, path, args, results, ours16=None):
    models_dir = os.path.dirname(path)
    input_path = os.path.join(args.out, f"input_{key}.npy")
    info, ref = load_model(ours, ort, path, input_path, args, models_dir,
                           os.path.basename(path))
    entry = {"key": key, "label": label, "file": path, "info": info,
             "latency": {}, "batched": None}
    ort_batched = ort is not None and ort_batch_ok(ort, args.batch)
    # all images when both engines can run the batch, else image 0 only
    entry["check"] = check(ours, ort, args, ref,
                           args.batch if ort_batched or ort is None else 1)
    for t in args.threads:
        print(f"  {label}: batch 1, {t} thread(s), {args.runs} runs each",
              file=sys.stderr, flush=True)
        entry["latency"][t] = interleave(ours, ort, t, 1, args.runs, args.chunk)
    # median at the fewest threads / median at the most
    a, b = (entry["latency"][t] for t in (min(args.threads), max(args.threads)))
    entry["speedup"] = {k: ratio(a[k] and a[k]["median"], b[k] and b[k]["median"])
                        for k in ("ours", "ort")}
    if args.batch_threads:
        t = args.batch_threads
        print(f"  {label}: batch {args.batch}, {t} threads, {args.batch_runs} "
              "runs each", file=sys.stderr, flush=True)
        entry["batched"] = interleave(ours, ort if ort_batched else None, t,
                                     args.batch, args.batch_runs,
                                     max(1, args.chunk // args.batch))
        entry["batched_ort_static"] = ort is not None and not ort_batched
    if key == PROFILE_MODEL:
        entry["profile"] = {}
        for t in args.threads:
            lines, total = ours.ask(f"profile {t} {args.profile_runs}")
            ops = []
            for line in lines:         # op INDEX NAME KIND MS MACS
                _, idx, rest = line.split(" ", 2)
                rest, ms, macs = rest.rsplit(" ", 2)
                name, kind = rest.rsplit(" ", 1)
                ops.append({"index": int(idx), "name": name, "kind": kind,
                            "ms": float(ms), "macs": float(macs)})
            entry["profile"][t] = {"ops": ops, "total_ms": float(total[0])}
    if ours16 is not None:
        bench_bf16(ours, ours16, ort, path, input_path, args, entry)
    results["models"].append(entry)


# ----------------------------------------------- preprocessing and pipeline

def run_tool(argv, env=None, timeout=600):
    """Run a tool; returns (stdout lines, error line or None)."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, env=env,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], f"{os.path.basename(argv[0])} timed out after {timeout} s"
    except OSError as e:
        return [], f"{argv[0]}: {e.strerror}"
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["no message"])[-1]
        return [], f"{os.path.basename(argv[0])} failed: {err}"
    return p.stdout.splitlines(), None


def bench_preprocess(args, results):
    """1 thread, and the element's default for this run (pipe_threads)."""
    if not args.pre_bench:
        results["preprocess_skipped"] = args.pre_skip_reason
        return
    rows = []
    for threads in sorted({1, args.pipe_threads}):
        lines, err = run_tool([args.pre_bench, "--runs",
                               str(max(300, args.runs)), "--threads",
                               str(threads), "I420", "RGB"])
        if err:
            results["preprocess_skipped"] = err
            return
        for line in lines:      # pre FORMAT MODE WxH min median max threads
            _, fmt_, mode, size, mn, med, mx, thr = line.split()
            rows.append({"format": fmt_, "mode": mode, "size": size,
                         "threads": int(thr), "min": float(mn),
                         "median": float(med), "max": float(mx)})
    results["preprocess"] = rows


def bench_probe(args, results):
    """The machine's two-core scaling for our pointwise kernel (scale_probe.c)."""
    if not args.probe:
        return
    lines, err = run_tool([args.probe])
    if err:
        results["probe_skipped"] = err
        return
    rows = {}
    for line in lines:          # PATTERN THREADS GFLOPS (after an isa line)
        words = line.split()
        if len(words) == 3 and words[0] in ("bursts", "continuous"):
            rows.setdefault(words[0], {})[int(words[1])] = float(words[2])
    results["probe"] = rows


def pipelines(args, results):
    caps = ("video/x-raw,format=I420,width=1920,height=1080,"
            "framerate=30/1")
    src = f"videotestsrc num-buffers={args.frames} pattern=black ! {caps}"
    sink = "fakesink name=sink sync=false"
    out = [("videotestsrc only (no inference)", None, f"{src} ! {sink}")]
    for m in results["models"]:
        if m["key"] in ("g3_1x", "g3_0.5x"):
            out.append((f"{m['label']}, {args.pipe_threads} threads",
                        m["key"], f"{src} ! shufflenet name=net "
                        f"model={m['file']} threads={args.pipe_threads} "
                        f"! {sink}"))
    return out


def bench_pipeline(args, results):
    if not args.pipe_bench:
        results["pipeline_skipped"] = args.pipe_skip_reason
        return
    env = dict(os.environ)
    if args.plugin_dir:
        env["GST_PLUGIN_PATH"] = os.pathsep.join(
            p for p in (args.plugin_dir, env.get("GST_PLUGIN_PATH")) if p)
    rows = []
    for label, key, desc in pipelines(args, results):
        print(f"  pipeline: {label}", file=sys.stderr, flush=True)
        lines, err = run_tool([args.pipe_bench, desc], env=env)
        row = {"label": label, "model": key, "pipeline": desc, "error": err}
        for line in lines:
            words = line.split()
            vals = dict(zip(words[1::2], words[2::2]))
            row.update({f"{words[0]}_{k}": float(v) for k, v in vals.items()})
        rows.append(row)
    results["pipeline"] = rows


# --------------------------------------------------------------- the report

def latency_tables(results, args):
    out = [f"### Latency, batch 1 (ms; {args.runs} runs of each engine, "
           f"interleaved in chunks of {args.chunk})", "",
           "| model | threads | ours min | ours median | ORT min | ORT median "
           "| ours/ORT (median) | ours/ORT (min) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m in results["models"]:
        for t, r in m["latency"].items():
            o, p = r["ours"], r["ort"]
            out.append(f"| {m['label']} | {t} | {fmt(o['min'])} | "
                       f"{fmt(o['median'])} | {fmt(p and p['min'])} | "
                       f"{fmt(p and p['median'])} | "
                       f"{fmt(ratio(o['median'], p and p['median']), 2)} | "
                       f"{fmt(ratio(o['min'], p and p['min']), 2)} |")
    ts = sorted(args.threads)
    if len(ts) >= 2:
        lo, hi = ts[0], ts[-1]
        out += ["", f"### Speed-up from {lo} to {hi} threads "
                "(batch 1, ratio of medians)", "",
                "| model | ours | ORT |", "|---|---:|---:|"]
        for m in results["models"]:
            sp = m["speedup"]
            out.append(f"| {m['label']} | {fmt(sp['ours'], 2)} | "
                       f"{fmt(sp['ort'], 2)} |")
    return out


def throughput_table(results, args):
    b, t = args.batch, args.batch_threads
    out = ["", f"### Throughput, batch {b}, {t} threads "
           f"({args.batch_runs} runs of each engine; median)", "",
           "| model | ours ms/image | ours images/s | ORT ms/image "
           "| ORT images/s | ours/ORT |", "|---|---:|---:|---:|---:|---:|"]
    for m in results["models"]:
        r = m["batched"]
        if r is None:
            continue
        o = r["ours"]["median"] / b
        p = r["ort"]["median"] / b if r["ort"] else None
        note = " (ORT: file has a fixed batch of 1)" \
            if m.get("batched_ort_static") else ""
        out.append(f"| {m['label']}{note} | {fmt(o)} | {fmt(1e3 / o, 0)} | "
                   f"{fmt(p)} | {fmt(p and 1e3 / p, 0)} | "
                   f"{fmt(ratio(o, p), 2)} |")
    return out


def bf16_table(results, args):
    rows = [m for m in results["models"] if m.get("bf16")]
    if not rows:
        why = results.get("bf16_skipped")
        return ["", f"bf16 precision not measured: {why}."] if why else []
    out = ["", "### Optional bf16 precision (AVX512_BF16; ours bf16 against "
           f"ORT fp32, batch 1, {args.runs} runs each, interleaved)", "",
           "| model | threads | ours bf16 min / median | ORT min / median "
           "| ours bf16/ORT (median) | ours bf16 / ours fp32, median (min) "
           "|", "|---|---:|---:|---:|---:|---:|"]
    for m in rows:
        for t, r in m["bf16"]["latency"].items():
            o, p = r["ours"], r["ort"]
            f32 = m["latency"][t]["ours"]
            out.append(f"| {m['label']} | {t} | {fmt(o['min'])} / "
                       f"{fmt(o['median'])} | {fmt(p and p['min'])} / "
                       f"{fmt(p and p['median'])} | "
                       f"{fmt(ratio(o['median'], p and p['median']), 2)} | "
                       f"{fmt(ratio(o['median'], f32['median']), 2)} "
                       f"({fmt(ratio(o['min'], f32['min']), 2)}) |")
    out += ["", "| model | max abs(bf16 - fp32) logit | largest logit | "
            "top-1 agree |", "|---|---:|---:|---:|"]
    for m in rows:
        c = m["bf16"]
        out.append(f"| {m['label']} | {c['vs_fp32']:.3f} | "
                   f"{m['check']['max_abs_logit']:.2f} | "
                   f"{c['top1_agree']}/{c['images']} |")
    out += ["", "(bf16 and fp32 ran in different windows of this run: the "
            "bf16/fp32 column compares the machine's noise too. Random-weight "
            "models on random inputs have near ties; the accuracy gate on "
            "real photos is tests/models/test_photos.py.)"]
    return out


def check_table(results):
    out = ["", "### Agreement (same input, 1 thread; max absolute difference "
           "of the logits)", "",
           "| model | images | ours vs ORT | top-1 agree | largest logit "
           "| ours vs PyTorch | ORT vs PyTorch | |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for m in results["models"]:
        c = m["check"]
        agree = c.get("top1_agree")
        agree = "n/a" if agree is None else f"{agree}/{c['batch']}"
        out.append(f"| {m['label']} | {c['batch']} | "
                   f"{fmt(c.get('ours_vs_ort'), 7)} | {agree} | "
                   f"{fmt(c['max_abs_logit'], 2)} | "
                   f"{fmt(c.get('ours_vs_torch'), 7)} | "
                   f"{fmt(c.get('ort_vs_torch'), 7)} | "
                   f"{'ok' if c['agree'] else '**DISAGREE**'} |")
    return out


def gflops(macs, ms):
    return 2 * macs / (ms * 1e6) if ms > 0 else None


def profile_table(results, args):
    m = next((m for m in results["models"] if "profile" in m), None)
    if m is None:
        return []
    prof = m["profile"]
    ts = sorted(prof)
    t0 = ts[0]
    total0 = sum(op["ms"] for op in prof[t0]["ops"])
    head = "| # | op | kind | MMAC |" + "".join(
        f" {t} thr ms | {t} thr GFLOP/s |" for t in ts) + f" share ({t0} thr) |"
    out = ["", f"### Per-layer profile: ours, {m['label']}, batch 1 "
           f"(median of {args.profile_runs} profiled runs per op)", "", head,
           "|---:|---|---|---:|" + "---:|---:|" * len(ts) + "---:|"]
    for i, op in enumerate(prof[t0]["ops"]):
        cells = "".join(
            f" {fmt(prof[t]['ops'][i]['ms'], 4)} | "
            f"{fmt(gflops(op['macs'], prof[t]['ops'][i]['ms']), 1)} |"
            for t in ts)
        out.append(f"| {op['index']} | {op['name'][:48]} | {op['kind']} | "
                   f"{op['macs'] / 1e6:.2f} |{cells} "
                   f"{100 * op['ms'] / total0:.1f} % |")
    macs = sum(op["macs"] for op in prof[t0]["ops"])
    cells = "".join(
        f" {fmt(prof[t]['total_ms'], 3)} | "
        f"{fmt(gflops(macs, prof[t]['total_ms']), 1)} |" for t in ts)
    out.append(f"| | **total** (median of per-run sums) | | {macs / 1e6:.2f} |"
               f"{cells} 100 % |")
    # time per operator kind, the quickest view of where the next step is
    out += ["", "By kind: " + "; ".join(
        f"{k} {sum(o['ms'] for o in prof[t0]['ops'] if o['kind'] == k):.3f} ms"
        f" ({100 * sum(o['ms'] for o in prof[t0]['ops'] if o['kind'] == k) / total0:.0f} %)"
        for k in sorted({o["kind"] for o in prof[t0]["ops"]}))
        + f" at {t0} thread(s). Profiling adds a clock read per op; compare the "
        "total with the unprofiled median above."]
    return out


def preprocess_table(results):
    out = ["", "### Preprocessing, one 1920x1080 frame -> 3x224x224 float "
           "(ImageNet mean/std)", ""]
    if "preprocess" not in results:
        return out + [f"Skipped: {results.get('preprocess_skipped')}."]
    out += ["| format | resize | threads | min ms | median ms | max ms |",
            "|---|---|---:|---:|---:|---:|"]
    for r in results["preprocess"]:
        out.append(f"| {r['format']} | {r['mode']} | {r['threads']} | "
                   f"{fmt(r['min'], 4)} | {fmt(r['median'], 4)} | "
                   f"{fmt(r['max'], 4)} |")
    return out


def probe_table(results):
    out = ["", "### The machine: does a second core add up? (scale_probe)", ""]
    if "probe" not in results:
        return out + [f"Skipped: {results.get('probe_skipped', 'not built')}."]
    out += ["Each thread runs a private copy of a stage-2 grouped 1x1 conv "
            "(~20-40 us a call): in bursts with a barrier after each call "
            "(an inference's rhythm) or continuously. Aggregate GFLOP/s.", "",
            "| pattern | 1 thread | 2 threads | 2 / 1 |", "|---|---:|---:|---:|"]
    for pattern in ("bursts", "continuous"):
        r = results["probe"].get(pattern, {})
        if 1 in r and 2 in r:
            out.append(f"| {pattern} | {r[1]:.1f} | {r[2]:.1f} | "
                       f"{r[2] / r[1]:.2f} |")
    return out


def pipeline_table(results, args):
    out = ["", f"### Pipeline: videotestsrc pattern=black, {args.frames} frames "
           "1920x1080 I420 -> shufflenet -> fakesink sync=false", ""]
    if "pipeline" not in results:
        return out + [f"Skipped: {results.get('pipeline_skipped')}."]
    out += ["| pipeline | frames | fps (running) | fps (with start-up) "
            "| element mean ms | peak RSS MB |", "|---|---:|---:|---:|---:|---:|"]
    for r in results["pipeline"]:
        if r["error"]:
            out.append(f"| {r['label']} | failed: {r['error']} | | | | |")
            continue
        mean = r.get("net_mean_ms")
        out.append(f"| {r['label']} | {r['pipe_frames']:.0f} | "
                   f"{fmt(r['pipe_steady_fps'], 1)} | "
                   f"{fmt(r['pipe_total_fps'], 1)} | {fmt(mean)} | "
                   f"{r['pipe_rss_kb'] / 1024:.1f} |")
    return out


def verdict(value, limit, below=True):
    if value is None:
        return "n/a"
    return "meets" if (value <= limit if below else value >= limit) else "misses"


def targets_table(results, args):
    m = next((m for m in results["models"] if m["key"] == "g3_1x"), None)
    if m is None:
        return []
    rows = []
    for t, lim in TARGET_RATIO.items():
        r = m["latency"].get(t)
        v = r and r["ort"] and ratio(r["ours"]["median"], r["ort"]["median"])
        rows.append((f"batch 1, {t} thread(s): ours/ORT median <= {lim}",
                     fmt(v, 2), verdict(v, lim)))
    b8 = m["batched"]
    v = b8 and b8["ours"]["median"] / args.batch
    rows.append((f"batch {args.batch}, {args.batch_threads} threads: <= "
                 f"{TARGET_B8_MS} ms/image", fmt(v), verdict(v, TARGET_B8_MS)))
    v = m.get("speedup", {}).get("ours")
    rows.append((f"{max(args.threads)} threads >= {TARGET_SPEEDUP}x faster "
                 f"than {min(args.threads)}", fmt(v, 2),
                 verdict(v, TARGET_SPEEDUP, below=False)))
    for r in results.get("preprocess", []):
        if r["mode"] == "crop":
            rows.append((f"preprocessing 1080p {r['format']} -> 224x224, "
                         f"{r['threads']} thread(s) <= {TARGET_PRE_MS} ms "
                         "(median)", fmt(r["median"], 3),
                         verdict(r["median"], TARGET_PRE_MS)))
    for r in results.get("pipeline", []):
        if r["model"] == "g3_1x" and not r["error"]:
            v = r["pipe_rss_kb"] / 1024
            rows.append((f"peak RSS of a 1x g3 pipeline < {TARGET_RSS_MB:.0f} MB",
                         f"{v:.1f} MB", verdict(v, TARGET_RSS_MB)))
    out = ["", "### Targets (1x g3, fp32)", "", "| target | measured | |",
           "|---|---:|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return out + ["", "Not measured here: no heap allocation per frame after "
                  "warm-up (a test's job)."]


def render(results, args):
    env = results["env"]
    lb, la = env["load_before"], env["load_after"]
    out = [f"`{results['command']}` on {env['date']}: {env['cpu']}, "
           f"{env['cores']} cores; load average (1/5/15 min) "
           f"{lb[0]:.2f}/{lb[1]:.2f}/{lb[2]:.2f} before, "
           f"{la[0]:.2f}/{la[1]:.2f}/{la[2]:.2f} after; "
           f"ONNX Runtime {env['onnxruntime'] or 'not run'} "
           f"(onnxruntime-node); engine at commit {env['commit']}. "
           f"Took {results['seconds']:.0f} s.", ""]
    for key, why in results["skipped"]:
        out.append(f"Skipped {key}: {why}.")
    if results["skipped"]:
        out.append("")
    out += latency_tables(results, args)
    out += throughput_table(results, args)
    out += check_table(results)
    out += bf16_table(results, args)
    out += profile_table(results, args)
    out += preprocess_table(results)
    out += pipeline_table(results, args)
    out += probe_table(results)
    out += targets_table(results, args)
    return "\n".join(out) + "\n"


BEGIN, END = "<!-- bench results begin -->", "<!-- bench results end -->"


def update_readme(path, text):
    with open(path) as f:
        readme = f.read()
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"bench.py: {path} has no {BEGIN} ... {END} section")
    head, rest = readme.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w") as f:
        f.write(f"{head}{BEGIN}\n{text}{END}{tail}")


# ----------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", required=True, help="sn_worker binary")
    ap.add_argument("--ort-worker", help="ort_worker.js (omit: ours only)")
    ap.add_argument("--node", default="node")
    ap.add_argument("--node-path", default=os.path.join(HERE, "node_modules"),
                    help="node_modules holding onnxruntime-node")
    ap.add_argument("--models", required=True, help="folder of the models")
    ap.add_argument("--only", default="", help="comma-separated model keys "
                    f"({', '.join(k for k, *_ in MODELS)})")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--chunk", type=int, default=25)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--batch-runs", type=int, default=100)
    ap.add_argument("--batch-threads", type=int, default=2)
    ap.add_argument("--profile-runs", type=int, default=50)
    ap.add_argument("--pre-bench", help="pre_bench binary (omit: skipped)")
    ap.add_argument("--pre-skip-reason", default="pre_bench not built")
    ap.add_argument("--pipe-bench", help="pipe_bench binary (omit: skipped)")
    ap.add_argument("--pipe-skip-reason", default="pipe_bench not built")
    ap.add_argument("--plugin-dir", help="folder with libgstshufflenet.so")
    ap.add_argument("--probe", help="scale_probe binary (omit: skipped)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--pipe-threads", type=int, default=2)
    ap.add_argument("--skip", action="append", default=[], metavar="KEY:WHY",
                    help="report a model as skipped, with the reason")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--command", default=" ".join(sys.argv),
                    help="the command line shown in the report")
    ap.add_argument("--update-readme", metavar="README",
                    help="replace the results section of this file")
    args = ap.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    for name in ("runs", "chunk", "batch", "batch_runs", "profile_runs",
                 "frames", "pipe_threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    if not all(1 <= t <= 64 for t in args.threads):
        ap.error("--threads: thread counts in 1..64")
    return args


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()
    results = {"command": args.command, "env": environment(args),
               "models": [], "skipped": [s.split(":", 1) for s in args.skip]}
    skipped = {k for k, _ in results["skipped"]}
    only = set(args.only.split(",")) if args.only else None
    ours = Worker("engine", [args.worker])
    ours16 = Worker("engine-bf16", [args.worker])
    try:
        ours16.ask("precision bf16")
    except WorkerError as e:
        results["bf16_skipped"] = str(e).split(": ", 1)[-1]
        ours16.close()
        ours16 = None
    ort = None
    if args.ort_worker:
        env = dict(os.environ, NODE_PATH=args.node_path)
        ort = Worker("onnxruntime", [args.node, args.ort_worker], env=env)
    try:
        for key, label, file_name, how in MODELS:
            path = os.path.join(args.models, file_name)
            if key in skipped or (only and key not in only):
                continue
            if not os.path.exists(path):
                results["skipped"].append((key, f"{path} missing (made by {how})"))
                continue
            print(f"bench: {label}", file=sys.stderr, flush=True)
            try:
                bench_model(ours, ort, key, label, path, args, results,
                            ours16)
            except WorkerError as e:
                results["skipped"].append((key, f"failed: {e}"))
                if ours.proc.poll() is not None or (ort and ort.proc.poll()
                                                    is not None):
                    raise
    finally:
        ours.close()
        if ours16:
            ours16.close()
        if ort:
            ort.close()
    print("bench: preprocessing", file=sys.stderr, flush=True)
    bench_preprocess(args, results)
    bench_pipeline(args, results)
    print("bench: two-core scaling probe", file=sys.stderr, flush=True)
    bench_probe(args, results)
    results["env"]["load_after"] = os.getloadavg()
    results["seconds"] = time.time() - t_start
    text = render(results, args)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write("# Benchmark report\n\n" + text)
    if args.update_readme:
        update_readme(args.update_readme, text)
    sys.stdout.write(text)
    bad = [m["label"] for m in results["models"] if not m["check"]["agree"]]
    if bad:
        print(f"bench.py: the engines disagree on {', '.join(bad)} (more than "
              f"{AGREE_TOL} x the largest logit): see Agreement",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
