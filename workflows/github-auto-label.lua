-- github-auto-label.lua
--
-- When a GitHub issue is opened, label it from keywords found in its title and
-- body, and leave a comment saying what was done. Unlabelled issues that match
-- no rule get a "needs-triage" label so a human picks them up.
--
-- Needs: sekia-github (registered as "github-agent"), webhooks or polling.
-- Event:    github.issue.opened on sekia.events.github
--           payload: owner, repo, number, title, body, author, url, labels
-- Commands: add_label {owner, repo, number, label}
--           create_comment {owner, repo, number, body}

local AGENT = "github-agent"

-- Label → keywords (lower case, matched as whole words or phrases).
-- The labels must exist in the repository; GitHub creates missing ones with a
-- grey colour.
local RULES = {
  { label = "bug",           keywords = { "bug", "crash", "crashes", "error", "exception", "broken", "panic" } },
  { label = "enhancement",   keywords = { "feature", "feature request", "enhancement", "would be nice", "support for" } },
  { label = "documentation", keywords = { "docs", "documentation", "readme", "typo" } },
  { label = "question",      keywords = { "question", "how do i", "how to" } },
}

local FALLBACK_LABEL = "needs-triage"

-- True if `word` occurs in `text` as a whole word (or whole phrase).
-- %f[%w] / %f[%W] are frontier patterns: "error" matches "an error." but not
-- "terror". Keywords are plain letters and spaces, so they need no escaping.
local function has_word(text, word)
  return string.find(text, "%f[%w]" .. word .. "%f[%W]") ~= nil
end

-- Labels of `rules` whose keywords appear in `text`, skipping labels the issue
-- already has.
local function labels_for(text, existing)
  local have = {}
  for _, l in ipairs(existing or {}) do
    have[l] = true
  end
  local found = {}
  for _, rule in ipairs(RULES) do
    if not have[rule.label] then
      for _, kw in ipairs(rule.keywords) do
        if has_word(text, kw) then
          table.insert(found, rule.label)
          break
        end
      end
    end
  end
  return found
end

sekia.on("sekia.events.github", function(event)
  if event.type ~= "github.issue.opened" then
    return
  end
  local p = event.payload
  local text = string.lower((p.title or "") .. "\n" .. (p.body or ""))
  local labels = labels_for(text, p.labels)

  if #labels == 0 then
    -- Nothing new to add. Only flag issues that arrived without any label
    -- (an issue template may already have labelled the others).
    if #(p.labels or {}) == 0 then
      sekia.command(AGENT, "add_label", {
        owner = p.owner, repo = p.repo, number = p.number, label = FALLBACK_LABEL,
      })
    end
    return
  end

  for _, label in ipairs(labels) do
    sekia.command(AGENT, "add_label", {
      owner = p.owner, repo = p.repo, number = p.number, label = label,
    })
  end

  local names = {}
  for i, label in ipairs(labels) do
    names[i] = "`" .. label .. "`"
  end
  sekia.command(AGENT, "create_comment", {
    owner = p.owner,
    repo = p.repo,
    number = p.number,
    body = string.format(
      "Thanks for the report, @%s! I labelled this issue %s based on its description. "
        .. "A maintainer will take a look soon.",
      p.author or "there",
      table.concat(names, ", ")
    ),
  })
end)
