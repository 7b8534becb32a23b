#!/usr/bin/env python3
"""Out-of-distribution detection with a radial model's support score, against the usual baselines.

For each seed 1…--seeds and each in-distribution (ID) set below, the ID rows are split into a
training part (70%) and an ID test part (30%) with that seed, and written to CSV files.

* `bump train --radial --layers H` (a RadialBump(d→H) → Dense(H→classes) model; its support
  calibration is stored in the checkpoint) and
  `bump train --layers H` (Dense(d→H) → Bump → Dense(H→classes), the same number of
  hidden units) learn from the training part until early stopping (`--epochs 600`, patience
  20) with their defaults otherwise (validation split 0.2, --final-model ensemble); the
  radial model's abstention threshold is set on that validation split for 99% coverage of
  new rows, and the script reports the ID test rows abstained on at 99% and, with
  `bump predict --coverage 0.95`, at 95%.
  `--bump-layers SIZES` gives both models other hidden layers, and `--radial-last` makes the
  radial model's last hidden layer radial too (`bump train --radial --radial-last`: its
  support score is then the product of both radial layers' densities).
* `bump predict` on the ID test part and on each OOD set writes `in_support`, the support
  score; `bump evaluate` gives both models' ID test accuracy.
* The baselines learn from the same training part, standardized with its statistics:
  scikit-learn's MLPClassifier(hidden_layer_sizes=(H,)) — its maximum softmax probability
  (MSP, Hendrycks & Gimpel 2017) and its energy score logsumexp(logits) (Liu et al. 2020) —
  the Mahalanobis distance to the nearest class mean under the tied covariance (Lee et al.
  2018; a ridge of 1e-3 on the standardized inputs' covariance), and the distance to the
  k-th nearest training row (k = 5; Sun et al. 2022), both in input space.

The support score the CLI writes combines each radial layer's units by their maximum (the
default reduction); the script also reads the checkpoint (safetensors, parsed here) and
recomputes the density in float64 numpy (every layer up to the last radial one run forward),
which checks the CLI's column (they must agree to 1e-4 relative) and gives the summed
reduction as a second row. Two more rows: the radial model's own maximum softmax probability
(its `probability_*` columns), and the support score times it.

Every score is oriented "higher = more in-distribution". AUROC (ID positive, ties counted
half) and the FPR at 95% TPR (the fraction of OOD rows scoring at or above the ID test
part's 5th percentile) are computed for each OOD kind.

ID sets and OOD kinds:

* digits (scikit-learn's 8×8 digits): classes 0–4 in distribution; near OOD: the digits
  5–9; far OOD: uniform noise over the pixel range [0, 16]⁶⁴, and ID test rows with their
  64 pixels permuted (a random permutation per row).
* breast_cancer (569 × 30): rows whose `mean texture` is at most its 70th percentile in
  distribution (classified benign/malignant); OOD: the rows above it — a shift in one
  feature's range, the rest of the row realistic.

Usage: ood_benchmark.py --bump PATH [--seeds N] [--hidden H] [--bump-layers SIZES] [--radial-last]
                       [--work DIR] [--json FILE]
Needs numpy and scikit-learn (Scripts/ood-benchmark installs them in a venv of its own).
"""
import argparse
import csv
import json
import os
import struct
import statistics
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier


def write_csv(path, x, y=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"f{k}" for k in range(x.shape[1])] + ([] if y is None else ["label"]))
        for i in range(x.shape[0]):
            w.writerow([repr(float(v)) for v in x[i]] + ([] if y is None else [int(y[i])]))


def run(args):
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def bump_predict(bump, model, path, coverage=None):
    """The `in_support` and `abstain` columns of `bump predict` (None where the model has none)
    and the largest of its `probability_*` columns (the model's maximum softmax probability);
    `coverage`: the threshold for that coverage (`--coverage`) rather than the stored one."""
    out = run([bump, "predict", "--model", model, "--data", path]
              + ([] if coverage is None else ["--coverage", str(coverage)]))
    rows = list(csv.DictReader(out.splitlines()))
    msp = np.array([max(float(v) for k, v in r.items() if k.startswith("probability_")) for r in rows])
    if "in_support" not in rows[0]:
        return None, None, msp
    return (np.array([float(r["in_support"]) for r in rows]), np.array([int(r["abstain"]) for r in rows]), msp)


