#!/usr/bin/env python3
"""Independent reference for LCModel's forward pass: Hugging Face transformers (PyTorch, CPU, float32, eager
attention) runs the same checkpoints and writes goldens the Swift tests compare against.

  tiny    Tests/Fixtures/tiny/<arch>/ (from scripts/fixtures/make_tiny_models.py) → Tests/Fixtures/tiny/golden.json:
          all-position logits per sequence (each sequence run ALONE, so Swift's right-padded batch is checked
          against unpadded runs), mean next-token loss over all positions, and with the first 3 tokens of each
          sequence as prompt (not targets); bert: mean-pooled last hidden state.
  minilm  $LAYERCARD_CACHE/models/all-MiniLM-L6-v2 → Tests/Fixtures/forward/minilm_golden.json: ids from its
          tokenizer.json (via `tokenizers`) and mean-pooled embeddings (unnormalized).
  smollm2 $LAYERCARD_CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf, dequantized by gguf-py, Q/K un-permuted
          (formats.md §1b.5), config from GGUF metadata, tied head → LlamaForCausalLM. Writes the derived F32
          weights (canonical HF names) to $LAYERCARD_CACHE/derived/smollm2-f32.safetensors (~540 MB, NOT in the
          repo) and Tests/Fixtures/forward/smollm2_golden.json (+ smollm2_lastlogits_<i>.f32, little-endian
          float32, 49152 values each).

Needs torch + transformers (e.g. /work/venv-ref/bin/python; torch CPU wheel), gguf, safetensors, tokenizers.
Usage: python scripts/reference/forward_golden.py [tiny|minilm|smollm2 ...]   (default: all)
"""
import json
import os
import sys

import numpy as np
import torch
import transformers as tf

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE = os.environ.get("LAYERCARD_CACHE", os.path.expanduser("~/.cache/layercard"))
torch.set_grad_enabled(False)
torch.set_num_threads(1)


def nll(logits, tokens, prompt_len=0):
    """Sum and count of -log p(token[t+1]) over t, float64; tokens j < prompt_len are not targets."""
    lp = torch.log_softmax(logits.double(), dim=-1)
    s, n = 0.0, 0
    for t in range(len(tokens) - 1):
        if t + 1 >= prompt_len:
            s -= lp[t, tokens[t + 1]].item()
            n += 1
    return s, n


def load(cls, d):
    return cls.from_pretrained(d, attn_implementation="eager", dtype=torch.float32).eval()


