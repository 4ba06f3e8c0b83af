#include "api/ui_routes.hpp"

#include <string>

#include "api/ui_assets.hpp"

namespace warren::api {
namespace {

Response WithUiHeaders(Response response) {
  response.headers.emplace_back("Content-Security-Policy", std::string(kUiContentSecurityPolicy));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  // The files change only with the binary; revalidating each load keeps an upgrade visible at once.
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

Response Asset(std::string_view name) {
  for (const auto& asset : UiAssets()) {
    if (asset.path == name) {
      Response response;
      response.content_type = std::string(asset.content_type);
      response.body = std::string(asset.body);
      return WithUiHeaders(std::move(response));
    }
  }
  return WithUiHeaders(ErrorResponse(404, "not_found", "no such dashboard file"));
}

}  // namespace

void AddUiRoutes(Router& router) {
  // One page; its views are the URL's fragment (#/jobs, #/jobs/ID), so every view loads from /ui.
  router.Add("GET", "/ui",
             [](const Request& /*request*/, const Responder& respond) { respond(Asset("index.html")); });
  router.Add("GET", "/ui/{asset}", [](const Request& request, const Responder& respond) {
    const std::string& name = request.Param("asset");
    respond(Asset(name.empty() ? "index.html" : name));
  });
}

}  // namespace warren::api
