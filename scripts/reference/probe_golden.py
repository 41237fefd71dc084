#!/usr/bin/env python3
"""Independent reference for LayerCard's LoRA probe (issue 14 item 3): redoes one recorded probe run with Hugging Face
transformers + PEFT + torch.optim.Adam and writes a golden (per-step train losses, eval loss before/after, gain).

A trace (ProbeTrace, written by LayerCard's ProbeTraceRecorder) holds everything the run depends on: the adapted
layers, r / lora_alpha / target_modules, Adam's lr / betas / eps, every adapter's initial A, the training batches in
step order and the eval chunks. This script reads the model from a Hugging Face folder (config.json +
model.safetensors), builds it with AutoModelForCausalLM.from_config + load_state_dict, wraps it with
peft.get_peft_model(LoraConfig(r, lora_alpha, target_modules, layers_to_transform, lora_dropout=0, bias="none")),
copies each lora_A from the trace (lora_B stays 0), and trains the LoRA parameters only with torch.optim.Adam
(weight_decay 0) on the same batches: right-padded with id 0, attention_mask 0 on padding, labels = ids where the
trace's loss_mask is true and -100 elsewhere, so HF's shifted loss (position t predicts token t+1, mean over counted
tokens) is the trace's convention; the trained loss is that mean computed from the logits in the run's dtype (HF's
loss_function upcasts logits to float32, which for a float64 model is a downcast; it is kept as a cross-check). The eval loss is Σ target losses / Σ targets over the eval chunks, without merging
the adapters (PEFT's unmerged forward, where LayerCard merges W + s·B·A).

Precision: float64 by default (the stronger reference: LayerCard's Float32 error is then what the comparison
measures). HF computes RMSNorm, RoPE cos/sin and the eager softmax in float32 whatever the model dtype; those are
replaced by the same formulas in float64 (RoPE frequencies for "default" and "llama3" rope types recomputed in
float64 and checked against HF's own inv_freq). --dtype float32 runs HF as is, as a cross-check.

Needs torch, transformers, peft, safetensors (a venv outside the repo, e.g.
  python3 -m venv /root/.cache/layercard-torch-venv && /root/.cache/layercard-torch-venv/bin/pip install torch transformers peft safetensors numpy)
Never part of CI: CI compares against the committed goldens in Tests/Fixtures/probe/.

Usage:
  probe_golden.py TRACE MODEL_DIR [-o GOLDEN] [--dtype float64|float32] [--compare]
      run the reference; write GOLDEN (default: TRACE with .trace.json → .golden.json); --compare also prints the
      differences from the trace's own outputs
  probe_golden.py --compare TRACE GOLDEN
      only compare (no torch needed): max relative differences of the trace's outputs from the golden's
"""
import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
import types

GOLDEN_FORMAT = "layercard-probe-golden/1"
TRACE_FORMAT = "layercard-probe-trace/1"


# ---------------------------------------------------------------- comparison (no torch)
def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def compare(trace, golden, gain_floor=1e-3):
    """Max relative differences of the trace's outputs (LayerCard) from the golden (reference)."""
    o = trace["outputs"]
    steps = [rel(a, b) for a, b in zip(o["train_losses"], golden["train_losses"])]
    res = {
        "steps": len(steps),
        "train_loss_rel_per_step": steps,
        "train_loss_rel_max": max(steps) if steps else float("nan"),
        "eval_loss_before_rel": rel(o["eval_loss_before"], golden["eval_loss_before"]),
        "eval_loss_after_rel": rel(o["eval_loss_after"], golden["eval_loss_after"]),
        "gain": o["gain"], "gain_golden": golden["gain"],
        # relative to max(|gain|, floor): the same measure as ProbeParityTests
        "gain_rel": abs(o["gain"] - golden["gain"]) / max(abs(golden["gain"]), gain_floor),
    }
    if len(o["train_losses"]) != len(golden["train_losses"]):
        res["step_count_mismatch"] = [len(o["train_losses"]), len(golden["train_losses"])]
    return res