def bump_accuracy(bump, model, path):
    out = run([bump, "evaluate", "--model", model, "--data", path])
    for line in out.splitlines():
        if line.startswith("accuracy:"):
            return float(line.split()[1].rstrip("%")) / 100
    sys.exit(f"no accuracy in:\n{out}")


def read_checkpoint(path):
    """The tensors (float64) and metadata of a safetensors checkpoint."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = {"F32": np.float32, "F64": np.float64}[entry["dtype"]]
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(entry["shape"]).astype(np.float64)
    return tensors, header["__metadata__"]


def bump_values(sigma, r2):
    """exp(−σ/(σ − r²)) where r² < σ, else 0."""
    u = sigma - r2
    return np.where(u > 0, np.exp(-sigma / np.where(u > 0, u, 1)), 0.0)


def support_density(path, x, reduction):
    """ρ(x) of the checkpoint's radial layers: the product over a model's RadialBump layers of
    each one's density at its input (maxⱼ or Σⱼ of its bumps), the mean over an ensemble's
    members; from the rows as the model sees them (its feature columns, standardized as in
    training), every layer run forward in float64."""
    tensors, metadata = read_checkpoint(path)
    columns = [int(name[1:]) for name in json.loads(metadata["feature_names"])]
    scaling = json.loads(metadata["standardization"])
    layers = json.loads(metadata["architecture"])["layers"]
    prefixes = [""] + [f"ensemble.{i}." for i in range(1, int(metadata.get("ensemble_members", "1")))]
    total = np.zeros(len(x))
    for prefix in prefixes:
        h = (x[:, columns] - np.array(scaling["mean"])) / np.array(scaling["standardDeviation"])
        density = np.ones(len(x))
        last = max(i for i, layer in enumerate(layers) if layer["kind"] == "radialBump")
        for i, layer in enumerate(layers[:last + 1]):
            t = lambda name: tensors[f"{prefix}layers.{i}.{name}"]
            if layer["kind"] == "dense":
                h = h @ t("weight") + (t("bias") if f"{prefix}layers.{i}.bias" in tensors else 0)
            elif layer["kind"] == "bump":
                h = t("amplitude") * bump_values(t("sigma"), (h - t("center")) ** 2)
            elif layer["kind"] == "radialBump":
                f = bump_values(t("sigma"), ((h[:, None, :] - t("center")[None]) ** 2).sum(axis=2))
                density *= f.max(axis=1) if reduction == "max" else f.sum(axis=1)
                h = t("amplitude") * f
            else:
                sys.exit(f"{path}: no float64 forward pass here for layer kind {layer['kind']}")
        total += density
    return total / len(prefixes)


def check_support_column(path, x, scores):
    """Checks the CLI's in_support against the recomputed maximum reduction."""
    _, metadata = read_checkpoint(path)
    calibration = json.loads(metadata["support_calibration"])
    assert calibration["reduction"] == "max", calibration
    expected = support_density(path, x, "max") / calibration["scale"]
    bad = np.abs(scores - expected) > 1e-4 * np.maximum(expected, 1e-3)
    # A bump that underflows in float (f < 1e-38 or so, within a hair of a support's edge) is 0
    # in the CLI's column and tiny here: only a disagreement above that counts.
    zero_disagrees = ((scores == 0) != (expected == 0)) & (np.maximum(scores, expected) > 1e-30)
    if bad.any() or zero_disagrees.any():
        sys.exit(f"in_support of {path} differs from the recomputed score in {int(bad.sum())} rows "
                 f"(zero/non-zero: {int(zero_disagrees.sum())})")


