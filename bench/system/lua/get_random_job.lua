-- wrk: GET /v1/jobs/{id} for ids drawn at random from the file named by WARREN_BENCH_IDS.
local ids = {}

function init(args)
  for line in io.lines(os.getenv("WARREN_BENCH_IDS")) do
    ids[#ids + 1] = line
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
  return wrk.format("GET", "/v1/jobs/" .. ids[math.random(#ids)])
end
