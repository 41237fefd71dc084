#!/usr/bin/env python3
"""Checks the Kubernetes manifests in pipelines/k8s/ without a cluster (none runs on this machine kind).

It parses both YAML files, checks the Indexed Job invariants (completionMode Indexed, LAYERCARD_SHARD_COUNT ==
completions, restartPolicy Never, mounts match volumes), then emulates the Job locally: runs the container
command once per index with JOB_COMPLETION_INDEX set, mapping /models and /workspace to temp dirs and
`layercard` to LAYERCARD_BIN (default scripts/tests/fake-layercard.sh), and runs the diff Job's shell script.
With the fake binary it also checks every model was processed exactly once and both diff pairs ran.
It does not test scheduling, PVCs or retries. Last line: "N passed, N failed"; exit 1 on any failure.
"""
import os
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("LAYERCARD_BIN") or os.path.join(REPO, "scripts/tests/fake-layercard.sh")
FAKE = os.path.basename(BIN) == "fake-layercard.sh"
passed = failed = 0


def check(desc, cond):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   - {desc}")
    else:
        failed += 1
        print(f"FAIL - {desc}")


def load(name):
    with open(os.path.join(REPO, "pipelines/k8s", name)) as fh:
        docs = list(yaml.safe_load_all(fh))
    check(f"{name} parses as one YAML document", len(docs) == 1)
    return docs[0]


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def remap(args, models, ws):
    out = []
    for a in args:
        a = a.replace("/models", models).replace("/workspace", ws)
        out.append(BIN if a == "layercard" else a)
    return out


run = load("layercard-indexed-job.yaml")
diff = load("layercard-diff-job.yaml")
spec = run["spec"]
env = {e["name"]: e["value"] for e in container(run).get("env", [])}
n = spec.get("completions")
check("run Job is batch/v1 Job", run.get("apiVersion") == "batch/v1" and run.get("kind") == "Job")
check("completionMode is Indexed", spec.get("completionMode") == "Indexed")
check(f"LAYERCARD_SHARD_COUNT ({env.get('LAYERCARD_SHARD_COUNT')}) == completions ({n})",
      str(n) == env.get("LAYERCARD_SHARD_COUNT"))
check("parallelism <= completions", 0 < spec.get("parallelism", 0) <= n)
check("restartPolicy Never (needed for podFailurePolicy)", spec["template"]["spec"].get("restartPolicy") == "Never")
for job, label in ((run, "run"), (diff, "diff")):
    vols = {v["name"] for v in job["spec"]["template"]["spec"].get("volumes", [])}
    mounts = {m["name"] for m in container(job).get("volumeMounts", [])}
    check(f"{label} Job: every volumeMount has a volume", mounts <= vols and mounts)
    check(f"{label} Job: resources requests and limits set",
          {"requests", "limits"} <= set(container(job).get("resources", {})))

with tempfile.TemporaryDirectory() as tmp:
    models, ws = os.path.join(tmp, "models"), os.path.join(tmp, "workspace")
    os.makedirs(ws)
    names = ["smollm2-v1", "smollm2-v2", "smollm2-v3", "minilm", "qwen3.gguf", "x.bin", "y.tar.gz"]
    for name in names:
        os.makedirs(os.path.join(models, name))
    with open(os.path.join(ws, "versions.toml"), "w") as fh:
        fh.write('[[series]]\nname = "smollm2"\nversions = ["smollm2-v1", "smollm2-v2", "smollm2-v3"]\n')
    codes = []
    for k in range(n):
        e = dict(os.environ, **env, JOB_COMPLETION_INDEX=str(k))
        for key in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"):
            e.pop(key, None)
        codes.append(subprocess.run(remap(container(run)["command"], models, ws), env=e).returncode)
    check(f"all {n} emulated pods exit 0 ({codes})", codes == [0] * n)
    if FAKE:
        seen = []
        for k in range(n):
            with open(os.path.join(ws, "fake", f"shard-{k}-of-{n}.meta")) as fh:
                check(f"pod {k} took its shard from JOB_COMPLETION_INDEX", "source=k8s" in fh.read())
            with open(os.path.join(ws, "fake", f"shard-{k}-of-{n}.txt")) as fh:
                seen += [os.path.basename(p) for p in fh.read().split("\n") if p]
        check("every model processed exactly once", sorted(seen) == sorted(names))
    cmd = container(diff)["command"]
    script = cmd[2].replace("/workspace", ws).replace("layercard diff", f"'{BIN}' diff")
    r = subprocess.run([cmd[0], cmd[1], script], capture_output=True, text=True)
    print(r.stdout, end="")
    check(f"diff Job script exits 0 (got {r.returncode}; {r.stderr.strip()[:200]})", r.returncode == 0)
    if FAKE:
        for pair in ("smollm2-v1--smollm2-v2", "smollm2-v2--smollm2-v3"):
            check(f"diff {pair} ran", os.path.exists(os.path.join(ws, "fake", f"diff-{pair}.txt")))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
