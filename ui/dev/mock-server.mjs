#!/usr/bin/env node
// A stand-in for the daemon's dashboard server, for trying the UI without Rust: serves `dist/`
// with the desktop's CSP, sets the CSRF cookie, answers `POST /api/v1/rpc` from made-up data
// and streams a made-up event every couple of seconds on `/api/v1/events/stream`.
//
//   npm run build && npm run mock            # http://127.0.0.1:7777
//   npm run mock & npm run dev               # vite dev proxies /api here
//
// Env: PORT (7777), MOCK_EVENTS (history size, default 500; try 100000), MOCK_RATE_MS (2000),
// MOCK_EMPTY=1 (a fresh install: no events, agents, workflows or accounts).
// Not a test oracle: the real contract is the Rust code; this only mimics its shapes.

import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = join(here, '..', 'dist');
const WORKFLOWS = join(here, '..', '..', 'workflows');
const PORT = Number(process.env.PORT ?? 7777);
const EMPTY = process.env.MOCK_EMPTY === '1';
const HISTORY = EMPTY ? 0 : Number(process.env.MOCK_EVENTS ?? 500);
const RATE = Number(process.env.MOCK_RATE_MS ?? 2000);
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const started = Date.now();
const now = () => Math.floor(Date.now() / 1000);
const goTime = (ms) => new Date(ms).toISOString().replace('Z', '000000Z');
const goDuration = (ms) => {
  let s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  s %= 3600;
  const m = Math.floor(s / 60);
  s %= 60;
  return `${h ? h + 'h' : ''}${h || m ? m + 'm' : ''}${s}s`;
};

// ---- Made-up state --------------------------------------------------------------------------

const KINDS = [
  ['github', 'github.issue.opened', (i) => ({ owner: 'octo', repo: 'hello', number: 100 + i, title: i % 7 ? `Feature request #${i}` : `Crash on save #${i}`, body: 'Steps to reproduce…', author: 'mona', labels: [] })],
  ['github', 'github.comment.created', (i) => ({ owner: 'octo', repo: 'hello', number: 100 + (i % 40), body: 'Thanks, looking into it.', author: 'hubot' })],
  ['slack', 'slack.message.received', (i) => ({ channel: 'C0123', user: 'U42', text: i % 5 ? 'where is the vpn guide?' : 'deploy is done', ts: `${now()}.000${i % 10}` })],
  ['gmail', 'gmail.message.received', (i) => ({ from: 'news@example.com', subject: `Weekly digest ${i}`, snippet: 'This week in…', labels: ['INBOX'] })],
  ['linear', 'linear.issue.created', (i) => ({ id: `LIN-${i}`, title: 'Login button misaligned', team: 'WEB', priority: i % 4 })],
];

let seq = 0;
const events = []; // oldest first
function makeEvent(i, ts) {
  const [source, type, payload] = KINDS[i % KINDS.length];
  const p = JSON.stringify(payload(i));
  return {
    seq: ++seq,
    subject: `sekia.events.${source}`,
    id: `evt_${randomUUID()}`,
    type,
    source,
    timestamp: ts,
    payload: p,
    truncated: false,
    received_at_ms: ts * 1000 + (i % 1000),
    replayed_from: null,
  };
}
for (let i = 0; i < HISTORY; i++) events.push(makeEvent(i, now() - (HISTORY - i) * 7));

const commands = [];
let cseq = 0;
function addCommand(agent, command, payload, outcome, error) {
  const at = Date.now() - Math.floor(Math.random() * 3_600_000);
  commands.push({
    seq: ++cseq,
    subject: `sekia.commands.${agent}`,
    agent,
    command,
    source: 'workflow:github-auto-label',
    signature: '',
    signature_valid: null,
    payload: JSON.stringify(payload),
    truncated: false,
    received_at_ms: at,
    command_id: randomBytes(8).toString('hex'),
    outcome,
    outcome_error: error ?? null,
    outcome_duration_ms: outcome ? 120 + cseq * 3 : null,
    outcome_at_ms: outcome ? at + 300 : null,
  });
}
if (!EMPTY) {
  addCommand('github-agent', 'add_label', { owner: 'octo', repo: 'hello', number: 101, label: 'bug' }, 'succeeded');
  addCommand('github-agent', 'create_comment', { owner: 'octo', repo: 'hello', number: 101, body: 'Labelled bug' }, 'failed', 'GitHub API: 403 Resource not accessible by integration');
  addCommand('slack-agent', 'send_reply', { channel: 'C0123', text: 'The VPN guide is at …' }, 'succeeded');
  addCommand('linear-agent', 'add_label', { issue: 'LIN-4', label: 'triage' }, null);
}

