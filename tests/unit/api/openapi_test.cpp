#include "api/openapi.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <utility>

#include "api/auth.hpp"
#include "api_test_support.hpp"

namespace warren::api {
namespace {

using nlohmann::json;
using testing::ApiFixture;

std::string Upper(std::string text) {
  for (auto& c : text) {
    c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return text;
}

const std::set<std::string> kHttpMethods = {"get",     "put",  "post",  "delete",
                                            "options", "head", "patch", "trace"};

class OpenApi : public ApiFixture {
 protected:
  void SetUp() override { Build(); }

  std::set<std::pair<std::string, std::string>> RouterOperations() {
    std::set<std::pair<std::string, std::string>> out;
    for (const auto& route : router_.Routes()) {
      out.emplace(route.method, route.pattern);
    }
    return out;
  }

  static std::set<std::pair<std::string, std::string>> DocumentOperations() {
    std::set<std::pair<std::string, std::string>> out;
    for (const auto& [path, item] : OpenApiDocument()["paths"].items()) {
      for (const auto& [method, operation] : item.items()) {
        if (kHttpMethods.contains(method)) {
          out.emplace(Upper(method), path);
        }
      }
    }
    return out;
  }
};

TEST_F(OpenApi, DocumentsExactlyTheRoutesThatExist) {
  const auto routes = RouterOperations();
  const auto documented = DocumentOperations();
  for (const auto& [method, path] : routes) {
    EXPECT_TRUE(documented.contains({method, path}))
        << "route not in the OpenAPI document: " << method << " " << path;
  }
  for (const auto& [method, path] : documented) {
    EXPECT_TRUE(routes.contains({method, path})) << "documented but not routed: " << method << " " << path;
  }
  EXPECT_EQ(routes.size(), router_.Routes().size()) << "a route is registered twice";
}

TEST_F(OpenApi, IsServedAsJson) {
  const Response response = Call("GET", "/v1/openapi.json");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(json::parse(response.body), OpenApiDocument());
}

TEST(OpenApiDocument, IsOpenApi31WithResolvableReferences) {
  const json& doc = OpenApiDocument();
  EXPECT_EQ(doc["openapi"], "3.1.0");
  EXPECT_TRUE(doc["info"].contains("title"));
  EXPECT_TRUE(doc["info"].contains("version"));
  const json& schemas = doc["components"]["schemas"];
  std::function<void(const json&)> check = [&](const json& node) {
    if (node.is_object()) {
      if (const auto it = node.find("$ref"); it != node.end()) {
        const std::string ref = *it;
        const std::string prefix = "#/components/schemas/";
        ASSERT_EQ(ref.rfind(prefix, 0), 0U) << ref;
        EXPECT_TRUE(schemas.contains(ref.substr(prefix.size()))) << "dangling " << ref;
      }
      for (const auto& [key, child] : node.items()) {
        check(child);
      }
    } else if (node.is_array()) {
      for (const auto& child : node) {
        check(child);
      }
    }
  };
  check(doc);
}

TEST(OpenApiDocument, EveryOperationIsWellFormed) {
  std::set<std::string> ids;
  for (const auto& [path, item] : OpenApiDocument()["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      SCOPED_TRACE(method + " " + path);
      ASSERT_TRUE(op.contains("operationId"));
      EXPECT_TRUE(ids.insert(op["operationId"].get<std::string>()).second) << "duplicate operationId";
      ASSERT_TRUE(op.contains("responses"));
      EXPECT_FALSE(op["responses"].empty());
      // Its scope is auth.cpp's, and non-open operations document 401 and 403.
      const Access access = RouteAccess(Upper(method), path);
      EXPECT_EQ(op["x-warren-scope"], std::string(ToString(access)));
      EXPECT_EQ(op["security"].empty(), access == Access::kOpen);
      if (access != Access::kOpen) {
        EXPECT_TRUE(op["responses"].contains("401"));
        EXPECT_TRUE(op["responses"].contains("403"));
      }
      // Every {param} of the path is declared as a path parameter.
      for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
        const std::string name = path.substr(open + 1, path.find('}', open) - open - 1);
        bool declared = false;
        for (const auto& p : op.value("parameters", json::array())) {
          declared = declared || (p["in"] == "path" && p["name"] == name);
        }
        EXPECT_TRUE(declared) << name;
      }
    }
  }
}

}  // namespace
}  // namespace warren::api
