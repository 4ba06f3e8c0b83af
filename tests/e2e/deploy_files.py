#!/usr/bin/env python3
"""Reads every file under deploy/ for tests/e2e/deploy_files_it.cpp.

usage: deploy_files.py SOURCE_DIR OUT_DIR

Parses every YAML file (PyYAML), the Dockerfile and the systemd units, checks what needs no binary
(kinds, references, probes, packages) and writes OUT_DIR/deploy.json for the C++ test, which checks
the rest against the real `warren`: each `warren` command line, each WARREN_* variable, each grace
period and the ConfigMap's warren.toml (written to OUT_DIR).
"""
import json
import pathlib
import re
import shlex
import sys
import tomllib

import yaml

src = pathlib.Path(sys.argv[1])
out = pathlib.Path(sys.argv[2])
deploy = src / "deploy"
problems = []  # what is wrong, one line each
commands = []  # {"where", "argv"}: argv after the `warren` binary
stops = []  # {"where", "stop", "grace", "kill_grace"}: duration strings
yaml_files = []
kinds = []
tomls = []


def rel(path):
    return str(path.relative_to(src))


def problem(where, text):
    problems.append(f"{where}: {text}")


def work_grace(env, args, toml_text=None):
    """Effective work.grace and work.kill_grace: flag > environment > TOML file > default."""
    grace, kill_grace = "30s", "10s"
    if toml_text:
        work = tomllib.loads(toml_text).get("work", {})
        grace = str(work.get("grace", grace))
        kill_grace = str(work.get("kill_grace", kill_grace))
    grace = env.get("WARREN_GRACE", grace)
    kill_grace = env.get("WARREN_KILL_GRACE", kill_grace)
    for i, a in enumerate(args):
        if a == "--grace" and i + 1 < len(args):
            grace = args[i + 1]
        if a == "--kill-grace" and i + 1 < len(args):
            kill_grace = args[i + 1]
    return str(grace), str(kill_grace)


# ---- YAML: every file parses -------------------------------------------------------------------
docs_by_file = {}
for path in sorted(list(deploy.rglob("*.yaml")) + list(deploy.rglob("*.yml"))):
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as e:
        problem(rel(path), f"YAML does not parse: {e}")
        continue
    yaml_files.append({"path": rel(path), "documents": len(docs)})
    docs_by_file[rel(path)] = docs

# ---- Dockerfile --------------------------------------------------------------------------------
dockerfile = deploy / "Dockerfile"
text = dockerfile.read_text()
logical = []  # instructions with continuation lines joined, comments dropped
current = ""
for line in text.splitlines():
    if not current and (not line.strip() or line.lstrip().startswith("#")):
        continue
    if line.lstrip().startswith("#"):
        continue
    current += line.rstrip()
    if current.endswith("\\"):
        current = current[:-1] + " "
        continue
    logical.append(current.strip())
    current = ""
stages = []  # [{"from", "lines"}]
for ins in logical:
    word = ins.split(None, 1)[0].upper()
    if word == "FROM":
        stages.append({"from": ins.split()[1], "lines": []})
    elif stages:
        stages[-1]["lines"].append(ins)


def instruction(stage, name):
    found = [l for l in stage["lines"] if l.split(None, 1)[0].upper() == name]
    return found[-1].split(None, 1)[1] if found else None


def apt_packages(stage):
    packages = set()
    for l in stage["lines"]:
        for m in re.finditer(r"apt-get install ((?:[^&;|])*)", l):
            packages |= {w for w in m.group(1).split() if not w.startswith("-")}
    return packages


deps_text = (src / "scripts" / "deps.sh").read_text()
deps_packages = set(re.search(r"packages=\((.*?)\n\)", deps_text, re.S).group(1).split())
deps_packages = {p for p in deps_packages if not p.startswith("#")}
if len(stages) < 2:
    problem("deploy/Dockerfile", "expected a build stage and a runtime stage")
else:
    build, runtime = stages[0], stages[-1]
    if build["from"] != "debian:12" or not runtime["from"].startswith("debian:12-slim"):
        problem("deploy/Dockerfile", f"stages from {build['from']} and {runtime['from']}, expected debian:12 and debian:12-slim")
    for p in sorted(apt_packages(build) - deps_packages):
        problem("deploy/Dockerfile", f"build package {p} is not in scripts/deps.sh")
    if "WARREN_BUILD_TESTS=OFF" not in " ".join(build["lines"]):
        problem("deploy/Dockerfile", "the build stage builds the tests")
    user = instruction(runtime, "USER")
    if user is None or user.split(":")[0] in ("0", "root"):
        problem("deploy/Dockerfile", f"the runtime stage runs as {user or 'root'}")
    entrypoint = json.loads(instruction(runtime, "ENTRYPOINT") or "null")
    if entrypoint != ["/usr/local/bin/warren"]:
        problem("deploy/Dockerfile", f"ENTRYPOINT is {entrypoint}, expected the binary alone")
    cmd = json.loads(instruction(runtime, "CMD") or "[]")
    commands.append({"where": "deploy/Dockerfile CMD", "argv": cmd})
    health = instruction(runtime, "HEALTHCHECK") or ""
    m = re.search(r"\bCMD\s+(\[.*\])", health)
    if not m:
        problem("deploy/Dockerfile", "no exec-form HEALTHCHECK")
    else:
        tool = json.loads(m.group(1))[0]
        if tool not in apt_packages(runtime) and not tool.endswith("/warren"):
            problem("deploy/Dockerfile", f"HEALTHCHECK runs {tool}, which the runtime stage does not install")
        if "/healthz" not in m.group(1):
            problem("deploy/Dockerfile", "HEALTHCHECK does not ask /healthz")

