#!/usr/bin/env python3
"""Loads a LayerCard PEFT export with Hugging Face PEFT and checks it round-trips.

Usage: check_peft_config.py [--apply] DIR [DIR ...]   (DIR = outputs/<model-id>/peft/<objective>)

Loads DIR/adapter_config.json with `peft.LoraConfig.from_pretrained(DIR)` (the real loader, which
runs LoraConfig.__post_init__ validation) and checks peft_type, target_modules, layers_to_transform,
layers_pattern, r and lora_alpha against the file. With --apply it also builds a tiny random model
of the same family (llama / gpt2 / bert, from layers_pattern) with transformers, wraps it with
peft.get_peft_model, and checks that LoRA landed on exactly the chosen (layer, module) pairs. Exit 0 if all load, 1 if one fails, 3 if PEFT (or
torch, which PEFT imports) is not installed -- then it says so and how to install it.
"""
import json, os, sys

def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--apply"]
    apply = "--apply" in sys.argv[1:]
    if not args:
        print(__doc__.strip()); return 2
    try:
        import peft  # noqa: F401  (imports torch)
        from peft import LoraConfig
    except ImportError as e:
        print(f"PEFT is not importable here ({e}). Install it with: pip install peft  (it needs torch; "
              "CPU wheels: pip install torch --index-url https://download.pytorch.org/whl/cpu). Nothing was checked.")
        return 3
    bad = 0
    for d in args:
        with open(os.path.join(d, "adapter_config.json")) as fh:
            raw = json.load(fh)
        try:
            cfg = LoraConfig.from_pretrained(d)
        except Exception as e:  # report every failing dir, not just the first
            print(f"FAIL {d}: LoraConfig.from_pretrained raised {type(e).__name__}: {e}"); bad += 1; continue
        checks = {
            "peft_type": (str(getattr(cfg.peft_type, "value", cfg.peft_type)), raw["peft_type"]),
            "task_type": (str(getattr(cfg.task_type, "value", cfg.task_type)), raw["task_type"]),
            "target_modules": (sorted(cfg.target_modules), sorted(raw["target_modules"])),
            "layers_to_transform": (list(cfg.layers_to_transform), raw["layers_to_transform"]),
            "layers_pattern": (cfg.layers_pattern if isinstance(cfg.layers_pattern, str) else cfg.layers_pattern[0], raw["layers_pattern"]),
            "r": (cfg.r, raw["r"]),
            "lora_alpha": (float(cfg.lora_alpha), float(raw["lora_alpha"])),
        }
        diffs = {k: v for k, v in checks.items() if v[0] != v[1]}
        if diffs:
            print(f"FAIL {d}: loaded values differ from the file: {diffs}"); bad += 1
        else:
            print(f"OK   {d}: peft {peft.__version__}, r={cfg.r}, alpha={cfg.lora_alpha}, "
                  f"target_modules={sorted(cfg.target_modules)}, layers_to_transform={cfg.layers_to_transform}, "
                  f"layers_pattern={cfg.layers_pattern!r}")
            if apply:
                bad += check_applied(d, cfg, raw)
    return 1 if bad else 0

# HF module paths of each LayerCard module name, per family (layer index goes in {l}).
PATHS = {
    "layers": {m: "model.layers.{l}." + ("mlp." if m in ("gate_proj", "up_proj", "down_proj") else "self_attn.") + m
               for m in ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
    "h": {"c_attn": "transformer.h.{l}.attn.c_attn", "attn.c_proj": "transformer.h.{l}.attn.c_proj",
          "c_fc": "transformer.h.{l}.mlp.c_fc", "mlp.c_proj": "transformer.h.{l}.mlp.c_proj"},
    "layer": {"query": "encoder.layer.{l}.attention.self.query", "key": "encoder.layer.{l}.attention.self.key",
              "value": "encoder.layer.{l}.attention.self.value", "attention.output.dense": "encoder.layer.{l}.attention.output.dense",
              "intermediate.dense": "encoder.layer.{l}.intermediate.dense", "output.dense": "encoder.layer.{l}.output.dense"},
}

def tiny_model(pattern: str, n_layers: int):
    import transformers as T
    if pattern == "layers":
        return T.LlamaForCausalLM(T.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers,
                                                num_attention_heads=4, num_key_value_heads=2))
    if pattern == "h":
        return T.GPT2LMHeadModel(T.GPT2Config(vocab_size=64, n_embd=32, n_layer=n_layers, n_head=4, n_positions=64))
    return T.BertModel(T.BertConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers,
                                    num_attention_heads=4, max_position_embeddings=64))

def check_applied(d, cfg, raw) -> int:
    """Wraps a tiny random model of the family and compares the LoRA-wrapped modules with the intent."""
    import peft
    pattern = raw["layers_pattern"]
    layers = raw["layers_to_transform"]
    model = tiny_model(pattern, max(layers) + 2)
    pm = peft.get_peft_model(model, cfg)
    got = {name.removeprefix("base_model.model.") for name, mod in pm.named_modules() if hasattr(mod, "lora_A") and hasattr(mod, "base_layer")}
    # Intended pairs: plain names from target_modules, per-layer "layer.<i>.output.dense" entries for BERT.
    want = set()
    for t in raw["target_modules"]:
        if t.startswith("layer.") and t.endswith(".output.dense"):
            want.add(PATHS["layer"]["output.dense"].format(l=int(t.split(".")[1])))
        else:
            want.update(PATHS[pattern][t].format(l=l) for l in layers)
    if got != want:
        print(f"FAIL {d}: LoRA applied to {sorted(got - want)} unexpectedly, missing {sorted(want - got)}"); return 1
    print(f"OK   {d}: get_peft_model on a tiny {pattern!r}-family model wrapped exactly the {len(want)} chosen modules")
    return 0

if __name__ == "__main__":
    sys.exit(main())
