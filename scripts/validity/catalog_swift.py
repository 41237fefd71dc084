#!/usr/bin/env python3
"""Writes the validated set models into Sources/LCCard/SetModel.swift (between the GENERATED CATALOG markers) from a
leave-one-task-out table (loto.py's set-models.json): for every per-layer source, the candidate with the lowest
validated choice (loto.py `winner`) at the given horizon. Usage: catalog_swift.py SET_MODELS_JSON [--horizon 5]"""
import argparse, json, os, re

ap = argparse.ArgumentParser()
ap.add_argument("table")
ap.add_argument("--horizon", default="5")
a = ap.parse_args()
rep = json.load(open(a.table))
h = rep["horizons"][a.horizon]
root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
table_md = os.path.relpath(os.path.abspath(a.table), root).replace(".json", ".md")
best = {}
for src, w in h["winners_by_source"].items():  # loto.py's choice per source (regret, ties broken by MAE)
    best[src] = next(r for r in h["candidates"] if r["source"] == src and r["model"] == w["model"] and r["param_all_tasks"] == w["param"])
kinds = {"nnls-coupling": ".nnlsCoupling", "kernel-nnls": ".kernelNNLS", "additive": ".additive", "saturating": ".saturating"}
lines = []
for src, r in best.items():
    name = "measured_gain" if src == "measured" else src
    param = "nil" if r["param_all_tasks"] is None else repr(float(r["param_all_tasks"]))
    tasks = ", ".join(f'"{t}"' for t in h["tasks"])
    lines.append(f'        SetModelValidation(model: SetModel(kind: {kinds[r["model"]]}, param: {param}), source: "{name}", '
                 f'horizon_steps: {a.horizon},\n                           spearman: {r["spearman"]!r}, mae: {r["mae"]!r}, p90: {r["p90"]!r}, '
                 f'tasks: [{tasks}],\n                           table: "{table_md}"),')
p = os.path.join(root, "Sources", "LCCard", "SetModel.swift")
s = open(p).read()
s = re.sub(r"(// BEGIN GENERATED CATALOG\n).*?(\s*// END GENERATED CATALOG)", lambda m: m.group(1) + "\n".join(lines) + m.group(2), s, flags=re.S)
open(p, "w").write(s)
print(f"{p}: {len(lines)} validated model(s)")
