#!/usr/bin/env python3
"""GET /v1/jobs/{id} latency with a large SQLite store (the jobs API issue's read target: p99 <= 5 ms
with 1,000,000 jobs).

    bench/system/get_latency.py [--jobs 1000000] [--seconds 15] [--out bench/results]

Makes a store with `warren serve`'s own migrations, fills it with N queued jobs straight through
sqlite3 (documents in the form core's codec writes), starts `warren serve` on it (no broker needed
for reads), and runs wrk against random ids with 1 connection (one request at a time: a single
GET's latency) and with 8. Prints and writes a markdown table and JSON under --out. Stdlib only.
"""
import argparse
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WARREN = os.path.join(ROOT, "build", "bin", "warren")
LUA = os.path.join(ROOT, "bench", "system", "lua", "get_random_job.lua")


def log(msg):
    print("[get-latency %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            "http://127.0.0.1:%d%s" % (port, path)], capture_output=True, text=True)
        if r.stdout == "200":
            return True
        time.sleep(0.2)
    return False


def start_serve(db, port, logfile):
    # A closed port for the broker: reads need only the store.
    argv = [WARREN, "serve", "--listen", "127.0.0.1:%d" % port, "--store", "sqlite:" + db,
            "--amqp-url", "amqp://guest:guest@127.0.0.1:%d/" % free_port(), "--log-level", "warn"]
    return subprocess.Popen(argv, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def uuid7(ms, rnd):
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rnd.getrandbits(12)) << 64 | 0b10 << 62 | rnd.getrandbits(62)
    h = "%032x" % value
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def fill(db, n):
    rnd = random.Random(7)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    start_ms = int(time.time() * 1000) - n
    ids = []
    batch = []
    for i in range(n):
        ms = start_ms + i
        job_id = uuid7(ms, rnd)
        t = iso(ms)
        doc = {"id": job_id, "type": "warren.noop", "queue": "default", "args": {"n": i}, "priority": 0,
               "max_attempts": 3, "tags": [], "state": "queued", "attempt": 0, "attempts": [],
               "error": "", "created_at": t, "updated_at": t}
        batch.append((job_id, "queued", "warren.noop", "default", None, ms, ms, None,
                      json.dumps(doc, separators=(",", ":"))))
        if i % 97 == 0:
            ids.append(job_id)
        if len(batch) == 50000:
            conn.executemany("INSERT INTO jobs (id, state, type, queue, idempotency_key, created_at, updated_at, "
                             "finished_at, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
            conn.commit()
            batch = []
    if batch:
        conn.executemany("INSERT INTO jobs (id, state, type, queue, idempotency_key, created_at, updated_at, "
                         "finished_at, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
        conn.commit()
    conn.close()
    return ids


def wrk(port, conns, seconds, ids_file):
    env = dict(os.environ, WARREN_BENCH_IDS=ids_file)
    r = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", "-s", LUA,
                        "http://127.0.0.1:%d" % port], capture_output=True, text=True, env=env,
                       timeout=seconds + 60)
    out = r.stdout

    def ms(label):
        m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % re.escape(label), out, re.M)
        if not m:
            return None
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"conns": conns, "rps": float(m.group(1)) if m else 0.0, "p50_ms": ms("50%"), "p90_ms": ms("90%"),
            "p99_ms": ms("99%"), "non_2xx": int(bad.group(1)) if bad else 0, "raw": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="warren-get-")
    db = os.path.join(work, "warren.db")
    logfile = open(os.path.join(work, "serve.log"), "w")
    port = free_port()
    serve = start_serve(db, port, logfile)
    try:
        if not wait_http(port, "/healthz"):
            raise SystemExit("serve did not start; see " + logfile.name)
    finally:
        stop(serve)  # the store is migrated now
    t0 = time.time()
    ids = fill(db, args.jobs)
    log("filled %d jobs in %.0f s (%.0f MB)" % (args.jobs, time.time() - t0, os.path.getsize(db) / 1e6))
    ids_file = os.path.join(work, "ids.txt")
    with open(ids_file, "w") as f:
        f.write("\n".join(ids) + "\n")
    serve = start_serve(db, port, logfile)
    results = []
    try:
        if not wait_http(port, "/v1/jobs/" + ids[len(ids) // 2]):
            raise SystemExit("serve cannot read the filled store; see " + logfile.name)
        wrk(port, 4, 2, ids_file)  # warm-up: page cache, connections
        for conns in (1, 8):
            r = wrk(port, conns, args.seconds, ids_file)
            log("c=%d: %.0f req/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d" % (conns, r["rps"], r["p50_ms"] or -1,
                                                                         r["p99_ms"] or -1, r["non_2xx"]))
            results.append(r)
    finally:
        stop(serve)
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = os.path.join(args.out, "get-latency-%s" % stamp)
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = ["# GET /v1/jobs/{id} with %s jobs in the SQLite store" % format(args.jobs, ","), "",
             "Warren %s, %d s per row, random ids, wrk -t1 (load generator on the same 2 cores)." % (rev, args.seconds),
             "", "| connections | requests/s | p50 ms | p90 ms | p99 ms | non-2xx |", "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append("| %d | %.0f | %.2f | %.2f | %.2f | %d |" % (r["conns"], r["rps"], r["p50_ms"] or -1, r["p90_ms"] or -1,
                                                             r["p99_ms"] or -1, r["non_2xx"]))
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(base + ".json", "w") as f:
        json.dump({"jobs": args.jobs, "seconds": args.seconds, "warren": rev,
                   "results": [{k: v for k, v in r.items() if k != "raw"} for r in results]}, f, indent=2)
    print("\n".join(lines))
    log("results: %s.{md,json}" % base)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
