#include "core/json_depth.hpp"

#include <exception>

namespace warren {
namespace {

using nlohmann::json;

// Stops at the first structure that opens beyond `max_depth`, and remembers why a parse stopped.
class DepthCheck final : public nlohmann::json_sax<json> {
 public:
  explicit DepthCheck(size_t max_depth) : max_depth_(max_depth) {}

  bool null() override { return true; }
  bool boolean(bool /*value*/) override { return true; }
  bool number_integer(number_integer_t /*value*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*value*/) override { return true; }
  bool number_float(number_float_t /*value*/, const string_t& /*text*/) override { return true; }
  bool string(string_t& /*value*/) override { return true; }
  bool binary(binary_t& /*value*/) override { return true; }
  bool key(string_t& /*value*/) override { return true; }
  bool start_object(std::size_t /*elements*/) override { return Open(); }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t /*elements*/) override { return Open(); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& error) override {
    error_ = error.what();
    return false;
  }

  [[nodiscard]] bool TooDeep() const { return too_deep_; }
  [[nodiscard]] const std::string& Error() const { return error_; }

 private:
  bool Open() {
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }

  const size_t max_depth_;
  size_t depth_ = 0;
  bool too_deep_ = false;
  std::string error_;
};

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at line 1, column 2: ".
std::string CleanParseError(std::string message) {
  if (message.starts_with("[json.exception.")) {
    const auto close = message.find("] ");
    if (close != std::string::npos) {
      message.erase(0, close + 2);
    }
  }
  return message;
}

}  // namespace

BoundedJson ParseBoundedJson(std::string_view text, size_t max_depth) {
  BoundedJson out;
  DepthCheck check(max_depth);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &check);
  } catch (const std::exception& e) {  // not expected with a SAX handler; never let it out
    out.error = CleanParseError(e.what());
    return out;
  }
  if (check.TooDeep()) {
    out.too_deep = true;
    return out;
  }
  if (!ok) {
    out.error = CleanParseError(check.Error());
    return out;
  }
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {  // the SAX pass accepted it, so this does not happen; stay safe anyway
    out.error = "not valid JSON";
    return out;
  }
  out.value = std::move(value);
  return out;
}

}  // namespace warren
