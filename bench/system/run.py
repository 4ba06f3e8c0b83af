#!/usr/bin/python3
"""Side-by-side system benchmarks: Warren vs the classic Flask+pika demo, Celery 5 and the raw broker.

    bench/system/run.py [--quick] [--runs N] [--only WORKLOAD,...] [--out DIR]

One RabbitMQ is started for the whole run (loopback, free ports, data in a temp dir, stopped by pid at
the end); every system runs against it in turn. Writes bench/results/system-<stamp>.{json,md} and PNG
plots. Stdlib only, plus Debian's python3-pika (the demo needs it anyway) for queue depths and events.
See bench/README.md for what each workload measures.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pika

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "bin")
WARREN = os.path.join(BIN, "warren")
CEILING = os.path.join(BIN, "warren_bench_ceiling")
OPEN_LOOP = os.path.join(BIN, "warren_bench_open_loop")  # bench/loadgen/open_loop.cpp
BASELINES = os.path.join(ROOT, "bench", "baselines")
LUA = os.path.join(ROOT, "bench", "system", "lua")
PY = "/usr/bin/python3"  # Debian's, which has pika, flask and celery
RABBIT_BIN = "/usr/lib/rabbitmq/bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOOPBACK_DIST = "-kernel inet_dist_use_interface {127,0,0,1}"


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nothing listens on 127.0.0.1:%d after %.0fs" % (port, timeout))


# ---------------------------------------------------------------- processes and /proc

def proc_children():
    """pid -> [child pids], from /proc/*/stat."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid):
    kids = proc_children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Usage:
    """CPU seconds and peak RSS of named process trees over a measured window."""

    def __init__(self, roots):
        self.roots = roots  # label -> root pid
        self.start = {label: self._cpu(pid) for label, pid in roots.items()}

    @staticmethod
    def _cpu(pid):
        return sum(cpu_seconds(p) for p in tree(pid))

    def finish(self, jobs):
        out = {}
        for label, pid in self.roots.items():
            cpu = self._cpu(pid) - self.start[label]
            # Summed over the tree (gunicorn and Celery prefork children): shared pages count twice.
            rss = sum(vm_hwm_kb(p) for p in tree(pid)) / 1024.0
            out[label] = {"cpu_s": cpu, "peak_rss_mb": rss,
                          "cpu_s_per_10k": cpu / jobs * 10000 if jobs else None}
        return out


class Procs:
    """Children we started, each in its own session; stopped by pid (SIGTERM, then SIGKILL)."""

    def __init__(self):
        self.items = []

    def start(self, label, argv, env=None, cwd=None, logfile=None):
        out = open(logfile, "ab") if logfile else subprocess.DEVNULL
        p = subprocess.Popen(argv, env={**os.environ, **(env or {})}, cwd=cwd, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.items.append((label, p))
        return p

    def stop(self, p, timeout=10.0):
        if p.poll() is None:
            pids = tree(p.pid)
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            for pid in pids:  # whatever the tree left behind (gunicorn/celery children)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait()
        self.items = [(l, q) for l, q in self.items if q is not p]

    def stop_all(self):
        for _, p in list(reversed(self.items)):
            self.stop(p)


# ---------------------------------------------------------------- the broker

class Broker:
    """Debian's rabbitmq-server run directly (no systemd), as src/supervisor/managed_broker does."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "rabbitmq")
        os.makedirs(self.dir)
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = "warren-bench-%d@localhost" % os.getpid()
        d = self.dir
        self.env = {
            "HOME": d, "RABBITMQ_NODENAME": self.node, "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": d + "/mnesia", "RABBITMQ_LOG_BASE": d + "/log",
            "RABBITMQ_PID_FILE": d + "/rabbitmq.pid", "RABBITMQ_CONFIG_FILE": d + "/rabbitmq.conf",
            "RABBITMQ_ADVANCED_CONFIG_FILE": d + "/advanced.config",
            "RABBITMQ_ENABLED_PLUGINS_FILE": d + "/enabled_plugins",
            "RABBITMQ_CONF_ENV_FILE": d + "/rabbitmq-env.conf",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": LOOPBACK_DIST, "RABBITMQ_CTL_ERL_ARGS": LOOPBACK_DIST,
            "RABBITMQ_CTL_DIST_PORT_MIN": "0", "RABBITMQ_CTL_DIST_PORT_MAX": "0",
            "ERL_CRASH_DUMP": d + "/log/erl_crash.dump", "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_INETRC": d + "/erl_inetrc",
        }
        files = {
            "rabbitmq.conf": "listeners.tcp.default = 127.0.0.1:%d\nlog.console = true\n"
                             "log.console.level = warning\nlog.console.use_colors = off\n" % self.port,
            "enabled_plugins": "[].\n", "advanced.config": "[].\n", "rabbitmq-env.conf": "\n",
            "erl_inetrc": '{host, {127,0,0,1}, ["localhost"]}.\n{lookup, [file, native]}.\n',
            ".erlang.cookie": os.urandom(16).hex().upper(),
        }
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        os.chmod(os.path.join(d, ".erlang.cookie"), 0o400)
        self.procs = Procs()
        self.server = None
        self.epmd = None

    def ctl(self, *args, timeout=120):
        return subprocess.run([RABBIT_BIN + "/rabbitmqctl", "-n", self.node, *args], env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=timeout)

    def start(self):
        epmd = shutil.which("epmd", path="/usr/lib/erlang/bin:" + os.environ.get("PATH", ""))
        self.epmd = self.procs.start("epmd", [epmd, "-address", "127.0.0.1", "-port", str(self.epmd_port)],
                                     env=self.env)
        wait_port(self.epmd_port, 5)
        self.server = self.procs.start("rabbitmq", [RABBIT_BIN + "/rabbitmq-server"], env=self.env,
                                       logfile=os.path.join(self.dir, "console.log"))
        t0 = time.time()
        r = self.ctl("wait", "--timeout", "120", self.env["RABBITMQ_PID_FILE"], timeout=150)
        if r.returncode != 0:
            raise RuntimeError("rabbitmq did not start: %s %s" % (r.stdout, r.stderr))
        wait_port(self.port, 30)
        log("rabbitmq ready on 127.0.0.1:%d in %.1fs" % (self.port, time.time() - t0))

    def beam_pid(self):
        with open(self.env["RABBITMQ_PID_FILE"]) as f:
            return int(f.read().strip())

    def version(self):
        r = self.ctl("version")
        return r.stdout.strip()

    def stop(self):
        if self.server:
            pids = tree(self.server.pid)
            try:
                os.kill(self.server.pid, signal.SIGTERM)
                self.server.wait(60)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.server.wait()
        if self.epmd:
            self.procs.stop(self.epmd, 2)

    @property
    def url(self):
        return "amqp://guest:guest@127.0.0.1:%d/" % self.port


class Postgres:
    """A throwaway PostgreSQL cluster in the temp dir (as tests/support/postgres.cpp starts one), with
    PostgreSQL's default durability (fsync on): the store variant of the sustained and http workloads."""

    def __init__(self, workdir):
        versions = sorted((d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()), key=int) \
            if os.path.isdir("/usr/lib/postgresql") else []
        if not versions:
            raise RuntimeError("no /usr/lib/postgresql/<version>/bin: install postgresql (make deps)")
        self.bin = "/usr/lib/postgresql/%s/bin" % versions[-1]
        self.version = versions[-1]
        self.dir = os.path.join(workdir, "postgres")
        os.makedirs(self.dir)
        self.as_user = []
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as the postgres system user
            import pwd
            u = pwd.getpwnam("postgres")
            os.chmod(workdir, 0o755)
            os.chown(self.dir, u.pw_uid, u.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.procs = Procs()
        self.server = None

    def start(self):
        subprocess.run(self.as_user + [self.bin + "/initdb", "-D", self.dir + "/data", "-U", "postgres", "--auth=trust",
                                       "--encoding=UTF8", "--locale=C", "--no-sync"],
                       check=True, capture_output=True, cwd=self.dir)
        self.server = self.procs.start("postgres", self.as_user + [
            self.bin + "/postgres", "-D", self.dir + "/data", "-k", self.dir, "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=100"],
            cwd=self.dir, logfile=os.path.join(self.dir, "server.log"))
        deadline = time.time() + 60
        while subprocess.run([self.bin + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode:
            if time.time() > deadline or self.server.poll() is not None:
                raise RuntimeError("postgres did not start (log: %s/server.log)" % self.dir)
            time.sleep(0.2)
        log("postgres %s ready on 127.0.0.1:%d" % (self.version, self.port))

    def create_db(self, name):
        subprocess.run([self.bin + "/psql", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-c", "CREATE DATABASE %s" % name], check=True, capture_output=True)
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, name)

    def count_succeeded(self, name):
        r = subprocess.run([self.bin + "/psql", "-tA", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                            "-d", name, "-c", "SELECT count(*) FROM jobs WHERE state='succeeded'"],
                           capture_output=True, text=True)
        return int(r.stdout.strip()) if r.returncode == 0 and r.stdout.strip().isdigit() else None

    def stop(self):
        if self.server and self.server.poll() is None:
            try:
                with open(self.dir + "/data/postmaster.pid") as f:
                    os.kill(int(f.readline()), signal.SIGINT)  # fast shutdown, by the postmaster's pid
                self.server.wait(30)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
            self.procs.stop(self.server)


class Amqp:
    """The driver's own pika connection: queue depths, purges."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def channel(self):
        if self.conn is None or self.conn.is_closed:
            self.conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port, heartbeat=0))
        return self.conn.channel()

    def depth(self, queue):
        ch = self.channel()
        try:
            return ch.queue_declare(queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker:
            return 0
        finally:
            if ch.is_open:
                ch.close()

    def consumers(self, queue):
        ch = self.channel()
        try:
            return ch.queue_declare(queue, passive=True).method.consumer_count
        except pika.exceptions.ChannelClosedByBroker:
            return 0
        finally:
            if ch.is_open:
                ch.close()

    def wait_consumers(self, queue, n, timeout=60.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.consumers(queue) >= n:
                return True
            time.sleep(0.1)
        log("only %d of %d consumers on %s after %.0fs" % (self.consumers(queue), n, queue, timeout))
        return False

    def declare_recorder_queue(self):
        """As `serve` declares it: every Warren event is routed to a durable queue, so a drain without
        `serve` costs the broker what it costs in production (the queue is purged afterwards)."""
        ch = self.channel()
        ch.exchange_declare("warren.events", "topic", durable=True)
        ch.queue_declare("warren.events.recorder", durable=True)
        ch.queue_bind("warren.events.recorder", "warren.events", "#")
        ch.close()

    def purge(self, *queues):
        for q in queues:
            ch = self.channel()
            try:
                ch.queue_purge(q)
            except pika.exceptions.ChannelClosedByBroker:
                pass
            finally:
                if ch.is_open:
                    ch.close()

    def delete(self, *queues):
        for q in queues:
            ch = self.channel()
            try:
                ch.queue_delete(q)
            except pika.exceptions.ChannelClosedByBroker:
                pass
            finally:
                if ch.is_open:
                    ch.close()


# ---------------------------------------------------------------- statistics

def summary(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": vals}


def fmt_num(x, digits=0):
    if x is None:
        return "n/a"
    if digits == 0:
        return "{:,.0f}".format(x)
    return "{:,.{d}f}".format(x, d=digits)


def fmt_summary(s, digits=0):
    if s is None:
        return "n/a"
    if len(s["runs"]) == 1:
        return fmt_num(s["median"], digits)
    return "%s (%s–%s)" % (fmt_num(s["median"], digits), fmt_num(s["min"], digits), fmt_num(s["max"], digits))


# ---------------------------------------------------------------- load generators

def wrk(url, conns, seconds, script=None, threads=2):
    argv = ["wrk", "-t%d" % min(threads, conns), "-c%d" % conns, "-d%ds" % seconds, "--latency"]
    if script:
        argv += ["-s", script]
    argv.append(url)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    out = r.stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rps = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    total = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    errors = m.group(1).strip() if m else ""
    ok_rps = rps * (total - bad) / total if total else 0.0
    return {"rps": rps, "ok_rps": ok_rps, "requests": total, "non_2xx": bad, "socket_errors": errors, "raw": out}


def open_loop(port, rate, seconds, conns, mode):
    """The C++ open-loop generator (bench/loadgen/open_loop.cpp): key -> send time of each 2xx answer,
    and the number of requests scheduled."""
    r = subprocess.run([OPEN_LOOP, str(port), str(rate), str(seconds), str(conns), mode],
                       capture_output=True, text=True, timeout=seconds + 120, check=True)
    sent = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            sent[parts[0]] = float(parts[1])
    log(r.stderr.strip())
    return sent, int(rate * seconds)


def percentiles(latencies_ms):
    if not latencies_ms:
        return {"p50": None, "p99": None, "p999": None, "n": 0}
    xs = sorted(latencies_ms)

    def q(p):
        return xs[min(len(xs) - 1, int(p * len(xs)))]

    return {"p50": q(0.5), "p99": q(0.99), "p999": q(0.999), "n": len(xs)}


def parse_rfc3339(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class StartedEvents(threading.Thread):
    """Collects job id -> `at` of Warren's `started` events (exchange warren.events)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.at = {}
        self.ready = threading.Event()
        self.stopping = False

    def run(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", self.port, heartbeat=0))
        ch = conn.channel()
        ch.exchange_declare("warren.events", "topic", durable=True)
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, "warren.events", "job.started.#")
        # A worker groups the events that wait for one confirm into one message, a JSON array under
        # `job.batch` (src/worker/event_batcher.hpp); above ~100 jobs/s most `started` events go so.
        ch.queue_bind(q, "warren.events", "job.batch")
        self.ready.set()
        for method, props, body in ch.consume(q, auto_ack=True, inactivity_timeout=0.2):
            if self.stopping:
                break
            if body:
                decoded = json.loads(body)
                for e in decoded if isinstance(decoded, list) else [decoded]:
                    if e.get("kind") == "started":
                        # `at` is truncated to the millisecond: +0.5 ms is the unbiased estimate
                        self.at[e["job_id"]] = parse_rfc3339(e["at"]) + 0.0005
        ch.cancel()
        conn.close()


def read_stamps(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    out[parts[0]] = float(parts[1])
    return out


# ---------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.runs = args.runs or (1 if args.quick else 3)
        self.work = tempfile.mkdtemp(prefix="warren-bench-")
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.logs)
        self.procs = Procs()
        self.broker = Broker(self.work)
        self.amqp = None
        self.pg = None  # PostgreSQL for the store variant, when it starts
        self.serial = 0
        self.results = {}
        self.p = {  # workload parameters
            "http_seconds": 5 if args.quick else 15,
            "http_conns": [8, 32],
            "batch_size": 100,
            "drain_jobs": 20000 if args.quick else 100000,
            "workers": [1, 2],
            "warren_concurrency": 4,
            "sustained_seconds": 15 if args.quick else 60,
            "latency_rates": [100, 1000] if args.quick else [100, 1000, 5000],
            "latency_seconds": 5 if args.quick else 15,
            "runs": self.runs,
        }

    def env_base(self):
        return {"BENCH_AMQP_PORT": str(self.broker.port)}

    def put(self, key, run_value):
        self.results.setdefault(key, []).append(run_value)

    # ---- systems
    def start_serve(self, tag, postgres=False):
        """`warren serve` on a fresh store: SQLite in the temp dir, or a new database on our PostgreSQL.
        Returns (process, port, store) where store is the SQLite path or the database name."""
        port = free_port()
        self.serial += 1
        if postgres:
            db = "warren_%s_%d" % (tag, self.serial)
            url = self.pg.create_db(db)
        else:
            db = os.path.join(self.work, "warren-%s-%d.db" % (tag, self.serial))
            url = "sqlite:" + db
        p = self.procs.start("serve", [WARREN, "serve", "--listen", "127.0.0.1:%d" % port, "--amqp-url", self.broker.url,
                                       "--store", url],
                             logfile=os.path.join(self.logs, "serve.log"))
        wait_port(port)
        # readyz: the broker and the store are reachable
        deadline = time.time() + 30
        while time.time() < deadline:
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "http://127.0.0.1:%d/readyz" % port], capture_output=True, text=True)
            if r.stdout == "200":
                break
            time.sleep(0.2)
        return p, port, db

    def start_gunicorn(self):
        port = free_port()
        p = self.procs.start("gunicorn", ["gunicorn", "-w", "4", "-b", "127.0.0.1:%d" % port, "--chdir", BASELINES,
                                          "demo_producer:app"], env=self.env_base(),
                             logfile=os.path.join(self.logs, "gunicorn.log"))
        wait_port(port)
        return p, port

    def start_workers(self, system, k, stamp=None):
        env = self.env_base()
        if stamp:
            env["BENCH_STAMP"] = stamp
        ps = []
        for i in range(k):
            if system in ("warren", "warren_c32"):
                argv = [WARREN, "work", "--amqp-url", self.broker.url, "--queue", "default",
                        "--concurrency", "32" if system == "warren_c32" else str(self.p["warren_concurrency"])]
            elif system == "demo":
                argv = [PY, os.path.join(BASELINES, "demo_worker.py")]
            elif system in ("celery", "celery_reliable"):
                if system == "celery_reliable":
                    env["BENCH_CELERY_RELIABLE"] = "1"
                argv = [PY, "-m", "celery", "-A", "celery_app", "worker", "-P", "prefork", "-c", "2",
                        "-n", "bench%d@localhost" % i, "--loglevel", "INFO"]
            else:
                raise ValueError(system)
            ps.append(self.procs.start("%s-worker" % system, argv, env=env, cwd=BASELINES,
                                       logfile=os.path.join(self.logs, "%s-worker.log" % system)))
        return ps

    def fill(self, system, n):
        """Queues n no-op jobs for `system`; returns (queue, seconds, rate)."""
        t0 = time.time()
        if system in ("warren", "warren_c32"):
            queue = "default"
            self.ceiling("publish", queue, n, ["--type", "warren.noop", "--message-id-prefix", "bench-%d-" % time.time_ns()])
        elif system == "demo":
            queue = "task_queue"
            self.ceiling("publish", queue, n, ["--body", "hey"])
        elif system.startswith("ceiling"):
            queue = "bench_ceiling"
            self.ceiling("publish", queue, n, [])
        else:
            queue = "celery"
            subprocess.run([PY, os.path.join(BASELINES, "celery_fill.py"), str(n)], cwd=BASELINES,
                           env={**os.environ, **self.env_base()}, check=True)
        deadline = time.time() + 60
        while self.amqp.depth(queue) < n and time.time() < deadline:
            time.sleep(0.1)
        secs = time.time() - t0
        return queue, secs, n / secs

    def ceiling(self, mode, queue, n, extra, check=True):
        r = subprocess.run([CEILING, mode, "--port", str(self.broker.port), "--queue", queue, "--count", str(n), *extra],
                           capture_output=True, text=True, timeout=600)
        if check and r.returncode != 0:
            raise RuntimeError("ceiling %s: %s" % (mode, r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else None

    # ---- workloads
    def w_http(self):
        secs = self.p["http_seconds"]
        serve, sport, _ = self.start_serve("http")
        targets = [
            ("warren", "add-job", "http://127.0.0.1:%d/add-job/hey" % sport, None, 1),
            ("warren", "v1-jobs", "http://127.0.0.1:%d/v1/jobs" % sport, os.path.join(LUA, "post_job.lua"), 1),
            ("warren", "v1-jobs-batch", "http://127.0.0.1:%d/v1/jobs/batch" % sport, os.path.join(LUA, "post_batch.lua"),
             self.p["batch_size"]),
        ]
        # Celery has no HTTP front: its client API, .delay() in a loop from one process, for reference
        for run in range(self.runs):
            n = 5000 if self.quick else 20000
            code = ("import celery_app,sys,time\nn=int(sys.argv[1]);celery_app.noop.delay(-1);t=time.time()\n"
                    "for i in range(n): celery_app.noop.delay(i)\nprint(n/(time.time()-t))\n")
            r = subprocess.run([PY, "-c", code, str(n)], cwd=BASELINES, env={**os.environ, **self.env_base()},
                               check=True, capture_output=True, text=True)
            self.put("enqueue/celery/delay", {"jobs_per_s": float(r.stdout)})
            log("enqueue/celery/delay run %d: %.0f jobs/s" % (run + 1, float(r.stdout)))
            self.amqp.purge("celery")
        gun, gport = self.start_gunicorn()
        targets.append(("demo", "add-job", "http://127.0.0.1:%d/add-job/hey" % gport, None, 1))
        roots = {"warren": {"serve": serve.pid}, "demo": {"gunicorn": gun.pid}}
        pg_serve = None
        if self.pg:
            pg_serve, pgport, _ = self.start_serve("http", postgres=True)
            targets.insert(2, ("warren_pg", "v1-jobs", "http://127.0.0.1:%d/v1/jobs" % pgport,
                               os.path.join(LUA, "post_job.lua"), 1))
            roots["warren_pg"] = {"serve": pg_serve.pid, "postgres": self.pg.server.pid}
        for system, endpoint, url, script, per_request in targets:
            for c in self.p["http_conns"]:
                for run in range(self.runs):
                    self.amqp.purge("default", "task_queue")
                    usage = Usage({**roots[system], "rabbitmq": self.broker.beam_pid()})
                    r = wrk(url, c, secs, script)
                    jobs = r["ok_rps"] * secs * per_request
                    res = usage.finish(jobs)
                    key = "http/%s/%s/c%d" % (system, endpoint, c)
                    self.put(key, {"jobs_per_s": r["ok_rps"] * per_request, "req_per_s": r["rps"],
                                   "non_2xx": r["non_2xx"], "socket_errors": r["socket_errors"], "usage": res})
                    log("%s run %d: %.0f jobs/s (%d non-2xx) %s" % (key, run + 1, r["ok_rps"] * per_request,
                                                                    r["non_2xx"], r["socket_errors"]))
        # The raw publisher with as many publishes in flight as wrk has connections (each of its
        # connections waits for one answer, so a 2xx front can have no more confirms pending): the
        # ceiling for a closed-loop client at that concurrency.
        for c in self.p["http_conns"]:
            for run in range(self.runs):
                r = self.ceiling("publish", "bench_ceiling", 20000 if self.quick else 60000, ["--window", str(c)])
                self.put("http/ceiling/window/c%d" % c, {"jobs_per_s": r["rate"], "p50_ms": r["p50_ms"],
                                                         "p99_ms": r["p99_ms"]})
                log("http/ceiling/window/c%d run %d: %.0f msg/s, confirm p50 %.2f p99 %.2f ms" % (
                    c, run + 1, r["rate"], r["p50_ms"], r["p99_ms"]))
                self.amqp.purge("bench_ceiling")
        self.procs.stop(gun)
        self.procs.stop(serve)
        if pg_serve:
            self.procs.stop(pg_serve)
        self.amqp.purge("default", "task_queue")

    def w_drain(self):
        n = self.p["drain_jobs"]
        self.amqp.declare_recorder_queue()
        # ceiling_c4 / ceiling_c32: the raw consumer held to a Warren worker's concurrency as its prefetch,
        # acking each message: what a consumer that never holds more than it runs can do, without Warren.
        held = ["ceiling_c%d" % c for c in (self.p["warren_concurrency"], 32)]
        for system in ["warren", "warren_c32", "demo", "celery", "celery_reliable", "ceiling"] + held:
            for k in self.p["workers"]:
                for run in range(self.runs):
                    queue, fill_s, fill_rate = self.fill(system, n)
                    if system.startswith("ceiling"):
                        # k raw consumers, n/k messages each, timed from launch to the last exit
                        prefetch, ack_every = ("1000", "100") if system == "ceiling" else (system[len("ceiling_c"):], "1")
                        t0 = time.time()
                        ps = [subprocess.Popen([CEILING, "consume", "--port", str(self.broker.port), "--queue", queue,
                                                "--count", str(n // k), "--prefetch", prefetch, "--ack-every", ack_every],
                                               stdout=subprocess.DEVNULL) for _ in range(k)]
                        for p in ps:
                            p.wait()
                        rate, usage = n // k * k / (time.time() - t0), None
                        self.amqp.purge(queue)
                    else:
                        ws = self.start_workers(system, k)
                        usage = Usage({"worker%d" % i: w.pid for i, w in enumerate(ws)})
                        rate = self.time_drain(queue, n)
                        usage = usage.finish(n)
                        for w in ws:
                            self.procs.stop(w)
                    key = "drain/%s/w%d" % (system, k)
                    self.put(key, {"jobs_per_s": rate, "usage": usage, "fill_s": fill_s})
                    log("%s run %d: %.0f jobs/s" % (key, run + 1, rate))
                    # no `serve` consumes the events here: every run starts with none queued
                    self.amqp.purge("warren.events.recorder", "warren.dead")
        # the raw broker's publish and publish+consume figures, same machine, same run
        for mode in ["publish", "both"]:
            for run in range(self.runs):
                r = self.ceiling(mode, "bench_ceiling", n, ["--batch", "1000", "--prefetch", "1000"])
                self.put("ceiling/%s" % mode, {"jobs_per_s": r["rate"]})
                log("ceiling/%s run %d: %.0f msg/s" % (mode, run + 1, r["rate"]))
                self.amqp.purge("bench_ceiling")

    def time_drain(self, queue, n, timeout=900):
        """Rate from the first poll that sees the queue below n to the first that sees it empty: the
        workers' start-up is not counted. Up to prefetch x workers messages may still be in flight at
        the end (see bench/README.md)."""
        t_a = c_a = None
        deadline = time.time() + timeout
        while time.time() < deadline:
            d = self.amqp.depth(queue)
            now = time.time()
            if t_a is None and d < n:
                t_a, c_a = now, d
            if t_a is not None and d == 0:
                return c_a / (now - t_a) if now > t_a else None
            time.sleep(0.02)
        log("drain of %s timed out" % queue)
        return None

    def w_sustained(self):
        secs = self.p["sustained_seconds"]
        for system in ["warren"] + (["warren_pg"] if self.pg else []) + ["demo"]:
            for run in range(self.runs):
                self.amqp.purge("default", "task_queue", "warren.events.recorder")
                if system.startswith("warren"):
                    front, port, db = self.start_serve("sustained", postgres=system == "warren_pg")
                    url, script, queue = "http://127.0.0.1:%d/v1/jobs" % port, os.path.join(LUA, "post_job.lua"), "default"
                else:
                    front, port = self.start_gunicorn()
                    url, script, queue, db = "http://127.0.0.1:%d/add-job/hey" % port, None, "task_queue", None
                ws = self.start_workers("warren" if system == "warren_pg" else system, 2)
                self.amqp.wait_consumers(queue, 2)
                roots = {"front": front.pid, "rabbitmq": self.broker.beam_pid()}
                if system == "warren_pg":
                    roots["postgres"] = self.pg.server.pid
                roots.update({"worker%d" % i: w.pid for i, w in enumerate(ws)})
                usage = Usage(roots)
                r = wrk(url, 8, secs, script)
                enq = r["ok_rps"] * secs
                backlog = self.amqp.depth(queue)
                rec = {"enqueue_per_s": r["ok_rps"], "done_per_s": max(0.0, enq - backlog) / secs, "backlog": backlog}
                if system == "warren_pg":
                    rec["recorder_backlog"] = self.amqp.depth("warren.events.recorder")
                    rec["stored_succeeded"] = self.pg.count_succeeded(db)
                    rec["stored_per_s"] = rec["stored_succeeded"] / secs if rec["stored_succeeded"] is not None else None
                elif system == "warren":
                    rec["recorder_backlog"] = self.amqp.depth("warren.events.recorder")
                    try:
                        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
                        rec["stored_succeeded"] = con.execute("SELECT count(*) FROM jobs WHERE state='succeeded'").fetchone()[0]
                        con.close()
                    except sqlite3.Error as e:
                        rec["stored_succeeded"] = None
                        log("sqlite: %s" % e)
                    rec["stored_per_s"] = rec["stored_succeeded"] / secs if rec["stored_succeeded"] is not None else None
                rec["usage"] = usage.finish(enq)
                for w in ws:
                    self.procs.stop(w)
                self.procs.stop(front)
                key = "sustained/%s" % system
                self.put(key, rec)
                log("%s run %d: enqueue %.0f/s done %.0f/s backlog %d %s" % (
                    key, run + 1, rec["enqueue_per_s"], rec["done_per_s"], backlog,
                    "stored %s/s" % fmt_num(rec.get("stored_per_s")) if system.startswith("warren") else ""))
        self.amqp.purge("default", "task_queue", "warren.events.recorder")

    def w_latency(self):
        secs = self.p["latency_seconds"]
        for system in ["warren", "demo", "celery", "celery_reliable"]:
            for rate in self.p["latency_rates"]:
                for run in range(self.runs):
                    self.latency_once(system, rate, secs, run)

    def latency_once(self, system, rate, secs, run):
        stamp = os.path.join(self.work, "stamp-%s-%d-%d.txt" % (system, rate, run))
        key = "latency/%s/r%d" % (system, rate)
        self.amqp.purge("default", "task_queue", "celery", "warren.events.recorder")
        front = None
        if system == "warren":
            front, port, _ = self.start_serve("latency")
            events = StartedEvents(self.broker.port)
            events.start()
            events.ready.wait(10)
        elif system == "demo":
            front, port = self.start_gunicorn()
        ws = self.start_workers(system, 2 if system in ("warren", "demo") else 1, stamp=stamp)
        self.amqp.wait_consumers({"warren": "default", "demo": "task_queue"}.get(system, "celery"), len(ws))
        time.sleep(0.5)
        if system in ("warren", "demo"):
            sent, n = open_loop(port, rate, secs, 32, "post_job" if system == "warren" else "add_job")
        else:
            # Celery has no HTTP front: its client API (.delay) at a fixed rate, from one process
            code = ("import celery_app,sys,time,json\nrate,secs=float(sys.argv[1]),float(sys.argv[2])\n"
                    "n=int(rate*secs);sent={};celery_app.noop.delay(-1)\nstart=time.time()+0.2\n"
                    "for i in range(n):\n d=start+i/rate-time.time()\n if d>0: time.sleep(d)\n"
                    " if d<-1.0: break\n"
                    " sent[str(i)]=time.time();celery_app.noop.delay(i)\n"
                    "print(json.dumps({'elapsed':time.time()-start,'sent':sent}))\n")
            r = subprocess.run([PY, "-c", code, str(rate), str(secs)], cwd=BASELINES, capture_output=True, text=True,
                               env={**os.environ, **self.env_base()}, check=True)
            out = json.loads(r.stdout)
            sent, n = out["sent"], int(rate * secs)
        # wait for the starts to come in (up to 20 s after the last send)
        deadline = time.time() + 20
        while time.time() < deadline:
            started = events.at if system == "warren" else read_stamps(stamp)
            if sum(1 for k in sent if k in started) >= len(sent):
                break
            time.sleep(0.25)
        started = dict(events.at) if system == "warren" else read_stamps(stamp)
        if system == "warren":
            events.stopping = True
            events.join(5)
        lat = [(started[k] - t) * 1000 for k, t in sent.items() if k in started]
        rec = percentiles(lat)
        times = sorted(sent.values())
        achieved = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        rec.update({"target_rate": rate, "achieved_rate": achieved,
                    "sent_ok": len(sent), "scheduled": n, "started": len(lat)})
        rec["sustained"] = rec["achieved_rate"] >= 0.95 * rate and len(lat) >= 0.99 * n
        for w in ws:
            self.procs.stop(w)
        if front:
            self.procs.stop(front)
        self.put(key, rec)
        log("%s run %d: achieved %.0f/s p50 %s p99 %s p99.9 %s ms (%d/%d started)" % (
            key, run + 1, rec["achieved_rate"], fmt_num(rec["p50"], 1), fmt_num(rec["p99"], 1),
            fmt_num(rec["p999"], 1), len(lat), n))

    # ---- driver
    def machine(self):
        cpu = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break

        def out(argv, cwd=None):
            try:
                return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                return ""

        erl = out(["erl", "-noshell", "-eval",
                   'io:format("~s", [erlang:system_info(otp_release)]), halt().'])
        return {
            "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "loadavg_at_start": open("/proc/loadavg").read().split()[:3],
            "rabbitmq": self.broker.version(), "erlang": erl,
            "python": out([PY, "--version"]).replace("Python ", ""),
            "celery": out([PY, "-c", "import celery; print(celery.__version__)"]),
            "pika": out([PY, "-c", "import pika; print(pika.__version__)"]),
            "flask": out([PY, "-c", "import flask; print(flask.__version__)"]),
            "gunicorn": out(["gunicorn", "--version"]).replace("gunicorn (version ", "").rstrip(")"),
            "warren": out(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
                      + ("-dirty" if out(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT) else ""),
        }

    def run(self):
        workloads = {"http": self.w_http, "drain": self.w_drain, "sustained": self.w_sustained,
                     "latency": self.w_latency}
        only = self.args.only.split(",") if self.args.only else list(workloads)
        t0 = time.time()
        try:
            self.broker.start()
            self.amqp = Amqp(self.broker.port)
            if not self.args.no_postgres and set(only) & {"http", "sustained"}:
                try:
                    self.pg = Postgres(self.work)
                    self.pg.start()
                except (RuntimeError, OSError, KeyError, subprocess.CalledProcessError) as e:
                    log("no PostgreSQL store variant: %s" % e)
                    if self.pg:
                        self.pg.stop()
                    self.pg = None
            info = self.machine()
            info["postgresql"] = self.pg.version if self.pg else None
            log("machine: %s" % json.dumps(info))
            for name in only:
                log("workload %s" % name)
                workloads[name]()
        finally:
            self.procs.stop_all()
            if self.pg:
                self.pg.stop()
            self.broker.stop()
        info["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
        info["wall_s"] = time.time() - t0
        return info


# ---------------------------------------------------------------- report

def aggregate(results, field):
    return summary([r.get(field) for r in results])


def build_report(bench, info):
    R = bench.results
    p = bench.p
    agg = {}
    for key, runs in R.items():
        fields = [f for f in runs[0] if isinstance(runs[0][f], (int, float)) and not isinstance(runs[0][f], bool)]
        agg[key] = {f: aggregate(runs, f) for f in fields}

    def med(key, field="jobs_per_s"):
        s = agg.get(key, {}).get(field)
        return s["median"] if s else None

    def ratio(a, b):
        return a / b if a and b else None

    ratios = {}
    c = max(p["http_conns"])
    ratios["http enqueue, c%d: Warren /add-job ÷ demo /add-job" % c] = ratio(med("http/warren/add-job/c%d" % c),
                                                                          med("http/demo/add-job/c%d" % c))
    ratios["http enqueue, c%d: Warren POST /v1/jobs ÷ demo /add-job" % c] = ratio(med("http/warren/v1-jobs/c%d" % c),
                                                                               med("http/demo/add-job/c%d" % c))
    for k in p["workers"]:
        w = med("drain/warren/w%d" % k)
        ratios["drain, %d worker(s): Warren ÷ demo" % k] = ratio(w, med("drain/demo/w%d" % k))
        ratios["drain, %d worker(s): Warren ÷ Celery default" % k] = ratio(w, med("drain/celery/w%d" % k))
        ratios["drain, %d worker(s): Warren ÷ Celery reliable" % k] = ratio(w, med("drain/celery_reliable/w%d" % k))
        ratios["drain, %d worker(s): Warren ÷ ceiling consumer" % k] = ratio(w, med("drain/ceiling/w%d" % k))
        w32 = med("drain/warren_c32/w%d" % k)
        ratios["drain, %d worker(s): Warren -c 32 ÷ Celery default" % k] = ratio(w32, med("drain/celery/w%d" % k))
        ratios["drain, %d worker(s): Warren -c 32 ÷ Celery reliable" % k] = ratio(w32,
                                                                                 med("drain/celery_reliable/w%d" % k))
        ratios["drain, %d worker(s): Warren -c 32 ÷ ceiling consumer" % k] = ratio(w32, med("drain/ceiling/w%d" % k))
        ratios["drain, %d worker(s): Warren ÷ raw consumer held to prefetch %d" % (k, p["warren_concurrency"])] = ratio(
            w, med("drain/ceiling_c%d/w%d" % (p["warren_concurrency"], k)))
        ratios["drain, %d worker(s): Warren -c 32 ÷ raw consumer held to prefetch 32" % k] = ratio(
            w32, med("drain/ceiling_c32/w%d" % k))
    ratios["sustained: Warren ÷ demo (jobs done/s)"] = ratio(med("sustained/warren", "done_per_s"),
                                                             med("sustained/demo", "done_per_s"))
    ratios["sustained: Warren PostgreSQL store ÷ SQLite store (stored/s)"] = ratio(
        med("sustained/warren_pg", "stored_per_s"), med("sustained/warren", "stored_per_s"))
    ratios["sustained: Warren ÷ ceiling publish+consume"] = ratio(med("sustained/warren", "done_per_s"),
                                                                 med("ceiling/both"))
    ratios["http enqueue: Warren POST /v1/jobs c%d ÷ ceiling publish" % c] = ratio(med("http/warren/v1-jobs/c%d" % c),
                                                                                med("ceiling/publish"))
    ratios["http enqueue: Warren /add-job c%d ÷ ceiling publish" % c] = ratio(med("http/warren/add-job/c%d" % c),
                                                                           med("ceiling/publish"))
    for ep, label in [("v1-jobs", "POST /v1/jobs"), ("add-job", "/add-job")]:
        ratios["http enqueue: Warren %s c%d ÷ raw publisher with %d in flight" % (label, c, c)] = ratio(
            med("http/warren/%s/c%d" % (ep, c)), med("http/ceiling/window/c%d" % c))
    return agg, ratios


def markdown(bench, info, agg, ratios):
    p = bench.p
    L = []
    L.append("# Warren side-by-side benchmarks (%s)" % ("quick" if bench.quick else "full"))
    L.append("")
    L.append("Machine: %s × %s, kernel %s, load average at start %s / end %s. RabbitMQ %s (Erlang/OTP %s, one "
             "node on loopback, classic durable queues), Python %s, Celery %s, pika %s, Flask %s, gunicorn %s, "
             "Warren %s. Wall time %.0f s." % (
                 info["nproc"], info["cpu"], info["kernel"], " ".join(info["loadavg_at_start"]),
                 " ".join(info["loadavg_at_end"]), info["rabbitmq"], info["erlang"], info["python"], info["celery"],
                 info["pika"], info["flask"], info["gunicorn"], info["warren"], info["wall_s"]))
    L.append("")
    if bench.runs == 1:
        L.append("**%d run per figure** (quick mode): single values, no spread. Indicative only." % bench.runs)
    else:
        L.append("Every figure: median (min–max) over %d runs." % bench.runs)
    L.append("")
    L.append("## HTTP enqueue (wrk, keep-alive, %d s; jobs/s with a 2xx answer)" % p["http_seconds"])
    L.append("")
    L.append("| system | endpoint | " + " | ".join("c=%d" % c for c in p["http_conns"]) + " |")
    L.append("| --- | --- | " + " | ".join("---:" for _ in p["http_conns"]) + " |")
    for sysname, ep, label in [("warren", "add-job", "GET /add-job/<cmd>"), ("warren", "v1-jobs", "POST /v1/jobs"),
                               ("warren_pg", "v1-jobs", "POST /v1/jobs, PostgreSQL store"),
                               ("warren", "v1-jobs-batch", "POST /v1/jobs/batch (%d jobs)" % p["batch_size"]),
                               ("demo", "add-job", "Flask GET /add-job/<cmd> (gunicorn -w 4)"),
                               ("ceiling", "window", "raw rabbitmq-c publisher, at most c unconfirmed (no HTTP)")]:
        cells = [fmt_summary(agg.get("http/%s/%s/c%d" % (sysname, ep, c), {}).get("jobs_per_s")) for c in p["http_conns"]]
        if all(c == "n/a" for c in cells):
            continue
        L.append("| %s | %s | %s |" % ({"demo": "demo", "ceiling": "ceiling"}.get(sysname, "Warren"), label,
                                        " | ".join(cells)))
    if "enqueue/celery/delay" in agg:
        L.append("| Celery | `.delay()` from one Python process (no HTTP) | %s | |" %
                 fmt_summary(agg["enqueue/celery/delay"]["jobs_per_s"]))
    window = [(c, agg.get("http/ceiling/window/c%d" % c, {})) for c in p["http_conns"]]
    if any(w for _, w in window):
        L.append("")
        L.append("The raw publisher's publish-to-confirm latency, p50 / p99 ms: " + "; ".join(
            "%d in flight %s / %s" % (c, fmt_summary(w.get("p50_ms"), 2), fmt_summary(w.get("p99_ms"), 2))
            for c, w in window if w) + ". Closed-loop clients at that concurrency can go no faster.")
    L.append("")
    L.append("## Drain: %s queued no-op jobs (jobs/s)" % fmt_num(p["drain_jobs"]))
    L.append("")
    L.append("| system | " + " | ".join("%d worker%s" % (k, "s" if k > 1 else "") for k in p["workers"]) + " |")
    L.append("| --- | " + " | ".join("---:" for _ in p["workers"]) + " |")
    for sysname, label in [("warren", "Warren `work` (warren.noop, concurrency %d)" % p["warren_concurrency"]),
                           ("warren_c32", "Warren `work` (warren.noop, concurrency 32)"),
                           ("demo", "demo pika worker (prefetch 1)"), ("celery", "Celery default (prefork -c 2)"),
                           ("celery_reliable", "Celery acks_late + prefetch 1 (prefork -c 2)"),
                           ("ceiling", "ceiling: rabbitmq-c, prefetch 1000, multiple-ack 100"),
                           ("ceiling_c%d" % p["warren_concurrency"],
                            "rabbitmq-c held to prefetch %d, an ack per message" % p["warren_concurrency"]),
                           ("ceiling_c32", "rabbitmq-c held to prefetch 32, an ack per message")]:
        if not any("drain/%s/w%d" % (sysname, k) in agg for k in p["workers"]):
            continue
        cells = [fmt_summary(agg.get("drain/%s/w%d" % (sysname, k), {}).get("jobs_per_s")) for k in p["workers"]]
        L.append("| %s | %s |" % (label, " | ".join(cells)))
    L.append("")
    L.append("Raw broker, same run: publish with confirms every 1,000: %s msg/s; publish + consume at once: %s msg/s." % (
        fmt_summary(agg.get("ceiling/publish", {}).get("jobs_per_s")),
        fmt_summary(agg.get("ceiling/both", {}).get("jobs_per_s"))))
    L.append("")
    L.append("## Sustained end-to-end (%d s: wrk -c8 enqueues while 2 workers run)" % p["sustained_seconds"])
    L.append("")
    L.append("| system | enqueued/s | done/s | queue backlog at end | stored succeeded/s | recorder backlog |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for sysname, label in [("warren", "Warren: POST /v1/jobs, 2 × work -c %d, recorder → SQLite" % p["warren_concurrency"]),
                           ("warren_pg", "Warren, the same with the PostgreSQL store"),
                           ("demo", "demo: Flask /add-job, 2 pika workers")]:
        if "sustained/%s" % sysname not in agg:
            continue
        a = agg.get("sustained/%s" % sysname, {})
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            label, fmt_summary(a.get("enqueue_per_s")), fmt_summary(a.get("done_per_s")), fmt_summary(a.get("backlog")),
            fmt_summary(a.get("stored_per_s")) if sysname != "demo" else "–",
            fmt_summary(a.get("recorder_backlog")) if sysname != "demo" else "–"))
    L.append("")
    L.append("## Enqueue-to-start latency, ms (open loop, %d s per rate)" % p["latency_seconds"])
    L.append("")
    L.append("| system | rate/s | achieved/s | p50 | p99 | p99.9 | note |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for sysname, label in [("warren", "Warren (POST /v1/jobs → `started` event)"),
                           ("demo", "demo (Flask → pika callback)"), ("celery", "Celery default (.delay → task)"),
                           ("celery_reliable", "Celery reliable (.delay → task)")]:
        for rate in p["latency_rates"]:
            key = "latency/%s/r%d" % (sysname, rate)
            if key not in agg:
                continue
            a = agg[key]
            runs = bench.results[key]
            note = "" if all(r["sustained"] for r in runs) else "**not sustained** (sent or started < target)"
            L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                label, fmt_num(rate), fmt_summary(a.get("achieved_rate")), fmt_summary(a.get("p50"), 1),
                fmt_summary(a.get("p99"), 1), fmt_summary(a.get("p999"), 1), note))
    L.append("")
    L.append("## Resources (peak RSS summed over the process tree; CPU seconds per 10,000 jobs; medians)")
    L.append("")
    L.append("rabbitmq's and postgres's peak RSS is their peak since they started for the run, not per workload.")
    L.append("")
    L.append("| workload | process | peak RSS MB | CPU s / 10k jobs |")
    L.append("| --- | --- | ---: | ---: |")
    rows = []
    for k in p["workers"][:1]:
        for sysname in ["warren", "demo", "celery", "celery_reliable"]:
            rows.append(("drain/%s/w%d" % (sysname, k), "drain %s, 1 worker" % sysname))
    c = max(p["http_conns"])
    rows += [("http/warren/v1-jobs/c%d" % c, "HTTP POST /v1/jobs c=%d" % c),
             ("http/warren_pg/v1-jobs/c%d" % c, "HTTP POST /v1/jobs c=%d, PostgreSQL" % c),
             ("http/warren/add-job/c%d" % c, "HTTP Warren /add-job c=%d" % c),
             ("http/demo/add-job/c%d" % c, "HTTP demo /add-job c=%d" % c),
             ("sustained/warren", "sustained Warren"), ("sustained/warren_pg", "sustained Warren, PostgreSQL"),
             ("sustained/demo", "sustained demo")]
    for key, label in rows:
        runs = bench.results.get(key)
        if not runs or not runs[0].get("usage"):
            continue
        for proc in runs[0]["usage"]:
            rss = summary([r["usage"][proc]["peak_rss_mb"] for r in runs])
            cpu = summary([r["usage"][proc]["cpu_s_per_10k"] for r in runs])
            L.append("| %s | %s | %s | %s |" % (label, proc, fmt_num(rss["median"], 1) if rss else "n/a",
                                                fmt_num(cpu["median"], 2) if cpu else "n/a"))
    L.append("")
    L.append("## Ratios (medians)")
    L.append("")
    L.append("| comparison | ratio |")
    L.append("| --- | ---: |")
    for name, r in ratios.items():
        L.append("| %s | %s |" % (name, "n/a" if r is None else "%.2f×" % r))
    L.append("")
    return "\n".join(L)


def plots(bench, agg, base):
    """PNG bar charts with gnuplot (if installed): throughput per system, latency per system."""
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plots")
        return []
    made = []
    p = bench.p
    tp = [("Warren POST /v1/jobs", "http/warren/v1-jobs/c%d" % max(p["http_conns"])),
          ("Warren /add-job", "http/warren/add-job/c%d" % max(p["http_conns"])),
          ("demo /add-job", "http/demo/add-job/c%d" % max(p["http_conns"]))]
    for k in p["workers"]:
        for s, lab in [("warren", "Warren"), ("warren_c32", "Warren -c32"), ("demo", "demo"), ("celery", "Celery"),
                       ("celery_reliable", "Celery rel."), ("ceiling", "ceiling")]:
            tp.append(("drain %s w%d" % (lab, k), "drain/%s/w%d" % (s, k)))
    rows = [(l, agg[k]["jobs_per_s"]) for l, k in tp if k in agg and agg[k].get("jobs_per_s")]
    lrows = []
    for s, lab in [("warren", "Warren"), ("demo", "demo"), ("celery", "Celery"), ("celery_reliable", "Celery rel.")]:
        for rate in p["latency_rates"]:
            a = agg.get("latency/%s/r%d" % (s, rate))
            if a and a.get("p50"):
                lrows.append(("%s @%d/s" % (lab, rate), a["p50"], a["p99"], a["p999"]))
    if rows:
        dat = base + "-throughput.dat"
        with open(dat, "w") as f:
            for i, (l, s) in enumerate(rows):
                f.write('%d "%s" %f %f %f\n' % (i, l, s["median"], s["min"], s["max"]))
        png = base + "-throughput.png"
        script = ('set terminal pngcairo size 1100,600 noenhanced; set output "%s"; set title "Throughput (jobs/s, median, '
                  'min-max)"; set style fill solid 0.6; set boxwidth 0.7; set xtics rotate by -40 font ",9"; '
                  'set logscale y; set grid ytics; unset key; plot "%s" using 1:3:xtic(2) with boxes, '
                  '"" using 1:3:4:5 with yerrorbars lc rgb "black"\n' % (png, dat))
        if subprocess.run(["gnuplot"], input=script, text=True).returncode == 0:
            made.append(png)
    if lrows:
        dat = base + "-latency.dat"
        with open(dat, "w") as f:
            for i, (l, p50, p99, p999) in enumerate(lrows):
                f.write('%d "%s" %f %f %f\n' % (i, l, p50["median"], p99["median"] if p99 else 0,
                                                 p999["median"] if p999 else 0))
        png = base + "-latency.png"
        script = ('set terminal pngcairo size 1100,600 noenhanced; set output "%s"; set title "Enqueue-to-start latency '
                  '(ms, median of runs)"; set style data histograms; set style histogram clustered; set style fill '
                  'solid 0.6; set xtics rotate by -40 font ",9"; set logscale y; set grid ytics; set key top left; '
                  'plot "%s" using 3:xtic(2) title "p50", "" using 4 title "p99", "" using 5 title "p99.9"\n' % (png, dat))
        if subprocess.run(["gnuplot"], input=script, text=True).returncode == 0:
            made.append(png)
    return made


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short durations, 20,000 jobs, 1 run per figure")
    ap.add_argument("--runs", type=int, help="runs per figure (default 3, quick 1)")
    ap.add_argument("--only", help="comma-separated subset of http,drain,sustained,latency")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL store variant")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs) for inspection")
    args = ap.parse_args()
    for path in (WARREN, CEILING, OPEN_LOOP):
        if not os.path.exists(path):
            sys.exit("bench: %s is missing: cmake --build build --target warren warren_bench_ceiling "
                     "warren_bench_open_loop" % path)
    bench = Bench(args)
    try:
        info = bench.run()
        agg, ratios = build_report(bench, info)
        os.makedirs(args.out, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        base = os.path.join(args.out, "system-%s%s" % ("quick-" if args.quick else "", stamp))
        md = markdown(bench, info, agg, ratios)
        pngs = plots(bench, agg, base)
        for png in pngs:
            md += "\n![%s](%s)\n" % (os.path.basename(png), os.path.basename(png))
        with open(base + ".md", "w") as f:
            f.write(md)
        with open(base + ".json", "w") as f:
            json.dump({"mode": "quick" if args.quick else "full", "machine": info, "parameters": bench.p,
                       "summary": agg, "ratios": ratios, "runs": bench.results}, f, indent=1)
        print(md)
        log("results: %s.{md,json} %s" % (base, " ".join(pngs)))
    finally:
        if args.keep:
            log("kept %s" % bench.work)
        else:
            shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    main()