def auroc(id_scores, ood_scores):
    """P(ID score > OOD score) + ½·P(equal): the Mann–Whitney statistic, exactly."""
    scores = np.concatenate([id_scores, ood_scores])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n1, n0 = len(id_scores), len(ood_scores)
    return (ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def fpr_at_95(id_scores, ood_scores):
    """The fraction of OOD rows accepted by the threshold that keeps 95% of the ID rows."""
    threshold = np.sort(id_scores)[int(np.floor(0.05 * len(id_scores)))]
    return float(np.mean(ood_scores >= threshold))


def mlp_scores(x_train, y_train, seed, hidden):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=500, random_state=seed).fit(x_train, y_train)

    def logits(x):
        h = x
        for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
            h = h @ w + b
            if i < len(mlp.coefs_) - 1:
                h = np.maximum(h, 0)
        if h.shape[1] == 1:  # binary: the logit of class 1 against 0
            h = np.hstack([np.zeros_like(h), h])
        return h

    def msp(x):
        z = logits(x)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return p.max(axis=1)

    def energy(x):
        z = logits(x)
        top = z.max(axis=1, keepdims=True)
        return (top + np.log(np.exp(z - top).sum(axis=1, keepdims=True)))[:, 0]

    return mlp, msp, energy


def mahalanobis_score(x_train, y_train):
    classes = np.unique(y_train)
    means = np.stack([x_train[y_train == c].mean(axis=0) for c in classes])
    centred = x_train - means[np.searchsorted(classes, y_train)]
    cov = centred.T @ centred / len(x_train) + 1e-3 * np.eye(x_train.shape[1])
    precision = np.linalg.inv(cov)

    def score(x):
        d = np.stack([np.einsum("ij,jk,ik->i", x - m, precision, x - m) for m in means], axis=1)
        return -d.min(axis=1)

    return score


def knn_score(x_train, k=5):
    nn = NearestNeighbors(n_neighbors=k).fit(x_train)

    def score(x):
        return -nn.kneighbors(x)[0][:, -1]

    return score


