#!/usr/bin/env python3
"""What RabbitMQ itself spends per job at a fixed rate, against what it spends for Warren at that rate.

    bench/system/broker_floor.py [--rate 1000] [--seconds 10] [--runs 2]

The floor is the least broker work a job system with Warren's guarantees asks for per job, done by
pika clients with nothing else to do: a persistent job message published with a confirm awaited per
message (a request's enqueue), delivered to one of two consumers (prefetch 1) that publishes a
persistent outcome message, awaits its confirm and then acks the job, and a third consumer that acks
the outcomes. Warren: `warren serve` (SQLite) and two `warren work --concurrency 1`, fed by the
open-loop generator (POST /v1/jobs) at the same rate. Both against one broker started for the run,
alternating, `--runs` times each. Reports RabbitMQ's CPU ms per job (utime + stime of its process
tree over the window) and its clients' (Warren: serve and the workers; the floor: the two consumers and
the outcome consumer; neither counts the load generator). Stdlib and Debian's python3-pika only.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the side-by-side driver: its broker, process and CPU helpers)

JOBS, OUTCOMES = "floor.jobs", "floor.outcomes"


def role(name, url, rate=0, seconds=0):
    """One pika client of the floor pipeline (run as a child process)."""
    import pika
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.queue_declare(JOBS, durable=True)
    ch.queue_declare(OUTCOMES, durable=True)
    persistent = pika.BasicProperties(delivery_mode=2)
    if name == "enqueue":
        ch.confirm_delivery()
        t0 = time.time()
        for n in range(int(rate * seconds)):
            wait = t0 + n / rate - time.time()
            if wait > 0:
                time.sleep(wait)
            ch.basic_publish("", JOBS, b'{"type":"noop","args":{}}', persistent)
        return
    if name == "worker":
        out = conn.channel()
        out.confirm_delivery()
        ch.basic_qos(prefetch_count=1)

        def run_job(chan, method, _props, _body):
            out.basic_publish("", OUTCOMES, b'{"event":"succeeded"}', persistent)
            chan.basic_ack(method.delivery_tag)
        ch.basic_consume(JOBS, run_job)
    else:  # recorder
        ch.basic_qos(prefetch_count=1000)
        ch.basic_consume(OUTCOMES, lambda chan, method, _p, _b: chan.basic_ack(method.delivery_tag))
    ch.start_consuming()


def measure(broker, procs, work, args, system):
    me = [run.PY, os.path.abspath(__file__), "--role"]
    children = []
    if system == "floor":
        for r in ("worker", "worker", "recorder"):
            children.append(procs.start(r, me + [r, "--url", broker.url]))
        time.sleep(2)
    else:
        port = run.free_port()
        db = os.path.join(work, "warren-%d.db" % time.time_ns())
        children.append(procs.start("serve", [run.WARREN, "serve", "--listen", "127.0.0.1:%d" % port, "--amqp-url",
                                              broker.url, "--store", "sqlite:" + db],
                                    logfile=os.path.join(work, "serve.log")))
        for _ in range(2):
            children.append(procs.start("work", [run.WARREN, "work", "--amqp-url", broker.url, "--queue", "default",
                                                 "--concurrency", "1"], logfile=os.path.join(work, "work.log")))
        run.wait_port(port)
        time.sleep(3)  # readiness, queues declared and settled
    usage = run.Usage({"rabbitmq": broker.server.pid, **{"%s%d" % (system, i): p.pid for i, p in enumerate(children)}})
    jobs = int(args.rate * args.seconds)
    if system == "floor":
        enqueue = procs.start("enqueue", me + ["enqueue", "--url", broker.url, "--rate", str(args.rate),
                                               "--seconds", str(args.seconds)])
        enqueue.wait(args.seconds + 60)
        procs.stop(enqueue)
    else:
        run.open_loop(port, args.rate, args.seconds, 32, "post_job")
    time.sleep(1)  # the last jobs' outcomes
    used = usage.finish(jobs)
    for p in children:
        procs.stop(p)
    own = sum(v["cpu_s"] for k, v in used.items() if k != "rabbitmq") * 1000 / jobs
    return used["rabbitmq"]["cpu_s"] * 1000 / jobs, own


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role:
        return role(args.role, args.url, args.rate, args.seconds)
    work = tempfile.mkdtemp(prefix="warren-floor-")
    broker = run.Broker(work)
    procs = run.Procs()
    rows = []
    try:
        broker.start()
        for i in range(args.runs):
            for system in ("floor", "warren"):
                b, own = measure(broker, procs, work, args, system)
                run.log("run %d %s: rabbitmq %.3f ms/job, clients %.3f ms/job" % (i + 1, system, b, own))
                rows.append((system, b, own))
    finally:
        procs.stop_all()
        broker.stop()
    print("\n| system | rabbitmq CPU ms/job | its clients' CPU ms/job |\n| --- | ---: | ---: |")
    for system, b, own in rows:
        print("| %s | %.3f | %.3f |" % (system, b, own))
    floor = statistics.median(b for s, b, _ in rows if s == "floor")
    warren = statistics.median(b for s, b, _ in rows if s == "warren")
    print("\nat %d jobs/s: Warren's broker cost / the floor's, medians: %.2f" % (args.rate, warren / floor))


if __name__ == "__main__":
    main()
