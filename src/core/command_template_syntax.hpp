// The syntax of a command job's argv template (`["/usr/bin/convert", "{args.src}", ...]`), shared by
// the config loader (which rejects a bad template at start-up) and the worker (which expands it per job).
// Expansion lives in worker/command_template.hpp; this file only parses, so core stays free of job data.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace warren {

// One piece of a template element: literal text or a placeholder.
struct TemplatePart {
  enum class Kind {
    kLiteral,  // `text` is copied as is (`{{` and `}}` already turned into `{` and `}`)
    kId,       // {id}
    kType,     // {type}
    kQueue,    // {queue}
    kAttempt,  // {attempt}
    kArgs,     // {args}: the whole args as compact JSON
    kArgsPath  // {args.a.b.0}: `path` holds {"a", "b", "0"}; a digits-only step also indexes arrays
  };
  Kind kind = Kind::kLiteral;
  std::string text;               // kLiteral: the text; otherwise the placeholder as written, `{args.a}`
  std::vector<std::string> path;  // kArgsPath only
};

// Parses one element. Errors: an unterminated `{`, a lone `}`, an unknown placeholder, an empty
// path step (`{args.a..b}`) or a step with characters other than letters, digits, `_` and `-`.
std::variant<std::vector<TemplatePart>, std::string> ParseTemplateElement(std::string_view element);

// Checks a whole command template: at least one element, every element parses, and the first one
// (the program) is a literal absolute path, so a job's args can never choose what runs.
// Returns the first problem, naming the element ("command[2]: ..."), or nullopt.
std::optional<std::string> ValidateTemplate(const std::vector<std::string>& command);

}  // namespace warren
