#include "worker/job.hpp"

#include "amqp/topology.hpp"

namespace warren::worker {

Job JobFromDelivery(const amqp::Delivery& delivery) {
  Job job;
  job.queue = delivery.queue;
  job.redelivered = delivery.redelivered;
  auto typed = amqp::DecodeJobMessage(delivery);
  if (!typed) {
    job.id = delivery.message_id;
    job.seed_style = true;
    job.type = delivery.body;
    return job;
  }
  job.id = std::move(typed->id);
  job.type = std::move(typed->type);
  job.args = std::move(typed->args);
  job.attempt = typed->attempt;
  job.max_attempts = typed->max_attempts;
  job.timeout = typed->timeout;
  job.deadline = typed->deadline;
  job.not_before = typed->not_before;
  job.history = std::move(typed->history);
  job.stored = typed->stored;
  job.retried_at = typed->retried_at;
  return job;
}

}  // namespace warren::worker
