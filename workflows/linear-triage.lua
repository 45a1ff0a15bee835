-- linear-triage.lua
--
-- Labels new Linear issues from keywords in their title and description and
-- comments with what was done and, for unprioritised issues, a nudge to set a
-- priority.
--
-- Needs: sekia-linear (registered as "linear-agent").
-- Event:    linear.issue.created on sekia.events.linear
--           payload: id, identifier, title, state, priority (0 = none),
--                    team (key), url, labels (names), description?, assignee?
-- Commands: add_label {issue_id, label_id}
--           create_comment {issue_id, body}
-- Note: Linear's API wants label *ids* (UUIDs: Linear → Settings → Labels →
-- "Copy ID"), while the event lists label *names*; each rule has both.

local AGENT = "linear-agent"

local RULES = {
  { name = "Bug",         id = "5c1f2a8e-0000-4000-8000-00000000b001", keywords = { "bug", "crash", "error", "broken", "regression" } },
  { name = "Feature",     id = "5c1f2a8e-0000-4000-8000-00000000f002", keywords = { "feature", "add support", "would like" } },
  { name = "Performance", id = "5c1f2a8e-0000-4000-8000-00000000a003", keywords = { "slow", "latency", "timeout", "memory" } },
}

-- Only triage these teams (keys); empty = all teams.
local TEAMS = {}

local function wanted_team(key)
  if next(TEAMS) == nil then
    return true
  end
  for _, t in ipairs(TEAMS) do
    if t == key then
      return true
    end
  end
  return false
end

local function contains_any(text, keywords)
  for _, kw in ipairs(keywords) do
    if string.find(text, kw, 1, true) then
      return true
    end
  end
  return false
end

sekia.on("sekia.events.linear", function(event)
  if event.type ~= "linear.issue.created" then
    return
  end
  local p = event.payload
  if not wanted_team(p.team) then
    sekia.log("debug", "linear triage: ignoring team " .. tostring(p.team))
    return
  end

  local have = {}
  for _, name in ipairs(p.labels or {}) do
    have[name] = true
  end

  local text = string.lower((p.title or "") .. "\n" .. (p.description or ""))
  local added = {}
  for _, rule in ipairs(RULES) do
    if not have[rule.name] and contains_any(text, rule.keywords) then
      sekia.command(AGENT, "add_label", { issue_id = p.id, label_id = rule.id })
      table.insert(added, rule.name)
    end
  end

  local no_priority = (p.priority or 0) == 0
  if #added == 0 and not no_priority then
    sekia.log("info", string.format("linear triage: %s needs nothing", p.identifier))
    return
  end

  local parts = { "Auto-triage:" }
  if #added > 0 then
    table.insert(parts, "labelled " .. table.concat(added, ", ") .. ".")
  end
  if no_priority then
    table.insert(parts, "This issue has no priority yet; please set one.")
  end
  sekia.command(AGENT, "create_comment", { issue_id = p.id, body = table.concat(parts, " ") })
  sekia.log("info", string.format("linear triage: %s labelled [%s]", p.identifier, table.concat(added, ", ")))
end)
