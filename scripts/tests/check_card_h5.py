#!/usr/bin/env python3
"""Checks that a Layer Card's card.h5 (h5py) holds the same numbers as its card.json.

Usage: check_card_h5.py CARD.h5 CARD.json   -> exit 0 and "OK ..." when every array and attribute matches,
exit 1 with the first mismatch otherwise. Float columns must match to 1e-12 relative (both are written from the
same Float64 values); optional profile fields that are absent must be NaN in the HDF5 file (block_influence and
act_norm: NaN, or no dataset in files written before they existed). The probe's columns
(measured_gain, probe_step_seconds, probe_peak_bytes in /layers, everything under /probe) must be NaN-free: an absent
value is 0 with its `<name>_mask` = 0, a present one equal with mask 1. When card.json has a `probe` object, /probe
must hold its set table (name, source, membership, k, gain, gain_fraction, step_seconds, speedup), correlations
(signal, spearman, p_value, n) and measured layers, and the `probe` attribute the same object as JSON; without one,
neither may exist.
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


def masked(grp, k, values, what):
    """NaN-free column `k` with `k_mask`: value where present, 0 and mask 0 where absent (None)."""
    if f"{k}_mask" not in grp:
        fail(f"{what}_mask missing")
    v, m = np.asarray(grp[k][()], dtype=np.float64), np.asarray(grp[f"{k}_mask"][()])
    if np.isnan(v).any():
        fail(f"{what}: NaN in a probe column (must be 0 with mask 0)")
    want_m = np.array([0 if x is None else 1 for x in values])
    if m.shape != want_m.shape or not np.array_equal(m, want_m):
        fail(f"{what}_mask: h5 {m.tolist()} vs json presence {want_m.tolist()}")
    close(v, [0.0 if x is None else x for x in values], what)


def strings(ds):
    return [s.decode() if isinstance(s, bytes) else s for s in ds[()]]


def check_probe(h5, card, L):
    probe = card.get("probe")
    if probe is None:
        if "probe" in h5 or "probe" in h5.attrs:
            fail("/probe present but card.json has no probe object")
        return
    if "probe" not in h5 or "probe" not in h5.attrs:
        fail("card.json has a probe object but card.h5 has no /probe group or probe attribute")
    if json.loads(h5.attrs["probe"]) != probe:
        fail("attribute probe (JSON)")
    g = h5["probe"]
    ml = probe.get("measured_layers", [])
    if ml and list(g["measured_layers"][()]) != ml:
        fail("/probe/measured_layers")
    sets = probe.get("sets", [])
    if sets:
        s = g["sets"]
        if strings(s["name"]) != [x["name"] for x in sets]:
            fail("/probe/sets/name")
        if strings(s["source"]) != [x.get("source") or "" for x in sets]:
            fail("/probe/sets/source")
        mem = s["membership"][()]
        if mem.shape != (len(sets), L):
            fail(f"/probe/sets/membership shape {mem.shape}")
        for i, x in enumerate(sets):
            if sorted(np.flatnonzero(mem[i]).tolist()) != sorted(set(x["layers"])):
                fail(f"/probe/sets/membership[{i}] ({x['name']})")
        if list(s["k"][()]) != [len(x["layers"]) for x in sets]:
            fail("/probe/sets/k")
        for k in ["gain", "step_seconds"]:
            v = np.asarray(s[k][()], dtype=np.float64)
            if np.isnan(v).any():
                fail(f"/probe/sets/{k}: NaN")
            close(v, [x[k] for x in sets], f"/probe/sets/{k}")
        for k in ["gain_fraction", "speedup"]:
            masked(s, k, [x.get(k) for x in sets], f"/probe/sets/{k}")
    elif "sets" in g:
        fail("/probe/sets present but the probe ran no sets")
    corr = probe.get("correlations", [])
    if corr:
        c = g["correlations"]
        if strings(c["signal"]) != [x["signal"] for x in corr]:
            fail("/probe/correlations/signal")
        if list(c["n"][()]) != [x["n"] for x in corr]:
            fail("/probe/correlations/n")
        for k in ["spearman", "p_value"]:
            masked(c, k, [x.get(k) for x in corr], f"/probe/correlations/{k}")


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
              "activation_bytes_per_token", "measured_step_seconds", "measured_peak_bytes"]:
        close(h5["layers"][k][()], [l.get(k) for l in layers], f"/layers/{k}")
    # Forward-only columns: NaN where card.json lacks them; files written before them may omit the dataset only
    # when card.json has no value either.
    for k in ["block_influence", "act_norm"]:
        if k not in h5["layers"]:
            if any(l.get(k) is not None for l in layers):
                fail(f"/layers/{k} missing but card.json has it")
            continue
        close(h5["layers"][k][()], [l.get(k) for l in layers], f"/layers/{k}")
    for k in ["measured_gain", "probe_step_seconds", "probe_peak_bytes"]:
        masked(h5["layers"], k, [l.get(k) for l in layers], f"/layers/{k}")
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
    check_probe(h5, card, L)
    probed = sum(1 for l in layers if l.get("measured_gain") is not None)
    extra = f", probe: {probed} layers measured, {len(card['probe'].get('sets', []))} sets" if "probe" in card else ""
    print(f"OK {len(mods)} modules, {L} layers, coupling {L}x{L}{extra}")


if __name__ == "__main__":
    main()
