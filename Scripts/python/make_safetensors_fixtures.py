#!/usr/bin/env python3
"""Regenerates the safetensors fixture corpus in Tests/BumpKitTests/Fixtures/safetensors/.

`valid-*` files decode successfully (some written by `safetensors.numpy.save_file` itself);
`err-*` files each exercise one validation error. The expected outcome of every file is
listed in Tests/BumpKitTests/SafetensorsTests.swift (`corpusExpectations`), which also fails
if a file here is not listed. Output is deterministic.

    python3 Scripts/python/make_safetensors_fixtures.py
"""
import json
import os
import struct
import sys

import numpy as np
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "Tests", "BumpKitTests", "Fixtures", "safetensors")


def raw(name, header, buffer=b"", length=None):
    """Writes a hand-made file: length field (the header's length unless given), header, buffer."""
    header = header.encode("utf-8") if isinstance(header, str) else header
    n = len(header) if length is None else length
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack("<Q", n) + header + buffer)


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def hdr(obj):
    return json.dumps(obj, separators=(",", ":"))


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.endswith(".safetensors"):
            os.remove(os.path.join(OUT, old))

    f32x4 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)

    # --- valid ---------------------------------------------------------------------------
    save_file(
        {"weight": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
         "bias": np.array([-1.5, 0.0, 2.25], dtype=np.float64)},
        os.path.join(OUT, "valid-python-f32-f64-metadata.safetensors"),
        # One key: save_file writes metadata in hash order, so more would not be reproducible.
        metadata={"architecture": '{"layers":[{"type":"bump","units":3}]}'})
    save_file(
        {"scalar": np.array(7.5, dtype=np.float32), "empty": np.zeros((0, 4), dtype=np.float64)},
        os.path.join(OUT, "valid-python-scalar-and-empty.safetensors"))
    save_file({"half": np.array([1.0, -0.5], dtype=np.float16)},
              os.path.join(OUT, "valid-python-f16.safetensors"))
    raw("valid-no-tensors.safetensors", "{}      ")
    raw("valid-escapes-unpadded.safetensors",
        '{"__metadata__" : {"note": "line\\nbreak \\"q\\" \\\\ \\u00e9 \\ud83d\\ude00"},\n'
        '  "a\\"b\\\\\\u00e9" : {"shape": [4], "dtype": "F32", "data_offsets": [0, 16], "extra": [1, {"x": null}]}}\t',
        f32x4)

    # --- framing errors ------------------------------------------------------------------
    with open(os.path.join(OUT, "err-truncated.safetensors"), "wb") as f:
        f.write(b"\x10\x00\x00\x00\x00")  # 5 of the 8 length bytes
    raw("err-header-too-large.safetensors", "{}", length=2**64 - 1)
    raw("err-header-exceeds-file.safetensors", "{}", length=1000)
    raw("err-header-not-utf8.safetensors", b'{"\xff": 1}')
    raw("err-invalid-json.safetensors", '{"a": {"dtype": "F32",')
    raw("err-lone-surrogate.safetensors", '{"\\ud800": {}}')
    raw("err-deep-nesting.safetensors", '{"a":' + "[" * 100 + "]" * 100 + "}")
    raw("err-header-not-object.safetensors", "[1, 2]")

    # --- entry errors --------------------------------------------------------------------
    raw("err-missing-dtype.safetensors", hdr({"a": {"shape": [4], "data_offsets": [0, 16]}}), f32x4)
    raw("err-negative-dim.safetensors", hdr({"a": entry("F32", [-4], 0, 16)}), f32x4)
    raw("err-unknown-dtype.safetensors", hdr({"a": entry("F31", [4], 0, 16)}), f32x4)
    raw("err-offsets-out-of-range.safetensors", hdr({"a": entry("F32", [8], 0, 32)}), f32x4)
    raw("err-begin-after-end.safetensors", hdr({"a": entry("F32", [0], 16, 0)}), f32x4)
    raw("err-size-mismatch.safetensors", hdr({"a": entry("F64", [4], 0, 16)}), f32x4)
    raw("err-shape-overflow.safetensors", hdr({"a": entry("F32", [2**62, 4], 0, 16)}), f32x4)
    # json.dumps cannot repeat a key, so these are spelled out.
    raw("err-duplicate-name.safetensors",
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', f32x4)
    raw("err-metadata-not-string.safetensors",
        hdr({"__metadata__": {"epochs": 3}, "a": entry("F32", [4], 0, 16)}), f32x4)

    # --- layout errors -------------------------------------------------------------------
    raw("err-overlap.safetensors",
        hdr({"a": entry("F32", [3], 0, 12), "b": entry("F32", [2], 8, 16)}), f32x4)
    raw("err-hole.safetensors",
        hdr({"a": entry("F32", [1], 0, 4), "b": entry("F32", [2], 8, 16)}), f32x4)
    raw("err-buffer-not-covered.safetensors", hdr({"a": entry("F32", [3], 0, 12)}), f32x4)

    for name in os.listdir(OUT):
        os.chmod(os.path.join(OUT, name), 0o644)  # save_file creates files 0600
    print(f"wrote {len(os.listdir(OUT))} files to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    sys.exit(main())
