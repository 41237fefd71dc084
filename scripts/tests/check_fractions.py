#!/usr/bin/env python3
"""Checks an outputs/<model-id>/ folder for bare predicted gain fractions (spec v2 §6b, issue 15): in every
selection-<objective>.json the chosen set and each baseline must either be marked measured (basis "measured") or
carry the validated band (gain_fraction_band); in report.md every gain cell of the recommendation and strategy
tables must read "≈ N% ± B" or "N.N% measured". Exit 1 naming each offender.
Usage: check_fractions.py OUTPUT_DIR"""
import glob, json, os, re, sys

d = sys.argv[1]
bad = []
sels = sorted(glob.glob(os.path.join(d, "selection-*.json")))
if not sels:
    bad.append(f"{d}: no selection-*.json")
for p in sels:
    sel = json.load(open(p))["selection"]
    if not sel.get("set_model"):
        bad.append(f"{p}: no set_model named")
    for s in [sel["chosen"]] + sel["baselines"]:
        if s.get("basis") in ("measured", "reference"):  # reference = all layers, 1 by definition
            continue
        if s.get("gain_fraction_band") is None:
            bad.append(f"{p}: {s['name']} {s['layers']}: predicted fraction {s['gain_fraction']:.3f} without a band (basis {s.get('basis')})")
ok = re.compile(r"^(≈ \d+% ± \d+|\d+\.\d% measured|measured \(no all-layer gain to divide by\)|100% \(reference\))$")
md = os.path.join(d, "report.md")
if os.path.exists(md):
    section = False
    for n, line in enumerate(open(md, encoding="utf-8"), 1):
        if line.startswith("## "):
            section = line.startswith("## Recommended layers")
            continue
        if not section or not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in ("objective", "strategy"):
            header = cells
            continue
        col = header.index("gain share") if "gain share" in header else None
        if col is not None and not ok.match(cells[col]):
            bad.append(f"{md}:{n}: gain cell '{cells[col]}' is neither banded nor measured")
else:
    bad.append(f"{md}: missing")
for b in bad:
    print("FAIL:", b)
print(f"{len(sels)} selection file(s), report {'checked' if os.path.exists(md) else 'missing'}: {len(bad)} problem(s)")
sys.exit(1 if bad else 0)
