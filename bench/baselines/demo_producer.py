"""The classic demo's Flask producer, as the demo has it: a new pika connection per request,
queue_declare(durable=True), one persistent plain-text message, connection closed. Run under gunicorn:

    BENCH_AMQP_PORT=5672 gunicorn -w 4 -b 127.0.0.1:PORT --chdir bench/baselines demo_producer:app
"""
import os

import pika
from flask import Flask

app = Flask(__name__)
AMQP_PORT = int(os.environ.get("BENCH_AMQP_PORT", "5672"))


@app.route("/")
def index():
    return "OK"


@app.route("/add-job/<cmd>")
def add(cmd):
    connection = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=AMQP_PORT))
    channel = connection.channel()
    channel.queue_declare(queue="task_queue", durable=True)
    channel.basic_publish(
        exchange="",
        routing_key="task_queue",
        body=cmd,
        properties=pika.BasicProperties(delivery_mode=2),  # make message persistent
    )
    connection.close()
    return " [x] Sent: " + cmd
