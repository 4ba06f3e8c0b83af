// The dashboard's files (ui/), compiled into the binary by cmake/EmbedAssets.cmake.
#pragma once

#include <span>
#include <string_view>

namespace warren::api {

struct UiAsset {
  std::string_view path;  // "index.html", "app.js", ...
  std::string_view content_type;
  std::string_view body;
};

std::span<const UiAsset> UiAssets();

}  // namespace warren::api
