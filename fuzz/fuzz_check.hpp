// What every fuzz target shares: a check that fails loudly (libFuzzer and the corpus replay both see
// an abort as a crash and keep the input), and the API's error shape that every 4xx must have.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#define WARREN_FUZZ_CHECK(condition, what)                                                        \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::fprintf(stderr, "fuzz check failed at %s:%d: %s\n  %s\n", __FILE__, __LINE__, #condition, \
                   std::string(what).c_str());                                                    \
      std::abort();                                                                               \
    }                                                                                             \
  } while (false)

namespace warren::fuzz {

// {"error":{"code":"...","message":"..."}} with a non-empty code: the one error shape of the API.
inline bool IsErrorBody(std::string_view body) {
  const auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || parsed.size() != 1 || !parsed.contains("error")) {
    return false;
  }
  const auto& error = parsed["error"];
  return error.is_object() && error.contains("code") && error["code"].is_string() &&
         !error["code"].get_ref<const std::string&>().empty() && error.contains("message") &&
         error["message"].is_string();
}

}  // namespace warren::fuzz
