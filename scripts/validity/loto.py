#!/usr/bin/env python3
"""Leave-one-task-out validation of the candidate set models (issue 15; models in set_models.py) on a validation
corpus (docs/validity/<model>/<task>/{card.json,results-<steps>.jsonl}).

For every horizon, every per-layer source (the measured single-layer gains of the task, as after a probe; or a
card column, as without one) and every model: for each task held out, the model's parameter is fitted on the other
tasks (grid search, lowest mean absolute error of predicted gain fractions), then on the held-out task:
  spearman  rank correlation of predicted and measured gain fractions over its measured sets (2 <= |S| < L),
  mae       mean |predicted - measured| gain fraction, in fraction points (x100 in the Markdown),
  p90       90th percentile of that absolute error (the band shown next to a predicted fraction),
  regret@k  measured gain fraction of the best measured set of size k minus that of the measured set of size k the
            model ranks highest (choices are restricted to measured sets: the corpus can only score those).
The rules (mid-k, uniform-k, the rank stage's grad_norm choice, random) get regret@k the same way. The winner per
horizon and source: among the models whose mean regret over k is within REGRET_TIE (2 points of the all-layer gain,
below the corpus's seed spread) of the lowest, the one with the lowest MAE: a regret difference inside the noise
does not decide, calibration then does.

Usage: loto.py DIR [--out DIR/set-models] [--min-tasks 2]
"""
import argparse, json, math, os, statistics, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import set_models as sm  # noqa: E402
from summarize import load_results, agg, spearman  # noqa: E402

SOURCES = ["measured", "grad_norm", "resnorm", "resnorm_lora", "predicted_gain", "block_influence", "act_norm"]
KS = [3, 5, 8]
REGRET_TIE = 0.02


def winner(rows):
    """The validated choice among candidate rows of one source (see the module docstring)."""
    rows = [r for r in rows if r["regret_mean"] is not None]
    if not rows:
        return None
    best = min(r["regret_mean"] for r in rows)
    return min((r for r in rows if r["regret_mean"] <= best + REGRET_TIE), key=lambda r: r["mae"])


def corpus(d):
    out = {}
    for t in sorted(os.listdir(d)):
        cp = os.path.join(d, t, "card.json")
        if not os.path.exists(cp):
            continue
        card = json.load(open(cp))
        for f in os.listdir(os.path.join(d, t)):
            if not (f.startswith("results-") and f.endswith(".jsonl")):
                continue
            h = int(f[len("results-"):-len(".jsonl")])
            res = load_results(os.path.join(d, t, f))
            sets = {n: agg(r) for n, r in res.items()}
            if "all" not in sets or sets["all"]["gain"] <= 0:
                continue
            out.setdefault(h, {})[t] = task_data(card, sets)
    return out


def task_data(card, sets):
    L = len(card["layers"])
    allg = sets["all"]["gain"]
    singles = {int(n.split("-")[1]): s["gain"] for n, s in sets.items() if n.startswith("layer-")}
    by_layers = {}
    for n, s in sets.items():
        if n.startswith("layer-") or n == "all" or not (2 <= len(s["layers"]) < L):
            continue
        key = tuple(s["layers"])
        by_layers.setdefault(key, {"layers": list(key), "frac": s["gain"] / allg, "names": []})["names"].append(n)
    rows = sorted(card["layers"], key=lambda r: r["layer"])
    cols = {}
    for c in SOURCES[1:] + ["act_energy_mean"]:
        xs = [r.get(c) for r in rows]
        if all(isinstance(x, (int, float)) for x in xs):
            cols[c] = sm.values(xs, c)
    if len(singles) == L:
        cols["measured"] = sm.values([singles[l] for l in range(L)], "measured_gain")
    coupling = card.get("coupling", {}).get("matrix") if isinstance(card.get("coupling"), dict) else card.get("coupling")
    return {"L": L, "sets": list(by_layers.values()), "cols": cols, "coupling": coupling, "named": sets}


def errors(model, param, td, src):
    v = td["cols"][src]
    pred = [sm.predict(model, param, s["layers"], v, td["coupling"]) for s in td["sets"]]
    meas = [s["frac"] for s in td["sets"]]
    return pred, meas


def evaluate(model, param, td, src):
    pred, meas = errors(model, param, td, src)
    ae = sorted(abs(p - m) for p, m in zip(pred, meas))
    reg = {}
    for k in KS:
        idx = [i for i, s in enumerate(td["sets"]) if len(s["layers"]) == k]
        if idx:
            pick = max(idx, key=lambda i: pred[i])
            reg[k] = max(meas[i] for i in idx) - meas[pick]
    return {"spearman": spearman(pred, meas), "mae": sum(ae) / len(ae), "p90": ae[min(len(ae) - 1, int(math.ceil(0.9 * len(ae))) - 1)],
            "regret": reg, "n_sets": len(ae)}


