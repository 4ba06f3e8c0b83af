#include "worker/command_template.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/job.hpp"

namespace warren::worker {
namespace {

// Follows `path` through objects (by key) and arrays (by a digits-only step). nullptr when missing.
const nlohmann::json* Lookup(const nlohmann::json& args, const std::vector<std::string>& path) {
  const nlohmann::json* node = &args;
  for (const auto& step : path) {
    if (node->is_object()) {
      auto it = node->find(step);
      if (it == node->end()) {
        return nullptr;
      }
      node = &*it;
    } else if (node->is_array()) {
      // Steps are letters, digits, _ and - (the syntax checks); an index is digits only, no sign.
      if (step.empty() || step.size() > 9 || step.find_first_not_of("0123456789") != std::string::npos) {
        return nullptr;
      }
      const size_t index = std::stoul(step);
      if (index >= node->size()) {
        return nullptr;
      }
      node = &(*node)[index];
    } else {
      return nullptr;
    }
  }
  return node;
}

std::string_view Kind(const nlohmann::json& value) {
  if (value.is_null()) {
    return "null";
  }
  if (value.is_object()) {
    return "an object";
  }
  return "an array";
}

// The text a part stands for, or why it has none (the caller adds where).
std::variant<std::string, TemplateError> Value(const TemplatePart& part, const CommandVars& vars) {
  using K = TemplatePart::Kind;
  switch (part.kind) {
    case K::kLiteral:
      return part.text;
    case K::kId:
      return std::string(vars.id);
    case K::kType:
      return std::string(vars.type);
    case K::kQueue:
      return std::string(vars.queue);
    case K::kAttempt:
      return std::to_string(vars.attempt);
    case K::kArgs:
      // Invalid UTF-8 in a string is replaced rather than thrown on: the job was accepted as JSON.
      return DumpJson(vars.args);
    case K::kArgsPath:
      break;
  }
  const std::string name = fmt::format("args.{}", fmt::join(part.path, "."));
  const nlohmann::json* value = Lookup(vars.args, part.path);
  if (value == nullptr) {
    return TemplateError{fmt::format("{} is missing", name)};
  }
  if (value->is_string()) {
    return value->get<std::string>();
  }
  if (value->is_number() || value->is_boolean()) {
    return value->dump();
  }
  return TemplateError{
      fmt::format("{} is {}; only a string, number or bool can be an argument", name, Kind(*value))};
}

}  // namespace

std::variant<std::vector<std::string>, TemplateError> ExpandCommand(const std::vector<std::string>& tmpl,
                                                                    const CommandVars& vars) {
  if (auto why = ValidateTemplate(tmpl)) {
    return TemplateError{*why};
  }
  std::vector<std::string> argv;
  argv.reserve(tmpl.size());
  for (size_t i = 0; i < tmpl.size(); ++i) {
    // ValidateTemplate parsed every element already, so this cannot fail.
    const auto parts = std::get<std::vector<TemplatePart>>(ParseTemplateElement(tmpl[i]));
    std::string arg;
    for (const auto& part : parts) {
      auto value = Value(part, vars);
      if (auto* error = std::get_if<TemplateError>(&value)) {
        return TemplateError{fmt::format("command[{}] {}: {}", i, part.text, error->message)};
      }
      const auto& text = std::get<std::string>(value);
      if (text.find('\0') != std::string::npos) {
        return TemplateError{fmt::format("command[{}] {}: the value contains a NUL byte", i, part.text)};
      }
      arg += text;
    }
    if (arg.starts_with('-') && !tmpl[i].starts_with('-')) {
      return TemplateError{fmt::format(
          "command[{}] \"{}\": the value would start with '-' and could be taken for an option", i, tmpl[i])};
    }
    argv.push_back(std::move(arg));
  }
  return argv;
}

}  // namespace warren::worker