def print_comparison(name, c):
    print(f"{name}: {c['steps']} steps, max train-loss rel diff {c['train_loss_rel_max']:.3e} "
          f"(per step {', '.join(f'{x:.2e}' for x in c['train_loss_rel_per_step'])}); "
          f"eval before {c['eval_loss_before_rel']:.3e}, after {c['eval_loss_after_rel']:.3e}; "
          f"gain {c['gain']:.6f} vs {c['gain_golden']:.6f}, rel {c['gain_rel']:.3e}")


# ---------------------------------------------------------------- float64-exact HF internals
def _eager_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """HF's eager attention without its float32 softmax upcast (float64 throughout)."""
    import torch
    from transformers.models.llama.modeling_llama import repeat_kv
    k, v = repeat_kv(key, module.num_key_value_groups), repeat_kv(value, module.num_key_value_groups)
    s = torch.matmul(query, k.transpose(2, 3)) * scaling
    if attention_mask is not None:
        s = s + attention_mask[:, :, :, : k.shape[-2]]
    p = torch.softmax(s, dim=-1)
    return torch.matmul(p, v).transpose(1, 2).contiguous(), p


def rope_parameters(cfg):
    rp = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    rp = dict(rp)
    if "rope_theta" not in rp:
        rp["rope_theta"] = getattr(cfg, "rope_theta", 10000.0)
    rp.setdefault("rope_type", rp.get("type", "default"))
    return rp