MODULE_PARAMS = {
    "llama": {m: ("model.layers.{l}.self_attn." if m in ("q_proj", "k_proj", "v_proj", "o_proj") else "model.layers.{l}.mlp.") + m
              for m in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")},
    "gpt2": {"c_attn": "transformer.h.{l}.attn.c_attn", "attn.c_proj": "transformer.h.{l}.attn.c_proj",
             "c_fc": "transformer.h.{l}.mlp.c_fc", "mlp.c_proj": "transformer.h.{l}.mlp.c_proj"},
    "bert": {"query": "encoder.layer.{l}.attention.self.query", "key": "encoder.layer.{l}.attention.self.key",
             "value": "encoder.layer.{l}.attention.self.value",
             "attention.output.dense": "encoder.layer.{l}.attention.output.dense",
             "intermediate.dense": "encoder.layer.{l}.intermediate.dense", "output.dense": "encoder.layer.{l}.output.dense"},
}
MODULE_PARAMS["qwen2"] = MODULE_PARAMS["qwen3"] = MODULE_PARAMS["llama"]


def bert_targets(n, c):
    return np.random.default_rng(5).standard_normal((n, c)).astype(np.float32)


def module_grads(arch, model, seqs):
    """dL/dW per module weight ([out,in]; GPT-2 Conv1D transposed) for the spec §1 loss over all sequences:
    causal mean next-token loss, or bert (1/2n) sum ||meanpool - y||^2 with y = bert_targets. Stores the
    Frobenius norm and the top-left 3x3 block."""
    model.zero_grad()
    with torch.enable_grad():
        if arch == "bert":
            y = torch.from_numpy(bert_targets(len(seqs), model.config.hidden_size))
            loss = sum(((model(torch.tensor([s])).last_hidden_state[0].mean(0) - y[i]) ** 2).sum()
                       for i, s in enumerate(seqs)) / (2 * len(seqs))
        else:
            total = sum(len(s) - 1 for s in seqs)
            loss = sum(torch.nn.functional.cross_entropy(model(torch.tensor([s])).logits[0, :-1], torch.tensor(s[1:]),
                                                         reduction="sum") for s in seqs) / total
        loss.backward()
    params = dict(model.named_parameters())
    out = {"loss": loss.item()}
    for l in range(model.config.num_hidden_layers if arch != "gpt2" else model.config.n_layer):
        for m, pat in MODULE_PARAMS[arch].items():
            gw = params[pat.format(l=l) + ".weight"].grad
            if arch == "gpt2":
                gw = gw.t()
            out[f"{l}.{m}"] = {"norm": gw.double().norm().item(), "block": gw[:3, :3].tolist()}
    return out


def tiny():
    rng = np.random.default_rng(7)
    seqs = [rng.integers(0, 96, n).tolist() for n in (12, 7, 16)]
    out = {"tokens": seqs, "prompt_len": 3, "archs": {}, "bert_targets": bert_targets(len(seqs), 64).tolist()}
    classes = {"llama": tf.LlamaForCausalLM, "qwen2": tf.Qwen2ForCausalLM, "qwen3": tf.Qwen3ForCausalLM,
               "gpt2": tf.GPT2LMHeadModel, "bert": tf.BertModel}
    for arch, cls in classes.items():
        model = load(cls, os.path.join(ROOT, "Tests", "Fixtures", "tiny", arch))
        res = {}
        if arch == "bert":
            res["pooled"] = [model(torch.tensor([s])).last_hidden_state[0].mean(0).tolist() for s in seqs]
        else:
            logits, S, N, Sm, Nm = [], 0.0, 0, 0.0, 0
            for s in seqs:
                lg = model(torch.tensor([s])).logits[0]
                logits.append(lg.tolist())
                a, b = nll(lg, s); S += a; N += b
                a, b = nll(lg, s, prompt_len=3); Sm += a; Nm += b
            res.update(logits=logits, loss_mean=S / N, loss_count=N, masked_loss_mean=Sm / Nm, masked_loss_count=Nm)
        res["grads"] = module_grads(arch, model, seqs)
        out["archs"][arch] = res
        print(arch, "done", res.get("loss_mean"))
    with open(os.path.join(ROOT, "Tests", "Fixtures", "tiny", "golden.json"), "w") as f:
        json.dump(out, f)


SENTENCES = ["This is an example sentence.", "Each sentence is converted",
             "LayerCard picks the layers that get LoRA adapters.", "Hello!"]


def minilm():
    from tokenizers import Tokenizer
    d = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.no_padding()  # tokenizer.json pads to 128; the golden wants real lengths (Swift pads and masks itself)
    ids = [tok.encode(s).ids for s in SENTENCES]
    model = load(tf.BertModel, d)
    pooled = [model(torch.tensor([s])).last_hidden_state[0].mean(0).tolist() for s in ids]
    os.makedirs(os.path.join(ROOT, "Tests", "Fixtures", "forward"), exist_ok=True)
    with open(os.path.join(ROOT, "Tests", "Fixtures", "forward", "minilm_golden.json"), "w") as f:
        json.dump({"sentences": SENTENCES, "tokens": ids, "pooled": pooled}, f)
    print("minilm done")


def unpermute(w, n_head):
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGUF_TO_HF = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
              "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
              "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def smollm2():
    import gguf
    from safetensors.torch import save_file
    path = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    r = gguf.GGUFReader(path)

    def meta(key):
        f = r.fields[key]
        v = f.parts[f.data[0]]
        return v.tobytes().decode() if f.types[0] == gguf.GGUFValueType.STRING else v.item()

    arch = meta("general.architecture")
    n_head, n_kv = meta(f"{arch}.attention.head_count"), meta(f"{arch}.attention.head_count_kv")
    hidden = meta(f"{arch}.embedding_length")
    cfg = dict(hidden_size=hidden, intermediate_size=meta(f"{arch}.feed_forward_length"),
               num_hidden_layers=meta(f"{arch}.block_count"), num_attention_heads=n_head, num_key_value_heads=n_kv,
               rms_norm_eps=float(meta(f"{arch}.attention.layer_norm_rms_epsilon")),
               rope_theta=float(meta(f"{arch}.rope.freq_base")), max_position_embeddings=meta(f"{arch}.context_length"))
    tensors = {}
    for t in r.tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(x) for x in reversed(t.shape)])
        parts = t.name.split(".")
        if parts[0] == "blk":
            role = ".".join(parts[2:-1])
            if role == "attn_q":
                w = unpermute(w, n_head)
            elif role == "attn_k":
                w = unpermute(w, n_kv)
            name = f"model.layers.{parts[1]}.{GGUF_TO_HF[role]}.{parts[-1]}"
        else:
            name = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
                    "output.weight": "lm_head.weight"}[t.name]
        tensors[name] = torch.from_numpy(np.ascontiguousarray(w))
    cfg["vocab_size"] = tensors["model.embed_tokens.weight"].shape[0]
    tied = "lm_head.weight" not in tensors
    cfg["tie_word_embeddings"] = tied
    print("smollm2 config", cfg)
    hf = tf.LlamaConfig(vocab_size=cfg["vocab_size"], hidden_size=hidden, intermediate_size=cfg["intermediate_size"],
                        num_hidden_layers=cfg["num_hidden_layers"], num_attention_heads=n_head,
                        num_key_value_heads=n_kv, rms_norm_eps=cfg["rms_norm_eps"],
                        max_position_embeddings=cfg["max_position_embeddings"], tie_word_embeddings=tied,
                        rope_parameters={"rope_type": "default", "rope_theta": cfg["rope_theta"]})
    hf._attn_implementation = "eager"
    model = tf.LlamaForCausalLM(hf).float().eval()
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    assert not unexpected and all(m == "lm_head.weight" for m in missing), (missing, unexpected)
    model.tie_weights()
    os.makedirs(os.path.join(CACHE, "derived"), exist_ok=True)
    save_file(tensors, os.path.join(CACHE, "derived", "smollm2-f32.safetensors"))

    rng = np.random.default_rng(11)
    # Natural text, tokenized once with transformers' GGUF tokenizer (AutoTokenizer gguf_file=...):
    # "The capital of France is Paris. The capital of Germany is Berlin." and "def add(a, b):\n    return a + b\n";
    # plus two random id sequences. Low loss on the text ones is the sanity check that Q/K un-permutation is right.
    seqs = [[504, 3575, 282, 4649, 314, 7042, 30, 378, 3575, 282, 4521, 314, 11452, 30],
            rng.integers(0, cfg["vocab_size"], 24).tolist(),
            [1604, 803, 24, 81, 28, 278, 727, 472, 1003, 253, 1232, 278, 198],
            rng.integers(0, cfg["vocab_size"], 40).tolist()]
    fdir = os.path.join(ROOT, "Tests", "Fixtures", "forward")
    os.makedirs(fdir, exist_ok=True)
    S, N = 0.0, 0
    for i, s in enumerate(seqs):
        lg = model(torch.tensor([s])).logits[0]
        lg[-1].numpy().astype("<f4").tofile(os.path.join(fdir, f"smollm2_lastlogits_{i}.f32"))
        a, b = nll(lg, s); S += a; N += b
        print(f"  seq {i}: {len(s)} tokens, mean loss {a / b:.4f}")
    with open(os.path.join(fdir, "smollm2_golden.json"), "w") as f:
        json.dump({"config": cfg, "tokens": seqs, "loss_mean": S / N, "loss_count": N}, f, indent=1)
    print("smollm2 done", S / N)


if __name__ == "__main__":
    which = sys.argv[1:] or ["tiny", "minilm", "smollm2"]
    for w in which:
        globals()[w]()
