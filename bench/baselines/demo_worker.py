#!/usr/bin/python3
"""The classic demo's pika worker (as examples/demo/worker.py): prefetch 1, manual acks, prints.

Bench addition: with BENCH_STAMP=FILE it appends "<body> <unix time>" when a message's callback starts,
for the enqueue-to-start latency workload. Port from BENCH_AMQP_PORT.
"""
import os
import sys
import time

import pika


def main():
    port = int(os.environ.get("BENCH_AMQP_PORT", "5672"))
    stamp_path = os.environ.get("BENCH_STAMP")
    stamp = open(stamp_path, "a", buffering=1) if stamp_path else None
    connection = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=port))
    channel = connection.channel()
    channel.queue_declare(queue="task_queue", durable=True)
    print(" [*] Waiting for messages.", flush=True)

    def callback(ch, method, properties, body):
        if stamp:
            stamp.write("%s %.6f\n" % (body.decode(), time.time()))
        cmd = body.decode()
        print(" [x] Received %s" % cmd)
        if cmd == "hey":
            print("hey there")
        elif cmd == "hello":
            print("well hello there")
        else:
            print("sorry i did not understand " + cmd)
        print(" [x] Done", flush=True)
        ch.basic_ack(delivery_tag=method.delivery_tag)

    channel.basic_qos(prefetch_count=1)
    channel.basic_consume(queue="task_queue", on_message_callback=callback)
    try:
        channel.start_consuming()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