const agents = EMPTY
  ? []
  : [
      { name: 'github-agent', version: '0.9.2', status: 'running', capabilities: ['read', 'write'], commands: ['add_label', 'create_comment'], registered_at: goTime(started - 86_400_000), last_heartbeat: goTime(Date.now() - 12_000), events_processed: 1432, errors: 2 },
      { name: 'slack-agent', version: '0.9.2', status: 'running', capabilities: ['read', 'write'], commands: ['send_message', 'send_reply', 'add_reaction'], registered_at: goTime(started - 86_400_000), last_heartbeat: goTime(Date.now() - 25_000), events_processed: 388, errors: 0 },
      { name: 'linear-agent', version: '0.8.0', status: 'offline', capabilities: [], commands: ['add_label', 'create_comment', 'create_issue'], registered_at: goTime(started - 86_400_000), last_heartbeat: goTime(Date.now() - 600_000), events_processed: 51, errors: 0 },
    ];

const templates = existsSync(WORKFLOWS)
  ? readdirSync(WORKFLOWS)
      .filter((f) => f.endsWith('.lua'))
      .map((name) => {
        const source = readFileSync(join(WORKFLOWS, name), 'utf8');
        const description = source
          .split('\n')
          .slice(2)
          .filter((l) => l.startsWith('--'))
          .map((l) => l.replace(/^--\s?/, ''))
          .join(' ')
          .split('  ')[0]
          .trim()
          .slice(0, 200);
        return { name, description, source };
      })
  : [];

const files = new Map(); // name → source
if (!EMPTY) {
  for (const t of templates.slice(0, 3)) files.set(t.name, t.source);
  files.set('broken.lua', '-- broken.lua\n\nsekia.on("sekia.events.github", function(event)\n  sekia.log("info", "hi" !! )\nend)\n');
}
let paused = false;
const loadedAt = new Map();

function syntaxCheck(name, source) {
  const lines = source.split('\n');
  const bad = lines.findIndex((l) => l.includes('!!'));
  // A stand-in for Lua's parser: `!!` anywhere is a syntax error on its line.
  if (bad >= 0) return { kind: 'syntax', file: name, line: bad + 1, message: "unexpected symbol near '!'" };
  return null;
}

function workflowsReport() {
  const workflows = [];
  const load_errors = [];
  for (const [name, source] of files) {
    const err = syntaxCheck(name, source);
    if (err) {
      load_errors.push({ at: goTime(Date.now() - 60_000), ...err });
      continue;
    }
    if (!loadedAt.has(name)) loadedAt.set(name, Date.now() - 3_600_000);
    const stem = name.replace(/\.lua$/, '');
    const n = [...stem].reduce((a, c) => a + c.charCodeAt(0), 0);
    workflows.push({
      last_error: n % 3 === 0 ? { message: "attempt to index a nil value (field 'payload')", line: 12, at: goTime(Date.now() - 900_000) } : null,
      handler_p50_us: 180 + (n % 400),
      handler_p99_us: 2400 + (n % 4000),
      dropped: 0,
      name: stem,
      file_path: `/home/you/.config/sekia/workflows/${name}`,
      handlers: 1 + (n % 3),
      patterns: ['sekia.events.github'],
      loaded_at: goTime(loadedAt.get(name)),
      events: n * 3,
      errors: n % 3 === 0 ? 4 : 0,
    });
  }
  return { workflows, load_errors, paused, dir: '/home/you/.config/sekia/workflows' };
}

let settings = {
  ai: { provider: 'anthropic', model: 'claude-sonnet-4', base_url: '', api_key_set: true },
  workflows: { handler_timeout: '30s', memory_limit: '64MiB' },
  store: { max_events: 100000, max_age: '720h' },
  web: { listen: `127.0.0.1:${PORT}` },
  config_path: '/home/you/.config/sekia/sekia.toml',
  restart_required: [],
};

const providers = [
  { id: 'github', label: 'GitHub', sign_in: true, sign_in_note: null, paste: 'github_pat' },
  { id: 'slack', label: 'Slack', sign_in: false, sign_in_note: 'Slack accounts are added by pasting tokens', paste: 'slack_bot_and_app_token' },
  { id: 'google', label: 'Google (Gmail and Calendar)', sign_in: true, sign_in_note: null, paste: null },
  { id: 'linear', label: 'Linear', sign_in: false, sign_in_note: 'set accounts.linear.client_id (and client_secret) to the OAuth app you registered with Linear, or paste a token', paste: 'linear_api_key' },
];
let accounts = EMPTY
  ? []
  : [
      { provider: 'github', name: 'github-agent', identity: 'mona', state: 'connected', kind: 'oauth', connected_at: Date.now() - 86_400_000, expires_at: null },
      { provider: 'slack', name: 'slack-agent', identity: 'Acme (bot sekia)', state: 'needs_reconnect', kind: 'token', connected_at: Date.now() - 3 * 86_400_000, expires_at: null },
    ];
