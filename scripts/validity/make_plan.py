#!/usr/bin/env python3
"""Writes the probe plan of one (task, horizon) of the validation corpus (issue 14; scripts/bench/validity.sh).

A plan is JSONL, one run per line: {"name", "layers", "seed"} (see Sources/LCPipeline/Probe/ProbePlan.swift).
Order matters: a partial corpus is most useful when the runs every analysis needs come first, so the plan lists
single layers, the all-layer reference, the structured baselines (seed 0), the card's choices, Aletheia's rule,
random sets, then the extra seeds.

Sets (L = number of layers, k in --ks):
  layer-l            every single layer (horizon long: all of them too; they are the signal validation)
  all                every layer (the denominator of every gain fraction), seeds 0..S-1
  bottom-k top-k mid-k uniform-k   spec §6 baselines (mid: k contiguous from floor((L-k)/2);
                     uniform: round(linspace(0, L-1, k)) half-to-even), seeds 0..S-1
  rank-<signal>-k    the rank stage's performance choice for that signal (from --selections DIR, files
                     sel-<signal>-<k>.json written by validity.sh)
  topk-<signal>-k    the k layers with the largest card column <signal> (the additive model's greedy choice)
  aletheia-50        the top 50 % of layers by the card's raw gradient norm (grad_norm), Aletheia-LoRA's rule
  random-k-d         --random per k random sets (Python's random.Random(1000*k + d)), seed 0
Duplicate layer sets keep every name (the results are per name); the probe measures a layer set and seed once and
writes later names of it as copies marked "alias_of" (ProbePlan.swift), so duplicates cost nothing.

Usage: make_plan.py --card CARD.json --selections DIR --out PLAN.jsonl [--ks 3,5,8] [--seeds 3] [--random 8]
       [--singles] [--long]  (--long: the long-horizon subset: singles, all, structured, card choices, aletheia,
       --random of the random sets per k spread over the ks)
"""
import argparse, json, math, os, random, sys

SIGNALS = ["grad_norm", "resnorm", "resnorm_lora", "predicted_gain", "block_influence", "act_norm"]
RANK_SIGNALS = ["grad_norm", "resnorm", "resnorm_lora", "predicted_gain"]


def uniform(k, L):
    if k <= 1:
        return [0]
    step = (L - 1) / (k - 1)
    out = []
    for i in range(k):
        x = L - 1 if i == k - 1 else i * step
        r = round(x)  # Python rounds half to even, as the Swift code does
        if r not in out:
            out.append(r)
    return out


def structured(k, L):
    s = max(0, (L - k) // 2)
    return {"bottom": list(range(min(k, L))), "top": list(range(max(0, L - k), L)), "mid": list(range(s, min(L, s + k))),
            "uniform": uniform(k, L)}


def card_layers(card):
    return sorted(card["layers"], key=lambda r: r["layer"])


def top_by(card, col, k):
    rows = [r for r in card_layers(card) if isinstance(r.get(col), (int, float))]
    if len(rows) < len(card["layers"]):
        return None
    rows.sort(key=lambda r: (-r[col], r["layer"]))
    return sorted(r["layer"] for r in rows[:k])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--card", required=True)
    ap.add_argument("--selections", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ks", default="3,5,8")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--random", type=int, default=8, help="random sets per k (short horizon) or in all (--long)")
    ap.add_argument("--long", action="store_true")
    a = ap.parse_args()
    card = json.load(open(a.card))
    L = len(card["layers"])
    ks = [int(x) for x in a.ks.split(",")]
    entries = []

    def add(name, layers, seed=0):
        entries.append({"name": name, "layers": sorted(layers), "seed": seed})

    for l in range(L):
        add(f"layer-{l}", [l])
    add("all", list(range(L)))
    for k in ks:
        for n, ls in structured(k, L).items():
            add(f"{n}-{k}", ls)
    for k in ks:
        for sig in RANK_SIGNALS:
            p = os.path.join(a.selections, f"sel-{sig}-{k}.json")
            if os.path.exists(p):
                sel = json.load(open(p))
                sel = sel.get("selection", sel)
                add(f"rank-{sig}-{k}", sel["chosen"]["layers"])
        for sig in SIGNALS:
            ls = top_by(card, sig, k)
            if ls is not None:
                add(f"topk-{sig}-{k}", ls)
    al = top_by(card, "grad_norm", math.ceil(L / 2))
    if al is not None:
        add(f"aletheia-{math.ceil(L / 2)}", al)
    rnd = []
    for k in ks:
        for d in range(a.random):
            g = random.Random(1000 * k + d)
            rnd.append((f"random-{k}-{d}", sorted(g.sample(range(L), k))))
    if a.long:  # a.random sets in all, spread over the ks
        per = [rnd[i * a.random:(i + 1) * a.random] for i in range(len(ks))]
        rnd = [per[i % len(ks)][i // len(ks)] for i in range(a.random)]
    for n, ls in rnd:
        add(n, ls)
    for s in range(1, a.seeds):
        add("all", list(range(L)), s)
        for k in ks:
            for n, ls in structured(k, L).items():
                add(f"{n}-{k}", ls, s)
    with open(a.out + ".tmp", "w") as f:
        for e in entries:
            f.write(json.dumps(e) + "\n")
    os.replace(a.out + ".tmp", a.out)
    print(f"{a.out}: {len(entries)} runs ({len({tuple(e['layers']) for e in entries})} distinct layer sets)")


if __name__ == "__main__":
    main()
