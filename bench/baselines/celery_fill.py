#!/usr/bin/python3
"""Queues N `bench.noop` tasks for Celery fast: Celery's own protocol-2 message (built by
app.amqp.as_task_v2, as .delay() builds it) published with pika, persistent, to the `celery` queue.
Used by bench/system/run.py to fill the queue for the drain workload; Celery's own .delay() rate is
measured separately.

    BENCH_AMQP_PORT=5672 celery_fill.py N
"""
import json
import os
import sys
import uuid

import pika

import celery_app


def main():
    n = int(sys.argv[1])
    port = int(os.environ.get("BENCH_AMQP_PORT", "5672"))
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    ch = conn.channel()
    ch.queue_declare("celery", durable=True)
    for i in range(n):
        task_id = str(uuid.uuid4())
        m = celery_app.app.amqp.as_task_v2(task_id, "bench.noop", args=(i,), kwargs={})
        ch.basic_publish("", "celery", json.dumps(m.body),
                         pika.BasicProperties(content_type="application/json", content_encoding="utf-8",
                                              delivery_mode=2, priority=0, correlation_id=task_id, reply_to="",
                                              headers=m.headers))
    conn.close()


if __name__ == "__main__":
    main()
