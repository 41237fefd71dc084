#!/usr/bin/env python3
"""Golden values for LayerCard's GGUF dequantizers (Tests/LCFormatsTests/DequantTests.swift).

Writes, for every GGML type LayerCard dequantizes, Tests/Fixtures/dequant/<TYPE>.bin (raw blocks)
and <TYPE>.f32 (expected little-endian float32 output), plus index.json describing them, and
smollm2_real.json with hashes of real tensors of SmolLM2-135M-Instruct.Q4_1.gguf.

Expected values come from gguf-py (`gguf.quants.dequantize`, gguf 0.19.0), which its own tests
keep bit-exact with ggml's C code. Exceptions, computed with numpy from the documented formula:
  Q8_K (gguf-py has no Q8_K dequantizer): y = float32(d) * float32(qs)
  I8/I16/I32/I64/F64 (no gguf-py dequantizer): numpy astype(float32) (round to nearest even).
Blocks: for types gguf-py can quantize, blocks quantized from random floats; for all block
types, additionally random bytes with the f16 scale fields overwritten by finite halves.

Usage: python3 scripts/reference/dequant_golden.py [--model PATH]   (deterministic, seed 1234)
"""
import argparse, hashlib, json, os, sys
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "dequant")
rng = np.random.default_rng(1234)

# type -> byte offsets of f16 scale fields inside one block (set to finite random halves)
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0], T.TQ1_0: [52], T.TQ2_0: [64], T.MXFP4: [],
    T.IQ2_XXS: [0], T.IQ2_XS: [0], T.IQ2_S: [0], T.IQ3_XXS: [0], T.IQ3_S: [0], T.IQ1_S: [0],
    T.NVFP4: [],
    T.IQ1_M: [],   # d is spread over the top nibbles of scales[0..3]; set in random_blocks
}
QUANTIZABLE = {T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.TQ1_0, T.TQ2_0, T.MXFP4}


def finite_halves(n):
    # mostly small normal scales, a few subnormal / larger / negative ones
    v = rng.normal(0, 0.02, n).astype(np.float32)
    big = rng.random(n) < 0.15
    v[big] = rng.uniform(-2, 2, big.sum()).astype(np.float32)
    h = v.astype(np.float16)
    sub = rng.random(n) < 0.1
    h[sub] = (rng.integers(1, 0x3FF, sub.sum()).astype(np.uint16)).view(np.float16)
    assert np.isfinite(h).all()
    return h


def random_blocks(qt, n):
    block, size = gguf.GGML_QUANT_SIZES[qt]
    raw = rng.integers(0, 256, (n, size), dtype=np.uint8)
    for off in F16_FIELDS.get(qt, []):
        raw[:, off:off + 2] = finite_halves(n).view(np.uint8).reshape(n, 2)
    if qt == T.IQ1_M:
        d = finite_halves(n).view(np.uint16)
        sc = raw[:, 48:56].copy().view(np.uint16).reshape(n, 4) & np.uint16(0x0FFF)
        for w in range(4):
            sc[:, w] |= ((d >> np.uint16(4 * w)) & np.uint16(0xF)) << np.uint16(12)
        raw[:, 48:56] = sc.view(np.uint8).reshape(n, 8)
    if qt == T.NVFP4:
        raw[0, 0:4] = [0x00, 0x7F, 0xFF, 0x05]      # zero, the NaN code (read as 0), top bit set, subnormal
        raw[1, 0:4] = [0x80, 0x08, 0x7E, 0x01]
    return raw


def write(name, qt_id, raw, expected, source):
    raw = np.ascontiguousarray(raw).view(np.uint8).reshape(-1)
    exp = np.ascontiguousarray(expected, dtype="<f4").reshape(-1)
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(raw.tobytes())
    with open(os.path.join(OUT, name + ".f32"), "wb") as f:
        f.write(exp.tobytes())
    return {"type": name, "type_id": int(qt_id), "elements": int(exp.size), "bytes": int(raw.size), "source": source}


def block_types(index):
    for qt in [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K,
               T.IQ4_NL, T.IQ4_XS, T.TQ1_0, T.TQ2_0, T.MXFP4,
               T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S, T.IQ1_M, T.NVFP4]:
        block, size = gguf.GGML_QUANT_SIZES[qt]
        n_rand = 16 if block == 256 else 32
        parts = [random_blocks(qt, n_rand)]
        source = "gguf.quants.dequantize on random blocks"
        if qt in QUANTIZABLE:
            x = rng.normal(0, 1, (16, block)).astype(np.float32)
            x[0] = 0                                   # an all-zero block (d = 0)
            x[1] *= 1e-3
            parts.insert(0, gguf.quants.quantize(x, qt).reshape(16, size))
            source = "gguf.quants.quantize(random floats) + random blocks, expected from gguf.quants.dequantize"
        raw = np.concatenate(parts, axis=0)
        exp = gguf.quants.dequantize(raw, qt).astype(np.float32)
        assert not np.isnan(exp).any(), qt.name   # MXFP4 e=255 may overflow to ±Inf (also in ggml)
        index.append(dict(write(qt.name, qt, raw, exp, source), blocks=int(raw.shape[0])))

    # Q8_K: no gguf-py dequantizer; formula y = d(f32) * qs
    n = 8
    raw = rng.integers(0, 256, (n, 292), dtype=np.uint8)
    d = rng.normal(0, 0.01, n).astype(np.float32)
    raw[:, 0:4] = d.view(np.uint8).reshape(n, 4)
    qs = raw[:, 4:260].view(np.int8).astype(np.float32)
    exp = (d.reshape(n, 1) * qs).astype(np.float32)
    index.append(dict(write("Q8_K", T.Q8_K, raw, exp, "numpy formula y = float32(d) * float32(qs) (gguf-py has no Q8_K dequantizer)"), blocks=n))


