#!/usr/bin/env python3
"""Independent check of the probe's correlations: merge the single-layer runs of one or more probe.json files
(same settings and seed, e.g. one run split over several invocations) and compute scipy.stats.spearmanr of
measured gain against the card's layer columns. Prints a Markdown table. Not used by the pipeline.

usage: probe_spearman.py CARD.json PROBE.json [PROBE.json ...]
"""
import json
import sys

from scipy import stats

SIGNALS = [("resnorm", "resnorm"), ("resnorm_lora", "resnorm_lora"), ("grad_norm", "grad_norm"),
           ("act_energy", "act_energy_mean"), ("predicted_gain", "predicted_gain")]


def main():
    card = json.load(open(sys.argv[1]))
    layers = {l["layer"]: l for l in card["layers"]}
    gains, steps, settings = {}, {}, None
    for p in sys.argv[2:]:
        r = json.load(open(p))
        key = json.dumps([r["settings"], r["dataset"]["eval_fraction"], r["dataset"]["split_seed"]], sort_keys=True)
        if settings is not None and key != settings:
            sys.exit(f"{p}: different settings; runs cannot be merged")
        settings = key
        for run in r["layers"]:
            gains[run["layers"][0]] = run["gain"]
            steps[run["layers"][0]] = run["step_seconds"]
    ls = sorted(gains)
    print(f"layers measured: {len(ls)}")
    print("| layer | measured gain | s/step |")
    print("|---:|---:|---:|")
    for l in ls:
        print(f"| {l} | {gains[l]:.5f} | {steps[l]:.3f} |")
    print()
    print("| signal | Spearman rho | p (t-approx.) | n |")
    print("|---|---:|---:|---:|")
    for name, field in SIGNALS:
        x = [layers[l][field] for l in ls]
        y = [gains[l] for l in ls]
        res = stats.spearmanr(x, y)
        print(f"| {name} | {res.statistic:.3f} | {res.pvalue:.4g} | {len(ls)} |")


if __name__ == "__main__":
    main()
