// The OpenAPI 3.0.3 description of the HTTP API, served at /api/v1/openapi.json. It describes
// exactly the routes of route_table() (a test checks both ways).
#pragma once

#include <string>
#include <string_view>

namespace gridlet::api {

// The document as compact JSON text; `version` fills info.version.
std::string openapi_json(std::string_view version);

}  // namespace gridlet::api
