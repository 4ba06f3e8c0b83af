// Fuzz target `command_template`: a command job's argv template and a job's args, through the syntax
// check the config loader runs (ValidateTemplate) and the expansion a worker runs before spawning
// (ExpandCommand). Input: the first line is the job's args (JSON; any other text is taken as a JSON
// string), each further line one template element. For every input: no crash, no undefined
// behaviour, and the injection-proof promises of worker/command_template.hpp hold: one argv element
// per template element, the program is the template's literal, no NUL byte, and no element that
// does not start with '-' in the template starts with '-' once expanded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_check.hpp"
#include "worker/command_template.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string_view> lines;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (;;) {
    const auto newline = input.find('\n');
    lines.push_back(input.substr(0, newline));
    if (newline == std::string_view::npos || lines.size() > 64) {
      break;
    }
    input.remove_prefix(newline + 1);
  }
  nlohmann::json args = nlohmann::json::parse(lines.front(), nullptr, /*allow_exceptions=*/false);
  if (args.is_discarded()) {
    args = std::string(lines.front());
  }
  const std::vector<std::string> tmpl(lines.begin() + 1, lines.end());

  const bool valid = !warren::ValidateTemplate(tmpl);
  const warren::worker::CommandVars vars{"019a9b2e-6f00-7000-8000-000000000001", "resize", "default", 2, args};
  auto expanded = warren::worker::ExpandCommand(tmpl, vars);
  if (const auto* error = std::get_if<warren::worker::TemplateError>(&expanded)) {
    WARREN_FUZZ_CHECK(!error->message.empty(), "an error without a message");
    return 0;
  }
  WARREN_FUZZ_CHECK(valid, "expanded a template that ValidateTemplate refuses");
  const auto& argv = std::get<std::vector<std::string>>(expanded);
  WARREN_FUZZ_CHECK(argv.size() == tmpl.size(), "argv has another size than the template");
  const auto program = warren::ParseTemplateElement(tmpl.front());
  const auto& parts = std::get<std::vector<warren::TemplatePart>>(program);
  WARREN_FUZZ_CHECK(parts.size() == 1 && parts.front().kind == warren::TemplatePart::Kind::kLiteral &&
                        argv.front() == parts.front().text && argv.front().starts_with('/'),
                    "the program is not the template's literal path: " + argv.front());
  for (size_t i = 0; i < argv.size(); ++i) {
    WARREN_FUZZ_CHECK(argv[i].find('\0') == std::string::npos, "a NUL byte in argv");
    WARREN_FUZZ_CHECK(!argv[i].starts_with('-') || tmpl[i].starts_with('-'),
                      "an option made of a value: " + tmpl[i] + " -> " + argv[i]);
  }
  return 0;
}
