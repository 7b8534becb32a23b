"""Which model should `bump train` end with? Measured on the held-out protocol of
compare_held_out.py (the same 17 data sets, seeds and 20 % test files), `bump` driven as a
program. For each set and seed s:

* early-stopped: `bump train --data rest.csv --test-data test.csv --seed s` (today's default
  before refitting: the weights of the best validation epoch E);
* refit: `--validation-split 0 --epochs E` on all of rest.csv (the same seed);
* refit×1.25: the same for round(E / (1 − 0.2)) epochs (as many steps per row seen);
* mean: the mean of the early-stopped and the refit models' outputs (predictions for
  regression, class probabilities for classification);
* mean×1.25: the same with refit×1.25;
* 5 models: the early-stopped run and 4 more with seeds s + 1000·k (each its own random
  validation fifth and initial weights), outputs averaged; a stand-in for 5-fold averaging at
  the same cost (5 trainings).

Scores: test MSE (regression), test accuracy and log-loss (classification). Times: the wall
time of the `bump train` processes each variant needs.

    ~/.cache/bumpkit/compare-venv/bin/python Scripts/python/compare_final_model.py \
        --bump .build/release/bump [--only a,b] [--seeds 5] [--json out.json] [--bump-args ...]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_held_out as h  # noqa: E402

VARIANTS = ["early", "refit", "refit125", "mean", "mean125", "five"]


def train(bump, rest, test, target, task, seed, out, extra):
    command = [bump, "train", "--data", rest, "--test-data", test, "--target", target, "--task", task,
               "--seed", str(seed), "--output", out] + extra
    start = time.perf_counter()
    r = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if r.returncode:
        raise RuntimeError(f"{' '.join(command)}\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}")
    m = re.search(r"weights of epoch (\d+)", r.stdout)
    if m is None:
        m = re.search(r"Training: (\d+) epochs", r.stdout)
    return int(m.group(1)), seconds


def outputs(bump, run, test, task):
    """Predictions (regression) or the probability matrix and the class names."""
    import pandas as pd
    path = run + "-predictions.csv"
    r = subprocess.run([bump, "predict", "--model", os.path.join(run, "model.safetensors"), "--data", test,
                        "--output", path], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr[-1500:])
    frame = pd.read_csv(path, keep_default_na=False, dtype=str)
    if task == "regression":
        return frame["prediction"].astype(float).to_numpy()
    columns = [c for c in frame.columns if c.startswith("probability_")]
    return frame[columns].astype(float).to_numpy(), [c[len("probability_"):] for c in columns]


def scores(task, truth, out):
    if task == "regression":
        return {"mse": float(np.mean((out - np.asarray(truth, dtype=float)) ** 2))}
    p, names = out
    keys = [h.label_key(n) for n in names]
    index = {k: i for i, k in enumerate(keys)}
    predicted = [names[i] for i in np.argmax(p, axis=1)]
    accuracy = h.score("classification", truth, predicted)
    rows = np.arange(len(truth))
    # A test label the model does not know has probability 0: clipped, as sklearn's log_loss does.
    columns = np.array([index.get(h.label_key(t), -1) for t in truth])
    q = np.where(columns >= 0, p[rows, np.maximum(columns, 0)], 0.0)
    loss = float(-np.mean(np.log(np.clip(q, 1e-15, 1))))
    return {"accuracy": accuracy, "log_loss": loss}


def mean(task, outs):
    if task == "regression":
        return np.mean(outs, axis=0)
    return np.mean([o[0] for o in outs], axis=0), outs[0][1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bump", required=True)
    parser.add_argument("--only")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", default="final-model.json")
    parser.add_argument("--no-five", action="store_true", help="skip the 5-model average")
    args, extra = parser.parse_known_args()
    names = args.only.split(",") if args.only else None
    work = tempfile.mkdtemp(prefix="bump-final-model-")
    results = []
    started = time.perf_counter()
    for name, source, task, target, loader in h.data_sets():
        if names and name not in names:
            continue
        frame = loader()
        frame = frame[frame[target].notna()].reset_index(drop=True)
        entry = {"name": name, "task": task, "rows": len(frame), "seeds": []}
        for seed in range(1, args.seeds + 1):
            folder = os.path.join(work, f"{name}-{seed}")
            rest, test, rest_csv, test_csv = h.write_split(frame, seed, folder)
            truth = test[target].tolist()
            a = os.path.join(folder, "a")
            epoch, t_a = train(args.bump, rest_csv, test_csv, target, task, seed, a, extra)
            out_a = outputs(args.bump, a, test_csv, task)
            b = os.path.join(folder, "b")
            _, t_b = train(args.bump, rest_csv, test_csv, target, task, seed, b,
                           extra + ["--validation-split", "0", "--epochs", str(epoch)])
            out_b = outputs(args.bump, b, test_csv, task)
            b2 = os.path.join(folder, "b2")
            e2 = max(1, round(epoch / 0.8))
            _, t_b2 = train(args.bump, rest_csv, test_csv, target, task, seed, b2,
                            extra + ["--validation-split", "0", "--epochs", str(e2)])
            out_b2 = outputs(args.bump, b2, test_csv, task)
            record = {"seed": seed, "epoch": epoch, "seconds": {"early": t_a, "refit": t_b, "refit125": t_b2}}
            record["early"] = scores(task, truth, out_a)
            record["refit"] = scores(task, truth, out_b)
            record["refit125"] = scores(task, truth, out_b2)
            record["mean"] = scores(task, truth, mean(task, [out_a, out_b]))
            record["mean125"] = scores(task, truth, mean(task, [out_a, out_b2]))
            if not args.no_five:
                outs, t5 = [out_a], t_a
                for k in range(1, 5):
                    run = os.path.join(folder, f"k{k}")
                    _, t = train(args.bump, rest_csv, test_csv, target, task, seed + 1000 * k, run, extra)
                    t5 += t
                    outs.append(outputs(args.bump, run, test_csv, task))
                record["five"] = scores(task, truth, mean(task, outs))
                record["seconds"]["five"] = t5
            entry["seeds"].append(record)
            key = "mse" if task == "regression" else "accuracy"
            print(f"{name} seed {seed} E {epoch}: " + ", ".join(
                f"{v} {record[v][key]:.5g}" for v in VARIANTS if v in record), file=sys.stderr, flush=True)
            shutil.rmtree(folder, ignore_errors=True)
        results.append(entry)
        with open(args.json, "w") as f:
            json.dump({"bump_args": extra, "sets": results}, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(results)} sets in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    table(results)


def table(results):
    variants = [v for v in VARIANTS if all(v in s for r in results for s in r["seeds"])]
    wins = {v: 0 for v in variants}
    print("| set | metric | " + " | ".join(variants) + " | E (median) | seconds " + "/".join(
        v for v in ["early", "refit", "five"] if v in variants) + " |")
    print("|---|---|" + "---:|" * len(variants) + "---:|---:|")
    for r in results:
        metrics = ["mse"] if r["task"] == "regression" else ["accuracy", "log_loss"]
        for metric in metrics:
            med = {v: statistics.median(s[v][metric] for s in r["seeds"]) for v in variants}
            higher = metric == "accuracy"
            cells = []
            for v in variants:
                cells.append(f"{med[v]:.4g}" if metric != "accuracy" else f"{med[v] * 100:.2f}%")
            # Wins against the early-stopped model, per metric: MSE for regression, log-loss
            # for classification (accuracy ties are frequent on small test parts).
            if metric in ("mse", "log_loss"):
                for v in variants:
                    if v != "early" and med[v] < med["early"]:
                        wins[v] += 1
            e = statistics.median(s["epoch"] for s in r["seeds"])
            secs = "/".join(f"{statistics.median(s['seconds'][v] for s in r['seeds']):.2f}"
                            for v in ["early", "refit", "five"] if v in variants)
            print(f"| {r['name']} | {metric} | " + " | ".join(cells) + f" | {e:g} | {secs} |")
    print("\nSets where the variant's median (MSE, or log-loss) beats the early-stopped model's: "
          + ", ".join(f"{v} {wins[v]} of {len(results)}" for v in variants if v != "early"))


if __name__ == "__main__":
    main()