def data_sets(seed):
    """(name, x_train, y_train, x_test, y_test, {ood kind: (label, x)}) for one seed."""
    rng = np.random.default_rng(seed)
    out = []
    d = datasets.load_digits()
    inside = d.target < 5
    x_tr, x_te, y_tr, y_te = train_test_split(
        d.data[inside], d.target[inside], test_size=0.3, random_state=seed, stratify=d.target[inside])
    noise = rng.uniform(0, 16, size=x_te.shape)
    permuted = np.stack([row[rng.permutation(row.shape[0])] for row in x_te])
    out.append(("digits", x_tr, y_tr, x_te, y_te, {
        "near (digits 5–9)": ("near", d.data[~inside]),
        "far (uniform noise)": ("far", noise),
        "far (permuted pixels)": ("far", permuted),
    }))
    b = datasets.load_breast_cancer()
    feature = list(b.feature_names).index("mean texture")
    cut = np.percentile(b.data[:, feature], 70)
    inside = b.data[:, feature] <= cut
    x_tr, x_te, y_tr, y_te = train_test_split(
        b.data[inside], b.target[inside], test_size=0.3, random_state=seed, stratify=b.target[inside])
    out.append(("breast_cancer", x_tr, y_tr, x_te, y_te, {
        "shift (mean texture > 70th pct.)": ("shift", b.data[~inside]),
    }))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bump", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--work")
    parser.add_argument("--json")
    parser.add_argument("--bump-args", default="", help="extra arguments for both bump train runs")
    parser.add_argument("--bump-layers", help="--layers of both bump train runs (default: --hidden)")
    parser.add_argument("--radial-last", action="store_true",
                        help="the radial model's last hidden layer is radial too (bump train --radial-last)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="ood-benchmark-")
    os.makedirs(work, exist_ok=True)
    records = []
    for seed in range(1, args.seeds + 1):
        for name, x_tr, y_tr, x_te, y_te, ood in data_sets(seed):
            folder = os.path.join(work, f"{name}-{seed}")
            os.makedirs(folder, exist_ok=True)
            train_csv, test_csv = os.path.join(folder, "train.csv"), os.path.join(folder, "test.csv")
            write_csv(train_csv, x_tr, y_tr)
            write_csv(test_csv, x_te, y_te)
            models = {}
            radial = ["--radial"] + (["--radial-last"] if args.radial_last else [])
            for kind, extra in [("radial", radial), ("dense-bump", [])]:
                out = os.path.join(folder, kind)
                if not os.path.exists(os.path.join(out, "model.safetensors")):
                    run([args.bump, "train", "--data", train_csv, "--target", "label", "--task", "classification",
                         "--layers", args.bump_layers or str(args.hidden), "--seed", str(seed), "--epochs", "600", "--output", out]
                        + extra + args.bump_args.split())
                models[kind] = os.path.join(out, "model.safetensors")
            accuracy = {kind: bump_accuracy(args.bump, path, test_csv) for kind, path in models.items()}
            # Baselines on inputs standardized with the training part's statistics (constant
            # pixels keep scale 1).
            mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
            std[std == 0] = 1
            z = lambda x: (x - mean) / std
            mlp, msp, energy = mlp_scores(z(x_tr), y_tr, seed, args.hidden)
            accuracy["mlp"] = float(mlp.score(z(x_te), y_te))
            scorers = {
                "MLP MSP": lambda x: msp(z(x)),
                "MLP energy": lambda x: energy(z(x)),
                "Mahalanobis": mahalanobis_score(z(x_tr), y_tr),
                "k-NN (k=5)": None,
            }
            knn = knn_score(z(x_tr))
            scorers["k-NN (k=5)"] = lambda x: knn(z(x))
            id_support, id_abstain, id_msp = bump_predict(args.bump, models["radial"], test_csv)
            id_scores = {m: f(x_te) for m, f in scorers.items()}
            check_support_column(models["radial"], x_te, id_support)
            id_scores["support score"] = id_support
            id_scores["support score (sum)"] = support_density(models["radial"], x_te, "sum")
            id_scores["radial model MSP"] = id_msp
            id_scores["support score × MSP"] = id_support * id_msp
            _, id_abstain_95, _ = bump_predict(args.bump, models["radial"], test_csv, coverage=0.95)
            _, metadata = read_checkpoint(models["radial"])
            record = {"set": name, "seed": seed, "accuracy": accuracy,
                      "id_abstained": float(id_abstain.mean()), "id_abstained_95": float(id_abstain_95.mean()),
                      "id_outside": float(np.mean(id_support == 0)),
                      "held_out_rows": json.loads(metadata["support_calibration"]).get("held_out_rows", 0), "ood": {}}
            for index, (kind, (family, x_ood)) in enumerate(ood.items()):
                path = os.path.join(folder, f"ood-{index}-{family}.csv")
                write_csv(path, x_ood)
                support, abstain, msp_ood = bump_predict(args.bump, models["radial"], path)
                ood_scores = {m: f(x_ood) for m, f in scorers.items()}
                check_support_column(models["radial"], x_ood, support)
                ood_scores["support score"] = support
                ood_scores["support score (sum)"] = support_density(models["radial"], x_ood, "sum")
                ood_scores["radial model MSP"] = msp_ood
                ood_scores["support score × MSP"] = support * msp_ood
                record["ood"][kind] = {
                    "abstained": float(abstain.mean()), "outside": float(np.mean(support == 0)),
                    "methods": {m: {"auroc": auroc(id_scores[m], ood_scores[m]),
                                    "fpr95": fpr_at_95(id_scores[m], ood_scores[m])} for m in id_scores},
                }
            records.append(record)
            print(f"{name} seed {seed}: accuracy {accuracy}; ID abstained {record['id_abstained']:.3f} "
                  f"(at 95% coverage {record['id_abstained_95']:.3f})", file=sys.stderr)
            for kind, r in record["ood"].items():
                print(f"  {kind}: abstained {r['abstained']:.3f} " + ", ".join(
                    f"{m} {v['auroc']:.4f}/{v['fpr95']:.3f}" for m, v in r["methods"].items()), file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    print_tables(records)
    print_goals(records)


def print_goals(records):
    """The issue's goals, seed by seed (exact comparisons, not the rounded medians)."""
    baselines = ["MLP MSP", "MLP energy", "Mahalanobis", "k-NN (k=5)"]
    print("\n### Goals, seed by seed\n")
    for name in dict.fromkeys(r["set"] for r in records):
        rs = [r for r in records if r["set"] == name]
        for kind in rs[0]["ood"]:
            au = lambda r, m: r["ood"][kind]["methods"][m]["auroc"]
            if kind.startswith("far"):
                ok = [au(r, "support score") >= 0.99 and all(au(r, "support score") >= au(r, b) for b in baselines)
                      for r in rs]
                worst = min(au(r, "support score") - max(au(r, b) for b in baselines) for r in rs)
                print(f"- {name}, {kind}: AUROC ≥ 0.99 and ≥ every baseline in {sum(ok)} of {len(rs)} seeds "
                      f"(smallest margin over the best baseline {worst:+.6f}; lowest AUROC "
                      f"{min(au(r, 'support score') for r in rs):.6f})")
            else:
                for m in ["support score", "support score × MSP"]:
                    ok = [au(r, m) >= au(r, "MLP MSP") for r in rs]
                    print(f"- {name}, {kind}: {m}: AUROC ≥ the MLP's MSP in {sum(ok)} of {len(rs)} seeds "
                          f"(median {statistics.median(au(r, m) for r in rs):.4f} against "
                          f"{statistics.median(au(r, 'MLP MSP') for r in rs):.4f})")
        gaps = [r["accuracy"]["dense-bump"] - r["accuracy"]["radial"] for r in rs]
        median_gap = statistics.median(r["accuracy"]["dense-bump"] for r in rs) - statistics.median(
            r["accuracy"]["radial"] for r in rs)
        print(f"- {name}: in-distribution accuracy, Dense→Bump→Dense minus radial: median {median_gap * 100:+.2f} pp "
              f"(per seed {', '.join('%+.1f' % (g * 100) for g in gaps)})")


def print_tables(records):
    median = statistics.median
    for name in dict.fromkeys(r["set"] for r in records):
        rs = [r for r in records if r["set"] == name]
        print(f"\n### {name} ({len(rs)} seeds; medians)\n")
        kinds = list(rs[0]["ood"])
        methods = list(rs[0]["ood"][kinds[0]]["methods"])
        print("| method | " + " | ".join(f"{k}: AUROC | FPR@95" for k in kinds) + " |")
        print("|---|" + "---:|---:|" * len(kinds))
        for m in methods:
            cells = []
            for k in kinds:
                cells.append(f"{median(r['ood'][k]['methods'][m]['auroc'] for r in rs):.4f}")
                cells.append(f"{median(r['ood'][k]['methods'][m]['fpr95'] for r in rs):.3f}")
            print(f"| {m} | " + " | ".join(cells) + " |")
        print()
        print("| | " + " | ".join(kinds) + " |")
        print("|---|" + "---:|" * len(kinds))
        print("| OOD rows abstained on (fitted threshold) | " + " | ".join(
            f"{median(r['ood'][k]['abstained'] for r in rs):.3f}" for k in kinds) + " |")
        print("| OOD rows outside every support (score 0) | " + " | ".join(
            f"{median(r['ood'][k]['outside'] for r in rs):.3f}" for k in kinds) + " |")
        print()
        print(f"ID test rows abstained on: {median(r['id_abstained'] for r in rs):.3f} (per seed "
              f"{', '.join('%.3f' % r['id_abstained'] for r in rs)}; mean {statistics.mean(r['id_abstained'] for r in rs):.3f}; "
              f"nominal 0.01); at --coverage 0.95: {median(r['id_abstained_95'] for r in rs):.3f} (per seed "
              f"{', '.join('%.3f' % r['id_abstained_95'] for r in rs)}; mean "
              f"{statistics.mean(r['id_abstained_95'] for r in rs):.3f}; nominal 0.05); "
              f"outside every support: {median(r['id_outside'] for r in rs):.3f}; threshold set on "
              f"{', '.join(str(r['held_out_rows']) for r in rs)} held-out rows")
        parts = []
        for m in rs[0]["accuracy"]:
            each = ", ".join("%.1f" % (r["accuracy"][m] * 100) for r in rs)
            parts.append("%s %.2f%% (%s)" % (m, median(r["accuracy"][m] for r in rs) * 100, each))
        print("ID test accuracy (per seed in parentheses): " + "; ".join(parts))


if __name__ == "__main__":
    main()
