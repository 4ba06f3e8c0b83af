#include "api/events_routes.hpp"

#include <memory>

#include "api/request_validation.hpp"

namespace warren::api {

void AddEventRoutes(Router& router, EventHub& hub) {
  router.Add("GET", "/v1/events", [&hub](const Request& request, const Responder& respond) {
    auto parsed = ParseEventQuery(request.query, request.Header("last-event-id"));
    if (auto* error = std::get_if<Response>(&parsed)) {
      respond(std::move(*error));
      return;
    }
    Response response;
    response.status = 200;
    response.content_type = "text/event-stream";
    // Proxies such as nginx buffer responses unless told not to; a buffered stream is no stream.
    response.headers.emplace_back("X-Accel-Buffering", "no");
    response.stream = [&hub,
                       query = std::get<EventQuery>(std::move(parsed))](std::shared_ptr<BodyStream> body) {
      hub.Subscribe(query.filter, query.last_event_id,
                    [body = std::move(body)](const std::string& frame) { return body->Send(frame); });
    };
    respond(std::move(response));
  });
}

}  // namespace warren::api
