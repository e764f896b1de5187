-- wrk script for scripts/soak.sh: a fixed rotation of four request kinds, every response
-- checked against what its kind must look like, counts aggregated over threads in done().
--
--   routed     model "auto" (three prompts of different difficulty)   200 JSON, x-llm-router-tier, cost header
--   explicit   model "gpt-4o" (no tier serves it: passed through)     200 JSON, reason "explicit", cost header
--   stream     model "auto", "stream": true                           200 SSE ending with [DONE] + the router comment
--   malformed  a truncated JSON body                                  400 from the default upstream, no router headers
--
-- args: RESPONSES_PER_THREAD (the thread stops after that many responses), DISTINCT_CUSTOMERS and
-- a directory where each thread writes done.<n> when it stops (wrk itself only ends after -d or
-- SIGINT, which scripts/soak.sh sends once every thread is done).
-- Envoy writes header names in lower case.

local prompts = {
  "What is the capital of France?",
  "Summarize in one sentence: the meeting moved the launch to Tuesday and the budget stays the same.",
  "Prove that the sum of two even integers is even, then write a Rust function that checks it and explain its complexity step by step.",
}

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  limit = tonumber(args[1]) or 0
  customers = tonumber(args[2]) or 2000
  done_dir = args[3]
  stopped = false
  n = 0
  got = 0
  ok_routed, ok_explicit, ok_stream, ok_malformed, bad = 0, 0, 0, 0, 0
  sent_routed, sent_explicit, sent_stream, sent_malformed = 0, 0, 0, 0
  bad_samples = ""
end

local function chat(model, prompt, stream)
  local s = '{"model":"' .. model .. '","messages":[{"role":"user","content":"' .. prompt .. '"}]'
  if stream then
    s = s .. ',"stream":true'
  end
  return s .. "}"
end

function request()
  n = n + 1
  local kind = n % 4
  local headers = {
    ["content-type"] = "application/json",
    ["authorization"] = "Bearer soak",
    ["x-customer-id"] = "soak-" .. ((n * 7 + tid) % customers),
    ["x-test-stream-delay-ms"] = "0",
  }
  local body
  if kind == 0 then
    sent_routed = sent_routed + 1
    body = chat("auto", prompts[math.floor(n / 4) % #prompts + 1], false)
  elseif kind == 1 then
    sent_explicit = sent_explicit + 1
    body = chat("gpt-4o", prompts[1], false)
  elseif kind == 2 then
    sent_stream = sent_stream + 1
    body = chat("auto", prompts[1], true)
  else
    sent_malformed = sent_malformed + 1
    body = '{"model":"auto","messages":[{"role":"user","content":"cut'
  end
  return wrk.format("POST", "/v1/chat/completions", headers, body)
end

function response(status, headers, body)
  got = got + 1
  local ct = headers["content-type"] or ""
  local tier = headers["x-llm-router-tier"]
  local reason = headers["x-llm-router-reason"]
  local cost = headers["x-llm-router-cost-micro-usd"]
  if status == 200 and ct:find("text/event-stream", 1, true) and tier
      and body:find("data: [DONE]", 1, true) and body:find(": llm-router {", 1, true) then
    ok_stream = ok_stream + 1
  elseif status == 200 and reason == "explicit" and cost then
    ok_explicit = ok_explicit + 1
  elseif status == 200 and tier and reason ~= "explicit" and cost then
    ok_routed = ok_routed + 1
  elseif status == 400 and not tier and headers["x-upstream-name"] == "default" then
    ok_malformed = ok_malformed + 1
  else
    bad = bad + 1
    if #bad_samples < 2000 then
      bad_samples = bad_samples .. status .. " " .. ct .. " tier=" .. tostring(tier) .. " " .. string.sub(body or "", 1, 120) .. "\n"
    end
  end
  if limit > 0 and got >= limit and not stopped then
    stopped = true
    if done_dir then
      local f = io.open(done_dir .. "/done." .. tid, "w")
      if f then
        f:write(tostring(got))
        f:close()
      end
    end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local keys = {"ok_routed", "ok_explicit", "ok_stream", "ok_malformed", "bad",
                "sent_routed", "sent_explicit", "sent_stream", "sent_malformed"}
  local total = {}
  local samples = ""
  for _, k in ipairs(keys) do total[k] = 0 end
  for _, t in ipairs(threads) do
    for _, k in ipairs(keys) do total[k] = total[k] + (t:get(k) or 0) end
    samples = samples .. (t:get("bad_samples") or "")
  end
  local parts = {}
  for _, k in ipairs(keys) do table.insert(parts, '"' .. k .. '":' .. total[k]) end
  table.insert(parts, '"requests":' .. summary.requests)
  table.insert(parts, '"duration_us":' .. summary.duration)
  table.insert(parts, '"errors_connect":' .. summary.errors.connect)
  table.insert(parts, '"errors_read":' .. summary.errors.read)
  table.insert(parts, '"errors_write":' .. summary.errors.write)
  table.insert(parts, '"errors_status":' .. summary.errors.status)
  table.insert(parts, '"errors_timeout":' .. summary.errors.timeout)
  table.insert(parts, '"latency_p50_us":' .. latency:percentile(50))
  table.insert(parts, '"latency_p99_us":' .. latency:percentile(99))
  table.insert(parts, '"latency_max_us":' .. latency.max)
  io.write("SOAK_RESULT {" .. table.concat(parts, ",") .. "}\n")
  if samples ~= "" then
    io.write("SOAK_BAD_SAMPLES\n" .. samples)
  end
end
