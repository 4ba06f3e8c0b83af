// A worker binary built on the C++ SDK, with two handlers:
//   resize {"src": "a.png", "width": 640}  pretends to resize an image in steps, reporting progress and
//                                          stopping early when cancelled or timed out;
//   checksum {"text": "..."}               returns a result at once, and rejects bad args for good.
// Run: warren_example_worker [amqp-url] [queue]   (Ctrl-C drains and exits)
#include <cstdint>
#include <iostream>
#include <string>

#include <warren/warren.hpp>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;

  warren::WorkerOptions options;
  if (argc > 1) {
    options.amqp_url = argv[1];
  }
  if (argc > 2) {
    options.queues = {argv[2]};
  }
  options.concurrency = 2;
  warren::configure_logging("info");

  warren::Worker worker(options);

  worker.handle("resize", [](warren::JobContext& job) -> nlohmann::json {
    const auto src = job.args().at("src").get<std::string>();
    const int width = job.args().value("width", 640);
    job.log("resizing " + src + " to width " + std::to_string(width));
    constexpr int kSteps = 5;
    for (int step = 1; step <= kSteps; ++step) {
      if (!job.sleep_for(200ms)) {
        // Cancelled, timed out or the worker is stopping: a failed attempt (reported as cancelled
        // after a cancel, retried after a timeout).
        throw warren::RetryableError("stopped at step " + std::to_string(step));
      }
      job.progress(step * 100 / kSteps, "step " + std::to_string(step) + " of " + std::to_string(kSteps));
    }
    return {{"src", src}, {"width", width}, {"out", src + ".w" + std::to_string(width)}};
  });

  worker.handle("checksum", [](warren::JobContext& job) {
    if (!job.args().contains("text") || !job.args()["text"].is_string()) {
      throw warren::FatalError("args.text: expected a string");  // no retry can fix this
    }
    std::uint32_t sum = 0;
    for (const unsigned char c : job.args()["text"].get<std::string>()) {
      sum = sum * 31 + c;
    }
    return sum;  // anything convertible to nlohmann::json
  });

  std::cerr << "handling resize, checksum; Ctrl-C to stop\n";
  return worker.run();
}
