"""Candidate set models (issue 15): functions from per-layer values (a card column, or measured single-layer
gains) to the predicted gain *fraction* of a layer set, frac(S) = predicted gain(S) / predicted gain(all layers).
Each is small, documented and has at most one fitted parameter; the Swift rank stage implements the winner
(Sources/LCCard/SetModels.swift) and tests it against these on the same inputs.

Per-layer values v_l >= 0 from a source column x_l: gain columns (measured_gain, predicted_gain) give v = x; norm
columns (grad_norm, resnorm, resnorm_lora) and the other scores (block_influence, act_norm, act_energy_mean) give
v = x^2 / 2 (the quadratic model's single-layer gain; Swift's Signal.b treats the scores as norms too). Negative
values are clipped to 0.

Models (param grid in GRIDS):
  nnls-coupling   spec §3: max_{c>=0} b.c - c'(R_SS + 1e-6 I)c/2, b = sqrt(2 v), R = the card's coupling
  additive        (sum_S v / sum_all v) ** beta
  saturating      (1 - exp(-c * sum_S v / sum_all v)) / (1 - exp(-c)): each layer adds its share, with
                  diminishing returns as the covered share grows
  kernel-nnls     spec §3's form with a depth kernel R_ij = exp(-|i-j| / tau) instead of the measured coupling:
                  neighbouring layers are redundant, distant ones add up
"""
import math

import numpy as np

# As the Swift Signal.b: every column but the gain columns is used as a norm (v = x^2/2).
NORM_COLUMNS = {"grad_norm", "resnorm", "resnorm_lora", "block_influence", "act_norm", "act_energy_mean"}
GRIDS = {
    "nnls-coupling": [None],
    "additive": [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2],
    "saturating": [0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
    "kernel-nnls": [0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32],
}


def values(xs, column):
    v = np.array([max(0.0, float(x)) for x in xs])
    return 0.5 * v * v if column in NORM_COLUMNS else v


def nnls_gain(b, R, iters=500, tol=1e-12):
    """max_{c>=0} b.c - c'(R + 1e-6 I)c/2 by cyclic coordinate ascent (R symmetric PSD, unit-ish diagonal)."""
    n = len(b)
    if n == 0:
        return 0.0
    Q = R + 1e-6 * np.eye(n)
    c = np.zeros(n)
    g = b.copy()  # b - Q c
    for _ in range(iters):
        delta = 0.0
        for i in range(n):
            new = max(0.0, c[i] + g[i] / Q[i, i])
            d = new - c[i]
            if d != 0.0:
                g -= d * Q[:, i]
                c[i] = new
                delta = max(delta, abs(d))
        if delta < tol:
            break
    return float(b @ c - 0.5 * c @ Q @ c)


def predict(model, param, S, v, coupling=None):
    """Predicted gain fraction of layer set S (list of layer indices)."""
    L = len(v)
    S = sorted(S)
    tot = float(v.sum())
    if tot <= 0:
        return len(S) / L
    if model == "additive":
        return (float(v[S].sum()) / tot) ** param
    if model == "saturating":
        c = param
        return (1 - math.exp(-c * float(v[S].sum()) / tot)) / (1 - math.exp(-c))
    if model in ("nnls-coupling", "kernel-nnls"):
        b = np.sqrt(2 * v)
        if model == "nnls-coupling":
            R = np.array(coupling, dtype=float)
        else:
            idx = np.arange(L)
            R = np.exp(-np.abs(idx[:, None] - idx[None, :]) / param)
        full = nnls_gain(b, R)
        if full <= 0:
            return len(S) / L
        return nnls_gain(b[S], R[np.ix_(S, S)]) / full
    raise ValueError(model)
