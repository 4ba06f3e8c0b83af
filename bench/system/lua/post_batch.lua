-- wrk: POST /v1/jobs/batch with 100 no-op jobs per request (keep-alive). run.py counts jobs, not requests.
local jobs = {}
for i = 1, 100 do jobs[i] = '{"type":"warren.noop"}' end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"jobs":[' .. table.concat(jobs, ",") .. ']}'
