-- wrk through an HTTP proxy: the request line carries the absolute URI of the origin.
-- bench/compare.sh sets WRK_TARGET_URL (http://127.0.0.1:PORT/1k) and WRK_TARGET_HOST;
-- without them wrk sends its usual origin-form request (direct to the origin).
local url = os.getenv("WRK_TARGET_URL")
if url and url ~= "" then
  wrk.path = url
  wrk.headers["Host"] = os.getenv("WRK_TARGET_HOST")
end
