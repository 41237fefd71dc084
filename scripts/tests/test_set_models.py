#!/usr/bin/env python3
"""Tests of scripts/validity/set_models.py and loto.py: the NNLS set gain against a brute-force KKT enumeration on
small random cases; each model's edge values; leave-one-task-out on a synthetic corpus whose set gains follow a
known model (it must pick that model and parameter, with zero error and zero regret); the summary on that corpus.
Prints 'N passed, M failed'; exit 1 on any failure."""
import itertools, json, math, os, random, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "validity"))
import numpy as np  # noqa: E402
import set_models as sm  # noqa: E402

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def brute_nnls(b, R):
    n = len(b)
    Q = R + 1e-6 * np.eye(n)
    best = 0.0
    for m in range(1, n + 1):
        for A in itertools.combinations(range(n), m):
            A = list(A)
            c = np.zeros(n)
            c[A] = np.linalg.solve(Q[np.ix_(A, A)], b[A])
            if (c[A] < -1e-12).any():
                continue
            grad = b - Q @ c
            if (grad > 1e-9).any():
                continue  # KKT fails: an inactive coordinate would still increase the objective
            best = max(best, float(b @ c - 0.5 * c @ Q @ c))
    return best


rng = np.random.default_rng(0)
for trial in range(30):
    n = int(rng.integers(1, 6))
    X = rng.normal(size=(n, n + 2))
    R = X @ X.T
    d = np.sqrt(np.diag(R))
    R = R / d[:, None] / d[None, :]  # unit diagonal like a coupling matrix
    b = np.abs(rng.normal(size=n)) * (1 if trial % 3 else -1 if n > 1 else 1) if trial % 5 else rng.normal(size=n)
    g, ref = sm.nnls_gain(b, R), brute_nnls(b, R)
    check(abs(g - ref) <= 1e-7 * max(1, abs(ref)), f"nnls {trial}: {g} vs brute force {ref}")

v = np.array([1.0, 2.0, 3.0, 4.0])
for model, grid in sm.GRIDS.items():
    for p in grid:
        full = sm.predict(model, p, [0, 1, 2, 3], v, np.eye(4).tolist())
        check(abs(full - 1) < 1e-9, f"{model}({p}) of all layers is 1, got {full}")
        one = sm.predict(model, p, [3], v, np.eye(4).tolist())
        two = sm.predict(model, p, [2, 3], v, np.eye(4).tolist())
        # Never decreasing, never above 1 (a wide kernel makes 4 layers nearly collinear: one already gives ~all).
        check(0 < one <= two + 1e-12 and two <= 1 + 1e-9, f"{model}({p}) grows with the set: {one} {two}")
check(abs(sm.predict("additive", 1.0, [1, 3], v) - 0.6) < 1e-12, "additive beta 1 = share")
check(abs(sm.predict("nnls-coupling", None, [0, 1], v, np.eye(4).tolist()) - 0.3) < 1e-5, "orthogonal coupling adds up")
check(abs(sm.predict("kernel-nnls", 1e-3, [0, 1], v) - 0.3) < 1e-5, "a narrow kernel adds up")

# Synthetic corpus: 3 tasks, L = 8, set fractions exactly saturating(c = 4) of the measured single-layer gains.
L, truth = 8, 4
with tempfile.TemporaryDirectory() as d:
    for ti, task in enumerate(["a", "b", "c"]):
        os.makedirs(os.path.join(d, task))
        r = random.Random(ti)
        singles = [r.uniform(0.05, 1.0) for _ in range(L)]
        allg = 2.0
        card = {"layers": [{"layer": l, "grad_norm": math.sqrt(2 * singles[l]) * r.uniform(0.5, 1.5)} for l in range(L)],
                "coupling": np.eye(L).tolist()}
        json.dump(card, open(os.path.join(d, task, "card.json"), "w"))
        lines = []

        def add(name, layers, gain, seed=0):
            lines.append({"name": name, "layers": sorted(layers), "seed": seed, "settings_key": "x", "model_id": "m", "steps": 5,
                          "run": {"gain": gain, "step_seconds": 1.0 + 0.1 * len(layers)}, "wall_seconds": 1, "finished_at": ""})
        for l in range(L):
            add(f"layer-{l}", [l], singles[l])
        add("all", list(range(L)), allg)
        add("all", list(range(L)), allg * 1.01, 1)
        vv = np.array(singles)
        for k in (3, 5):
            for j in range(12):
                S = sorted(r.sample(range(L), k))
                add(f"random-{k}-{j}", S, allg * sm.predict("saturating", truth, S, vv))
            mid = list(range((L - k) // 2, (L - k) // 2 + k))
            add(f"mid-{k}", mid, allg * sm.predict("saturating", truth, mid, vv))
        with open(os.path.join(d, task, "results-5.jsonl"), "w") as f:
            for x in lines:
                f.write(json.dumps(x) + "\n")
            f.write('{"torn": ')  # a killed writer's last line is ignored
    out = subprocess.run([sys.executable, os.path.join(HERE, "..", "validity", "loto.py"), d], capture_output=True, text=True)
    check(out.returncode == 0, f"loto.py ran: {out.stderr[-500:]}")
    rep = json.load(open(os.path.join(d, "set-models.json")))
    w = rep["horizons"]["5"]["winners"]["measured"]
    check(w["model"] == "saturating" and w["param"] == truth, f"winner is the generating model: {w}")
    # The measured all-layer gain is the seed mean (2.01): fractions are off by that 0.5 %, nothing else.
    check(w["mae"] < 0.01, f"near-zero error: {w['mae']}")
    row = [c for c in rep["horizons"]["5"]["candidates"] if c["model"] == "saturating" and c["source"] == "measured"][0]
    check(all(v == 0 for v in row["regret"].values() if v is not None), f"zero regret: {row['regret']}")
    check(row["spearman"] > 0.999, f"rank correlation 1: {row['spearman']}")
    worse = [c for c in rep["horizons"]["5"]["candidates"] if c["source"] == "measured" and c["model"] == "additive"][0]
    check(worse["mae"] > w["mae"], "another model fits worse")
    out = subprocess.run([sys.executable, os.path.join(HERE, "..", "validity", "summarize.py"), d], capture_output=True, text=True)
    check(out.returncode == 0, f"summarize.py ran: {out.stderr[-500:]}")
    s = json.load(open(os.path.join(d, "summary.json")))
    h = s["tasks"]["a"]["5"]
    check(abs(h["sets"]["all"]["gain"] - 2.01) < 1e-12 and h["sets"]["all"]["seeds"] == 2, "all-layer gain is the seed mean")
    check(h["sets"]["all"]["spread"] is not None and abs(h["sets"]["all"]["spread"] - 0.02 / math.sqrt(2)) < 1e-9, "seed spread is the sample std")
    check(len(h["singles"]) == L and "grad_norm" in h["correlations"], "singles and correlations")
    check("summary.md" in os.listdir(d), "summary.md written")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
