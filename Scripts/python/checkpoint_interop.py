#!/usr/bin/env python3
"""Interop check between BumpKit model checkpoints and Python's `safetensors` + numpy.

A BumpKit checkpoint is a safetensors file whose `__metadata__` holds `format`
("bumpkit.sequential"), `format_version` ("1"), `precision` ("float" or "double") and
`architecture`, a JSON string:

    {"inputFeatures": 1, "layers": [{"kind": "dense", "settings": {"inputSize": "1", ...}}, ...]}

Parameter `p` of layer `i` is the tensor `layers.<i>.<p>`, 2-D, F32 or F64 after the precision.

    checkpoint_interop.py forward MODEL INPUTS OUTPUTS
        Loads MODEL with safetensors.numpy.load_file, checks every tensor name, shape and dtype
        against the architecture, and computes the model on the tensor "x" of INPUTS (a
        safetensors file) in float64 numpy, writing it as the F64 tensor "y" of OUTPUTS.

    checkpoint_interop.py rewrite MODEL OUT
        Loads and checks MODEL, then writes OUT with safetensors.numpy.save_file: the same
        tensor names, dtypes, shapes and metadata, with modified weights (see `modified`).

Exit status 0 on success; otherwise the problems on stderr and status 1.
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

FORMAT = "bumpkit.sequential"
FORMAT_VERSION = "1"
DTYPES = {"float": np.float32, "double": np.float64}


class CheckpointProblem(Exception):
    pass


def read_checkpoint(path):
    """The tensors, metadata and parsed architecture of a checkpoint, all checked."""
    tensors = load_file(path)
    with safe_open(path, framework="np") as f:
        metadata = f.metadata() or {}
    problems = []
    if metadata.get("format") != FORMAT:
        problems.append(f"format is {metadata.get('format')!r}, expected {FORMAT!r}")
    if metadata.get("format_version") != FORMAT_VERSION:
        problems.append(f"format_version is {metadata.get('format_version')!r}")
    precision = metadata.get("precision")
    if precision not in DTYPES:
        problems.append(f"precision is {precision!r}")
    try:
        architecture = json.loads(metadata["architecture"])
    except (KeyError, ValueError) as error:
        raise CheckpointProblem(f"architecture metadata missing or invalid: {error}")
    if problems:
        raise CheckpointProblem("; ".join(problems))

    expected = expected_tensors(architecture)
    dtype = np.dtype(DTYPES[precision])
    for name, shape in expected.items():
        if name not in tensors:
            problems.append(f"missing tensor {name}")
            continue
        array = tensors[name]
        if array.dtype != dtype:
            problems.append(f"{name}: dtype {array.dtype}, expected {dtype}")
        if array.shape != shape:
            problems.append(f"{name}: shape {array.shape}, expected {shape}")
        if not np.all(np.isfinite(array)):
            problems.append(f"{name}: non-finite values")
    for name in sorted(set(tensors) - set(expected)):
        problems.append(f"unexpected tensor {name}")
    if problems:
        raise CheckpointProblem("; ".join(problems))
    return tensors, metadata, architecture


def expected_tensors(architecture):
    """{name: shape} of every parameter the architecture needs; checks that sizes chain."""
    expected = {}
    width = int(architecture["inputFeatures"])
    for i, layer in enumerate(architecture["layers"]):
        kind, settings = layer["kind"], layer.get("settings", {})
        prefix = f"layers.{i}."
        if kind == "dense":
            n_in, n_out = int(settings["inputSize"]), int(settings["outputSize"])
            if n_in != width:
                raise CheckpointProblem(f"layer {i}: dense takes {n_in} features, gets {width}")
            expected[prefix + "weight"] = (n_in, n_out)
            if settings.get("useBias", "true") == "true":
                expected[prefix + "bias"] = (1, n_out)
            width = n_out
        elif kind == "bump":
            units = int(settings["units"])
            if units != width:
                raise CheckpointProblem(f"layer {i}: bump has {units} units, gets {width}")
            for name in ("sigma", "center", "amplitude"):
                layout = settings[name].split(",")[0]
                if layout not in ("shared", "per-unit"):
                    raise CheckpointProblem(f"layer {i}: {name} layout {settings[name]!r}")
                expected[prefix + name] = (1, units if layout == "per-unit" else 1)
        elif kind == "gaussian":
            for name in ("amplitude", "width", "center"):
                expected[prefix + name] = (1, 1)
        elif kind not in ("relu", "tanh", "sigmoid"):
            raise CheckpointProblem(f"layer {i}: unknown kind {kind!r}")
    return expected


def bump(x, sigma, center, amplitude):
    """a·exp(−σ/(σ − z²)) where z² < σ, else 0, with z = x − c (broadcast per unit)."""
    z = x - center
    u = sigma - z * z
    inside = u > 0
    safe = np.where(inside, u, 1.0)
    return np.where(inside, amplitude * np.exp(-sigma / safe), 0.0)


def forward(tensors, architecture, x):
    h = np.asarray(x, dtype=np.float64)
    for i, layer in enumerate(architecture["layers"]):
        p = {name.split(".", 2)[2]: t.astype(np.float64) for name, t in tensors.items()
             if name.startswith(f"layers.{i}.")}
        kind = layer["kind"]
        if kind == "dense":
            h = h @ p["weight"] + p.get("bias", 0.0)
        elif kind == "bump":
            h = bump(h, p["sigma"], p["center"], p["amplitude"])
        elif kind == "relu":
            h = np.maximum(h, 0.0)
        elif kind == "tanh":
            h = np.tanh(h)
        elif kind == "sigmoid":
            with np.errstate(over="ignore"):  # exp(−h) = ∞ gives the right limit, 0
                h = 1.0 / (1.0 + np.exp(-h))
        elif kind == "gaussian":
            h = p["amplitude"] * np.exp(-p["width"] * (h - p["center"]) ** 2)
    return h


def modified(name, array):
    """The rewritten value: σ and a Gaussian width scaled by 1.5 (they must stay positive),
    everything else w·0.75 + 0.05; computed in float64 and rounded once to the dtype."""
    wide = array.astype(np.float64)
    if name.endswith(".sigma") or name.endswith(".width"):
        wide = wide * 1.5
    else:
        wide = wide * 0.75 + 0.05
    return wide.astype(array.dtype)


def main(argv):
    try:
        if len(argv) == 5 and argv[1] == "forward":
            tensors, _, architecture = read_checkpoint(argv[2])
            x = load_file(argv[3])["x"]
            if x.ndim != 2 or x.shape[1] != int(architecture["inputFeatures"]):
                raise CheckpointProblem(f"inputs of shape {x.shape} for {architecture['inputFeatures']} features")
            y = forward(tensors, architecture, x)
            save_file({"y": np.ascontiguousarray(y, dtype=np.float64)}, argv[4])
        elif len(argv) == 4 and argv[1] == "rewrite":
            tensors, metadata, _ = read_checkpoint(argv[2])
            out = {name: np.ascontiguousarray(modified(name, t)) for name, t in tensors.items()}
            save_file(out, argv[3], metadata=metadata)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except CheckpointProblem as problem:
        print(f"checkpoint_interop.py: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
