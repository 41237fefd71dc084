#!/usr/bin/env python3
"""Writes Tests/Fixtures/golden/minilm_safetensors.json from the real all-MiniLM-L6-v2
model.safetensors: names, dtypes, shapes via safetensors.safe_open and absolute offsets
(8 + N + begin) from the raw header; header length and __metadata__. No tensor data.
Usage: safetensors_golden.py [path]   (default $LAYERCARD_CACHE/models/all-MiniLM-L6-v2/model.safetensors)"""
import json, os, struct, sys
from safetensors import safe_open

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cache = os.environ.get("LAYERCARD_CACHE", os.path.expanduser("~/.cache/layercard"))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(cache, "models/all-MiniLM-L6-v2/model.safetensors")
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
tensors = []
with safe_open(path, framework="numpy") as sf:
    meta = sf.metadata() or {}
    for name in sf.keys():
        sl = sf.get_slice(name)
        begin, end = header[name]["data_offsets"]
        tensors.append({"name": name, "dtype": sl.get_dtype(), "shape": list(sl.get_shape()),
                        "offset": 8 + n + begin, "bytes": end - begin})
doc = {"file": os.path.basename(path), "file_size": os.path.getsize(path), "header_length": n,
       "metadata": meta, "tensors": tensors}
out = os.path.join(root, "Tests/Fixtures/golden/minilm_safetensors.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"wrote {out}: {len(tensors)} tensors")
