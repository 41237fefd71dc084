#!/usr/bin/env python3
"""Checks the reference tasks in data/tasks/ (made by scripts/fixtures/make_tasks.py).

Regenerates the tasks into a temp dir and compares them byte for byte with the committed files; checks counts
(336 train, 64 eval), valid JSON with exactly non-empty string "prompt" and "response", no prompt in both splits,
that d2t's splits together are data/default-d2t.jsonl; recomputes every arith answer from the expression parsed
out of the prompt and every instr answer from the instruction and input parsed out of the prompt (with this
file's own implementations, not the generator's); checks cls label balance and that every cls snippet uses
no content word of another label's vocabulary; and that new-task records stay short (< 45 words).
Last line: "N passed, N failed"; exit 1 on any failure.
"""
import ast
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "scripts", "fixtures", "make_tasks.py")
TASKS_DIR = os.path.join(REPO, "data", "tasks")
TASKS = ["d2t", "arith", "cls", "instr"]
SPLITS = {"train": 336, "eval": 64}
passed = failed = 0


def check(desc, cond):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   - {desc}")
    else:
        failed += 1
        print(f"FAIL - {desc}")


def read_bytes(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def load(task, split):
    """Records of one split, or None if any line is not a {"prompt": str, "response": str} object."""
    raw = read_bytes(os.path.join(TASKS_DIR, task, f"{split}.jsonl"))
    if raw is None:
        return None
    out = []
    for line in raw.decode("utf-8").split("\n")[:-1]:
        try:
            rec = json.loads(line)
        except ValueError:
            return None
        if not (isinstance(rec, dict) and set(rec) == {"prompt", "response"}
                and all(isinstance(rec[k], str) and rec[k].strip() for k in rec)):
            return None
        out.append(rec)
    return out


# --- byte identity on regeneration
with tempfile.TemporaryDirectory() as tmp:
    r = subprocess.run([sys.executable, SCRIPT, tmp], capture_output=True, text=True)
    check(f"make_tasks.py exits 0 (got {r.returncode}; {r.stderr.strip()[-300:]})", r.returncode == 0)
    for task in TASKS:
        same = all(read_bytes(os.path.join(tmp, task, f"{s}.jsonl")) is not None
                   and read_bytes(os.path.join(tmp, task, f"{s}.jsonl")) == read_bytes(os.path.join(TASKS_DIR, task, f"{s}.jsonl"))
                   for s in SPLITS)
        check(f"{task}: regenerated train/eval are byte-identical to data/tasks/{task}/", same)

# --- structure, counts, overlap
data = {}
for task in TASKS:
    for split, n in SPLITS.items():
        recs = load(task, split)
        check(f"{task}/{split}: every line is JSON with non-empty string prompt and response", recs is not None)
        recs = recs or []
        check(f"{task}/{split}: {n} records (got {len(recs)})", len(recs) == n)
        data[task, split] = recs
    train_prompts = {r["prompt"] for r in data[task, "train"]}
    both = [r["prompt"] for r in data[task, "eval"] if r["prompt"] in train_prompts]
    check(f"{task}: no prompt in both train and eval ({len(both)} shared)", not both)
    for split in SPLITS:
        prompts = [r["prompt"] for r in data[task, split]]
        check(f"{task}/{split}: prompts are distinct", len(set(prompts)) == len(prompts))
    if task != "d2t":
        long = [r for s in SPLITS for r in data[task, s] if len((r["prompt"] + r["response"]).split()) >= 45]
        check(f"{task}: every record under 45 words ({len(long)} not)", not long)

with open(os.path.join(REPO, "data", "default-d2t.jsonl"), encoding="utf-8") as fh:
    source = [json.loads(line) for line in fh if line.strip()]
key = lambda r: (r["prompt"], r["response"])
check("d2t: train + eval are exactly the records of data/default-d2t.jsonl",
      sorted(map(key, data["d2t", "train"] + data["d2t", "eval"])) == sorted(map(key, source)))

# --- arith: evaluate every expression


def eval_expr(text):
    """Integer value of an expression of non-negative integers, + - * and parentheses (via ast, nothing else)."""
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult):
            a, b = ev(node.left), ev(node.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(node.op)]
        raise ValueError(ast.dump(node))
    return ev(ast.parse(text, mode="eval"))


def arith_parse(rec):
    """(expression, stated answer) or None."""
    p = rec["prompt"]
    for word, op in (("plus", "+"), ("minus", "-"), ("times", "*")):
        p = p.replace(f" {word} ", f" {op} ")
    exprs = re.findall(r"[\d(][\d +\-*()]*[\d)]", p)
    m = re.fullmatch(r" (\d+)| The answer is (\d+)\.", rec["response"])
    if len(exprs) != 1 or not m:
        return None
    return re.sub(r"\s+", " ", exprs[0]), int(m.group(1) or m.group(2))


