#!/usr/bin/python3
"""Publishes commands to `task_queue` exactly as the classic Flask demo's /add-job/<cmd> does:
a new connection per message, queue_declare(durable=True), a persistent plain-text body.

    producer.py [--host H] [--port P] CMD [CMD ...]
"""
import argparse

import pika


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5672)
    parser.add_argument("commands", nargs="+")
    args = parser.parse_args()
    for cmd in args.commands:
        connection = pika.BlockingConnection(pika.ConnectionParameters(host=args.host, port=args.port))
        channel = connection.channel()
        channel.queue_declare(queue="task_queue", durable=True)
        channel.basic_publish(
            exchange="",
            routing_key="task_queue",
            body=cmd,
            properties=pika.BasicProperties(delivery_mode=2),
        )
        print(" [x] Sent: " + cmd, flush=True)
        connection.close()


if __name__ == "__main__":
    main()
