// The dashboard at /ui: static files built into the binary (ui_assets.hpp), open to anyone who can
// reach the port. The data comes from the public API with the same bearer token as any client, so
// serving the page itself reveals nothing. Every answer carries a Content-Security-Policy that allows
// only this origin's scripts, styles and API (no inline script, no remote origin).
#pragma once

#include "api/router.hpp"

namespace warren::api {

inline constexpr std::string_view kUiContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// GET /ui (the single page) and GET /ui/{asset}.
void AddUiRoutes(Router& router);

}  // namespace warren::api
