"""Celery 5 with a no-op task, for bench/system. Broker port from BENCH_AMQP_PORT.

BENCH_CELERY_RELIABLE=1 selects the reliable configuration: acks_late=True (ack after the task ran, so
a crashed worker's task is redelivered) and worker_prefetch_multiplier=1. Otherwise Celery's defaults
(ack on receipt, prefetch multiplier 4). BENCH_STAMP=FILE: each task appends "<seq> <unix time>" at
its start, for the latency workload.

    celery -A celery_app worker -P prefork -c 2
"""
import os
import time

from celery import Celery

app = Celery("bench", broker="amqp://guest:guest@127.0.0.1:%s//" % os.environ.get("BENCH_AMQP_PORT", "5672"))
app.conf.task_ignore_result = True
if os.environ.get("BENCH_CELERY_RELIABLE") == "1":
    app.conf.task_acks_late = True
    app.conf.worker_prefetch_multiplier = 1

_stamp_path = os.environ.get("BENCH_STAMP")
_stamp = None


@app.task(name="bench.noop")
def noop(seq=None):
    global _stamp
    if _stamp_path:
        if _stamp is None:
            _stamp = open(_stamp_path, "a", buffering=1)
        _stamp.write("%s %.6f\n" % (seq, time.time()))
    return None
