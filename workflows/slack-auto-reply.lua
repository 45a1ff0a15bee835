-- slack-auto-reply.lua
--
-- Answers common questions in Slack. When someone mentions the bot, or writes a
-- message containing one of the FAQ keywords, the workflow reacts to the
-- message and replies in its thread. Messages from bots are ignored, so the
-- workflow never answers itself or another bot.
--
-- Needs: sekia-slack (registered as "slack-agent") in Socket Mode.
-- Events on sekia.events.slack:
--   slack.mention           a message containing <@BOT_ID> (sekia turns Slack's
--                           messages that mention the bot into this type; it
--                           does not forward Slack's separate app_mention events)
--   slack.message.received  any other message
--   payload: channel, user, text, timestamp, thread_ts (only inside a thread)
-- Commands: send_reply {channel, thread_ts, text}
--           add_reaction {channel, timestamp, emoji}   (emoji without colons)

local AGENT = "slack-agent"

-- Your bot's user id (Slack → app → "Member ID"). sekia's agent already drops
-- the bot's own messages; this is a second line of defence for events injected
-- by other workflows or through MCP.
local BOT_USER_ID = "U0SEKIABOT"

-- Keyword (lower case, plain text) → answer. First match wins.
local FAQ = {
  { keyword = "vpn",        answer = "VPN access: request it in #it-help with the `vpn-access` form; it is usually granted within a day." },
  { keyword = "on-call",    answer = "This week's on-call rota is pinned in #ops. Page the on-call with `/pd trigger`." },
  { keyword = "deploy",     answer = "Deploys run from the `release` pipeline; check its status at https://ci.example.com/release." },
  { keyword = "wifi",       answer = "Guest Wi-Fi: network `Example-Guest`, the password is on the kitchen whiteboard." },
}

local DEFAULT_ANSWER = "Hi! I can help with: vpn, on-call, deploy, wifi. Mention me with one of those words."

local function is_bot(p)
  -- `bot_id` / `subtype` are not in sekia's payload today; checking them keeps
  -- the workflow safe if a future agent or another workflow adds them.
  return p.user == nil or p.user == BOT_USER_ID or p.bot_id ~= nil or p.subtype ~= nil
end

local function faq_answer(text)
  local lower = string.lower(text or "")
  for _, entry in ipairs(FAQ) do
    -- plain find (4th argument true): keywords like "on-call" contain '-',
    -- which is a pattern character.
    if string.find(lower, entry.keyword, 1, true) then
      return entry.answer
    end
  end
  return nil
end

sekia.on("sekia.events.slack", function(event)
  local p = event.payload
  local mention = event.type == "slack.mention"
  if not mention and event.type ~= "slack.message.received" then
    return
  end
  if is_bot(p) then
    return
  end

  local answer = faq_answer(p.text)
  if answer == nil then
    if not mention then
      return -- ordinary chatter: stay quiet
    end
    answer = DEFAULT_ANSWER
  end

  -- Reply in the existing thread, or start one under the message.
  local thread = p.thread_ts or p.timestamp

  sekia.command(AGENT, "add_reaction", {
    channel = p.channel,
    timestamp = p.timestamp,
    emoji = mention and "eyes" or "bulb",
  })
  sekia.command(AGENT, "send_reply", {
    channel = p.channel,
    thread_ts = thread,
    text = string.format("<@%s> %s", p.user, answer),
  })
end)
