// Prometheus metrics of `serve`, rendered in the text exposition format at GET /metrics. Counters and
// histograms are kept here, fed by the HTTP layer, the jobs API and the recorder; gauges (queue depth,
// workers, broker state) are read at scrape time by the route. Thread-safe.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/job.hpp"

namespace warren::api {

class Metrics {
 public:
  // Seconds; the +Inf bucket is implied.
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    5,     30};

  void CountRequest(std::string_view route, int status);
  void CountEnqueued(std::string_view queue, std::string_view type, size_t n = 1);
  // Lifecycle events the recorder applied, with the record they changed (for queue, type and times).
  void CountEvents(const std::vector<JobEvent>& events, const std::vector<JobRecord>& changed);
  void ObserveConfirm(double seconds);

  // Counters and histograms as text; `gauges` (already formatted lines) are appended.
  std::string Render(std::string_view gauges) const;

  // The route label of a request: its method and the pattern of the route that took it
  // ("GET /v1/jobs/{id}"), or "(unmatched)" after the method when none did (an empty pattern), the
  // method itself "other" unless a standard one. Clients send any path and method: neither reaches a
  // label as sent, so the label set stays bounded.
  static std::string RouteLabel(std::string_view method, std::string_view pattern);

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
    void Observe(double seconds);
  };
  static void RenderHistogram(std::string& out, std::string_view name, std::string_view labels, const Histogram& h);

  mutable std::mutex mu_;
  std::map<std::tuple<std::string, int>, uint64_t> requests_;                      // route, status
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> jobs_;     // what, queue, type
  std::map<std::tuple<std::string, std::string>, Histogram> run_seconds_;          // queue, type
  std::map<std::tuple<std::string, std::string>, Histogram> wait_seconds_;         // queue, type
  Histogram confirm_seconds_;
};

}  // namespace warren::api