def plain_types(index):
    n = 256
    x = rng.normal(0, 1, n).astype(np.float32)
    x[:4] = [0.0, -0.0, np.inf, -np.inf]
    index.append(dict(write("F32", T.F32, x, gguf.quants.dequantize(x.view(np.uint8), T.F32), "gguf.quants.dequantize"), blocks=n))
    h = rng.integers(0, 0x10000, 4096).astype(np.uint16)
    h = h[((h >> 10) & 0x1F) != 0x1F][:n]          # finite halves incl. subnormals (NaN/Inf: Swift tests all 65536)
    index.append(dict(write("F16", T.F16, h, gguf.quants.dequantize(h.view(np.uint8), T.F16), "gguf.quants.dequantize"), blocks=n))
    b = np.concatenate([gguf.quants.quantize(rng.normal(0, 1, 128).astype(np.float32), T.BF16).view(np.uint16),
                        rng.integers(0, 0x10000, 128).astype(np.uint16)])
    b = b[(b & 0x7FFF) <= 0x7F80]                  # no NaN in the golden (NaN handling has its own test)
    index.append(dict(write("BF16", T.BF16, b, gguf.quants.dequantize(b.view(np.uint8), T.BF16), "gguf.quants.quantize + random bits, gguf.quants.dequantize"), blocks=int(b.size)))
    for qt, dt in [(T.I8, np.int8), (T.I16, np.int16), (T.I32, np.int32), (T.I64, np.int64)]:
        info = np.iinfo(dt)
        v = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
        v[:3] = [info.min, info.max, 0]
        index.append(dict(write(qt.name, qt, v.astype("<" + np.dtype(dt).str[1:]), v.astype(np.float32), "numpy astype(float32)"), blocks=n))
    v = rng.normal(0, 1, n) * np.exp(rng.uniform(-100, 100, n))
    v[:3] = [1e300, -1e-300, 0.1]
    with np.errstate(over="ignore"):
        index.append(dict(write("F64", T.F64, v.astype("<f8"), v.astype(np.float32), "numpy astype(float32)"), blocks=n))


def real_model(path):
    r = gguf.GGUFReader(path)
    by_name = {t.name: t for t in r.tensors}
    present = sorted({t.tensor_type.name for t in r.tensors})
    picks = [("blk.0.ffn_down.weight", 4), ("blk.5.attn_q.weight", 3), ("blk.0.attn_k.weight", None),
             ("blk.29.ffn_up.weight", None), ("blk.0.attn_norm.weight", None), ("output_norm.weight", None),
             ("token_embd.weight", 4), ("token_embd.weight", None)]
    out = []
    for name, k in picks:
        t = by_name[name]
        ne0 = int(t.shape[0])
        rows = int(np.prod(t.shape[1:])) if len(t.shape) > 1 else 1
        block, size = gguf.GGML_QUANT_SIZES[t.tensor_type]
        row_bytes = ne0 // block * size
        use = rows if k is None else min(k, rows)
        data = np.asarray(t.data).view(np.uint8).reshape(-1)[: use * row_bytes]
        y = gguf.quants.dequantize(data.reshape(use, row_bytes), t.tensor_type).astype("<f4").reshape(-1)
        assert y.size == use * ne0
        out.append({"name": name, "type": t.tensor_type.name, "type_id": int(t.tensor_type),
                    "offset": int(t.data_offset), "bytes": int(use * row_bytes), "rows": use, "row_length": ne0,
                    "elements": int(y.size), "full_tensor": k is None,
                    "sha256": hashlib.sha256(y.tobytes()).hexdigest(),
                    "first16": [float(v) for v in y[:16]],
                    "first16_bits": [int(v) for v in y[:16].view(np.uint32)]})
    return {"model": "SmolLM2-135M-Instruct.Q4_1.gguf", "types_present": present,
            "note": "expected floats from gguf.quants.dequantize (gguf 0.19.0); offsets are absolute in the file",
            "tensors": out}


def main():
    ap = argparse.ArgumentParser()
    cache = os.environ.get("LAYERCARD_CACHE", os.path.expanduser("~/.cache/layercard"))
    ap.add_argument("--model", default=os.path.join(cache, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    index = []
    block_types(index)
    plain_types(index)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"generator": "scripts/reference/dequant_golden.py", "gguf_version": "0.19.0", "fixtures": index}, f, indent=1)
        f.write("\n")
    if not os.path.exists(a.model):
        sys.exit(f"{a.model} missing: run scripts/setup.sh")
    with open(os.path.join(OUT, "smollm2_real.json"), "w") as f:
        json.dump(real_model(a.model), f, indent=1)
        f.write("\n")
    for e in index:
        print(f"{e['type']:8s} blocks={e['blocks']:4d} elements={e['elements']:5d}  {e['source']}")


if __name__ == "__main__":
    main()
