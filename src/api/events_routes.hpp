// GET /v1/events: live job changes as Server-Sent Events (api/event_hub.hpp), filtered by queue, type
// and job id, resumable with Last-Event-ID. A stream is a connection the io threads write to when
// there is something to send: no thread per stream.
#pragma once

#include "api/event_hub.hpp"
#include "api/router.hpp"

namespace warren::api {

void AddEventRoutes(Router& router, EventHub& hub);

}  // namespace warren::api
