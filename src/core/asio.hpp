// The one way Warren includes Boost.Asio and Beast.
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>; include it first.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace warren {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
}  // namespace warren
