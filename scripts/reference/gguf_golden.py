#!/usr/bin/env python3
"""Writes Tests/Fixtures/golden/smollm2_gguf.json from the real SmolLM2 GGUF using gguf.GGUFReader:
tensor names / ggml types / shapes (PyTorch order) / absolute data offsets / byte sizes, the data
start, alignment, metadata key order and selected scalar values (no tensor data).
Usage: gguf_golden.py [path-to-gguf]   (default $LAYERCARD_CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf)"""
import json, os, sys
import numpy as np
import gguf

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cache = os.environ.get("LAYERCARD_CACHE", os.path.expanduser("~/.cache/layercard"))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(cache, "models/SmolLM2-135M-Instruct.Q4_1.gguf")
r = gguf.GGUFReader(path)

def value(field):
    t = field.types[0]
    if t == gguf.GGUFValueType.ARRAY:
        return None
    if t == gguf.GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    v = field.parts[field.data[0]][0]
    if t in (gguf.GGUFValueType.FLOAT32, gguf.GGUFValueType.FLOAT64):
        return float(v)
    if t == gguf.GGUFValueType.BOOL:
        return bool(v)
    return int(v)

keys, scalars, arrays = [], {}, {}
for name, field in r.fields.items():
    if name.startswith("GGUF."):
        continue  # gguf-py's pseudo-fields for the header
    keys.append(name)
    if field.types[0] == gguf.GGUFValueType.ARRAY:
        n = len(field.data)
        et = field.types[1] if len(field.types) > 1 else None
        entry = {"count": n, "elem_type": int(et) if et is not None else None}
        if et == gguf.GGUFValueType.STRING:
            items = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            entry["first"] = items[:5]; entry["last"] = items[-3:]
        arrays[name] = entry
    else:
        scalars[name] = {"type": int(field.types[0]), "value": value(field)}

tensors = []
for t in r.tensors:
    tensors.append({"name": t.name, "type": t.tensor_type.name, "type_id": int(t.tensor_type.value),
                    "shape": [int(x) for x in reversed(t.shape.tolist())],
                    "offset": int(t.data_offset), "bytes": int(t.n_bytes)})
align = r.fields.get("general.alignment")
doc = {"file": os.path.basename(path), "file_size": os.path.getsize(path),
       "version": int(r.fields["GGUF.version"].parts[-1][0]),
       "alignment": value(align) if align else 32, "data_start": int(r.data_offset),
       "metadata_keys": keys, "scalars": scalars, "arrays": arrays, "tensors": tensors}
out = os.path.join(root, "Tests/Fixtures/golden/smollm2_gguf.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True, ensure_ascii=False)
    f.write("\n")
print(f"wrote {out}: {len(tensors)} tensors, {len(keys)} keys")
