// URL pieces the router needs: splitting the request-target and percent-decoding path segments.
// Pure functions, unit-tested; no allocation beyond the results.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/percent_encode.hpp"  // PercentDecode, which request paths use

namespace warren::api {

struct SplitTargetResult {
  std::string_view path;   // starts with '/', still percent-encoded
  std::string_view query;  // after the first '?', without it; empty when absent
};

// Splits an origin-form ("/a/b?x=1") or absolute-form ("http://host:5000/a/b?x=1") request-target.
// Returns nullopt for anything else ("*", "a/b", "http://host" with no path is "/").
std::optional<SplitTargetResult> SplitTarget(std::string_view target);

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view text);

}  // namespace warren::api