def inv_freq64(cfg):
    """RoPE inverse frequencies in float64: theta^(-2i/d), with Llama 3.1 scaling for rope_type "llama3"."""
    import torch
    rp = rope_parameters(cfg)
    dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    inv = 1.0 / (rp["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    kind = rp["rope_type"]
    if kind == "default":
        return inv
    if kind != "llama3":
        raise SystemExit(f"rope_type {kind} is not implemented in float64 here")
    factor, lo, hi = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"]
    old = rp["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    wl = 2 * math.pi / inv
    out = torch.where(wl > lo_wl, inv / factor, inv)
    smooth = (old / wl - lo) / (hi - lo)
    smoothed = (1 - smooth) * out / factor + smooth * out
    medium = ~(wl < hi_wl) & ~(wl > lo_wl)
    return torch.where(medium, smoothed, out)


def exact_in_dtype(model, cfg):
    """Replace HF's float32 internals (RMSNorm, RoPE cos/sin, eager softmax) by the same formulas in float64.
    Returns max relative difference of the float64 RoPE frequencies from HF's own (float32) inv_freq."""
    import torch
    import importlib
    for name in ("llama", "qwen2", "qwen3"):
        try:
            mod = importlib.import_module(f"transformers.models.{name}.modeling_{name}")
            mod.eager_attention_forward = _eager_attention
        except ImportError:
            pass
    inv = inv_freq64(cfg)
    freq_check = 0.0

    def rms(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon))

    def rope(self, x, position_ids):
        f = position_ids[..., None].to(torch.float64) * inv.to(x.device)
        emb = torch.cat((f, f), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)

    for m in model.modules():
        kind = type(m).__name__
        if kind.endswith("RMSNorm"):
            m.forward = types.MethodType(rms, m)
        elif kind.endswith("RotaryEmbedding"):
            hf = m.inv_freq.detach().to(torch.float64)
            freq_check = max(freq_check, ((hf - inv).abs() / inv).max().item())
            assert getattr(m, "attention_scaling", 1.0) == 1.0, "attention_scaling != 1 not handled"
            m.forward = types.MethodType(rope, m)
    return freq_check


# ---------------------------------------------------------------- the reference run
def build_model(model_dir, trace, dtype):
    import torch
    import transformers as tf
    from safetensors.torch import load_file
    cfg = tf.AutoConfig.from_pretrained(model_dir)
    cfg._attn_implementation = "eager"
    model = tf.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    state = load_file(os.path.join(model_dir, "model.safetensors"))
    state = {k: v.to(torch.float32) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    assert not unexpected, f"unexpected tensors: {unexpected}"
    assert all(m == "lm_head.weight" and tied for m in missing), f"missing tensors: {missing}"
    if missing:
        model.tie_weights()
    assert not tied or model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    model = model.to(dtype).eval()
    c = trace["inputs"]["config"]
    for ours, theirs in [("num_layers", cfg.num_hidden_layers), ("hidden_size", cfg.hidden_size), ("vocab_size", cfg.vocab_size),
                         ("num_heads", cfg.num_attention_heads), ("num_kv_heads", cfg.num_key_value_heads),
                         ("intermediate_size", cfg.intermediate_size), ("tied_embeddings", tied)]:
        assert c[ours] == theirs, f"trace config {ours}={c[ours]} but {model_dir} has {theirs}"
    freq = exact_in_dtype(model, cfg) if dtype == torch.float64 else None
    return model, cfg, freq


def lora_targets(peft_model):
    """{(layer, module): LoraLayer} of what PEFT wrapped."""
    from peft.tuners.lora import LoraLayer
    out = {}
    for name, m in peft_model.named_modules():
        if isinstance(m, LoraLayer):
            parts = name.split(".")
            i = parts.index("layers")
            out[(int(parts[i + 1]), parts[-1])] = m
    return out


def batch_tensors(b, device=None):
    """Right-padded ids (pad id 0), attention_mask, labels (-100 off-target and on padding), target count."""
    import torch
    T = max(len(s) for s in b["ids"])
    B = len(b["ids"])
    ids = torch.zeros((B, T), dtype=torch.long)
    att = torch.zeros((B, T), dtype=torch.long)
    lab = torch.full((B, T), -100, dtype=torch.long)
    n = 0
    for i, (s, m) in enumerate(zip(b["ids"], b["loss_mask"])):
        ids[i, : len(s)] = torch.tensor(s)
        att[i, : len(s)] = 1
        for t in range(1, len(s)):  # position 0 is never predicted
            if m[t]:
                lab[i, t] = s[t]
                n += 1
    return ids, att, lab, n


def summed_loss(model, b):
    """Σ −log p over the counted targets of one batch (computed from the logits, independent of HF's loss)."""
    import torch
    ids, att, lab, n = batch_tensors(b)
    logits = model(input_ids=ids, attention_mask=att).logits
    lp = torch.log_softmax(logits[:, :-1].to(torch.float64), dim=-1)
    tgt = lab[:, 1:]
    keep = tgt != -100
    return -lp[keep].gather(-1, tgt[keep][:, None]).sum(), n


def eval_loss(model, chunks):
    import torch
    total, count = 0.0, 0
    with torch.no_grad():
        for b in chunks:
            s, n = summed_loss(model, b)
            total += s.item()
            count += n
    return total / count, count


def run(trace, model_dir, dtype_name):
    import torch
    import transformers as tf
    import peft
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("PROBE_GOLDEN_THREADS", "2")))
    dtype = {"float64": torch.float64, "float32": torch.float32}[dtype_name]
    inp = trace["inputs"]
    lo = inp["lora"]
    model, cfg, freq = build_model(model_dir, trace, dtype)
    checks = {}
    if freq is not None:
        checks["rope_inv_freq_float64_vs_hf_rel_max"] = freq
        assert freq < 1e-6, f"float64 RoPE frequencies differ from HF's by {freq}"

    # Base eval loss before wrapping (B = 0 makes the wrapped model identical; checked below).
    before_base, n_eval = eval_loss(model, inp["eval_chunks"])
    assert n_eval == inp["eval_targets"], (n_eval, inp["eval_targets"])

    pc = LoraConfig(r=lo["r"], lora_alpha=lo["lora_alpha"], target_modules=list(lo["target_modules"]),
                    layers_to_transform=list(inp["layers"]), lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    pm = get_peft_model(model, pc).to(dtype)
    targets = lora_targets(pm)
    want = {(a["layer"], a["module"]) for a in inp["adapters"]}
    assert set(targets) == want, f"PEFT wrapped {sorted(set(targets) ^ want)} differently from the trace"
    with torch.no_grad():
        for a in inp["adapters"]:
            m = targets[(a["layer"], a["module"])]
            A = m.lora_A["default"].weight
            B = m.lora_B["default"].weight
            assert tuple(A.shape) == (a["rank"], a["d_in"]) and tuple(B.shape) == (a["d_out"], a["rank"]), (a["layer"], a["module"])
            assert abs(m.scaling["default"] - lo["scaling"]) < 1e-15
            A.copy_(torch.tensor(a["a"], dtype=torch.float64).reshape(a["rank"], a["d_in"]).to(dtype))
            B.zero_()
    params = [p for p in pm.parameters() if p.requires_grad]
    n_params = sum(p.numel() for p in params)
    assert n_params == sum(a["rank"] * (a["d_in"] + a["d_out"]) for a in inp["adapters"]), n_params
    assert all(p.dtype == dtype for p in params)
    before, _ = eval_loss(pm, inp["eval_chunks"])
    checks["eval_before_wrapped_vs_base_abs"] = abs(before - before_base)
    assert checks["eval_before_wrapped_vs_base_abs"] < 1e-12 * max(1.0, abs(before))

    opt = torch.optim.Adam(params, lr=lo["lr"], betas=(lo["beta1"], lo["beta2"]), eps=lo["eps"], weight_decay=lo["weight_decay"])
    pm.train()  # dropout is 0; train mode changes nothing else for these models
    losses, counts, hf_vs_manual = [], [], 0.0
    t0 = time.time()
    for i, b in enumerate(inp["train_batches"]):
        ids, att, lab, n = batch_tensors(b)
        opt.zero_grad(set_to_none=True)
        out = pm(input_ids=ids, attention_mask=att, labels=lab)
        # The trace's definition (Σ target losses / #targets) from the logits in float64. HF's own loss (out.loss,
        # from the same labels) upcasts the logits to float32 first — a downcast for a float64 model — so it is the
        # trained loss only in float32 runs and a cross-check (agreement to float32 rounding) in float64 runs.
        lg = out.logits[:, :-1].to(torch.float64)
        tgt = lab[:, 1:]
        keep = tgt != -100
        manual = -torch.log_softmax(lg, -1)[keep].gather(-1, tgt[keep][:, None]).sum() / n
        hf_vs_manual = max(hf_vs_manual, abs(out.loss.item() - manual.item()) / abs(manual.item()))
        loss = manual if dtype == torch.float64 else out.loss
        loss.backward()
        opt.step()
        losses.append(loss.item())
        counts.append(n)
        print(f"  step {i}: loss {loss.item():.12f} ({n} targets, {time.time() - t0:.1f} s)", file=sys.stderr)
    checks["hf_loss_vs_manual_rel_max"] = hf_vs_manual
    assert hf_vs_manual < 1e-4, hf_vs_manual  # float32 rounding of HF's loss (5e-6 seen on a 49k vocabulary)
    pm.eval()
    after, _ = eval_loss(pm, inp["eval_chunks"])
    return {
        "format": GOLDEN_FORMAT, "dtype": dtype_name,
        "train_losses": losses, "train_targets": counts,
        "eval_loss_before": before, "eval_loss_after": after, "gain": before - after,
        "eval_targets": n_eval, "trainable_parameters": n_params, "layers": inp["layers"],
        "self_checks": checks,
        "versions": {"torch": torch.__version__, "transformers": tf.__version__, "peft": peft.__version__,
                     "python": platform.python_version()},
    }


def trace_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace")
    ap.add_argument("second", help="MODEL_DIR (run) or GOLDEN (with --compare alone)")
    ap.add_argument("-o", "--out")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--compare", action="store_true")
    a = ap.parse_args()
    with open(a.trace) as f:
        trace = json.load(f)
    if trace.get("format") != TRACE_FORMAT:
        sys.exit(f"{a.trace}: format {trace.get('format')!r}, expected {TRACE_FORMAT!r}")
    name = os.path.basename(a.trace).replace(".trace.json", "")
    if a.compare and os.path.isfile(a.second):
        with open(a.second) as f:
            golden = json.load(f)
        print_comparison(name, compare(trace, golden))
        return 0
    golden = run(trace, a.second, a.dtype)
    golden["trace"] = os.path.basename(a.trace)
    golden["trace_sha256"] = trace_digest(a.trace)
    golden["model_dir"] = os.path.basename(os.path.normpath(a.second))
    out = a.out or a.trace.replace(".trace.json", "") + (".golden.json" if a.dtype == "float64" else f".golden-{a.dtype}.json")
    with open(out, "w") as f:
        json.dump(golden, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {out}: gain {golden['gain']:.8f}, train losses {['%.6f' % x for x in golden['train_losses']]}")
    if a.compare:
        print_comparison(name, compare(trace, golden))
    return 0


if __name__ == "__main__":
    sys.exit(main())
