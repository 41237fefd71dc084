#!/usr/bin/env python3
"""Writes Tests/Fixtures/golden/ggml_types.json: every GGML type id, name and
(block size, type size) from gguf-py (gguf.GGMLQuantizationType / GGML_QUANT_SIZES).
The Swift GGMLType table is compared against it (GGMLTypeTests)."""
import json, os, sys
import gguf

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = os.path.join(root, "Tests/Fixtures/golden/ggml_types.json")
types = []
for t in gguf.GGMLQuantizationType:
    bs, ts = gguf.GGML_QUANT_SIZES[t]
    types.append({"id": int(t.value), "name": t.name, "block_size": bs, "type_size": ts})
doc = {"gguf_version": getattr(gguf, "__version__", None) or __import__("importlib.metadata").metadata.version("gguf"),
       "types": types}
with open(out, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"wrote {out}: {len(types)} types")