let signIns = [];

const logs = [];
const COMPONENTS = ['daemon', 'workflow', 'store', 'bus', 'server'];
for (let i = 0; i < 300; i++) {
  const level = i % 37 === 0 ? 'error' : i % 11 === 0 ? 'warn' : i % 3 === 0 ? 'debug' : 'info';
  logs.push({ at_ms: Date.now() - (300 - i) * 4000, level, component: COMPONENTS[i % COMPONENTS.length], message: `${level === 'error' ? 'handler failed' : 'event routed'} workflow=github-auto-label seq=${i}` });
}

// ---- RPC ------------------------------------------------------------------------------------

class Fail extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

const RANK = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };
function glob(g) {
  return new RegExp('^' + g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's');
}
function page(rows, args, keyOf) {
  const limit = Math.min(args.limit || 50, 1000);
  const after = args.cursor ? Number(args.cursor) : Infinity;
  const items = [];
  for (let i = rows.length - 1; i >= 0 && items.length < limit; i--) if (keyOf(rows[i]) < after) items.push(rows[i]);
  const more = items.length === limit && rows.some((r) => keyOf(r) < keyOf(items[items.length - 1]));
  return { items, next_cursor: more ? String(keyOf(items[items.length - 1])) : null };
}

function publish(source, type, payload, replayed_from = null) {
  const ev = { ...makeEvent(0, now()), source, type, subject: `sekia.events.${source}`, payload: JSON.stringify(payload ?? {}), replayed_from };
  ev.received_at_ms = Date.now();
  events.push(ev);
  for (const c of clients) c.send(ev);
  return { id: ev.id, type, source, timestamp: ev.timestamp, payload: payload ?? {} };
}

