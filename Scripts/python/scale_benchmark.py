#!/usr/bin/env python3
"""The main job at scale: `bump train` and `bump predict` on generated 100 k and 1 M-row CSV
files, beside pandas' `read_csv` and scikit-learn's MLP(32, 32) on the same file.

  scale_benchmark.py write ROWS FILE [--seed S]
      Writes a seeded regression CSV: 20 standard-normal features x0…x19 and a target
      y = sin(2 x0) + exp(−x1²) + 0.5 x2 x3 + e·bump(x4; 4) + cos(x5) + 0.3 x6 + 0.1 noise,
      (bump(x; σ) = exp(−σ / (σ − x²)) where x² < σ, else 0), 7 significant digits per cell.
      The standard library only: the same seed writes the same bytes on every machine.

  scale_benchmark.py run --bump PATH [--work DIR] [--rows 100000,1000000] [--repeats N]
      Writes the files into DIR (once), then per size runs, one process at a time:
        bump train --data F --target y --task regression --epochs 5 --patience 0
        bump predict --model RUN/model.safetensors --data F --output P
      and, when pandas / scikit-learn import, pandas.read_csv(F) and read + MLPRegressor((32, 32),
      5 epochs) on the first 80 % of the rows. Each figure is the median of --repeats runs; peak
      memory is the child's maximum resident set (wait4). Prints a markdown table.

Timings drift with the host: compare figures from one run of this script, not across runs.
"""
import argparse
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

FEATURES = 20


def bump(x, sigma):
    x2 = x * x
    return math.exp(-sigma / (sigma - x2)) if x2 < sigma else 0.0


def write(rows, path, seed=0):
    rng = random.Random(seed)
    gauss = rng.gauss
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(",".join([f"x{j}" for j in range(FEATURES)] + ["y"]) + "\n")
        lines = []
        for i in range(rows):
            x = [gauss(0.0, 1.0) for _ in range(FEATURES)]
            y = (math.sin(2 * x[0]) + math.exp(-x[1] * x[1]) + 0.5 * x[2] * x[3]
                 + math.e * bump(x[4], 4.0) + math.cos(x[5]) + 0.3 * x[6] + 0.1 * gauss(0.0, 1.0))
            lines.append(",".join("%.7g" % v for v in x) + ",%.7g" % y)
            if len(lines) == 10_000:
                f.write("\n".join(lines) + "\n")
                lines = []
        if lines:
            f.write("\n".join(lines) + "\n")


def measured(command):
    """Runs `command` in a child of a fresh Python process, so that RUSAGE_CHILDREN is its own."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "s = time.perf_counter() - t\n"
        "sys.stderr.write(r.stderr.decode(errors='replace'))\n"
        "sys.stdout.write(r.stdout.decode(errors='replace'))\n"
        "print('\\n@@ %f %d %d' % (s, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True)
    last = result.stdout.rstrip().splitlines()[-1].split()
    seconds, kilobytes, status = float(last[1]), int(last[2]), int(last[3])
    if status != 0:
        sys.exit(f"{' '.join(command)} failed ({status}):\n{result.stderr}")
    return seconds, kilobytes / 1024, result.stdout


def median_runs(repeats, run):
    results = [run() for _ in range(repeats)]
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


PEER = r"""
import json, sys, time
kind, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
import pandas as pd
t = time.perf_counter(); df = pd.read_csv(path); read = time.perf_counter() - t
out = {"read": read}
if kind == "sklearn":
    import numpy as np
    from sklearn.neural_network import MLPRegressor
    X = df.drop(columns=["y"]).to_numpy(np.float32); y = df["y"].to_numpy(np.float32)
    cut = len(y) - int(round(0.2 * len(y)))
    mu, sd = X[:cut].mean(0), X[:cut].std(0)
    Xtr = (X[:cut] - mu) / sd; ym, ys = y[:cut].mean(), y[:cut].std()
    m = MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=5, random_state=0)
    t = time.perf_counter(); m.fit(Xtr, (y[:cut] - ym) / ys); out["fit"] = time.perf_counter() - t
