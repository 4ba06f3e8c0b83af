// Expands a command job's argv template with one job's values. Total and injection-proof:
//  - each template element becomes exactly one argv element, never split, and no shell ever sees it;
//  - a value can only be a string, number or bool; a missing path, null, object or array is an error
//    (except `{args}`, the whole args as compact JSON);
//  - an element whose template does not start with `-` must not expand to one that does, so a value
//    such as "-rf" or "--output=/etc/passwd" cannot become an option;
//  - a NUL byte, which would silently cut the argument short, is an error.
// Errors come back before anything is spawned; they name the element and the placeholder.
// The syntax itself (and ValidateTemplate, run at config load) is in core/command_template_syntax.hpp.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/command_template_syntax.hpp"

namespace warren::worker {

using warren::ValidateTemplate;

// What the placeholders refer to. `args` must outlive the call.
struct CommandVars {
  std::string_view id;
  std::string_view type;
  std::string_view queue;
  int attempt = 1;
  const nlohmann::json& args;
};

struct TemplateError {
  std::string message;  // "command[2] {args.src}: args.src is missing"
};

std::variant<std::vector<std::string>, TemplateError> ExpandCommand(const std::vector<std::string>& tmpl,
                                                                    const CommandVars& vars);

}  // namespace warren::worker
