-- calendar-reminder.lua
--
-- Posts a Slack reminder shortly before each calendar event starts.
--
-- Needs: sekia-google with Calendar enabled and `upcoming_mins` > 0 in
-- sekia-google.toml (e.g. 15), registered as "google-agent"; sekia-slack
-- ("slack-agent").
-- Event:   google.calendar.event.upcoming on sekia.events.google (sent once
--          per event, `upcoming_mins` before it starts)
--          payload: id, summary, start, end (RFC 3339), minutes_until,
--                   location, html_link, calendar_id
-- Command: slack-agent send_message {channel, text}

local SLACK = "slack-agent"

-- A channel name, channel id, or your own user id (posts to your DMs with the bot).
local CHANNEL = "#reminders"

-- "2024-05-14T15:30:00+02:00" → "15:30 (+02:00)". The time is shown in the
-- calendar's own offset; all-day events arrive as midnight UTC.
local function clock_time(rfc3339)
  local hh, mm, zone = string.match(rfc3339 or "", "T(%d%d):(%d%d):%d%d[%.%d]*(.*)$")
  if hh == nil then
    return rfc3339 or "?"
  end
  if zone == "Z" or zone == "" then
    zone = "UTC"
  end
  return string.format("%s:%s (%s)", hh, mm, zone)
end

sekia.on("sekia.events.google", function(event)
  if event.type ~= "google.calendar.event.upcoming" then
    return
  end
  local p = event.payload
  local title = p.summary
  if title == nil or title == "" then
    title = "(no title)"
  end

  local when
  local mins = p.minutes_until or 0
  if mins <= 0 then
    when = "now"
  elseif mins == 1 then
    when = "in 1 minute"
  else
    when = string.format("in %d minutes", mins)
  end

  local lines = {
    string.format(":calendar: *%s* starts %s, at %s", title, when, clock_time(p.start)),
  }
  if p.location and p.location ~= "" then
    table.insert(lines, "Where: " .. p.location)
  end
  if p.html_link and p.html_link ~= "" then
    table.insert(lines, "<" .. p.html_link .. "|Open in Google Calendar>")
  end

  sekia.command(SLACK, "send_message", {
    channel = CHANNEL,
    text = table.concat(lines, "\n"),
  })
end)