out["total"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def run(args):
    import json
    work = args.work or tempfile.mkdtemp(prefix="bump-scale-")
    os.makedirs(work, exist_ok=True)
    try:
        import pandas  # noqa: F401
        have_pandas = True
    except ImportError:
        have_pandas = False
    try:
        import sklearn  # noqa: F401
        have_sklearn = have_pandas
    except ImportError:
        have_sklearn = False
    rows_list = [int(r) for r in args.rows.split(",")]
    table = []
    for rows in rows_list:
        data = os.path.join(work, f"scale-{rows}.csv")
        if not os.path.exists(data):
            print(f"writing {data}", file=sys.stderr)
            write(rows, data)
        megabytes = os.path.getsize(data) / 1e6

        def train():
            folder = os.path.join(work, f"run-{rows}")
            shutil.rmtree(folder, ignore_errors=True)
            seconds, peak, out = measured([
                args.bump, "train", "--data", data, "--target", "y", "--task", "regression",
                "--epochs", "5", "--patience", "0", "--output", folder])
            phases = {}
            time_line = re.search(r"Time: reading and preparing the data ([0-9.]+)(ms|s), "
                                  r"training ([0-9.]+)(ms|s), results ([0-9.]+)(ms|s)", out)
            if time_line:
                g = time_line.groups()
                for k, name in enumerate(("reading", "training", "results")):
                    phases[name] = float(g[2 * k]) / (1000 if g[2 * k + 1] == "ms" else 1)
            else:
                match = re.search(r"Training: 5 epochs in ([0-9.]+)(ms|s)", out)
                if match:
                    phases["training"] = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
            return {"train_s": seconds, "train_mb": peak, **{f"{k}_s": v for k, v in phases.items()}}

        def predict():
            output = os.path.join(work, f"predictions-{rows}.csv")
            seconds, peak, _ = measured([
                args.bump, "predict", "--model", os.path.join(work, f"run-{rows}", "model.safetensors"),
                "--data", data, "--output", output])
            return {"predict_s": seconds, "predict_mb": peak}

        row = {"rows": rows, "mb": megabytes}
        row.update(median_runs(args.repeats, train))
        row.update(median_runs(args.repeats, predict))
        if have_pandas:
            def peer(kind):
                def go():
                    seconds, peak, out = measured([sys.executable, "-c", PEER, kind, data])
                    figures = json.loads(next(l for l in out.splitlines() if l.startswith("{")))
                    return {f"{kind}_{k}": v for k, v in figures.items()} | {f"{kind}_mb": peak}
                return go
            row.update(median_runs(args.repeats, peer("pandas")))
            if have_sklearn:
                row.update(median_runs(args.repeats, peer("sklearn")))
        table.append(row)

    def f(value, digits=2):
        return "—" if value is None else f"{value:.{digits}f}"

    print(f"| rows | file MB | bump train s (reading / training / results) | peak MB | "
          f"bump predict s | rows/s | peak MB | pandas read_csv s | sklearn read + fit s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in table:
        phases = " / ".join(f(r.get(f"{p}_s")) for p in ("reading", "training", "results"))
        print(f"| {r['rows']:,} | {r['mb']:.0f} | {f(r['train_s'])} ({phases}) | {r['train_mb']:.0f} | "
              f"{f(r['predict_s'])} | {r['rows'] / r['predict_s'] / 1e6:.2f} M | {r['predict_mb']:.0f} | "
              f"{f(r.get('pandas_read'))} | "
              f"{f(None if 'sklearn_fit' not in r else r['sklearn_read'] + r['sklearn_fit'])} |")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write")
    w.add_argument("rows", type=int)
    w.add_argument("file")
    w.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--bump", required=True)
    r.add_argument("--work")
    r.add_argument("--rows", default="100000,1000000")
    r.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.command == "write":
        write(args.rows, args.file, args.seed)
    else:
        run(args)


if __name__ == "__main__":
    main()
