// Parsing JSON from outside (a request body, a user's --args file) with a bound on how deep it nests,
// checked by a SAX pass before any value is built: nlohmann's dump and comparisons recurse, so a
// document nested 100,000 deep would overflow the stack of whoever handles it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace warren {

struct BoundedJson {
  std::optional<nlohmann::json> value;  // set when `text` is JSON nested no deeper than the bound
  bool too_deep = false;
  std::string error;  // otherwise: nlohmann's parse error, e.g. "parse error at line 1, column 2: ..."
};

// `text` as JSON if objects and arrays nest at most `max_depth` levels ("[]" is one). Never throws.
BoundedJson ParseBoundedJson(std::string_view text, size_t max_depth);

}  // namespace warren
