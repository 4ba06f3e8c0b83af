#include "api/metrics.hpp"

#include <fmt/format.h>

#include "core/log.hpp"

namespace warren::api {
namespace {

// Label values are escaped as the exposition format wants: backslash, quote, newline.
std::string Escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view CounterName(EventKind kind) {
  switch (kind) {
    case EventKind::kStarted: return "started";
    case EventKind::kSucceeded: return "succeeded";
    case EventKind::kFailed: return "failed";
    case EventKind::kRetrying: return "retried";
    case EventKind::kDead: return "dead";
    case EventKind::kCancelled: return "cancelled";
    case EventKind::kExpired: return "expired";
    case EventKind::kProgress: return "";
    case EventKind::kLog: return "";
  }
  return "";
}

// Warren's routes use a few of these; an unknown method is answered 405 and counted as "other".
std::string_view BoundedMethod(std::string_view method) {
  for (const std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}) {
    if (method == known) {
      return known;
    }
  }
  return "other";
}

}  // namespace

void Metrics::Histogram::Observe(double seconds) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++buckets[i];
    }
  }
  ++count;
  sum += seconds;
}

std::string Metrics::RouteLabel(std::string_view method, std::string_view pattern) {
  return fmt::format("{} {}", BoundedMethod(method),
                     pattern.empty() ? std::string_view("(unmatched)") : pattern);
}

void Metrics::CountRequest(std::string_view route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), status}];
}

void Metrics::CountEnqueued(std::string_view queue, std::string_view type, size_t n) {
  std::lock_guard lock(mu_);
  jobs_[{"enqueued", std::string(queue), std::string(type)}] += n;
}

void Metrics::CountEvents(const std::vector<JobEvent>& events, const std::vector<JobRecord>& changed) {
  std::map<std::string_view, const JobRecord*> by_id;
  for (const auto& record : changed) {
    by_id[record.id] = &record;
  }
  std::lock_guard lock(mu_);
  for (const auto& event : events) {
    const auto it = by_id.find(event.job_id);
    const std::string_view what = CounterName(event.kind);
    if (it == by_id.end() || what.empty()) {
      continue;  // a duplicate that changed nothing, or progress
    }
    const JobRecord& record = *it->second;
    const std::tuple<std::string, std::string> key{record.spec.queue, record.spec.type};
    ++jobs_[{std::string(what), record.spec.queue, record.spec.type}];
    if (event.kind == EventKind::kStarted && event.attempt == 1) {
      wait_seconds_[key].Observe(std::max<double>(0, (event.at - record.created_at).count() / 1000.0));
    }
    if (event.kind == EventKind::kSucceeded || event.kind == EventKind::kRetrying ||
        event.kind == EventKind::kFailed || event.kind == EventKind::kDead) {
      for (const auto& attempt : record.attempts) {
        if (attempt.number == event.attempt && attempt.started_at) {
          run_seconds_[key].Observe(std::max<double>(0, (event.at - *attempt.started_at).count() / 1000.0));
        }
      }
    }
  }
}

void Metrics::ObserveConfirm(double seconds) {
  std::lock_guard lock(mu_);
  confirm_seconds_.Observe(seconds);
}

void Metrics::RenderHistogram(std::string& out, std::string_view name, std::string_view labels,
                              const Histogram& h) {
  const std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, kBuckets[i], h.buckets[i]);
  }
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, h.count);
  out += fmt::format("{}_sum{}{} {}\n", name, labels.empty() ? "" : "{", labels.empty() ? "" : std::string(labels) + "}",
                     h.sum);
  out += fmt::format("{}_count{}{} {}\n", name, labels.empty() ? "" : "{",
                     labels.empty() ? "" : std::string(labels) + "}", h.count);
}

std::string Metrics::Render(std::string_view gauges) const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP warren_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE warren_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("warren_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", Escape(std::get<0>(key)),
                       std::get<1>(key), n);
  }
  for (const std::string_view what :
       {"enqueued", "started", "succeeded", "failed", "retried", "dead", "expired", "cancelled"}) {
    out += fmt::format("# HELP warren_jobs_{}_total Jobs {}, by queue and type.\n", what, what);
    out += fmt::format("# TYPE warren_jobs_{}_total counter\n", what);
    for (const auto& [key, n] : jobs_) {
      if (std::get<0>(key) == what) {
        out += fmt::format("warren_jobs_{}_total{{queue=\"{}\",type=\"{}\"}} {}\n", what, Escape(std::get<1>(key)),
                           Escape(std::get<2>(key)), n);
      }
    }
  }
  out += "# HELP warren_job_run_seconds How long attempts ran, by queue and type.\n";
  out += "# TYPE warren_job_run_seconds histogram\n";
  for (const auto& [key, h] : run_seconds_) {
    RenderHistogram(out, "warren_job_run_seconds",
                    fmt::format("queue=\"{}\",type=\"{}\"", Escape(std::get<0>(key)), Escape(std::get<1>(key))), h);
  }
  out += "# HELP warren_job_wait_seconds From enqueue to the first attempt's start, by queue and type.\n";
  out += "# TYPE warren_job_wait_seconds histogram\n";
  for (const auto& [key, h] : wait_seconds_) {
    RenderHistogram(out, "warren_job_wait_seconds",
                    fmt::format("queue=\"{}\",type=\"{}\"", Escape(std::get<0>(key)), Escape(std::get<1>(key))), h);
  }
  out += "# HELP warren_publish_confirm_seconds From publish to the broker's confirm, for the API's publishes.\n";
  out += "# TYPE warren_publish_confirm_seconds histogram\n";
  RenderHistogram(out, "warren_publish_confirm_seconds", "", confirm_seconds_);
  out += gauges;
  return out;
}

}  // namespace warren::api
