#!/usr/bin/env python3
"""Checks that a Layer Card's card.h5 (h5py) holds the same numbers as its card.json.

Usage: check_card_h5.py CARD.h5 CARD.json   -> exit 0 and "OK ..." when every array and attribute matches,
exit 1 with the first mismatch otherwise. Float columns must match to 1e-12 relative (both are written from the
same Float64 values); optional JSON fields that are absent must be NaN in the HDF5 file.
"""
import json
import math
import sys

import h5py
import numpy as np


def fail(msg):
    print(f"MISMATCH: {msg}")
    sys.exit(1)


def close(a, b, what):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray([np.nan if v is None else v for v in b], dtype=np.float64)
    if a.shape != b.shape:
        fail(f"{what}: shape {a.shape} vs {b.shape}")
    both_nan = np.isnan(a) & np.isnan(b)
    if not np.all(both_nan | np.isclose(a, b, rtol=1e-12, atol=0)):
        i = int(np.argmax(~(both_nan | np.isclose(a, b, rtol=1e-12, atol=0))))
        fail(f"{what}[{i}]: h5 {a[i]} vs json {b[i]}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    h5, card = h5py.File(sys.argv[1], "r"), json.load(open(sys.argv[2]))
    mods, layers = card["modules"], card["layers"]
    for k in ["layer", "d_in", "d_out"]:
        if list(h5["modules"][k][()]) != [m[k] for m in mods]:
            fail(f"/modules/{k}")
    names = [s.decode() if isinstance(s, bytes) else s for s in h5["modules"]["module"][()]]
    if names != [m["module"] for m in mods]:
        fail("/modules/module")
    for k in ["grad_norm", "act_energy", "resnorm", "resnorm_lora", "lambda_max", "effective_rank"]:
        close(h5["modules"][k][()], [m.get(k) for m in mods], f"/modules/{k}")
    if list(h5["layers"]["layer"][()]) != [l["layer"] for l in layers]:
        fail("/layers/layer")
    for k in ["grad_norm", "resnorm", "resnorm_lora", "act_energy_mean", "predicted_gain", "cost", "cost_relative",
              "activation_bytes_per_token", "measured_step_seconds", "measured_peak_bytes", "measured_gain"]:
        close(h5["layers"][k][()], [l.get(k) for l in layers], f"/layers/{k}")
    coup = h5["coupling"][()]
    L = len(layers)
    if coup.shape != (L, L):
        fail(f"/coupling shape {coup.shape}")
    close(coup.ravel(), [v for row in card["coupling"] for v in row], "/coupling")
    a = h5.attrs
    for k in ["spec_version", "schema_version", "tokens"]:
        if int(a[k]) != card[k]:
            fail(f"attribute {k}: {a[k]} vs {card[k]}")
    if not math.isclose(float(a["loss"]), card["loss"], rel_tol=1e-15):
        fail("attribute loss")
    for k in ["model_id", "model_fingerprint", "architecture", "tool_version"]:
        if a[k] != card[k]:
            fail(f"attribute {k}")
    if a["dataset_sha256"] != card["dataset"]["sha256"]:
        fail("attribute dataset_sha256")
    for k in ["parameters", "config", "cost_model", "dataset"]:
        if json.loads(a[k]) != card[k]:
            fail(f"attribute {k} (JSON)")
    print(f"OK {len(mods)} modules, {L} layers, coupling {L}x{L}")


if __name__ == "__main__":
    main()