const rpc = {
  status: () => ({
    paused,
    events_today: events.filter((e) => e.timestamp > now() - 86400).length,
    history: true,
    workflows_enabled: true,
    attention: EMPTY
      ? []
      : [
          { kind: 'agent_offline', text: 'agent linear-agent is offline' },
          { kind: 'workflow_error', text: 'workflow broken.lua did not load: line 4' },
        ],
    status: 'ok',
    uptime: goDuration(Date.now() - started + 3_723_000),
    nats_running: true,
    started_at: goTime(started - 3_723_000),
    agent_count: agents.length,
    workflow_count: workflowsReport().workflows.length,
  }),
  agents: () => ({ agents }),
  workflows: () => workflowsReport(),
  reload_workflows: () => ({ loaded: workflowsReport().workflows.length }),
  workflow_source: ({ name }) => {
    if (!files.has(name)) throw new Fail(404, `no workflow named ${name}`, 'name');
    return { name, path: `/home/you/.config/sekia/workflows/${name}`, source: files.get(name) };
  },
  save_workflow: ({ name, source }) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.lua$/.test(name)) throw new Fail(400, 'a workflow name is a file name ending in .lua', 'name');
    files.set(name, source);
    loadedAt.set(name, Date.now());
    return { name, path: `/home/you/.config/sekia/workflows/${name}`, load_error: syntaxCheck(name, source) };
  },
  delete_workflow: ({ name }) => {
    if (!files.delete(name)) throw new Fail(404, `no workflow named ${name}`, 'name');
    return {};
  },
  workflow_templates: () => templates,
  dry_run: ({ source, file_name, event, ai_answer }) => {
    const load_error = syntaxCheck(file_name ?? 'dry-run.lua', source);
    const subject = `sekia.events.${event.source}`;
    if (load_error) return { subject, matched: false, outputs: [], load_error, handler_errors: [] };
    const matched = source.includes(subject) || source.includes('sekia.events.>');
    const outputs = [];
    if (matched) {
      outputs.push({ kind: 'log', level: 'info', message: `handling ${event.type}` });
      const m = /sekia\.command\(\s*[A-Za-z_"-]+\s*,\s*"([a-z_]+)"/.exec(source);
      if (m) outputs.push({ kind: 'command', agent: `${event.source}-agent`, subject: `sekia.commands.${event.source}-agent`, command: { command: m[1], payload: { ...event.payload, note: ai_answer ?? undefined }, source: `workflow:${(file_name ?? '').replace(/\.lua$/, '')}` } });
      if (source.includes('sekia.publish')) outputs.push({ kind: 'publish', subject: 'sekia.events.tracker', event: { id: `evt_${randomUUID()}`, type: 'tracker.linked', source: 'tracker', timestamp: now(), payload: { from: event.id } } });
    }
    return { subject, matched, outputs, load_error: null, handler_errors: source.includes('error(') && matched ? [`${file_name}:3: boom`] : [] };
  },
  pause_workflows: () => ((paused = true), { paused }),
  resume_workflows: () => ((paused = false), { paused }),
  events: (q) => {
    let rows = events;
    if (q.source) rows = rows.filter((e) => e.source === q.source);
    if (q.event_type) {
      const re = glob(q.event_type);
      rows = rows.filter((e) => re.test(e.type));
    }
    if (q.since != null) rows = rows.filter((e) => e.timestamp >= q.since);
    if (q.until != null) rows = rows.filter((e) => e.timestamp < q.until);
    if (q.q) {
      const words = q.q.toLowerCase().split(/\s+/).filter(Boolean);
      rows = rows.filter((e) => {
        const t = `${e.type} ${e.source} ${e.payload}`.toLowerCase();
        return words.every((w) => (w.endsWith('*') ? t.includes(w.slice(0, -1)) : new RegExp(`\\b${w.replace(/[^a-z0-9]/g, '')}\\b`).test(t)));
      });
    }
    return page(rows, q, (e) => e.seq);
  },
  event: ({ id }) => {
    const e = events.find((x) => x.id === id);
    if (!e) throw new Fail(404, `no event ${id} in history`, 'id');
    return e;
  },
  replay: ({ id }) => {
    const e = rpc.event({ id });
    return publish(e.source, e.type, JSON.parse(e.payload), e.id);
  },
  commands: (q) => {
    let rows = commands;
    if (q.outcome) rows = rows.filter((c) => (q.outcome === 'pending' ? c.outcome === null : c.outcome === q.outcome));
    if (q.agent) rows = rows.filter((c) => c.agent === q.agent);
    if (q.since != null) rows = rows.filter((c) => c.received_at_ms >= q.since * 1000);
    return page(rows, q, (c) => c.seq);
  },
  command: ({ id }) => {
    const c = commands.find((x) => x.command_id === id);
    if (!c) throw new Fail(404, `no command ${id}`, 'id');
    return c;
  },
  publish_event: ({ source, type, payload }) => {
    if (!source) throw new Fail(400, 'source is required', 'source');
    if (!type) throw new Fail(400, 'type is required', 'type');
    return publish(source, type, payload);
  },
  logs: ({ level, component, limit } = {}) => {
    let rows = logs;
    if (level) rows = rows.filter((l) => RANK[l.level] <= RANK[level]);
    if (component) rows = rows.filter((l) => l.component === component);
    return rows.slice(-(limit ?? 200));
  },
  settings: () => settings,
  save_settings: (change) => {
    const applied = [];
    const restart = [];
    if (change.store?.max_age && !/^\d+(h|m|s)$/.test(change.store.max_age)) throw new Fail(400, `"${change.store.max_age}" is not a duration`, 'store.max_age');
    for (const [section, fields] of Object.entries(change)) {
      for (const [k, v] of Object.entries(fields ?? {})) {
        const key = `${section}.${k}`;
        if (key === 'ai.api_key') settings.ai.api_key_set = v !== '';
        else settings = { ...settings, [section]: { ...settings[section], [k]: v } };
        (section === 'web' ? restart : applied).push(key);
      }
    }
    settings.restart_required = [...new Set([...settings.restart_required, ...restart])];
    return { applied, restart_required: restart };
  },
  accounts: () => ({ store: 'keyring', store_note: null, providers, accounts, sign_ins: signIns }),
  connect_account: ({ provider, name }) => {
    const p = providers.find((x) => x.id === provider);
    if (!p) throw new Fail(400, `field \`provider\`: ${provider} is not a provider sekia connects to`, 'provider');
    if (!p.sign_in) throw new Fail(400, p.sign_in_note, null);
    const id = `signin_${Date.now()}`;
    const url = `https://example.com/oauth/authorize?client_id=demo&provider=${provider}`;
    signIns.push({ id, provider, name: name ?? null, url, started_at: Date.now() });
    // The "browser" comes back after a few seconds.
    setTimeout(() => {
      if (!signIns.some((s) => s.id === id)) return;
      signIns = signIns.filter((s) => s.id !== id);
      const n = name ?? (accounts.some((a) => a.name === `${provider}-agent`) ? `${provider}-you` : `${provider}-agent`);
      accounts = accounts.filter((a) => a.name !== n);
      accounts.push({ provider, name: n, identity: 'you@example.com', state: 'connected', kind: 'oauth', connected_at: Date.now(), expires_at: null });
    }, 4000);
    return { id, url };
  },
  cancel_sign_in: ({ id }) => {
    signIns = signIns.filter((s) => s.id !== id);
    return {};
  },
  wait_sign_in: () => {
    throw new Fail(400, 'not used by the UI', null);
  },
  add_account_token: async ({ provider, name, token, app_token }) => {
    const prefix = { github: 'gh', slack: 'xoxb-', linear: 'lin_api_' }[provider];
    if (!prefix) throw new Fail(400, `field \`provider\`: ${provider} accounts are added by signing in`, 'provider');
    if (!String(token ?? '').startsWith(prefix)) throw new Fail(400, `field \`token\`: is not a ${provider} token`, 'token');
    if (provider === 'slack' && !String(app_token ?? '').startsWith('xapp-')) throw new Fail(400, 'field `app_token`: is not a Slack app-level token (xapp-…)', 'app_token');
    await new Promise((r) => setTimeout(r, 800));
    const n = name || `${provider}-agent`;
    accounts = accounts.filter((a) => a.name !== n);
    const a = { provider, name: n, identity: provider === 'slack' ? 'Acme (bot sekia)' : 'you@example.com', state: 'connected', kind: 'token', connected_at: Date.now(), expires_at: null };
    accounts.push(a);
    return a;
  },
  disconnect_account: ({ name }) => {
    if (!accounts.some((a) => a.name === name)) throw new Fail(404, `account ${name} not found`, null);
    accounts = accounts.filter((a) => a.name !== name);
    return { name, revoked: true, note: null };
  },
};

// ---- HTTP -----------------------------------------------------------------------------------

const clients = new Set();
const csrf = randomBytes(16).toString('hex');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json' };

function cookieOf(req, name) {
  for (const p of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = p.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/api/v1/rpc' && req.method === 'POST') {
    if (!req.headers['x-csrf-token'] || req.headers['x-csrf-token'] !== cookieOf(req, 'sekia_csrf')) {
      return sendJson(res, 403, { error: 'missing or wrong CSRF token; reload the page' });
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    let call;
    try {
      call = JSON.parse(body);
    } catch {
      return sendJson(res, 400, { error: 'the body is not JSON' });
    }
    const f = rpc[call.cmd];
    if (!f) return sendJson(res, 400, { error: `unknown command "${call.cmd}"`, field: 'cmd' });
    try {
      await new Promise((r) => setTimeout(r, 40 + Math.random() * 120));
      return sendJson(res, 200, await f(call.args ?? {}));
    } catch (e) {
      return sendJson(res, e.status ?? 500, e.field ? { error: e.message, field: e.field } : { error: e.message });
    }
  }
  if (url.pathname === '/api/v1/events/stream') {
    const source = url.searchParams.get('source');
    const type = url.searchParams.get('type');
    const re = type ? glob(type) : null;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(': hello\n\n');
    const client = {
      send(ev) {
        if (source && ev.source !== source) return;
        if (re && !re.test(ev.type)) return;
        res.write(`event: event\ndata: ${JSON.stringify(ev)}\n\n`);
      },
    };
    clients.add(client);
    req.on('close', () => clients.delete(client));
    return;
  }
  // Static files; `/` sets the CSRF cookie, as the daemon does.
  let path = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
  if (path === '/' || path === '/__sekia/page') path = '/index.html';
  const file = join(DIST, path);
  if (!file.startsWith(DIST) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    return res.end(existsSync(DIST) ? 'not found' : 'no dist/: run `npm run build` first');
  }
  const headers = { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' };
  if (path === '/index.html') headers['Set-Cookie'] = `sekia_csrf=${csrf}; Path=/; SameSite=Strict`;
  res.writeHead(200, headers);
  res.end(readFileSync(file));
});

let tick = HISTORY;
if (RATE > 0 && !EMPTY) {
  setInterval(() => {
    const ev = makeEvent(tick++, now());
    events.push(ev);
    if (events.length > 200_000) events.shift();
    for (const c of clients) c.send(ev);
  }, RATE).unref();
}

server.listen(PORT, '127.0.0.1', () => {
  console.log(`sekia mock dashboard on http://127.0.0.1:${PORT}/ (${HISTORY} events${EMPTY ? ', empty install' : ''})`);
});
