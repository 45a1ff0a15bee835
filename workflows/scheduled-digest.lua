-- scheduled-digest.lua
--
-- Counts every event sekia sees and posts an hourly digest to Slack. When the
-- AI is configured, the digest is written by the LLM (in the style of the
-- "digest-writer" skill, if you have one); otherwise the raw counts are posted.
--
-- Needs: sekia-slack ("slack-agent"). Optional: [ai] and [conversation] in
-- sekia.toml, and a skill at <skills.dir>/digest-writer/SKILL.md, e.g.
--     ---
--     name: digest-writer
--     description: Writes short activity digests
--     ---
--     Write three bullet points at most, busiest source first, no greetings.
-- Events:  everything on sekia.events.> (agents and other workflows; never
--          this workflow's own events)
-- Command: send_message {channel, text}

local SLACK = "slack-agent"
local CHANNEL = "#sekia-digest"
local EVERY = 3600 -- seconds; the first digest is posted one interval after loading
local SKILL = "digest-writer"
local DEFAULT_STYLE = "Write a short, friendly activity summary for a Slack channel."

-- Globals (no `local`) persist across events and schedule ticks until the file
-- is reloaded (editing it restarts the count).
counts = {}
total = 0

sekia.on("sekia.events.>", function(event)
  total = total + 1
  counts[event.type] = (counts[event.type] or 0) + 1
  sekia.log("debug", string.format("digest: counted %s (%d this period)", event.type, total))
end)

-- "12 × github.issue.opened" lines, busiest first.
local function tally()
  local rows = {}
  for event_type, n in pairs(counts) do
    table.insert(rows, { event_type = event_type, n = n })
  end
  table.sort(rows, function(a, b)
    if a.n ~= b.n then
      return a.n > b.n
    end
    return a.event_type < b.event_type
  end)
  local lines = {}
  for i, row in ipairs(rows) do
    lines[i] = string.format("%d × %s", row.n, row.event_type)
  end
  return lines
end

-- Schedules can only be registered while the file loads.
sekia.schedule(EVERY, function()
  if total == 0 then
    print(sekia.name .. ": no events this period, no digest")
    return
  end
  local plain = string.format(
    "%d %s in the last hour:\n%s",
    total,
    total == 1 and "event" or "events",
    table.concat(tally(), "\n")
  )

  -- sekia.skill returns the skill's instructions, or "" if there is no such skill.
  local style = sekia.skill(SKILL)
  if style == "" then
    style = DEFAULT_STYLE
  end

  -- The conversation keeps earlier digests, so the model can compare with the
  -- previous hours. conv:reply returns (text, nil) or (nil, "error") and
  -- records both the prompt and the answer in the conversation.
  local conv = sekia.conversation("slack", CHANNEL)
  local text, err = conv:reply(style .. "\n\nSummarise this hour's sekia activity:\n" .. plain)
  if text == nil then
    sekia.log("warn", "digest: no AI summary (" .. tostring(err) .. "), posting the counts")
    text = plain
  end

  sekia.command(SLACK, "send_message", { channel = CHANNEL, text = "*sekia digest*\n" .. text })
  print(string.format("%s: posted a digest of %d events", sekia.name, total))
  counts = {}
  total = 0
end)

print(sekia.name .. ": posting a digest every " .. EVERY .. " seconds to " .. CHANNEL)
