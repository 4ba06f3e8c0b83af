// Percent-encoding for what goes into a URL path segment or query value (the management client's
// vhost and queue names, the CLI's job ids, queues and filters).
#pragma once

#include <string>
#include <string_view>

namespace warren {

// Encodes everything outside RFC 3986's unreserved set (letters, digits, `- . _ ~`) as %XX: the vhost
// "/" becomes "%2F".
std::string PercentEncode(std::string_view text);

}  // namespace warren
