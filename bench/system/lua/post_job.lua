-- wrk: POST /v1/jobs with one no-op job (keep-alive).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"type":"warren.noop"}'
