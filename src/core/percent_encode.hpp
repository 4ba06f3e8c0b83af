// Percent-encoding for what goes into a URL path segment or query value (the management client's
// vhost and queue names, the CLI's job ids, queues and filters), and decoding for what comes out
// (request paths, the AMQP URL's query parameters).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace warren {

// Encodes everything outside RFC 3986's unreserved set (letters, digits, `- . _ ~`) as %XX: the vhost
// "/" becomes "%2F".
std::string PercentEncode(std::string_view text);

// Decodes %XX escapes (RFC 3986) as Flask/Werkzeug does for paths: "hello%20world" → "hello world".
// '+' is a literal plus in a path (only forms encode spaces as '+'). Returns nullopt when a '%' is not
// followed by two hex digits.
std::optional<std::string> PercentDecode(std::string_view text);

}  // namespace warren