def rule_regret(td, name_of_k):
    out = {}
    for k in KS:
        of_k = [s for s in td["sets"] if len(s["layers"]) == k]
        if not of_k:
            continue
        best = max(s["frac"] for s in of_k)
        hit = [s for s in of_k if name_of_k(k) in s["names"]]
        if hit:
            out[k] = best - hit[0]["frac"]
    return out


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--out")
    ap.add_argument("--min-tasks", type=int, default=2)
    a = ap.parse_args()
    out = a.out or os.path.join(a.dir, "set-models")
    C = corpus(a.dir)
    report = {"horizons": {}}
    md = ["# Set models, leave-one-task-out", "",
          "Written by `scripts/validity/loto.py` (models: `scripts/validity/set_models.py`). Per horizon and per-layer "
          "source, each model's parameter is fitted on the other tasks and scored on the held-out one; the table shows "
          "the mean over held-out tasks. MAE and p90 in gain-fraction points; regret@k in points of the all-layer gain "
          "lost by the model's pick among the measured sets of size k.", ""]
    for h in sorted(C):
        tasks = sorted(C[h])
        if len(tasks) < a.min_tasks:
            md += [f"## {h} steps: {len(tasks)} task(s) with results; leave-one-task-out needs {a.min_tasks}", ""]
            continue
        hr = {"tasks": tasks, "candidates": [], "rules": {}}
        for src in SOURCES:
            if not all(src in C[h][t]["cols"] for t in tasks):
                continue
            for model, grid in sm.GRIDS.items():
                if model == "nnls-coupling" and not all(C[h][t]["coupling"] for t in tasks):
                    continue
                per = {}
                for t in tasks:
                    train = [u for u in tasks if u != t]

                    def fit_err(p):
                        return statistics.mean(mean([abs(x - y) for x, y in zip(*errors(model, p, C[h][u], src))]) for u in train)
                    best = min(grid, key=fit_err) if len(grid) > 1 else grid[0]
                    per[t] = dict(evaluate(model, best, C[h][t], src), param=best)
                # The parameter to ship: fitted on every task.
                allfit = min(grid, key=lambda p: statistics.mean(mean([abs(x - y) for x, y in zip(*errors(model, p, C[h][u], src))])
                                                              for u in tasks)) if len(grid) > 1 else grid[0]
                row = {"model": model, "source": src, "param_all_tasks": allfit, "per_task": per,
                       "spearman": mean(per[t]["spearman"] for t in tasks), "mae": mean(per[t]["mae"] for t in tasks),
                       "p90": mean(per[t]["p90"] for t in tasks),
                       "regret": {k: mean(per[t]["regret"].get(k) for t in tasks) for k in KS}}
                row["regret_mean"] = mean(row["regret"].values())
                hr["candidates"].append(row)
        for rule, f in [("mid-k", lambda k: f"mid-{k}"), ("uniform-k", lambda k: f"uniform-{k}"),
                        ("rank-grad_norm-k", lambda k: f"rank-grad_norm-{k}"), ("topk-grad_norm-k", lambda k: f"topk-grad_norm-{k}"),
                        ("bottom-k", lambda k: f"bottom-{k}"), ("top-k", lambda k: f"top-{k}")]:
            regs = [rule_regret(C[h][t], f) for t in tasks]
            hr["rules"][rule] = {k: mean(r.get(k) for r in regs) for k in KS}
        cands = sorted(hr["candidates"], key=lambda r: (r["regret_mean"] if r["regret_mean"] is not None else 9, r["mae"]))
        winners, by_source = {}, {}
        for src in SOURCES:
            w = winner([r for r in cands if r["source"] == src])
            if w:
                by_source[src] = {"model": w["model"], "param": w["param_all_tasks"], "mae": w["mae"], "p90": w["p90"],
                                  "spearman": w["spearman"], "regret_mean": w["regret_mean"]}
        for src in ("measured", "grad_norm"):
            if src in by_source:
                winners[src] = by_source[src]
        w = winner([r for r in cands if r["source"] != "measured"])
        if w:
            winners["no_probe"] = {"model": w["model"], "source": w["source"], "param": w["param_all_tasks"], "mae": w["mae"],
                                   "p90": w["p90"], "spearman": w["spearman"], "regret_mean": w["regret_mean"]}
        hr["winners"] = winners
        hr["winners_by_source"] = by_source
        rules_mean = {n: mean(v.values()) for n, v in hr["rules"].items()}
        report["horizons"][str(h)] = hr
        md += [f"## {h} steps (held-out tasks: {', '.join(tasks)})", "",
               "| source | model | param (all tasks) | Spearman | MAE | p90 | " + " | ".join(f"regret@{k}" for k in KS) + " |",
               "|---|---|---|---|---|---|" + "---|" * len(KS)]
        for r in cands:
            md.append(f"| {r['source']} | {r['model']} | {r['param_all_tasks']} | {r['spearman']:.2f} | {100 * r['mae']:.1f} | "
                      f"{100 * r['p90']:.1f} | " + " | ".join("–" if r['regret'][k] is None else f"{100 * r['regret'][k]:.1f}" for k in KS) + " |")
        md += ["", "Rules (regret@k, same scoring): " + "; ".join(
            f"{n} " + "/".join("–" if v[k] is None else f"{100 * v[k]:.1f}" for k in KS) for n, v in hr["rules"].items()), ""]
        for src, w in winners.items():
            md.append(f"- winner ({src}): **{w['model']}** ({w.get('source', src)}, param {w['param']}): Spearman {w['spearman']:.2f}, "
                      f"MAE {100 * w['mae']:.1f} points, p90 {100 * w['p90']:.1f}, mean regret {100 * w['regret_mean']:.1f}")
        md.append("- rules, mean regret over k: " + ", ".join(f"{n} {100 * v:.1f}" for n, v in rules_mean.items() if v is not None))
        md.append("")
    with open(out + ".json.tmp", "w") as f:
        json.dump(report, f, indent=1, sort_keys=True, default=str)
    os.replace(out + ".json.tmp", out + ".json")
    with open(out + ".md.tmp", "w") as f:
        f.write("\n".join(md))
    os.replace(out + ".md.tmp", out + ".md")
    print(f"{out}.md")


if __name__ == "__main__":
    main()
