#!/usr/bin/env python3
"""Summarizes a validation corpus (docs/validity/<model>/<task>/results-<steps>.jsonl, written by
`layercard probe --plan`, driven by scripts/bench/validity.sh) into summary.json and summary.md beside the tasks.

What a reader can check there, per task and horizon:
- the all-layer gain (mean ± sample std over seeds): the denominator of every gain fraction;
- each structured baseline (bottom/top/mid/uniform-k), the rank stage's choice per signal (rank-<signal>-k),
  the plain top-k by each card column (topk-<column>-k), Aletheia-LoRA's rule (top 50 % of layers by grad_norm),
  the mean of the random sets, and the best measured set at each k: gain, gain fraction, s/step, speed-up;
- the seed spread (sample std of the gain over seeds) of every set measured with several seeds;
- Spearman's rho of every cheap card column with the measured single-layer gains.
A difference between two sets is called real only when it exceeds the sum of their seed spreads (each set's own
sample std over seeds; the median spread of the task/horizon for a set measured with one seed).

Usage: summarize.py DIR [--short 5] [--long 25]     (stdlib only)
"""
import argparse, json, math, os, statistics, sys

SIGNALS = ["grad_norm", "resnorm", "resnorm_lora", "predicted_gain", "act_energy_mean", "block_influence", "act_norm"]
RULES = ["bottom", "top", "mid", "uniform"]


def ranks(x):
    order = sorted(range(len(x)), key=lambda i: x[i])
    r = [0.0] * len(x)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
            j += 1
        for p in range(i, j + 1):
            r[order[p]] = (i + j) / 2 + 1
        i = j + 1
    return r


def pearson(x, y):
    n = len(x)
    if n < 2 or n != len(y):
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 0 or syy <= 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def spearman(x, y):
    return pearson(ranks(x), ranks(y))


