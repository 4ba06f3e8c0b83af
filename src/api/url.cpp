#include "api/url.hpp"

namespace warren::api {

std::optional<SplitTargetResult> SplitTarget(std::string_view target) {
  // Absolute-form is what clients send to proxies; RFC 9112 §3.2.2 says servers must accept it too.
  for (const std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() >= scheme.size()) {
      bool same = true;
      for (size_t i = 0; i < scheme.size() && same; ++i) {
        const char c = target[i];
        same = (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) == scheme[i];
      }
      if (same) {
        target.remove_prefix(scheme.size());
        const size_t path_start = target.find_first_of("/?");
        if (path_start == std::string_view::npos) {
          return SplitTargetResult{"/", {}};
        }
        target.remove_prefix(path_start);
        if (target.front() == '?') {
          return SplitTargetResult{"/", target.substr(1)};
        }
        break;
      }
    }
  }
  if (target.empty() || target.front() != '/') {
    return std::nullopt;
  }
  const size_t question = target.find('?');
  if (question == std::string_view::npos) {
    return SplitTargetResult{target, {}};
  }
  return SplitTargetResult{target.substr(0, question), target.substr(question + 1)};
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    char32_t code_point = 0;
    char32_t minimum = 0;
    if ((lead & 0xE0U) == 0xC0U) {
      length = 2;
      code_point = lead & 0x1FU;
      minimum = 0x80;
    } else if ((lead & 0xF0U) == 0xE0U) {
      length = 3;
      code_point = lead & 0x0FU;
      minimum = 0x800;
    } else if ((lead & 0xF8U) == 0xF0U) {
      length = 4;
      code_point = lead & 0x07U;
      minimum = 0x10000;
    } else {
      return false;  // a continuation byte or 0xF8..0xFF where a character should start
    }
    if (i + length > text.size()) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0U) != 0x80U) {
        return false;
      }
      code_point = (code_point << 6U) | (next & 0x3FU);
    }
    if (code_point < minimum || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace warren::api
