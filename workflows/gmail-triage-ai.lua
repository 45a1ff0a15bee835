-- gmail-triage-ai.lua
--
-- Lets the LLM triage incoming mail:
--   urgent      → starred in Gmail and announced in Slack (Block Kit message)
--   newsletter  → archived (leaves the inbox, stays searchable)
--   normal      → left alone
-- If the AI is unavailable or answers nonsense, the mail is left alone and a
-- warning is logged: nothing is archived on a guess.
--
-- Needs: the [ai] section in sekia.toml; sekia-google with Gmail enabled
-- (registered as "google-agent"); sekia-slack ("slack-agent") for alerts.
-- Event:    gmail.message.received on sekia.events.google
--           payload: id, thread_id, message_id, from, to, subject, body,
--                    snippet, date, labels (label ids)
-- Commands: google-agent add_label {message_id, label}   (label *id*)
--           google-agent archive {message_id}
--           slack-agent  send_message {channel, text, blocks}
-- Note: the Gmail commands' `message_id` is Gmail's message id (payload.id),
-- not the RFC 822 Message-ID header (payload.message_id).

local GOOGLE = "google-agent"
local SLACK = "slack-agent"

local ALERT_CHANNEL = "#urgent-mail"
-- A label *id*. System labels (STARRED, IMPORTANT) work as is; for your own
-- labels use the id Gmail gives them (e.g. "Label_4"), not the display name.
local URGENT_LABEL = "STARRED"

local AI_OPTS = {
  model = "claude-3-5-haiku-latest", -- a small, fast model is plenty here
  max_tokens = 200,
  temperature = 0, -- classification: no creativity wanted
  system = "You triage a busy engineer's inbox. Urgent means someone is blocked, "
    .. "something is broken in production, or a deadline is today. Newsletters are "
    .. "bulk or marketing mail. Everything else is normal.",
}

local CATEGORIES = { urgent = true, newsletter = true, normal = true }

-- Slack mrkdwn needs &, < and > escaped.
local function slack_escape(s)
  s = string.gsub(s or "", "&", "&amp;")
  s = string.gsub(s, "<", "&lt;")
  s = string.gsub(s, ">", "&gt;")
  return s
end

local function has_label(p, id)
  for _, l in ipairs(p.labels or {}) do
    if l == id then
      return true
    end
  end
  return false
end

local function classify(p)
  local prompt = string.format(
    'Classify this email. Answer as JSON: {"category": "urgent" | "newsletter" | "normal", '
      .. '"reason": "<one short sentence>"}\n\nFrom: %s\nSubject: %s\n\n%s',
    p.from or "",
    p.subject or "",
    -- Keep the prompt small: the first 2000 characters say enough.
    string.sub(p.body or p.snippet or "", 1, 2000)
  )
  -- sekia.ai_json returns (value, nil) or (nil, "error message").
  local result, err = sekia.ai_json(prompt, AI_OPTS)
  if result == nil then
    return nil, err or "AI returned null"
  end
  if type(result) ~= "table" or not CATEGORIES[result.category] then
    return nil, "unexpected AI answer"
  end
  return result.category, result.reason or ""
end

sekia.on("sekia.events.google", function(event)
  if event.type ~= "gmail.message.received" then
    return
  end
  local p = event.payload
  -- Sent mail shows up too (label SENT); only triage what others sent us.
  if has_label(p, "SENT") then
    return
  end

  local category, reason = classify(p)
  if category == nil then
    sekia.log("warn", string.format('gmail triage skipped "%s": %s', p.subject or "", reason))
    return
  end
  sekia.log("info", string.format('gmail triage: "%s" is %s', p.subject or "", category))

  if category == "newsletter" then
    sekia.command(GOOGLE, "archive", { message_id = p.id })
  elseif category == "urgent" then
    sekia.command(GOOGLE, "add_label", { message_id = p.id, label = URGENT_LABEL })
    sekia.command(SLACK, "send_message", {
      channel = ALERT_CHANNEL,
      -- `text` is the notification fallback; `blocks` is what Slack renders.
      text = "Urgent email from " .. slack_escape(p.from or "unknown") .. ": " .. slack_escape(p.subject),
      blocks = {
        { type = "header", text = { type = "plain_text", text = ":rotating_light: Urgent email" } },
        {
          type = "section",
          fields = {
            { type = "mrkdwn", text = "*From:*\n" .. slack_escape(p.from) },
            { type = "mrkdwn", text = "*Subject:*\n" .. slack_escape(p.subject) },
          },
        },
        { type = "section", text = { type = "mrkdwn", text = "*Why:* " .. slack_escape(reason) } },
        { type = "context", elements = { { type = "mrkdwn", text = slack_escape(p.snippet) } } },
      },
    })
  end
end)