bad, exprs = [], {}
for split in SPLITS:
    exprs[split] = set()
    for rec in data["arith", split]:
        parsed = arith_parse(rec)
        try:
            ok = parsed is not None and eval_expr(parsed[0]) == parsed[1]
        except (ValueError, SyntaxError):
            ok = False
        if not ok:
            bad.append(rec)
        else:
            exprs[split].add(parsed[0])
check(f"arith: every answer equals its expression's value ({len(bad)} wrong{': ' + json.dumps(bad[0]) if bad else ''})",
      not bad)
check("arith: no expression in both train and eval", not (exprs["train"] & exprs["eval"]))
forms = collections.Counter()
for split in SPLITS:
    for rec in data["arith", split]:
        p = arith_parse(rec)
        if p:
            forms["two-step" if "(" in p[0] or len(re.findall(r" [+\-*] ", p[0])) > 1 else re.findall(r" ([+\-*]) ", p[0])[0]] += 1
check(f"arith: has +, -, * and two-step forms ({dict(forms)})", all(forms[f] > 0 for f in ("+", "-", "*", "two-step")))

# --- instr: recompute every answer
INSTR_RE = re.compile(r"### Instruction:\n(.+)\n\n### Input:\n(.+)\n\n### Response:\n", re.S)


def instr_answer(instruction, x):
    """The correct response for an instruction, or None if the instruction is not recognised."""
    items = x.split(", ")
    words = x.split(" ")
    low = instruction.lower()
    if "alphabetical" in low:
        return ", ".join(sorted(items))
    if "reverse" in low:
        return " ".join(words[::-1])
    if "uppercase" in low or "capital letters" in low:
        return x.upper()
    if "how many" in low or "count" in low:
        return str(len(items))
    if "largest" in low:
        return str(max(int(i) for i in items))
    if "smallest" in low:
        return str(min(int(i) for i in items))
    if "comma" in low:
        return ", ".join(words)
    m = re.search(r"(?:start|begin) with the letter (\w)", low)
    if m:
        picked = [w for w in items if w.startswith(m.group(1))]
        return ", ".join(picked) if 0 < len(picked) < len(items) else None  # some but not all
    return None


bad, ops = [], collections.Counter()
for split in SPLITS:
    for rec in data["instr", split]:
        m = INSTR_RE.fullmatch(rec["prompt"])
        want = instr_answer(m.group(1), m.group(2)) if m else None
        if want is None or want != rec["response"]:
            bad.append(rec)
        if m:
            ops[re.sub(r"letter \w", "letter X", m.group(1))] += 1
        if m and not 3 <= len(re.split(r", | ", m.group(2))) <= 6:
            bad.append(rec)
check(f"instr: every response equals the recomputed answer ({len(bad)} wrong{': ' + json.dumps(bad[0]) if bad else ''})",
      not bad)
check(f"instr: at least 8 distinct instruction phrasings ({len(ops)})", len(ops) >= 8)

# --- cls: balance and unambiguous vocabulary
for split, n in SPLITS.items():
    labels = collections.Counter(r["response"] for r in data["cls", split])
    check(f"cls/{split}: labels balanced, each a single word ({dict(labels)})",
          len(labels) >= 2 and len(set(labels.values())) == 1 and all(re.fullmatch(r" [a-z]+", l) for l in labels))

sys.path.insert(0, os.path.dirname(SCRIPT))
import make_tasks  # noqa: E402  (for the label vocabularies only)

vocab = {}
for label, lists in make_tasks.CLS_VOCAB.items():
    vocab[label] = {w for phrases in lists.values() for p in phrases for w in re.findall(r"[a-z']+", p.lower())}
    vocab[label] -= make_tasks.CLS_SHARED_WORDS
shared = {(a, b): vocab[a] & vocab[b] for a in vocab for b in vocab if a < b and vocab[a] & vocab[b]}
check(f"cls: label vocabularies are disjoint outside the shared function words ({shared})", not shared)
check("cls: the labels used are the generator's labels",
      {r["response"].strip() for s in SPLITS for r in data["cls", s]} == set(make_tasks.CLS_VOCAB))
bad = []
for split in SPLITS:
    for rec in data["cls", split]:
        label = rec["response"].strip()
        m = re.search(r"Text: (.+)\nTopic:$", rec["prompt"])
        words = set(re.findall(r"[a-z']+", m.group(1).lower())) if m else set()
        others = set().union(*(vocab[l] for l in vocab if l != label))
        if not m or words & others or not words & vocab.get(label, set()):
            bad.append(rec)
check(f"cls: every snippet uses its label's words and none of another label's ({len(bad)} not)", not bad)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
