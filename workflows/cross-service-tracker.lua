-- cross-service-tracker.lua
--
-- Turns GitHub crash reports into tracked work:
--   1. a GitHub issue whose title or body mentions "crash" is opened
--   2. → a Linear issue is created for it (with a one-line AI summary when the
--        AI is configured, the GitHub title otherwise)
--   3. → the team is told in Slack
--   4. → a custom `tracker.linked` event is published on sekia.events.tracker,
--        for other workflows (dashboards, digests) to react to
-- The workflow keeps a conversation per GitHub issue: it records the report and
-- every later comment on it, and its metadata remembers that the issue is
-- already tracked (GitHub polling can deliver the same "opened" event again).
--
-- Needs: sekia-github ("github-agent" emits the events), sekia-linear
-- ("linear-agent"), sekia-slack ("slack-agent"); optionally [ai] in sekia.toml.
-- Events on sekia.events.github:
--   github.issue.opened     payload: owner, repo, number, title, body, author, url, labels
--   github.comment.created  payload: owner, repo, issue_number, comment_id, body, author, url
-- Commands: linear-agent create_issue {team_id, title, description}
--           slack-agent  send_message {channel, text}
-- Publishes: tracker.linked on sekia.events.tracker
--           payload: owner, repo, number, url, title, summary, conversation

local LINEAR = "linear-agent"
local SLACK = "slack-agent"

-- Linear team *id* (UUID; Linear → Settings → Teams → the team → "Copy ID").
local LINEAR_TEAM_ID = "9cfb482a-81e3-4154-b5b9-2c805e70a02d"
local SLACK_CHANNEL = "#incidents"
local TRIGGER = "crash" -- also matches "crashes", "crashed", "crashing"

local function conversation_for(owner, repo, number)
  -- One conversation per issue: platform "github", channel "owner/repo",
  -- thread = the issue number.
  return sekia.conversation("github", owner .. "/" .. repo, tostring(number))
end

local function on_issue_opened(p)
  local text = string.lower((p.title or "") .. "\n" .. (p.body or ""))
  if not string.find(text, TRIGGER, 1, true) then
    return
  end
  local ref = string.format("%s/%s#%d", p.owner, p.repo, p.number)
  local conv = conversation_for(p.owner, p.repo, p.number)
  if conv:metadata("tracked") == "yes" then
    sekia.log("debug", "tracker: " .. ref .. " is already tracked")
    return
  end

  -- sekia.ai returns (text, nil) or (nil, "error"); without an [ai] section
  -- the error is "AI not configured: ...". Fall back to the title.
  local summary, err = sekia.ai(
    "Summarise this crash report in one sentence for an issue tracker:\n\n"
      .. (p.title or "") .. "\n\n" .. string.sub(p.body or "", 1, 3000),
    { max_tokens = 100, temperature = 0 }
  )
  if summary == nil then
    sekia.log("info", "tracker: no AI summary (" .. tostring(err) .. "), using the title")
    summary = p.title or ref
  end

  conv:append("user", string.format("Crash report %s by @%s: %s\n\n%s", ref, p.author or "?", p.title or "", p.body or ""))
  conv:metadata("tracked", "yes")
  conv:metadata("url", p.url or "")

  sekia.command(LINEAR, "create_issue", {
    team_id = LINEAR_TEAM_ID,
    title = "[crash] " .. (p.title or ref),
    description = summary .. "\n\nGitHub: " .. (p.url or ref) .. "\nReported by @" .. (p.author or "?"),
  })
  sekia.command(SLACK, "send_message", {
    channel = SLACK_CHANNEL,
    text = string.format(":boom: Crash reported in %s: <%s|%s>\n%s\nA Linear issue is being created.",
      ref, p.url or "", p.title or ref, summary),
  })
  sekia.publish("sekia.events.tracker", "tracker.linked", {
    owner = p.owner,
    repo = p.repo,
    number = p.number,
    url = p.url,
    title = p.title,
    summary = summary,
    conversation = conv.id,
  })
end

local function on_comment(p)
  -- Polled comments carry no issue_number; only webhook comments can be matched.
  if p.issue_number == nil then
    return
  end
  local conv = conversation_for(p.owner, p.repo, p.issue_number)
  if conv:metadata("tracked") ~= "yes" then
    return
  end
  conv:append("user", "@" .. (p.author or "?") .. ": " .. (p.body or ""))
  local history = conv:history()
  sekia.log("info", string.format("tracker: %s/%s#%d has %d messages, latest from %s (%s)",
    p.owner, p.repo, p.issue_number, #history, p.author or "?", conv:metadata("url")))
end

sekia.on("sekia.events.github", function(event)
  if event.type == "github.issue.opened" then
    on_issue_opened(event.payload)
  elseif event.type == "github.comment.created" then
    on_comment(event.payload)
  end
end)
