-- wrk script for scripts/bench-http.sh: POSTs one action's JSON body.
--
-- ACTION     the action (getSyncedEvent or commit)
-- BODY       getSyncedEvent: the body, sent as is
-- USER, ACCOUNTS (a JSON array)  commit: each request commits a fresh event
--            (its own title and start time) to these accounts
-- API_KEY    sent as a bearer token when set

local action = os.getenv("ACTION")
wrk.method = "POST"
wrk.path = "/api/CalendarSync/" .. action
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("API_KEY")
if key and key ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. key
end

if action == "commit" then
    local user = os.getenv("USER_ID")
    local accounts = os.getenv("ACCOUNTS")
    -- A week ahead, whole minutes; each thread counts on its own, offset
    -- by a random amount so that threads do not repeat each other.
    local base = os.time() + 7 * 24 * 3600
    local n = 0
    function init(args)
        math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
        n = math.random(0, 1000000) * 1000
    end
    function request()
        n = n + 1
        local start = base + (n % 500000) * 60
        local body = string.format(
            '{"user":"%s","event":{"title":"Load %d","start":"%s","end":"%s"},"accounts":%s}',
            user, n, os.date("!%Y-%m-%dT%H:%M:%SZ", start),
            os.date("!%Y-%m-%dT%H:%M:%SZ", start + 1800), accounts)
        return wrk.format(nil, nil, nil, body)
    end
else
    wrk.body = os.getenv("BODY")
end
