#!/usr/bin/env python3
"""Golden token ids for LCTokenizers, produced by Hugging Face `tokenizers` (0.23.3).

Reads Tests/Fixtures/tokenizers/corpus.jsonl and writes, under Tests/Fixtures/tokenizers/:
  golden.json                 ids per tokenizer, per corpus line, with and without special tokens
  gpt2_synth.json, llama3_synth.json, qwen2_synth.json
                              tiny synthetic tokenizer.json files trained here (GPT-2, Llama-3, Qwen2 styles)
  smollm2_gguf_vocab.json     SmolLM2's GGUF tokenizer metadata (tokens, merges, token_type, pre, bos, eos, add_bos)
  smollm2_tokenizer.json      the HF tokenizer equivalent to SmolLM2's GGUF tokenizer, only if it and the GGUF
                              vocab together stay under the 2 MB fixture budget (they do not: 1.2 + 1.6 MB)

Real models come from $LAYERCARD_CACHE (default ~/.cache/layercard)/models (run scripts/setup.sh).
Padding and truncation stored in MiniLM's tokenizer.json are switched off: LCTokenizers returns the full
id sequence and leaves length policy to callers.
Golden also covers SmolLM2's GGUF vocab re-read with pre = gpt-2 / default / llama-bpe / qwen2, each built in HF
as llama.cpp interprets that name, so every fromGGUF pre-tokenizer path is checked with a real vocab.
Usage: python3 scripts/reference/tokenizer_golden.py [--smollm2-json-out /tmp/smollm2_tokenizer.json]
"""
import json
import os
import random
import sys

import gguf
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers.implementations import BertWordPieceTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")
CACHE = os.environ.get("LAYERCARD_CACHE", os.path.expanduser("~/.cache/layercard"))
MODELS = os.path.join(CACHE, "models")
MAX_BYTES = 2 * 1024 * 1024
# --smollm2-json-out PATH also writes SmolLM2's equivalent tokenizer.json there (for the opt-in Swift test)
JSON_OUT = sys.argv[sys.argv.index("--smollm2-json-out") + 1] if "--smollm2-json-out" in sys.argv else None

GPT2_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
            r"|\s*[\r\n]+|\s+(?!\S)|\s+")

EXTRA_TEXT = """The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.
It's a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.
def main():\n    print("hello world")\n    return 0\n
Numbers: 1 22 333 4444 55555 2024-11-24 3.14 1,000,000. Hello hello HELLO world World WORLD.
"""


FUZZ_COUNT = 300
FUZZ_POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3
             + [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u000b", "\u0085", "\u2028", "\u3000",
                ".", ",", "!", "?", "'", "\"", "(", ")", "{", "}", "-", "_", "/", "\\", "#", "$", "%", "&", "*", "+", "=",
                "'s", "'LL", "'re", "'T", "\u0301", "\u0308", "e\u0301", "\u00e9", "\u00c5", "\u212b", "\ufb01",
                "中", "文", "字", "日本", "ก", "า", "ม", "ع", "ر", "ب", "ह", "ि", "न", "한", "국", "Ж", "ё", "Σ", "ς", "İ",
                "😀", "👍", "\U0001F3FD", "\u200d", "🇫", "🇷", "∑", "≤", "１", "٣", "½", "²",
                "<|im_start|>", "<|endoftext|>", "[CLS]", "[SEP]", "<mask>", "[[x]]", "<R>", "hello world", "Café",
                "<|begin_of_text|>", "<|eot_id|>", "##", "\x00", "\ufffd", "\u00ad"])


def fuzz_texts():
    """Seeded random strings built from hard pieces (deterministic across runs)."""
    rng = random.Random(20261124)
    return ["".join(rng.choice(FUZZ_POOL) for _ in range(rng.randint(1, 40))) for _ in range(FUZZ_COUNT)]


