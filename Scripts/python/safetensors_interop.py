#!/usr/bin/env python3
"""Interop check between BumpKit's safetensors code and Python's `safetensors` + numpy.

Driven by a JSON spec that the Swift test writes, so the expected values live in one place:

    {"tensors": [{"name": "w", "dtype": "F32", "shape": [2, 3],
                  "bits": ["3f800000", ...]}, ...],
     "metadata": {"key": "value", ...}}

`bits` are the elements' bit patterns in hex (row-major), so NaN payloads, -0 and subnormals
are compared exactly.

    safetensors_interop.py check SPEC FILE   # FILE (written by Swift) must match SPEC
    safetensors_interop.py write SPEC FILE   # write SPEC with safetensors.numpy.save_file

Exit status 0 on success; otherwise a message on stderr and status 1.
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

# dtype name -> (numpy value type, numpy unsigned type of the same width)
DTYPES = {
    "F16": (np.float16, np.uint16),
    "F32": (np.float32, np.uint32),
    "F64": (np.float64, np.uint64),
    "I32": (np.int32, np.uint32),
    "I64": (np.int64, np.uint64),
    "U8": (np.uint8, np.uint8),
}


def array_from_spec(entry):
    value_type, bits_type = DTYPES[entry["dtype"]]
    bits = np.array([int(b, 16) for b in entry["bits"]], dtype=bits_type)
    return bits.view(value_type).reshape(tuple(entry["shape"]))


def check(spec, path):
    errors = []
    loaded = load_file(path)
    expected_names = [t["name"] for t in spec["tensors"]]
    if sorted(loaded) != sorted(expected_names):
        errors.append(f"tensor names: expected {sorted(expected_names)}, got {sorted(loaded)}")
    for entry in spec["tensors"]:
        name = entry["name"]
        if name not in loaded:
            continue
        array = loaded[name]
        value_type, bits_type = DTYPES[entry["dtype"]]
        if array.dtype != np.dtype(value_type):
            errors.append(f"{name!r}: dtype {array.dtype}, expected {np.dtype(value_type)}")
            continue
        if array.shape != tuple(entry["shape"]):
            errors.append(f"{name!r}: shape {array.shape}, expected {tuple(entry['shape'])}")
            continue
        got = [format(int(b), "x") for b in np.ascontiguousarray(array).view(bits_type).ravel()]
        want = [format(int(b, 16), "x") for b in entry["bits"]]
        if got != want:
            errors.append(f"{name!r}: bits {got[:8]}..., expected {want[:8]}...")
    with safe_open(path, framework="np") as f:
        metadata = f.metadata() or {}
        if sorted(f.keys()) != sorted(expected_names):
            errors.append(f"safe_open keys: {sorted(f.keys())}")
    if metadata != spec["metadata"]:
        errors.append(f"metadata: expected {spec['metadata']!r}, got {metadata!r}")
    return errors


def write(spec, path):
    tensors = {t["name"]: array_from_spec(t) for t in spec["tensors"]}
    save_file(tensors, path, metadata=spec["metadata"] or None)
    return []


def main(argv):
    if len(argv) != 4 or argv[1] not in ("check", "write"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2], encoding="utf-8") as f:
        spec = json.load(f)
    errors = (check if argv[1] == "check" else write)(spec, argv[3])
    for error in errors:
        print(error, file=sys.stderr)
    if not errors:
        print(f"{argv[1]} ok: {len(spec['tensors'])} tensors, {len(spec['metadata'])} metadata keys")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
