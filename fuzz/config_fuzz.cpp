// Fuzz target `config`: a TOML config file, read as `--config FILE` reads it (LoadSettings: toml++,
// every [section] key, [jobs.TYPE] command jobs, [[periodic]] schedules with their time zones), then
// what serve and work do first with what it accepted (each periodic job's next ticks and tick job;
// each command template checked again). For every input: no crash, no undefined behaviour, and either
// Settings or a ConfigError (the one-line start-up failure): no other exception may escape.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/command_template_syntax.hpp"
#include "core/config.hpp"
#include "core/periodic.hpp"
#include "fuzz_check.hpp"

namespace {

// The file the input is written to: one per process, in TMPDIR, removed at exit.
const std::string& ConfigPath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/warren-fuzz-config-" +
           std::to_string(::getpid()) + ".toml";
  }();
  // Registered after `path` is built, so it runs before `path` is destroyed.
  [[maybe_unused]] static const int registered = std::atexit([] { std::remove(path.c_str()); });
  return path;
}

void Check(const warren::Settings& settings) {
  for (const auto& [type, job] : settings.command_jobs) {
    WARREN_FUZZ_CHECK(!warren::ValidateTemplate(job.command), type);
  }
  WARREN_FUZZ_CHECK(settings.autoscale.max == 0 || settings.autoscale.min <= settings.autoscale.max, "autoscale");
  WARREN_FUZZ_CHECK(!settings.queues.empty(), "queues");
  const auto now = *warren::ParseTime("2026-11-26T12:00:00Z");
  for (const auto& job : settings.periodic) {
    const auto ticks = warren::DueTicks(job, now - std::chrono::hours(24 * 40), now);
    WARREN_FUZZ_CHECK(ticks.size() <= warren::kMaxMissedTicks, job.name);
    for (const auto tick : ticks) {
      WARREN_FUZZ_CHECK(tick <= now, job.name);
      const warren::JobSpec spec = warren::TickJobSpec(job, tick);
      WARREN_FUZZ_CHECK(spec.idempotency_key == warren::TickKey(job, tick), job.name);
    }
    if (const auto next = job.cron.Next(now, job.tz)) {
      WARREN_FUZZ_CHECK(*next > now, job.cron.Expression());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::FILE* file = std::fopen(ConfigPath().c_str(), "wb");
  WARREN_FUZZ_CHECK(file != nullptr, ConfigPath());
  WARREN_FUZZ_CHECK(std::fwrite(data, 1, size, file) == size, ConfigPath());
  std::fclose(file);
  const auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  try {
    Check(warren::LoadSettings({{"config", {ConfigPath()}}}, no_env));
  } catch (const warren::ConfigError&) {
    // the expected refusal
  }
  return 0;
}