def load_corpus():
    with open(os.path.join(FIX, "corpus.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def encode_all(tok, texts, fuzz):
    without = [tok.encode(t, add_special_tokens=False).ids for t in texts]
    return {
        "with_special": [tok.encode(t, add_special_tokens=True).ids for t in texts],
        "without_special": without,
        # HF decode of the ids without special tokens, keeping any special tokens found in the text
        "decoded": [tok.decode(ids, skip_special_tokens=False) for ids in without],
        "fuzz_without_special": [tok.encode(t, add_special_tokens=False).ids for t in fuzz],
    }


def train_bpe(pre, texts, specials, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts * 3 + [EXTRA_TEXT] * 5, trainer=trainer)
    return json.loads(tok.to_str())


def add_unreachable_words(spec, words):
    """Adds whole byte-level words to the vocab without merges, so ignore_merges changes results."""
    vocab = spec["model"]["vocab"]
    nxt = max(vocab.values()) + 1
    for w in words:
        if w not in vocab:
            vocab[w] = nxt
            nxt += 1


def save_spec(spec, name):
    tok = Tokenizer.from_str(json.dumps(spec))  # validates the edited spec
    path = os.path.join(FIX, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False, indent=None)
    return tok


def gpt2_synth(texts):
    pre = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    spec = train_bpe(pre, texts, ["<|endoftext|>"], 700)
    spec["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    spec["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    # legacy merges format ("a b" strings) for this one
    spec["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in spec["model"]["merges"]]
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    tok.add_special_tokens([AddedToken("<R>", rstrip=True, special=True, normalized=False)])
    tok.add_tokens([AddedToken("[[x]]", single_word=True, special=False, normalized=False)])
    tok.add_tokens([AddedToken("hello world", special=False, normalized=True)])
    spec = json.loads(tok.to_str())
    spec["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in spec["model"]["merges"]]
    return save_spec(spec, "gpt2_synth.json")


def llama3_synth(texts):
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_RE), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    spec = train_bpe(pre, texts, specials, 800)
    spec["model"]["ignore_merges"] = True
    add_unreachable_words(spec, ["ĠHello", "Ġworld", "Hello", "Ġquick", "Ġtext", "ĠÐłÑĥÑģ", "123", "Ġspaces"])
    spec["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    spec["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [spec["model"]["vocab"]["<|begin_of_text|>"]],
                                                  "tokens": ["<|begin_of_text|>"]}}}]}
    return save_spec(spec, "llama3_synth.json")


