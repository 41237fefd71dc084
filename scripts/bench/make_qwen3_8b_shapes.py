#!/usr/bin/env python3
"""Write a Hugging Face folder with Qwen3-8B's exact shapes and random bf16 weights (~16.4 GB) for the
memory-bounded profile benchmark (issue 4, benchmark (b)). Not a real model: weights are N(0, 0.02), norms 1.

Shapes: 36 layers, hidden 4096, 32 heads, 8 kv heads, head_dim 128, intermediate 12288, vocab 151936,
untied lm_head, rms_norm_eps 1e-6, rope_theta 1e6. model-0000k-of-0000n.safetensors shards of ~2 GB plus
model.safetensors.index.json. Deterministic: each tensor's stream is seeded by (SEED, tensor index), so the
bytes do not depend on chunking. Generated in 16M-element chunks: the script stays far under 1 GB RSS.
Shards are written to a temporary name and renamed; an existing complete folder is left alone.
Only numpy is needed. Never commit the output (it goes under $LAYERCARD_CACHE/bench/ by default).
Usage: python3 scripts/bench/make_qwen3_8b_shapes.py [OUT_DIR]
"""
import json
import os
import struct
import sys

import numpy as np

SEED = 20261125
CHUNK = 16 * 1024 * 1024
SHARD_BYTES = 2 * 1000 ** 3

CONFIG = {
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 4096,
    "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8,
    "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960, "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0, "tie_word_embeddings": False, "hidden_act": "silu", "attention_bias": False,
    "attention_dropout": 0.0, "torch_dtype": "bfloat16", "bos_token_id": 151643, "eos_token_id": 151645,
    "use_cache": True, "sliding_window": None, "use_sliding_window": False, "max_window_layers": 36,
    "initializer_range": 0.02,
}


def tensors():
    """(name, shape, kind) in HF order; kind 'norm' = ones, 'w' = N(0, 0.02)."""
    c = CONFIG
    C, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    HS = c["head_dim"]
    q, kv = c["num_attention_heads"] * HS, c["num_key_value_heads"] * HS
    out = [("model.embed_tokens.weight", (V, C), "w")]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out += [(p + "input_layernorm.weight", (C,), "norm"),
                (p + "self_attn.q_proj.weight", (q, C), "w"), (p + "self_attn.k_proj.weight", (kv, C), "w"),
                (p + "self_attn.v_proj.weight", (kv, C), "w"), (p + "self_attn.o_proj.weight", (C, q), "w"),
                (p + "self_attn.q_norm.weight", (HS,), "norm"), (p + "self_attn.k_norm.weight", (HS,), "norm"),
                (p + "post_attention_layernorm.weight", (C,), "norm"),
                (p + "mlp.gate_proj.weight", (I, C), "w"), (p + "mlp.up_proj.weight", (I, C), "w"),
                (p + "mlp.down_proj.weight", (C, I), "w")]
    out += [("model.norm.weight", (C,), "norm"), ("lm_head.weight", (V, C), "w")]
    return out


def shards(ts):
    groups, cur, size = [], [], 0
    for t in ts:
        n = 2 * int(np.prod(t[1]))
        if cur and size + n > SHARD_BYTES:
            groups.append(cur); cur, size = [], 0
        cur.append(t); size += n
    if cur:
        groups.append(cur)
    return groups


def to_bf16(x):
    """float32 → bfloat16 bits, round to nearest even (as torch does)."""
    u = x.view(np.uint32)
    return ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype("<u2")


def header_bytes(group):
    hdr, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in group:
        n = 2 * int(np.prod(shape))
        hdr[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h, off


def write_shard(path, group, index_of):
    head, total = header_bytes(group)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(head)
        for name, shape, kind in group:
            n = int(np.prod(shape))
            if kind == "norm":
                f.write(np.full(n, 0x3F80, dtype="<u2").tobytes())  # bf16 1.0
                continue
            rng = np.random.default_rng([SEED, index_of[name]])
            left = n
            while left:
                k = min(CHUNK, left)
                x = rng.standard_normal(k, dtype=np.float32)
                x *= np.float32(0.02)
                f.write(to_bf16(x).tobytes())
                left -= k
    assert os.path.getsize(tmp) == len(head) + total
    os.replace(tmp, path)


def main():
    default = os.path.join(os.environ.get("LAYERCARD_CACHE", os.path.expanduser("~/.cache/layercard")),
                           "bench", "qwen3-8b-shapes")
    out = sys.argv[1] if len(sys.argv) > 1 else default
    os.makedirs(out, exist_ok=True)
    ts = tensors()
    index_of = {t[0]: i for i, t in enumerate(ts)}
    groups = shards(ts)
    n = len(groups)
    weight_map, total = {}, 0
    for k, g in enumerate(groups):
        fname = f"model-{k + 1:05d}-of-{n:05d}.safetensors"
        path = os.path.join(out, fname)
        head, size = header_bytes(g)
        total += size
        for t in g:
            weight_map[t[0]] = fname
        if os.path.exists(path) and os.path.getsize(path) == len(head) + size:
            print(f"{fname}: present, skipped", flush=True)
            continue
        write_shard(path, g, index_of)
        print(f"{fname}: {len(g)} tensors, {size / 1e9:.2f} GB", flush=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    idx = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump(idx, f, indent=2)
    params = sum(int(np.prod(t[1])) for t in ts)
    print(f"{out}: {params / 1e9:.3f} B parameters, {total / 1e9:.2f} GB bf16 in {n} shards")


if __name__ == "__main__":
    main()