# ---- docker-compose.yml ------------------------------------------------------------------------
compose = docs_by_file.get("deploy/docker-compose.yml", [{}])[0]
services = compose.get("services", {})
for name in ("rabbitmq", "postgres", "serve", "work"):
    if name not in services:
        problem("deploy/docker-compose.yml", f"no service {name}")
if not str(services.get("rabbitmq", {}).get("image", "")).startswith("rabbitmq:3.10-management"):
    problem("deploy/docker-compose.yml", "rabbitmq is not rabbitmq:3.10-management")
if not str(services.get("postgres", {}).get("image", "")).startswith("postgres:15"):
    problem("deploy/docker-compose.yml", "postgres is not postgres:15")
for name, svc in services.items():
    if not str(svc.get("image", "")).startswith("warren"):
        continue
    argv = svc.get("command", [])
    if isinstance(argv, str):
        argv = shlex.split(argv)
    commands.append({"where": f"deploy/docker-compose.yml service {name}", "argv": argv})
    env = svc.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    for dep, cond in (svc.get("depends_on") or {}).items():
        if cond.get("condition") != "service_healthy" or "healthcheck" not in services.get(dep, {}):
            problem("deploy/docker-compose.yml", f"{name} does not wait for a healthy {dep}")
    if argv[:1] == ["work"]:
        if "replicas" not in svc.get("deploy", {}):
            problem("deploy/docker-compose.yml", "work has no deploy.replicas")
        grace, kill_grace = work_grace(env, argv)
        stops.append({"where": f"deploy/docker-compose.yml {name} stop_grace_period",
                      "stop": str(svc.get("stop_grace_period", "10s")), "grace": grace, "kill_grace": kill_grace})

# ---- systemd units -----------------------------------------------------------------------------
env_example = {}
for line in (deploy / "systemd" / "warren.env.example").read_text().splitlines():
    if "=" in line and not line.lstrip().startswith("#"):
        k, v = line.split("=", 1)
        env_example[k.strip()] = v.strip()
for unit in sorted((deploy / "systemd").glob("*.service")):
    keys = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())
    where = rel(unit)
    execs = keys.get("ExecStart", [])
    if len(execs) != 1:
        problem(where, "expected one ExecStart=")
        continue
    argv = shlex.split(execs[0])
    if not argv[0].endswith("/warren"):
        problem(where, f"ExecStart runs {argv[0]}, not warren")
    commands.append({"where": where, "argv": argv[1:]})
    for k, want in (("KillSignal", "SIGTERM"), ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict")):
        if keys.get(k, [""])[-1] != want:
            problem(where, f"{k}= is not {want}")
    if "/etc/warren/warren.env" not in keys.get("EnvironmentFile", []):
        problem(where, "does not read EnvironmentFile=/etc/warren/warren.env")
    if keys.get("Type", [""])[-1] not in ("exec", "simple"):
        problem(where, "Type= is not exec or simple")
    if "DynamicUser" not in keys and "User" not in keys:
        problem(where, "runs as root (no DynamicUser= or User=)")
    if argv[1:2] == ["work"]:
        # Exit 3 (recycling after a runaway handler) must be restarted.
        restart = keys.get("Restart", ["no"])[-1]
        forced = " ".join(keys.get("RestartForceExitStatus", [])).split()
        if restart not in ("always", "on-failure") and "3" not in forced:
            problem(where, f"Restart={restart} does not restart a worker that exits 3")
        grace, kill_grace = work_grace(env_example, argv[1:])
        stops.append({"where": f"{where} TimeoutStopSec", "stop": keys.get("TimeoutStopSec", ["90s"])[-1],
                      "grace": grace, "kill_grace": kill_grace})

# ---- Kubernetes --------------------------------------------------------------------------------
objects = []
for path, docs in docs_by_file.items():
    if path.startswith("deploy/k8s/"):
        objects += [(path, d) for d in docs]
by_kind = {}
for path, d in objects:
    kinds.append(d.get("kind"))
    by_kind.setdefault(d.get("kind"), []).append(d)
    if "namespace" in d.get("metadata", {}):
        problem(path, f"{d.get('kind')} {d['metadata'].get('name')} names a namespace")
config_toml = None
for cm in by_kind.get("ConfigMap", []):
    if "warren.toml" in cm.get("data", {}):
        config_toml = cm["data"]["warren.toml"]
        path = out / "configmap-warren.toml"
        path.write_text(config_toml)
        tomls.append({"where": "deploy/k8s/configmap.yaml warren.toml", "path": str(path)})
secret_keys = {}
for s in by_kind.get("Secret", []):
    secret_keys[s["metadata"]["name"]] = set(s.get("stringData", {})) | set(s.get("data", {}))
deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}


