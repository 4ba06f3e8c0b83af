#!/usr/bin/python3
"""The classic demo's pika worker: consumes `task_queue` with prefetch 1 and manual acks.

    worker.py [--host H] [--port P]
"""
import argparse
import sys

import pika


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5672)
    args = parser.parse_args()
    connection = pika.BlockingConnection(pika.ConnectionParameters(host=args.host, port=args.port))
    channel = connection.channel()
    channel.queue_declare(queue="task_queue", durable=True)
    print(" [*] Waiting for messages.", flush=True)

    def callback(ch, method, properties, body):
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