def load_results(path):
    """name -> list of runs (one per seed), each a dict with gain, step_seconds, layers, seed."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line of a killed writer
        run = r["run"]
        out.setdefault(r["name"], {})[r["seed"]] = {"gain": run["gain"], "step_seconds": run["step_seconds"],
                                                     "layers": r["layers"], "seed": r["seed"], "wall": r.get("wall_seconds", 0),
                                                     "alias": r.get("alias_of")}
    return {k: [v[s] for s in sorted(v)] for k, v in out.items()}


def agg(runs):
    g = [r["gain"] for r in runs]
    return {"layers": runs[0]["layers"], "gain": sum(g) / len(g), "spread": statistics.stdev(g) if len(g) > 1 else None,
            "seeds": len(g), "step_seconds": statistics.median(r["step_seconds"] for r in runs)}


def summarize_horizon(card, res):
    if not res:
        return None
    L = len(card["layers"])
    sets = {n: agg(r) for n, r in res.items()}
    allset = sets.get("all")
    spreads = [s["spread"] for s in sets.values() if s["spread"] is not None]
    med_spread = statistics.median(spreads) if spreads else None
    for s in sets.values():
        if allset and allset["gain"] > 0:
            s["fraction"] = s["gain"] / allset["gain"]
        if allset and s["step_seconds"] > 0:
            s["speedup"] = allset["step_seconds"] / s["step_seconds"]
    singles = {int(n.split("-")[1]): s["gain"] for n, s in sets.items() if n.startswith("layer-")}
    corr = {}
    rows = {r["layer"]: r for r in card["layers"]}
    for sig in SIGNALS:
        ls = [l for l in sorted(singles) if isinstance(rows.get(l, {}).get(sig), (int, float))]
        if len(ls) >= 3:
            corr[sig] = {"spearman": spearman([rows[l][sig] for l in ls], [singles[l] for l in ls]), "n": len(ls)}
    ks = sorted({len(s["layers"]) for n, s in sets.items() if not n.startswith("layer-") and n != "all"})
    per_k = {}
    for k in ks:
        of_k = {n: s for n, s in sets.items() if len(s["layers"]) == k and not n.startswith("layer-") and n != "all"}
        if not of_k:
            continue
        best = max(of_k, key=lambda n: of_k[n]["gain"])
        rnd = [s["gain"] for n, s in of_k.items() if n.startswith("random-")]
        per_k[k] = {"best": best, "best_gain": of_k[best]["gain"], "n_sets": len(of_k),
                    "random_mean": sum(rnd) / len(rnd) if rnd else None, "random_n": len(rnd)}
    return {"sets": sets, "singles": singles, "correlations": corr, "median_seed_spread": med_spread, "per_k": per_k,
            "runs": sum(len(r) for r in res.values()), "measured_runs": sum(1 for r in res.values() for x in r if not x["alias"]),
            "wall_seconds": sum(x["wall"] for r in res.values() for x in r if not x["alias"]), "layers": L}


def real(a, b, med):
    sa = a["spread"] if a["spread"] is not None else med
    sb = b["spread"] if b["spread"] is not None else med
    if sa is None or sb is None:
        return None
    return abs(a["gain"] - b["gain"]) > sa + sb


def fmt(x, p=3):
    return "–" if x is None else f"{x:.{p}f}"


def pct(s):
    return "–" if s.get("fraction") is None else f"{100 * s['fraction']:.1f}%"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--short", type=int, default=5)
    ap.add_argument("--long", type=int, default=25)
    a = ap.parse_args()
    tasks = sorted(d for d in os.listdir(a.dir) if os.path.exists(os.path.join(a.dir, d, "card.json")))
    summary = {"tasks": {}, "horizons": [a.short, a.long]}
    md = [f"# Validation corpus: {os.path.basename(os.path.abspath(a.dir))}", "",
          "Written by `scripts/validity/summarize.py` from the results files beside it (`layercard probe --plan`, driven by "
          "`scripts/bench/validity.sh`). Gain = held-out loss before − after a short LoRA fine-tune (nats per target "
          "token); fraction = gain / gain(all layers, mean over seeds). ± = sample std over seeds (n in brackets). "
          "A difference is called real only when it exceeds the sum of the two sets' seed spreads.", ""]
    for t in tasks:
        card = json.load(open(os.path.join(a.dir, t, "card.json")))
        summary["tasks"][t] = {}
        for steps in (a.short, a.long):
            h = summarize_horizon(card, load_results(os.path.join(a.dir, t, f"results-{steps}.jsonl")))
            if h is None:
                continue
            summary["tasks"][t][str(steps)] = h
            sets = h["sets"]
            md += [f"## {t}, {steps} steps", "",
                   f"{h['measured_runs']} runs measured ({h['runs']} results incl. aliases of repeated sets), "
                   f"{h['wall_seconds'] / 60:.1f} min of probe time; median seed spread {fmt(h['median_seed_spread'], 4)} nats.", ""]
            al = sets.get("all")
            if al:
                md += [f"All layers: gain {fmt(al['gain'], 4)} ± {fmt(al['spread'], 4)} ({al['seeds']}), {fmt(al['step_seconds'])} s/step.", ""]
            md += ["| k | set | layers | gain | fraction | s/step | speed-up |", "|---|---|---|---|---|---|---|"]
            for k, pk in sorted(h["per_k"].items()):
                names = [f"{r}-{k}" for r in RULES] + sorted(n for n in sets if (n.startswith("rank-") or n.startswith("topk-"))
                                                              and n.endswith(f"-{k}")) + [n for n in sets if n.startswith("aletheia-") and len(sets[n]["layers"]) == k]
                for n in names:
                    if n not in sets:
                        continue
                    s = sets[n]
                    sp = f" ± {s['spread']:.4f} ({s['seeds']})" if s["spread"] is not None else ""
                    md.append(f"| {k} | {n}{' **best**' if n == pk['best'] else ''} | {s['layers']} | {s['gain']:.4f}{sp} | {pct(s)} | "
                              f"{fmt(s['step_seconds'])} | {fmt(s.get('speedup'), 2)}× |")
                if pk["random_mean"] is not None:
                    frac = f"{100 * pk['random_mean'] / al['gain']:.1f}%" if al and al["gain"] > 0 else "–"
                    md.append(f"| {k} | random (mean of {pk['random_n']}) | | {pk['random_mean']:.4f} | {frac} | | |")
                b = sets[pk["best"]]
                md.append(f"| {k} | best measured of {pk['n_sets']}: {pk['best']} | {b['layers']} | {b['gain']:.4f} | {pct(b)} | "
                          f"{fmt(b['step_seconds'])} | {fmt(b.get('speedup'), 2)}× |")
            md += ["", "Spearman ρ of card columns with the measured single-layer gains "
                   f"({len(h['singles'])} layers): " + ", ".join(f"{s} {fmt(c['spearman'], 2)}" for s, c in h["correlations"].items()), ""]
            # Reliability of the rules at each k: mid vs uniform vs the card's grad_norm choice.
            lines = []
            for k in sorted(h["per_k"]):
                cand = [n for n in (f"mid-{k}", f"uniform-{k}", f"rank-grad_norm-{k}", f"topk-grad_norm-{k}", f"bottom-{k}", f"top-{k}") if n in sets]
                if len(cand) < 2:
                    continue
                best = max(cand, key=lambda n: sets[n]["gain"])
                beaten = [n for n in cand if n != best and real(sets[best], sets[n], h["median_seed_spread"])]
                tied = [n for n in cand if n != best and n not in beaten]
                lines.append(f"- k = {k}: highest {best}; reliably above {', '.join(beaten) or 'none'}; within the noise: {', '.join(tied) or 'none'}")
            md += lines + [""]
    # Signal table over tasks.
    md += ["## Which signal predicts single-layer gains", "", "| signal | " + " | ".join(f"{t} {s}" for t in tasks for s in (a.short, a.long)
                                                                                   if str(s) in summary["tasks"][t]) + " | mean |",
           "|---|" + "---|" * (1 + sum(1 for t in tasks for s in (a.short, a.long) if str(s) in summary["tasks"][t]))]
    for sig in SIGNALS:
        vals = []
        for t in tasks:
            for s in (a.short, a.long):
                h = summary["tasks"][t].get(str(s))
                if h is None:
                    continue
                c = h["correlations"].get(sig, {}).get("spearman")
                vals.append(c)
        got = [v for v in vals if v is not None]
        md.append(f"| {sig} | " + " | ".join(fmt(v, 2) for v in vals) + f" | {fmt(sum(got) / len(got) if got else None, 2)} |")
    md.append("")
    with open(os.path.join(a.dir, "summary.json.tmp"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    os.replace(os.path.join(a.dir, "summary.json.tmp"), os.path.join(a.dir, "summary.json"))
    with open(os.path.join(a.dir, "summary.md.tmp"), "w") as f:
        f.write("\n".join(md))
    os.replace(os.path.join(a.dir, "summary.md.tmp"), os.path.join(a.dir, "summary.md"))
    print(f"{a.dir}/summary.md: {len(tasks)} task(s)")


if __name__ == "__main__":
    main()
