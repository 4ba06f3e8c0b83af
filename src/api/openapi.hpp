// The OpenAPI 3.1 document of `warren serve`, served at GET /v1/openapi.json. Built once from a table of
// operations; a unit test checks it against the routes the Router really has, in both directions, and
// each operation's scope against auth.cpp's table.
#pragma once

#include <nlohmann/json.hpp>

#include "api/router.hpp"

namespace warren::api {

const nlohmann::json& OpenApiDocument();

// GET /v1/openapi.json.
void AddOpenApiRoute(Router& router);

}  // namespace warren::api
