#include "core/command_template_syntax.hpp"

#include <fmt/format.h>

namespace warren {
namespace {

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// `name` is what stood between the braces.
std::variant<TemplatePart, std::string> ParsePlaceholder(std::string_view name) {
  using Kind = TemplatePart::Kind;
  TemplatePart part;
  part.text = fmt::format("{{{}}}", name);
  if (name == "id") {
    part.kind = Kind::kId;
  } else if (name == "type") {
    part.kind = Kind::kType;
  } else if (name == "queue") {
    part.kind = Kind::kQueue;
  } else if (name == "attempt") {
    part.kind = Kind::kAttempt;
  } else if (name == "args") {
    part.kind = Kind::kArgs;
  } else if (name.starts_with("args.")) {
    part.kind = Kind::kArgsPath;
    std::string_view rest = name.substr(5);
    while (true) {
      const size_t dot = rest.find('.');
      const std::string_view step = rest.substr(0, dot);
      if (step.empty()) {
        return fmt::format("placeholder {} has an empty path step", part.text);
      }
      for (const char c : step) {
        if (!IsPathChar(c)) {
          return fmt::format("placeholder {}: a path step may hold only letters, digits, _ and -", part.text);
        }
      }
      part.path.emplace_back(step);
      if (dot == std::string_view::npos) {
        break;
      }
      rest = rest.substr(dot + 1);
    }
  } else {
    return fmt::format(
        "unknown placeholder {} (known: {{id}} {{type}} {{queue}} {{attempt}} {{args}} {{args.PATH}})",
        part.text);
  }
  return part;
}

}  // namespace

std::variant<std::vector<TemplatePart>, std::string> ParseTemplateElement(std::string_view element) {
  std::vector<TemplatePart> parts;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) {
      parts.push_back(TemplatePart{TemplatePart::Kind::kLiteral, std::move(literal), {}});
      literal.clear();
    }
  };
  for (size_t i = 0; i < element.size(); ++i) {
    const char c = element[i];
    if (c == '}') {
      if (i + 1 < element.size() && element[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      return std::string("a lone } (write }} for a literal brace)");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < element.size() && element[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    const size_t close = element.find('}', i + 1);
    const size_t reopen = element.find('{', i + 1);
    if (close == std::string_view::npos || reopen < close) {
      return std::string("unterminated { (write {{ for a literal brace)");
    }
    auto placeholder = ParsePlaceholder(element.substr(i + 1, close - i - 1));
    if (auto* error = std::get_if<std::string>(&placeholder)) {
      return std::move(*error);
    }
    flush();
    parts.push_back(std::move(std::get<TemplatePart>(placeholder)));
    i = close;
  }
  flush();
  return parts;
}

std::optional<std::string> ValidateTemplate(const std::vector<std::string>& command) {
  if (command.empty()) {
    return "command: must hold at least the program";
  }
  for (size_t i = 0; i < command.size(); ++i) {
    if (command[i].find('\0') != std::string::npos) {
      return fmt::format("command[{}]: contains a NUL byte", i);
    }
    auto parsed = ParseTemplateElement(command[i]);
    if (const auto* error = std::get_if<std::string>(&parsed)) {
      return fmt::format("command[{}]: \"{}\": {}", i, command[i], *error);
    }
    if (i == 0) {
      const auto& parts = std::get<std::vector<TemplatePart>>(parsed);
      if (parts.size() != 1 || parts[0].kind != TemplatePart::Kind::kLiteral ||
          !parts[0].text.starts_with('/')) {
        return fmt::format("command[0]: \"{}\": the program must be an absolute path without placeholders",
                           command[0]);
      }
    }
  }
  return std::nullopt;
}

}  // namespace warren
