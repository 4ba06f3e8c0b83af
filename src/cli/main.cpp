// warren: one binary, subcommands. This file parses and dispatches; the work lives in the components
// (the client commands: src/cli/client_commands.cpp).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "amqp/connection.hpp"
#include "api/serve.hpp"
#include "cli/client_commands.hpp"
#include "cli/stack_commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "supervisor/parent_death.hpp"
#include "supervisor/up.hpp"
#include "worker/work.hpp"

namespace {

using warren::FlagValues;

// Adds `--<flag>` for each setting key named, storing raw strings into `flags` under the TOML key.
void AddSettingFlags(CLI::App* cmd, FlagValues& flags, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    for (const auto& k : warren::AllSettingKeys()) {
      if (k.key == key) {
        cmd->add_option("--" + k.flag, flags[k.key], fmt::format("{} [env {}, file {}]", k.help, k.env, k.key))
            ->type_name("VALUE");
      }
    }
  }
}

void AddCommonFlags(CLI::App* cmd, FlagValues& flags) {
  cmd->add_option("--config", flags["config"], "TOML config file [env WARREN_CONFIG]")->type_name("FILE");
  AddSettingFlags(cmd, flags, {"log.level", "log.format"});
}

// The processes that connect to RabbitMQ check the whole URL (TLS parameters, readable files) before
// starting: a bad one is a configuration error, not a broker to retry.
void CheckAmqpUrls(const warren::Settings& settings) {
  try {
    warren::amqp::SplitAmqpUrls(settings.amqp_url);
  } catch (const std::invalid_argument& e) {
    throw warren::ConfigError(fmt::format("amqp.url: {}", e.what()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Warren: durable background jobs on RabbitMQ, over HTTP or AMQP."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("warren ") + WARREN_VERSION);

  FlagValues serve_flags;
  auto* serve = app.add_subcommand("serve", "Run the HTTP API (default 127.0.0.1:5000)");
  AddCommonFlags(serve, serve_flags);
  AddSettingFlags(serve, serve_flags, {"serve.listen", "serve.threads", "amqp.url", "amqp.queue_type", "amqp.publish_timeout", "amqp.heartbeat",
                                       "amqp.reconnect_max", "store.url", "store.keep_succeeded",
                                       "store.keep_failed", "store.log_lines", "api.max_body", "api.max_batch", "api.tokens",
                                       "api.job_types", "api.header_timeout", "api.request_timeout",
                                       "api.idle_timeout", "api.max_connections", "broker.management_port"});
  bool serve_insecure = false;
  serve->add_flag("--insecure", serve_insecure,
                  "listen beyond loopback without tokens [env WARREN_INSECURE, file api.insecure]");

  FlagValues work_flags;
  auto* work = app.add_subcommand("work", "Run a worker that consumes jobs and runs their handlers");
  AddCommonFlags(work, work_flags);
  AddSettingFlags(work, work_flags, {"amqp.url", "amqp.queue_type", "work.queues", "work.queue_priorities", "work.concurrency", "work.type_limits", "work.grace",
                                     "work.kill_grace", "retry.base", "retry.cap", "retry.jitter",
                                     "amqp.heartbeat", "amqp.reconnect_max"});

  FlagValues up_flags;
  auto* up = app.add_subcommand("up", "Start RabbitMQ, the API and workers together, in the foreground");
  AddCommonFlags(up, up_flags);
  AddSettingFlags(up, up_flags, {"up.workers", "up.data_dir", "up.autoscale.min", "up.autoscale.max",
                                 "up.autoscale.target_wait", "up.autoscale.cooldown", "amqp.url", "amqp.queue_type", "serve.listen",
                                 "work.concurrency", "work.queues", "work.queue_priorities", "broker.port", "broker.management_port",
                                 "broker.dist_port", "broker.epmd_port"});

  bool up_detach = false;
  up->add_flag("--detach,-d", up_detach,
               "run in the background (log in DATA_DIR/warren-up.log); return once the stack is ready");

  FlagValues down_flags;
  auto* down = app.add_subcommand("down", "Stop the `warren up` running in the background for the data dir");
  AddCommonFlags(down, down_flags);
  AddSettingFlags(down, down_flags, {"up.data_dir", "work.grace"});

  FlagValues scale_flags;
  std::string scale_argument;
  auto* scale = app.add_subcommand("scale", "Change how many workers `warren up` runs (removed ones drain first)");
  AddCommonFlags(scale, scale_flags);
  AddSettingFlags(scale, scale_flags, {"up.data_dir"});
  scale->add_option("workers", scale_argument, "workers=N (0..256)")->required();

  warren::cli::ClientCommands client_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return app.exit(e);  // --help, --version
    }
    std::fprintf(stderr, "warren: %s (see --help)\n", e.what());
    return 2;
  }
  if (auto code = client_commands.Run()) {
    return *code;
  }

  try {
    if (serve->parsed()) {
      if (serve_insecure) {
        serve_flags["api.insecure"] = {"true"};
      }
      auto settings = warren::LoadSettings(serve_flags);
      CheckAmqpUrls(settings);
      warren::SetupLogging(settings.log_level, settings.log_format, "serve");
      warren::supervisor::FollowSupervisorDeath();  // under `warren up`: stop if it dies
      return warren::api::RunServe(settings);
    }
    if (work->parsed()) {
      auto settings = warren::LoadSettings(work_flags);
      CheckAmqpUrls(settings);
      warren::SetupLogging(settings.log_level, settings.log_format, "work");
      warren::supervisor::FollowSupervisorDeath();
      return warren::worker::RunWork(settings);
    }
    if (up->parsed()) {
      auto settings = warren::LoadSettings(up_flags);
      CheckAmqpUrls(settings);
      warren::SetupLogging(settings.log_level, settings.log_format, "up");
      warren::supervisor::UpOptions options;
      if (auto it = up_flags.find("config"); it != up_flags.end() && !it->second.empty()) {
        options.config_path = it->second.back();
      } else if (auto env = warren::ProcessEnv("WARREN_CONFIG")) {
        options.config_path = *env;
      }
      if (up_detach && !warren::cli::IsDetachedUp()) {
        return warren::cli::RunUpDetached(settings, std::vector<std::string>(argv + 1, argv + argc));
      }
      return warren::supervisor::RunUp(settings, options);
    }
    if (down->parsed()) {
      return warren::cli::RunDown(warren::LoadSettings(down_flags));
    }
    if (scale->parsed()) {
      return warren::cli::RunScale(warren::LoadSettings(scale_flags), scale_argument);
    }
  } catch (const warren::ConfigError& e) {
    std::fprintf(stderr, "warren: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warren: %s\n", e.what());
    return 1;
  }
  return 0;
}