def qwen2_synth(texts):
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_RE), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    spec = train_bpe(pre, texts, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], 800)
    spec["normalizer"] = {"type": "NFC"}
    spec["decoder"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    spec["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.add_tokens([AddedToken("Café", special=False, normalized=True)])
    return save_spec(json.loads(tok.to_str()), "qwen2_synth.json")


def smollm2_from_gguf():
    path = os.path.join(MODELS, "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(path):
        sys.exit(f"missing {path}: run scripts/setup.sh")
    r = gguf.GGUFReader(path)

    def field(key):
        f = r.fields.get(key)
        return None if f is None else f.contents()

    assert field("tokenizer.ggml.model") == "gpt2"
    pre = field("tokenizer.ggml.pre")
    assert pre == "smollm", pre
    tokens = field("tokenizer.ggml.tokens")
    merges = field("tokenizer.ggml.merges")
    ttype = [int(t) for t in field("tokenizer.ggml.token_type")]
    bos, eos = field("tokenizer.ggml.bos_token_id"), field("tokenizer.ggml.eos_token_id")
    add_bos = bool(field("tokenizer.ggml.add_bos_token"))
    add_eos = bool(field("tokenizer.ggml.add_eos_token") or False)
    assert not add_bos and not add_eos  # SmolLM2's post-processor adds nothing
    export = {"tokens": tokens, "merges": merges, "token_type": ttype, "pre": pre, "bos": bos, "eos": eos,
              "add_bos": add_bos, "add_eos": add_eos}
    vocab_path = os.path.join(FIX, "smollm2_gguf_vocab.json")
    data = json.dumps(export, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    print(f"smollm2_gguf_vocab.json: {len(data)} bytes")
    with open(vocab_path, "wb") as f:
        f.write(data)

    # llama.cpp "smollm": isolate each \p{N}, then the GPT-2 regex; no normalizer; control tokens split first.
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ")) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, ignore_merges=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, ttype) if k == 3])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t, k in zip(tokens, ttype) if k == 4])
    s = tok.to_str()
    out = os.path.join(FIX, "smollm2_tokenizer.json")
    if len(s.encode("utf-8")) + len(data) < MAX_BYTES:
        with open(out, "w", encoding="utf-8") as f:
            f.write(s)
        print(f"smollm2_tokenizer.json: {len(s.encode('utf-8'))} bytes")
    else:
        print(f"smollm2_tokenizer.json NOT written: {len(s.encode('utf-8'))} bytes + GGUF vocab exceed 2 MB")
        if os.path.exists(out):
            os.remove(out)
    if JSON_OUT:
        with open(JSON_OUT, "w", encoding="utf-8") as f:
            f.write(s)
    return tok, (tokens, merges, ttype)


# llama.cpp llama-vocab.cpp "default" pre type: four regexes applied in turn, each isolating its matches.
LLAMACPP_DEFAULT = [r"[\p{P}\$\+<=>\^~\|]+",
                    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
                    r"\p{N}+", r"[0-9][0-9][0-9]"]


def gguf_variant(vocab_parts, pre):
    """SmolLM2's GGUF vocab with another tokenizer.ggml.pre, built as llama.cpp interprets that name."""
    tokens, merges, ttype = vocab_parts
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ")) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, ignore_merges=(pre == "llama-bpe")))
    split = lambda r: pre_tokenizers.Split(Regex(r), behavior="isolated", invert=False)
    raw_bytes = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if pre == "gpt-2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    elif pre == "default":
        tok.pre_tokenizer = pre_tokenizers.Sequence([split(r) for r in LLAMACPP_DEFAULT] + [raw_bytes])
    elif pre == "llama-bpe":
        tok.pre_tokenizer = pre_tokenizers.Sequence([split(LLAMA3_RE), raw_bytes])
        # the Swift test passes addBOS=true with bos id 1 for this variant
        tok.post_processor = processors.TemplateProcessing(single=f"{tokens[1]} $A", special_tokens=[(tokens[1], 1)])
    elif pre == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([split(QWEN2_RE), raw_bytes])
    else:
        raise ValueError(pre)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, ttype) if k == 3])
    return tok


def main():
    texts = load_corpus()
    fuzz = fuzz_texts()
    golden = {"tokenizers_version": __import__("tokenizers").__version__, "count": len(texts), "fuzz_texts": fuzz,
              "tokenizers": {}}
    g = golden["tokenizers"]

    mini = os.path.join(MODELS, "all-MiniLM-L6-v2")
    if not os.path.isdir(mini):
        sys.exit(f"missing {mini}: run scripts/setup.sh")
    t = Tokenizer.from_file(os.path.join(mini, "tokenizer.json"))
    t.no_truncation()
    t.no_padding()
    g["minilm_json"] = encode_all(t, texts, fuzz)
    t = BertWordPieceTokenizer(os.path.join(mini, "vocab.txt"), lowercase=True)
    g["minilm_vocab"] = encode_all(t, texts, fuzz)

    smol, parts = smollm2_from_gguf()
    g["smollm2"] = encode_all(smol, texts, fuzz)
    for pre in ["gpt-2", "default", "llama-bpe", "qwen2"]:
        g[f"gguf_{pre}"] = encode_all(gguf_variant(parts, pre), texts, fuzz)
    g["gpt2_synth"] = encode_all(gpt2_synth(texts), texts, fuzz)
    g["llama3_synth"] = encode_all(llama3_synth(texts), texts, fuzz)
    g["qwen2_synth"] = encode_all(qwen2_synth(texts), texts, fuzz)

    with open(os.path.join(FIX, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    for name, v in g.items():
        n = sum(len(x) for x in v["with_special"])
        print(f"{name}: {len(v['with_special'])} strings, {n} ids (with special)")


if __name__ == "__main__":
    main()
