#!/usr/bin/env python3
"""Golden predictions of the candidate set models (scripts/validity/set_models.py, the functions leave-one-task-out
validation scored) on small random cases, for the Swift twins (Sources/LCCard/SetModel.swift, SetModelTests).
Usage: python3 scripts/reference/set_models_golden.py [OUT]  (default Tests/Fixtures/setmodels/golden.json)"""
import json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "validity"))
import numpy as np  # noqa: E402
import set_models as sm  # noqa: E402

rng = np.random.default_rng(7)
cases = []
for c in range(4):
    L = 6 + c
    x = np.abs(rng.normal(size=L)) + 0.05  # a norm column: v = x^2/2
    X = rng.normal(size=(L, L + 1))
    R = X @ X.T
    d = np.sqrt(np.diag(R))
    R = (R / d[:, None] / d[None, :]).round(12)
    v = sm.values(x, "grad_norm")
    sets = [sorted(rng.choice(L, size=int(rng.integers(1, L)), replace=False).tolist()) for _ in range(8)] + [list(range(L))]
    preds = []
    for model, p in [("nnls-coupling", None), ("kernel-nnls", 2.0), ("additive", 0.6), ("saturating", 4.0)]:
        preds.append({"model": model, "param": p, "fractions": [sm.predict(model, p, S, v, R.tolist()) for S in sets]})
    cases.append({"grad_norm": x.tolist(), "coupling": R.tolist(), "sets": sets, "predictions": preds})
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "Tests", "Fixtures", "setmodels", "golden.json")
json.dump({"generator": "scripts/reference/set_models_golden.py", "cases": cases}, open(out, "w"), indent=1)
print(out)
