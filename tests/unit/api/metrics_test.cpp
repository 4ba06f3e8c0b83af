#include "api/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace warren::api {
namespace {

using ::testing::HasSubstr;
using std::chrono::milliseconds;

TEST(Metrics, RouteLabelsAreTheRoutesPatternOrUnmatchedWithAKnownMethod) {
  EXPECT_EQ(Metrics::RouteLabel("GET", "/v1/jobs/{id}"), "GET /v1/jobs/{id}");
  EXPECT_EQ(Metrics::RouteLabel("POST", "/v1/jobs/{id}/cancel"), "POST /v1/jobs/{id}/cancel");
  EXPECT_EQ(Metrics::RouteLabel("GET", "/add-job/{cmd}"), "GET /add-job/{cmd}");
  EXPECT_EQ(Metrics::RouteLabel("GET", "/"), "GET /");
  EXPECT_EQ(Metrics::RouteLabel("GET", ""), "GET (unmatched)");
  EXPECT_EQ(Metrics::RouteLabel("PATCH", ""), "PATCH (unmatched)");
  EXPECT_EQ(Metrics::RouteLabel("FOO42", ""), "other (unmatched)");
  EXPECT_EQ(Metrics::RouteLabel("get", ""), "other (unmatched)");  // methods are case-sensitive
}

TEST(Metrics, RendersCountersAndHistogramsInTheTextFormat) {
  Metrics metrics;
  metrics.CountRequest("POST /v1/jobs", 202);
  metrics.CountRequest("POST /v1/jobs", 202);
  metrics.CountEnqueued("default", "resize", 3);
  metrics.ObserveConfirm(0.002);

  JobRecord record;
  record.id = "job-1";
  record.spec.type = "resize";
  record.spec.queue = "default";
  record.created_at = TimePoint(milliseconds(1000));
  Attempt attempt;
  attempt.number = 1;
  attempt.started_at = TimePoint(milliseconds(1500));
  record.attempts.push_back(attempt);
  JobEvent started;
  started.job_id = "job-1";
  started.kind = EventKind::kStarted;
  started.attempt = 1;
  started.at = TimePoint(milliseconds(1500));
  JobEvent succeeded = started;
  succeeded.kind = EventKind::kSucceeded;
  succeeded.at = TimePoint(milliseconds(1520));
  JobEvent duplicate = succeeded;
  duplicate.job_id = "job-unchanged";  // not among the changed records: changed nothing, not counted
  metrics.CountEvents({started, succeeded, duplicate}, {record});

  const std::string text = metrics.Render("warren_workers 2\n");
  EXPECT_THAT(text, HasSubstr("# TYPE warren_http_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("warren_http_requests_total{route=\"POST /v1/jobs\",status=\"202\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("warren_jobs_enqueued_total{queue=\"default\",type=\"resize\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("warren_jobs_started_total{queue=\"default\",type=\"resize\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("warren_jobs_succeeded_total{queue=\"default\",type=\"resize\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("warren_job_wait_seconds_bucket{queue=\"default\",type=\"resize\",le=\"0.5\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("warren_job_wait_seconds_bucket{queue=\"default\",type=\"resize\",le=\"0.25\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("warren_job_run_seconds_count{queue=\"default\",type=\"resize\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("warren_publish_confirm_seconds_bucket{le=\"0.0025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("warren_publish_confirm_seconds_count 1\n"));
  EXPECT_THAT(text, HasSubstr("warren_workers 2\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE warren_jobs_dead_total counter\n")) << "every family is declared";
}

}  // namespace
}  // namespace warren::api
