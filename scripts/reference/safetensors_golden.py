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
def accepts(dtype, n, nbytes):
    """True if safetensors.safe_open accepts one tensor of `n` elements spanning `nbytes`."""
    import tempfile
    h = json.dumps({"w": {"dtype": dtype, "shape": [n], "data_offsets": [0, nbytes]}}).encode()
    fd, tmp = tempfile.mkstemp()
    with os.fdopen(fd, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + bytes(nbytes))
    try:
        with safe_open(tmp, framework="numpy") as sf:
            sf.get_slice("w").get_dtype()
        return True
    except Exception:
        return False
    finally:
        os.remove(tmp)

# Probe the reference's dtype table: a dtype has `bits` iff 8 elements spanning bits bytes are
# accepted and the same with one byte more are not. Unknown names must be rejected outright.
CANDIDATES = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4",
              "F6_E2M3", "F6_E3M2", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "I64", "U64", "F64",
              "C64", "F8_E4M3FN", "C128", "Q4_0", "STR"]
dtypes = {}
for dt in CANDIDATES:
    found = [b for b in (4, 6, 8, 16, 32, 64, 128) if accepts(dt, 8, b) and not accepts(dt, 8, b + 1)]
    if found:
        dtypes[dt] = found[0]

doc = {"dtype_bits": dtypes, "file": os.path.basename(path), "file_size": os.path.getsize(path), "header_length": n,
       "metadata": meta, "tensors": tensors}
out = os.path.join(root, "Tests/Fixtures/golden/minilm_safetensors.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"wrote {out}: {len(tensors)} tensors")
