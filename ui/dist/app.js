// sekia's window: the daemon's status and the latest events, updated live.
// Talks to the shell only through its commands and its two events (sekia:state, sekia:event).
"use strict";

const MAX_SHOWN = 50;
const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;
const $ = (id) => document.getElementById(id);
const shown = new Set();

function setStatus(text, cls) {
  const el = $("status");
  el.textContent = text;
  el.className = cls;
}

function showError(message) {
  const el = $("error");
  el.textContent = message || "";
  el.hidden = !message;
}

async function refreshStatus() {
  try {
    const s = await invoke("status");
    setStatus(s.status === "ok" ? "running" : s.status, "state-running");
    $("agent-count").textContent = s.agent_count;
    $("workflow-count").textContent = s.workflow_count;
    $("uptime").textContent = s.uptime;
    $("publish").disabled = false;
  } catch (e) {
    // The daemon is starting, stopped, or did not start (e.g. another sekiad owns the socket).
    setStatus(String(e), String(e).startsWith("sekia is starting") ? "state-starting" : "state-failed");
    for (const id of ["agent-count", "workflow-count", "uptime"]) $(id).textContent = "–";
    $("publish").disabled = true;
  }
}

function eventItem(ev) {
  const li = document.createElement("li");
  li.dataset.id = ev.id;
  const time = document.createElement("time");
  const d = new Date(ev.timestamp * 1000);
  time.dateTime = d.toISOString();
  time.textContent = d.toLocaleTimeString();
  const head = document.createElement("div");
  const type = document.createElement("span");
  type.className = "type";
  type.textContent = ev.type;
  const source = document.createElement("span");
  source.className = "source";
  source.textContent = " from " + ev.source;
  head.append(type, source);
  const payload = document.createElement("div");
  payload.className = "payload";
  payload.textContent = ev.payload;
  li.append(time, head, payload);
  return li;
}

function addEvent(ev, atTop) {
  if (shown.has(ev.id)) return;
  shown.add(ev.id);
  const list = $("events");
  const li = eventItem(ev);
  if (atTop) list.prepend(li); else list.append(li);
  while (list.children.length > MAX_SHOWN) {
    shown.delete(list.lastElementChild.dataset.id);
    list.lastElementChild.remove();
  }
  $("no-events").hidden = true;
}

async function loadEvents() {
  try {
    const events = await invoke("recent_events", { limit: MAX_SHOWN });
    for (const ev of events) addEvent(ev, false);
    showError("");
  } catch (e) {
    // "Not running" and its reason are already in #status.
    if (String(e) !== $("status").textContent && !String(e).startsWith("sekia is starting")) {
      showError(String(e));
    }
  }
}

async function publish() {
  const button = $("publish");
  button.disabled = true;
  try {
    await invoke("publish_test_event", {});
    showError("");
  } catch (e) {
    showError(String(e));
  } finally {
    await refreshStatus(); // re-enables the button while the daemon runs
  }
}

async function main() {
  $("publish").addEventListener("click", publish);
  await listen("sekia:event", (e) => {
    addEvent(e.payload, true);
    refreshStatus();
  });
  await listen("sekia:state", () => {
    refreshStatus();
    loadEvents();
  });
  await refreshStatus();
  await loadEvents();
  setInterval(refreshStatus, 5000);
}

main();
