#!/usr/bin/env python3
"""Independent reference for the Layer Card numbers (spec v1 §1–§3 + docs/decisions.md "Profile"): PyTorch autograd
on Hugging Face models built from the same weights LayerCard loads. Written from the spec text only (not from the
Swift code). Golden precision is float64 (the model is cast, and HF's float32 internals — RMSNorm, RoPE, softmax
upcast — are replaced by the same formulas in float64); a float32 run is the cross-check. Self-checks: the hook-side
gradient Σ Δᵀa equals autograd's dL/dW; the manual block runner used for coupling reproduces the model; SplitMix64
reproduces its published vector; coupling differences against forward-mode JVP.

  tokens   writes Tests/Fixtures/profile/smollm2_tokens.jsonl (records of data/default-d2t.jsonl, prompt+response
           text concatenated, tokenized with transformers' GGUF tokenizer; nothing added; ≥ 512 targets) and
           tiny_tokens.jsonl (random ids < 96).
  smollm2  SmolLM2-135M-Instruct.Q4_1.gguf through forward_golden.py's derived F32 store
           ($LAYERCARD_CACHE/derived/smollm2-f32.safetensors: run `forward_golden.py smollm2` first).
           Coupling golden from float32 central differences, cross-checked on CHECK_LAYERS in float64.
  qwen3, gpt2  Tests/Fixtures/tiny/<arch>/; every check on every layer, coupling golden in float64.
Each writes Tests/Fixtures/profile/<model>_golden.json. Sequences are run one at a time (no padding).

Needs /work/venv-ref/bin/python (torch, transformers, gguf, safetensors).
Usage: python scripts/reference/profile_golden.py [tokens|qwen3|gpt2|smollm2 ...] [--full-check]
"""
import json
import math
import os
import sys
import time
import types

import torch
import transformers as tf

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE = os.environ.get("LAYERCARD_CACHE", os.path.expanduser("~/.cache/layercard"))
FIX = os.path.join(ROOT, "Tests", "Fixtures", "profile")
torch.set_num_threads(int(os.environ.get("PROFILE_GOLDEN_THREADS", "2")))

LORA_RANK, LORA_SEED, LAMBDA_REL, EPS_REL = 8, 1234, 1e-3, 1e-3
CHECK_LAYERS = [0, 14, 29]  # coupling cross-check rows on SmolLM2
DEFINITIONS_VERSION = "spec-v1+decisions-2026-11-25"
MASK64 = (1 << 64) - 1
LLAMA_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GPT2_MODULES = ["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"]


# ---------------------------------------------------------------- SplitMix64 and LoRA A0 (docs/decisions.md)
class SplitMix64:
    def __init__(self, state):
        self.state = state & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def unit(self):
        return (self.next() >> 11) * 2.0 ** -53


def lora_a0(layer, j, d_in, r=LORA_RANK, seed=LORA_SEED):
    """r × d_in, row-major (2u − 1)/sqrt(d_in), generator seeded with seed ^ (layer << 32) ^ j; float64."""
    g = SplitMix64(seed ^ ((layer << 32) & MASK64) ^ j)
    bound = 1.0 / math.sqrt(d_in)
    return torch.tensor([(2.0 * g.unit() - 1.0) * bound for _ in range(r * d_in)], dtype=torch.float64).reshape(r, d_in)


def splitmix_check():
    ref = SplitMix64(1234567)  # the published SplitMix64 vector (Vigna's splitmix64.c, Rosetta Code)
    assert [ref.next() for _ in range(3)] == [6457827717110365317, 3203168211198807973, 9817491932198370423]
    g = SplitMix64(LORA_SEED ^ (3 << 32) ^ 2)
    zs = [g.next() for _ in range(3)]
    return {"state": LORA_SEED ^ (3 << 32) ^ 2, "state_note": "lora_seed 1234 ^ (layer 3 << 32) ^ module index 2",
            "outputs_hex": [f"{z:016x}" for z in zs], "reference_seed_1234567_hex": ["599ed017fb08fc85", "2c73f08458540fa5", "883ebce5a3f27c77"], "units": [(z >> 11) * 2.0 ** -53 for z in zs],
            "a0_layer3_module2_din64_first3": lora_a0(3, 2, 64)[0, :3].tolist()}