def secret_refs(where, container):
    for e in container.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref and ref.get("key") not in secret_keys.get(ref.get("name"), set()):
            problem(where, f"{e['name']} refers to a missing secret key {ref.get('name')}/{ref.get('key')}")


for name, d in deployments.items():
    spec = d["spec"]["template"]["spec"]
    where = f"deploy/k8s Deployment {name}"
    if d["spec"]["selector"]["matchLabels"].items() - d["spec"]["template"]["metadata"]["labels"].items():
        problem(where, "selector does not match the pod labels")
    for c in spec["containers"]:
        if "command" in c:
            problem(where, "overrides the image's entrypoint")
        commands.append({"where": f"{where} container {c['name']}", "argv": c.get("args", [])})
        secret_refs(where, c)
        env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
        if c.get("args", [])[:1] == ["work"]:
            grace, kill_grace = work_grace(env, c.get("args", []), config_toml)
            stops.append({"where": f"{where} terminationGracePeriodSeconds",
                          "stop": f"{spec.get('terminationGracePeriodSeconds', 30)}s", "grace": grace,
                          "kill_grace": kill_grace})
        if c.get("args", [])[:1] == ["serve"]:
            if d["spec"].get("replicas") != 2:
                problem(where, "serve does not run 2 replicas")
            if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
                problem(where, "readinessProbe is not GET /readyz")
            if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
                problem(where, "livenessProbe is not GET /healthz")
services_k8s = by_kind.get("Service", [])
serve_labels = deployments.get("warren-serve", {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
for s in services_k8s:
    if s["spec"]["selector"].items() - serve_labels.items():
        problem("deploy/k8s Service", f"{s['metadata']['name']} selects no serve pod")
auths = {a["metadata"]["name"]: a for a in by_kind.get("TriggerAuthentication", [])}
for a in auths.values():
    for ref in a["spec"].get("secretTargetRef", []):
        if ref["key"] not in secret_keys.get(ref["name"], set()):
            problem("deploy/k8s TriggerAuthentication", f"refers to a missing secret key {ref['name']}/{ref['key']}")
for so in by_kind.get("ScaledObject", []):
    where = f"deploy/k8s ScaledObject {so['metadata']['name']}"
    if so["spec"]["scaleTargetRef"]["name"] not in deployments:
        problem(where, "scales no Deployment of these manifests")
    for t in so["spec"].get("triggers", []):
        meta = t.get("metadata", {})
        if t.get("type") != "rabbitmq" or meta.get("mode") != "QueueLength" or meta.get("queueName") != "default":
            problem(where, "trigger is not rabbitmq QueueLength on queue default")
        if t.get("authenticationRef", {}).get("name") not in auths:
            problem(where, "authenticationRef names no TriggerAuthentication")
    if not 1 <= so["spec"].get("minReplicaCount", 0) <= so["spec"].get("maxReplicaCount", 0):
        problem(where, "needs 1 <= minReplicaCount <= maxReplicaCount")
for k in by_kind.get("Kustomization", []):
    listed = set(k.get("resources", []))
    present = {p.removeprefix("deploy/k8s/") for p in docs_by_file if p.startswith("deploy/k8s/")}
    for missing in sorted(present - listed - {"kustomization.yaml"}):
        problem("deploy/k8s/kustomization.yaml", f"does not list {missing}")
    for extra in sorted(listed - present):
        problem("deploy/k8s/kustomization.yaml", f"lists {extra}, which does not exist")

# ---- every WARREN_* name in every file ---------------------------------------------------------
env_names = {}
for path in sorted(p for p in deploy.rglob("*") if p.is_file()):
    for name in re.findall(r"\bWARREN_[A-Z0-9_]+", path.read_text()):
        env_names.setdefault(name, rel(path))

(out / "deploy.json").write_text(json.dumps({
    "problems": problems, "commands": commands, "stops": stops, "yaml_files": yaml_files,
    "kinds": kinds, "tomls": tomls,
    "env_names": [{"name": n, "where": w} for n, w in sorted(env_names.items())],
}, indent=1))
