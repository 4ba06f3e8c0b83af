#include "worker/job.hpp"

namespace warren::worker {

Job JobFromDelivery(const amqp::Delivery& delivery) {
  Job job;
  job.id = delivery.message_id;
  job.queue = delivery.queue;
  job.redelivered = delivery.redelivered;
  if (delivery.type.empty()) {
    job.seed_style = true;
    job.type = delivery.body;
    return job;
  }
  job.type = delivery.type;
  job.args = nlohmann::json::parse(delivery.body, nullptr, /*allow_exceptions=*/false);
  if (job.args.is_discarded()) {
    job.args = delivery.body;
  }
  return job;
}

}  // namespace warren::worker