# ---------------------------------------------------------------- models
class Wrapped:
    """A causal LM with its target modules, the manual layer runner used for coupling, and weight access in [out,in]."""

    def __init__(self, arch, model):
        self.arch, self.model = arch, model
        if arch == "gpt2":
            self.blocks = model.transformer.h
            self.names = GPT2_MODULES
        else:
            self.blocks = model.model.layers
            self.names = LLAMA_MODULES
        self.L = len(self.blocks)

    def module(self, l, name):
        b = self.blocks[l]
        if self.arch == "gpt2":
            return {"c_attn": b.attn.c_attn, "attn.c_proj": b.attn.c_proj, "c_fc": b.mlp.c_fc, "mlp.c_proj": b.mlp.c_proj}[name]
        return getattr(b.self_attn if name in ("q_proj", "k_proj", "v_proj", "o_proj") else b.mlp, name)

    def param_path(self, name):
        """Weight path inside one block (for torch.func.functional_call)."""
        if self.arch == "gpt2":
            return {"c_attn": "attn.c_attn", "attn.c_proj": "attn.c_proj", "c_fc": "mlp.c_fc", "mlp.c_proj": "mlp.c_proj"}[name] + ".weight"
        return ("self_attn." if name in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp.") + name + ".weight"

    def to_torch_layout(self, w_out_in):
        """[out,in] matrix → the layout of the torch parameter (GPT-2 Conv1D stores [in,out])."""
        return w_out_in.t() if self.arch == "gpt2" else w_out_in

    def weight(self, l, name):
        w = self.module(l, name).weight.detach()
        return w.t() if self.arch == "gpt2" else w

    def embed(self, ids):
        T = ids.shape[1]
        pos = torch.arange(T)[None]
        dtype = next(self.model.parameters()).dtype
        mask = torch.full((T, T), torch.finfo(dtype).min, dtype=dtype).triu(1)[None, None]
        if self.arch == "gpt2":
            tr = self.model.transformer
            return tr.wte(ids) + tr.wpe(pos), {"attention_mask": mask}
        inner = self.model.model
        x = inner.embed_tokens(ids)
        return x, {"attention_mask": mask, "position_ids": pos, "position_embeddings": inner.rotary_emb(x, pos)}

    def run_from(self, l, x, kw, overrides=None):
        """Blocks l..L-1 from block l's input x, then the final norm; overrides {(layer, name): torch-layout weight}."""
        for k in range(l, self.L):
            ov = {self.param_path(n): w for (kk, n), w in (overrides or {}).items() if kk == k}
            if ov:
                x = torch.func.functional_call(self.blocks[k], ov, (x,), kw)
            else:
                x = self.blocks[k](x, **kw)
        return self.model.transformer.ln_f(x) if self.arch == "gpt2" else self.model.model.norm(x)


def _eager_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """HF's eager attention without its float32 softmax upcast (so a float64 model is float64 throughout)."""
    from transformers.models.llama.modeling_llama import repeat_kv
    k, v = repeat_kv(key, module.num_key_value_groups), repeat_kv(value, module.num_key_value_groups)
    s = torch.matmul(query, k.transpose(2, 3)) * scaling
    if attention_mask is not None:
        s = s + attention_mask
    p = torch.softmax(s, dim=-1)
    return torch.matmul(p, v).transpose(1, 2).contiguous(), p


def exact_in_dtype(model):
    """HF computes RMSNorm, RoPE cos/sin and the llama/qwen attention softmax in float32 whatever the model dtype;
    replace them with the same formulas in the model's dtype, so the float64 golden has no float32 rounding."""
    from transformers.models.llama import modeling_llama
    from transformers.models.qwen3 import modeling_qwen3
    modeling_llama.eager_attention_forward = _eager_attention
    modeling_qwen3.eager_attention_forward = _eager_attention
    cfg = model.config

    def rms(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon))

    def rope(self, x, position_ids):
        assert cfg.rope_parameters.get("rope_type", "default") == "default"
        dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        inv = 1.0 / (cfg.rope_parameters["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
        f = position_ids[..., None].double() * inv
        emb = torch.cat((f, f), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    for mod in model.modules():
        kind = type(mod).__name__
        if kind.endswith("RMSNorm"):
            mod.forward = types.MethodType(rms, mod)
        elif kind.endswith("RotaryEmbedding"):
            mod.forward = types.MethodType(rope, mod)
    return model


def build(name, dtype):
    if name in ("qwen3", "gpt2"):
        cls = {"qwen3": tf.Qwen3ForCausalLM, "gpt2": tf.GPT2LMHeadModel}[name]
        m = cls.from_pretrained(os.path.join(ROOT, "Tests", "Fixtures", "tiny", name), attn_implementation="eager",
                                dtype=torch.float32)
        return Wrapped("gpt2" if name == "gpt2" else "qwen3", exact_in_dtype(m.to(dtype).eval()))
    sys.path.insert(0, os.path.dirname(__file__))
    import gguf
    from safetensors.torch import load_file
    path = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    r = gguf.GGUFReader(path)

    def meta(key):
        f = r.fields[key]
        return f.parts[f.data[0]].item()
    hf = tf.LlamaConfig(vocab_size=49152, hidden_size=meta("llama.embedding_length"),
                        intermediate_size=meta("llama.feed_forward_length"), num_hidden_layers=meta("llama.block_count"),
                        num_attention_heads=meta("llama.attention.head_count"),
                        num_key_value_heads=meta("llama.attention.head_count_kv"),
                        rms_norm_eps=float(meta("llama.attention.layer_norm_rms_epsilon")),
                        max_position_embeddings=meta("llama.context_length"), tie_word_embeddings=True,
                        rope_parameters={"rope_type": "default", "rope_theta": float(meta("llama.rope.freq_base"))})
    hf._attn_implementation = "eager"
    model = tf.LlamaForCausalLM(hf)
    derived = os.path.join(CACHE, "derived", "smollm2-f32.safetensors")
    if not os.path.exists(derived):
        sys.exit(f"missing {derived}: run scripts/reference/forward_golden.py smollm2 first")
    missing, unexpected = model.load_state_dict(load_file(derived), strict=False)
    assert not unexpected and all(m == "lm_head.weight" for m in missing), (missing, unexpected)
    model.tie_weights()
    return Wrapped("llama", exact_in_dtype(model.to(dtype).eval()))


# ---------------------------------------------------------------- statistics
def forward_backward(w, seqs):
    """Loss (spec §1) with autograd weight grads; hooks collect Σ aᵀa, N and Σ Δᵀa (the hook-side gradient)."""
    w.model.zero_grad()
    P = sum(len(s) - 1 for s in seqs)
    C = {}        # (l, name) -> Σ_t a_tᵀ a_t, float64
    Gh = {}       # (l, name) -> Σ_t Δ_tᵀ a_t, float64, [out,in]
    N = 0
    handles = []
    cur = {}

    def pre(key):
        def f(mod, args):
            a = args[0].detach()[0].double()
            cur[key] = a
            C[key] = C.get(key, 0) + a.t() @ a
        return f

    def post(key):
        def f(mod, args, out):
            a = cur[key]

            def gh(g):
                Gh[key] = Gh.get(key, 0) + g.detach()[0].double().t() @ a
            out.register_hook(gh)
        return f

    for l in range(w.L):
        for n in w.names:
            m = w.module(l, n)
            handles += [m.register_forward_pre_hook(pre((l, n))), m.register_forward_hook(post((l, n)))]
    total = 0.0
    for s in seqs:
        ids = torch.tensor([s])
        logits = w.model(ids).logits[0]
        ls = torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:], reduction="sum") / P
        ls.backward()
        total += ls.item()
        N += len(s)
    for h in handles:
        h.remove()
    G = {}
    hook_vs_autograd = 0.0
    for l in range(w.L):
        for n in w.names:
            g = w.module(l, n).weight.grad.detach().double()
            g = g.t() if w.arch == "gpt2" else g
            G[(l, n)] = g
            hook_vs_autograd = max(hook_vs_autograd, ((Gh[(l, n)] - g).norm() / g.norm()).item())
    return total, P, N, {k: v / N for k, v in C.items()}, G, hook_vs_autograd


def whitened(G, C, lam_rel):
    """sqrt(tr(G (C+λI)^-1 Gᵀ)), λ = lam_rel·tr(C)/d, via a Cholesky factor; also returns (C+λI) for reuse."""
    d = C.shape[0]
    M = C + (lam_rel * torch.trace(C) / d) * torch.eye(d, dtype=torch.float64)
    Lc = torch.linalg.cholesky(M)
    Y = torch.linalg.solve_triangular(Lc, G.t(), upper=False)
    return Y.norm().item(), M


def statistics(w, C, G):
    modules, layers, steps = [], [], {}
    for l in range(w.L):
        rows = []
        for j, n in enumerate(w.names):
            c, g = C[(l, n)], G[(l, n)]
            d_in = c.shape[0]
            rn, M = whitened(g, c, LAMBDA_REL)
            A0 = lora_a0(l, j, d_in)
            rl, _ = whitened(g @ A0.t(), A0 @ c @ A0.t(), LAMBDA_REL)
            steps[(l, n)] = -torch.linalg.solve(M, g.t()).t()  # D = −G (C+λI)^-1 (M symmetric)
            rows.append({"layer": l, "module": n, "d_in": d_in, "d_out": g.shape[0], "grad_norm": g.norm().item(),
                         "act_energy": torch.trace(c).item(), "resnorm": rn, "resnorm_lora": rl})
        modules += rows
        agg = lambda k: math.sqrt(sum(r[k] ** 2 for r in rows))
        layers.append({"layer": l, "grad_norm": agg("grad_norm"), "resnorm": agg("resnorm"),
                       "resnorm_lora": agg("resnorm_lora"), "act_energy_mean": sum(r["act_energy"] for r in rows) / len(rows),
                       "predicted_gain": 0.5 * agg("resnorm") ** 2})
    return modules, layers, steps


def coupling_vectors(w, seqs, steps, fd_layers, jvp_layers):
    """Spec §3: u_l by the documented central difference for l in fd_layers, and by the exact JVP (forward-mode AD)
    for l in jvp_layers; only blocks >= l are recomputed, from block l's cached input. Returns ({l: u}, {l: u}, {l: eps})."""
    dtype = next(w.model.parameters()).dtype
    cached = []  # per sequence: inputs of every block, and the block kwargs
    with torch.no_grad():
        for s in seqs:
            x, kw = w.embed(torch.tensor([s]))
            xs = [x]
            for k in range(w.L):
                xs.append(w.blocks[k](xs[-1], **kw))
            cached.append((xs, kw))
    U_fd, U_jvp, epss = {}, {}, {}
    t0 = time.time()
    for l in sorted(set(fd_layers) | set(jvp_layers)):
        W = {n: w.weight(l, n).double() for n in w.names}
        D = {n: steps[(l, n)] for n in w.names}
        eps = EPS_REL * math.sqrt(sum(W[n].norm().item() ** 2 for n in w.names)) / math.sqrt(
            sum(D[n].norm().item() ** 2 for n in w.names))
        epss[l] = eps
        parts, jparts = [], []
        for xs, kw in cached:
            if l in fd_layers:
                with torch.no_grad():
                    hp = w.run_from(l, xs[l], kw, {(l, n): w.to_torch_layout(W[n] + eps * D[n]).to(dtype) for n in w.names})
                    hm = w.run_from(l, xs[l], kw, {(l, n): w.to_torch_layout(W[n] - eps * D[n]).to(dtype) for n in w.names})
                    parts.append(((hp.double() - hm.double()) / (2 * eps)).flatten())
            if l in jvp_layers:
                def f(e):
                    return w.run_from(l, xs[l], kw, {(l, n): w.to_torch_layout(W[n].to(dtype) + e * D[n].to(dtype))
                                                     for n in w.names})
                with torch.no_grad():
                    _, t = torch.func.jvp(f, (torch.zeros((), dtype=dtype),), (torch.ones((), dtype=dtype),))
                jparts.append(t.double().flatten())
        if parts:
            U_fd[l] = torch.cat(parts)
        if jparts:
            U_jvp[l] = torch.cat(jparts)
        print(f"    coupling layer {l} ({dtype}): eps {eps:.3e} ({time.time() - t0:.0f}s)", flush=True)
    return U_fd, U_jvp, epss


def cosines(U, layers):
    M = torch.stack([U[l] / U[l].norm() for l in layers])
    return (M @ M.t()).tolist()


def u_rel(Ua, Ub, layers):
    return max(((Ua[l] - Ub[l]).norm() / Ub[l].norm()).item() for l in layers)


def self_check_runner(w, seqs):
    """The manual block runner must reproduce the model's own final hidden state."""
    worst = 0.0
    with torch.no_grad():
        for s in seqs:
            ids = torch.tensor([s])
            ref = (w.model.transformer if w.arch == "gpt2" else w.model.model)(ids).last_hidden_state
            x, kw = w.embed(ids)
            worst = max(worst, ((w.run_from(0, x, kw) - ref).abs().max() / ref.abs().max()).item())
    return worst


def run_precision(name, seqs, dtype):
    t0 = time.time()
    w = build(name, dtype)
    runner_err = self_check_runner(w, seqs[:2])
    assert runner_err < (1e-10 if dtype == torch.float64 else 1e-4), runner_err
    loss, P, N, C, G, hook_err = forward_backward(w, seqs)
    modules, layers, steps = statistics(w, C, G)
    print(f"  {name} {dtype}: loss {loss:.6f} P {P} N {N} hook-vs-autograd max rel {hook_err:.2e} "
          f"runner rel {runner_err:.1e} ({time.time() - t0:.0f}s)", flush=True)
    w.model.zero_grad(set_to_none=True)
    out = {"loss": loss, "tokens": P, "positions": N, "modules": modules, "layers": layers,
           "hook_vs_autograd_max_rel": hook_err, "runner_vs_model_max_rel": runner_err}
    return out, w, steps


def max_rel(a, b, keys):
    m = {}
    for k in keys:
        m[k] = max(abs(x[k] - y[k]) / max(abs(y[k]), 1e-300) for x, y in zip(a, b))
    return m


def golden(name, full_check):
    """full_check (tiny models): golden coupling from float64 differences, float64 JVP and float32 differences on
    every layer. Otherwise (SmolLM2, 30 layers on 2 shared cores): golden coupling from float32 differences (the
    precision LayerCard runs in), cross-checked on layers CHECK_LAYERS against float64 differences and the float64
    JVP. The golden file is rewritten after every phase."""
    seqs = read_tokens(name)
    out = {"model": name, "golden_precision": "float64", "definitions_version": DEFINITIONS_VERSION,
           "dataset": os.path.relpath(tokens_path(name), ROOT),
           "parameters": {"lora_rank": LORA_RANK, "lora_seed": LORA_SEED, "lambda_rel": LAMBDA_REL,
                          "coupling_eps_rel": EPS_REL},
           "splitmix_check": splitmix_check()}

    def write():
        os.makedirs(FIX, exist_ok=True)
        with open(os.path.join(FIX, f"{name}_golden.json"), "w") as f:
            json.dump(out, f, indent=1)
    g64, w64, steps64 = run_precision(name, seqs, torch.float64)
    out.update(loss=g64["loss"], tokens=g64["tokens"], positions=g64["positions"], modules=g64["modules"],
               layers=g64["layers"], coupling=None)
    cross = out["cross_check"] = {"hook_vs_autograd_max_rel_float64": g64["hook_vs_autograd_max_rel"]}
    write()
    g32, w32, steps32 = run_precision(name, seqs, torch.float32)
    cross.update({"float32_vs_float64_max_rel_modules": max_rel(g32["modules"], g64["modules"],
                                                                ["grad_norm", "act_energy", "resnorm", "resnorm_lora"]),
                  "float32_vs_float64_max_rel_layers": max_rel(g32["layers"], g64["layers"], ["predicted_gain"]),
                  "float32_vs_float64_loss_abs": abs(g32["loss"] - g64["loss"]),
                  "hook_vs_autograd_max_rel_float32": g32["hook_vs_autograd_max_rel"]})
    print(" ", json.dumps(cross), flush=True)
    write()
    L = w64.L
    every = list(range(L))
    if full_check:
        fd64, jvp64, eps = coupling_vectors(w64, seqs, steps64, every, every)
        fd32, _, _ = coupling_vectors(w32, seqs, steps32, every, [])
        golden_c = cosines(fd64, every)
        out["parameters"]["coupling_method"] = "central difference, float64"
        check = every
    else:
        fd32, _, eps = coupling_vectors(w32, seqs, steps32, every, [])
        golden_c = cosines(fd32, every)
        out["parameters"]["coupling_method"] = "central difference, float32 model; D from the float32 run's G and C (statistics in float64)"
        out.update(coupling=golden_c, coupling_eps=[eps[l] for l in every])
        write()
        check = CHECK_LAYERS
        fd64, jvp64, _ = coupling_vectors(w64, seqs, steps64, check, check)
    c64, cj, c32 = cosines(fd64, check), cosines(jvp64, check), cosines(fd32, check)
    mabs = lambda a, b: max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
    cross.update({"coupling_check_layers": check,
                  "u_fd64_vs_jvp64_max_rel": u_rel(fd64, jvp64, check),
                  "u_fd32_vs_fd64_max_rel": u_rel(fd32, fd64, check),
                  "coupling_fd64_vs_jvp64_max_abs": mabs(c64, cj),
                  "coupling_fd32_vs_fd64_max_abs": mabs(c32, c64),
                  "coupling_fd32_vs_jvp64_max_abs": mabs(c32, cj)})
    out.update(coupling=golden_c, coupling_eps=[eps[l] for l in every], coupling_jvp_float64_on_check_layers=cj)
    print(" ", json.dumps(cross), flush=True)
    write()
    print(f"{name} golden written", flush=True)


# ---------------------------------------------------------------- datasets
def tokens_path(name):
    return os.path.join(FIX, "smollm2_tokens.jsonl" if name == "smollm2" else "tiny_tokens.jsonl")


def read_tokens(name):
    with open(tokens_path(name)) as f:
        return [json.loads(line)["input_ids"] for line in f if line.strip()]


def tokens():
    os.makedirs(FIX, exist_ok=True)
    tok = tf.AutoTokenizer.from_pretrained(os.path.join(CACHE, "models"), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    seqs = []
    with open(os.path.join(ROOT, "data", "default-d2t.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            seqs.append(tok(r["prompt"] + r["response"], add_special_tokens=False)["input_ids"])
            if sum(len(s) - 1 for s in seqs) >= 512:
                break
    with open(tokens_path("smollm2"), "w") as f:
        for s in seqs:
            f.write(json.dumps({"input_ids": s}) + "\n")
    print(f"smollm2_tokens.jsonl: {len(seqs)} sequences, {sum(map(len, seqs))} positions, "
          f"{sum(len(s) - 1 for s in seqs)} targets")
    g = torch.Generator().manual_seed(3)
    tiny = [torch.randint(0, 96, (n,), generator=g).tolist() for n in (9, 17, 5, 12)]
    with open(tokens_path("qwen3"), "w") as f:
        for s in tiny:
            f.write(json.dumps({"input_ids": s}) + "\n")
    print("tiny_tokens.jsonl written")


if __name__ == "__main__":
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    which = [a for a in sys.argv[1:] if not a.startswith("--")] or ["tokens", "qwen3", "gpt2", "smollm2"]
    for w in which:
        if w == "tokens":
            tokens()
        else:
            golden(w, full_check=(w != "smollm2" or "--full-check" in flags))
