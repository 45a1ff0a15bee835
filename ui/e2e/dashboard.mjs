// End-to-end test of the UI as the browser dashboard, in Debian's Chromium driven by
// playwright-core (never a downloaded browser), against a real `sekiad` on a real `nats-server`
// with a test agent that speaks the NATS protocol itself. Env: SEKIAD (the daemon binary),
// NATS_SERVER (default nats-server), UI_DIR (the built UI, default ../dist), OUT_DIR
// (screenshots, default ../../test-output/ui), CHROMIUM (default /usr/bin/chromium).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const SEKIAD = need("SEKIAD");
const NATS_SERVER = process.env.NATS_SERVER ?? "nats-server";
const UI_DIR = resolve(process.env.UI_DIR ?? join(HERE, "../dist"));
const OUT_DIR = resolve(process.env.OUT_DIR ?? join(HERE, "../../test-output/ui"));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const AGENT = "e2e-agent";
const E2E_PAT = "ghp_e2e-pasted-token-value";

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, f, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

let passed = 0;
let failed = 0;
async function step(name, f) {
  const t0 = Date.now();
  try {
    await f();
    passed++;
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}\n  ${String(e?.stack ?? e).split("\n").join("\n  ")}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/// A connector stand-in: registers on `sekia.registry` and beats on `sekia.heartbeat.<name>`,
/// over a plain NATS connection (the text protocol, no client library).
function startAgent(natsPort) {
  const sock = net.connect(natsPort, "127.0.0.1");
  const pub = (subject, obj) => {
    const body = Buffer.from(JSON.stringify(obj));
    sock.write(`PUB ${subject} ${body.length}\r\n`);
    sock.write(body);
    sock.write("\r\n");
  };
  sock.on("data", (d) => {
    if (d.toString().includes("PING")) sock.write("PONG\r\n");
  });
  sock.on("error", () => {});
  sock.write('CONNECT {"verbose":false,"pedantic":false,"name":"e2e-agent"}\r\n');
  pub("sekia.registry", {
    name: AGENT,
    version: "1.0.0",
    capabilities: ["e2e"],
    commands: ["note"],
  });
  const beat = () =>
    pub(`sekia.heartbeat.${AGENT}`, {
      name: AGENT,
      status: "running",
      last_event: new Date().toISOString(),
      events_processed: 7,
      errors: 0,
    });
  beat();
  const timer = setInterval(beat, 1000);
  return () => {
    clearInterval(timer);
    sock.destroy();
  };
}

const BROKEN = `-- e2e workflow
sekia.on("sekia.events.e2e", function(event)
  sekia.command("${AGENT}" "note", { id = event.id })
end)
`;
const FIXED = `-- e2e workflow
sekia.on("sekia.events.e2e", function(event)
  sekia.command("${AGENT}", "note", { id = event.id })
end)
`;

async function main() {
  mkdirSync(OUT_DIR, { recursive: true });
  const sandbox = mkdtempSync(join(tmpdir(), "sekia-ui-e2e-"));
  const children = [];
  const cleanups = [];
  let browser;
  let stopAgent = () => {};
  try {
    const natsPort = await freePort();
    const webPort = await freePort();
    const nats = spawn(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(natsPort)], {
      stdio: "ignore",
    });
    children.push(nats);
    await until("nats-server", () =>
      new Promise((res) => {
        const s = net.connect(natsPort, "127.0.0.1", () => {
          s.destroy();
          res(true);
        });
        s.on("error", () => res(false));
      }),
    );

    // A stand-in for GitHub's REST API: `GET /user` as GitHub answers it, for the pasted-token
    // check (the only external service in this test).
    const githubSeen = [];
    const github = http.createServer((req, res) => {
      githubSeen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
      res.setHeader("content-type", "application/json");
      if (req.url === "/user" && req.headers.authorization === `Bearer ${E2E_PAT}`) {
        res.end(JSON.stringify({ login: "e2e-octocat", id: 7 }));
      } else {
        res.statusCode = 401;
        res.end(JSON.stringify({ message: "Bad credentials" }));
      }
    });
    const githubPort = await freePort();
    await new Promise((r) => github.listen(githubPort, "127.0.0.1", r));
    cleanups.push(() => github.close());

    const home = join(sandbox, "home");
    const workflows = join(sandbox, "workflows");
    mkdirSync(join(home, ".config/sekia"), { recursive: true });
    mkdirSync(workflows, { recursive: true });
    writeFileSync(
      join(home, ".config/sekia/sekia.toml"),
      `[nats]
url = "nats://127.0.0.1:${natsPort}"

[registry]
heartbeat_interval = "1s"

[workflows]
dir = "${workflows}"

[web]
listen = "127.0.0.1:${webPort}"

[accounts]
store = "file"

[accounts.github]
api_url = "http://127.0.0.1:${githubPort}"
`,
    );
    const runtime = join(sandbox, "run");
    mkdirSync(runtime, { recursive: true, mode: 0o700 });
    let log = "";
    const daemon = spawn(SEKIAD, [], {
      env: {
        ...process.env,
        HOME: home,
        XDG_RUNTIME_DIR: runtime,
        XDG_DATA_HOME: join(sandbox, "data"),
        SEKIA_UI_DIR: UI_DIR,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(daemon);
    daemon.stdout.on("data", (d) => (log += d));
    daemon.stderr.on("data", (d) => (log += d));
    const base = `http://127.0.0.1:${webPort}`;
    await until("sekiad's dashboard", () => log.includes("dashboard: http://"), 20000).catch(
      (e) => {
        throw new Error(`${e.message}\n${log}`);
      },
    );
    stopAgent = startAgent(natsPort);

    // Plain HTTP helpers for what the test does behind the browser's back.
    const page0 = await fetch(`${base}/`);
    const cookie = (page0.headers.get("set-cookie") ?? "").split(";")[0];
    const csrf = cookie.split("=")[1];
    const api = async (method, path, body, headers = {}) => {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: {
          "content-type": "application/json",
          cookie,
          "x-csrf-token": csrf,
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, json: await r.json().catch(() => null) };
    };

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = [];
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));

    await step("the overview loads and shows the registered test agent", async () => {
      await page.goto(`${base}/#/overview`);
      await page.getByTestId("status").waitFor();
      await page.getByTestId(`agent-${AGENT}`).waitFor({ timeout: 15000 });
      const text = await page.getByTestId(`agent-${AGENT}`).innerText();
      assert(/online|running/i.test(text), `agent row: ${text}`);
    });

    let eventId;
    await step("an event published through the API appears live", async () => {
      await page.goto(`${base}/#/events`);
      await page.getByTestId("events-search").waitFor();
      await sleep(500); // the live stream connects
      const r = await api("POST", "/api/v1/events", {
        source: "e2e",
        type: "e2e.live",
        payload: { title: "zanzibar quokka" },
      });
      assert(r.status === 200, `publish: ${r.status} ${JSON.stringify(r.json)}`);
      eventId = r.json.id;
      await until("the live row", async () =>
        (await page.getByTestId("event-row").allInnerTexts()).some((t) => t.includes("e2e.live")),
      );
    });

    await step("a history search finds it", async () => {
      const search = page.getByTestId("events-search");
      await search.fill("quokka");
      await search.press("Enter");
      await until("a search result", async () => {
        const rows = await page.getByTestId("event-row").allInnerTexts();
        return rows.length >= 1 && rows.every((t) => t.includes("e2e"));
      });
    });

    await step("in the editor a syntax error is underlined at its line", async () => {
      writeFileSync(join(workflows, "e2e.lua"), FIXED.replace("e2e.", "e2e-not."));
      await page.goto(`${base}/#/workflows/e2e.lua`);
      const content = page.locator('[data-testid="editor"] .cm-content');
      await content.waitFor();
      await content.click();
      await page.keyboard.press("Control+A");
      await page.keyboard.insertText(BROKEN);
      await page.keyboard.press("Control+S");
      await page.getByTestId("load-error").waitFor();
      const line = await until("the underline", () =>
        page.evaluate(() => {
          const lines = [...document.querySelectorAll('[data-testid="editor"] .cm-line')];
          const i = lines.findIndex((l) => l.querySelector(".cm-lintRange-error"));
          return i >= 0 ? i + 1 : 0;
        }),
      );
      assert(line === 3, `underlined line ${line}, expected 3`);
    });

    await step("fixing and saving reloads the workflow, which handles the next event", async () => {
      const content = page.locator('[data-testid="editor"] .cm-content');
      await content.click();
      await page.keyboard.press("Control+A");
      await page.keyboard.insertText(FIXED);
      await page.keyboard.press("Control+S");
      await until("the error to clear", async () => (await page.getByTestId("load-error").count()) === 0);
      const r = await api("POST", "/api/v1/events", { source: "e2e", type: "e2e.next", payload: {} });
      const id = r.json.id;
      await until("the workflow's command in history", async () => {
        const c = await api("GET", `/api/v1/commands?agent=${AGENT}`);
        return c.json?.items?.some((cmd) => JSON.parse(cmd.payload).id === id);
      });
    });

    await step("the dry-run panel shows the expected command", async () => {
      await page.getByTestId("dry-run").first().click();
      const result = page.getByTestId("dry-run-result");
      await until("a dry-run result naming the command", async () => {
        const t = await result.innerText().catch(() => "");
        return t.includes("note") && t.includes(AGENT);
      });
    });

    await step("a POST without the CSRF token is refused", async () => {
      const r = await fetch(`${base}/api/v1/rpc`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie },
        body: JSON.stringify({ cmd: "pause_workflows" }),
      });
      assert(r.status === 403, `status ${r.status}`);
      const paused = await api("POST", "/api/v1/rpc", { cmd: "status" });
      assert(paused.json.paused === false, "nothing was paused");
    });

    await step("a 51st live-event connection is refused", async () => {
      // The page holds one stream; open the rest from here.
      await page.goto("about:blank");
      const controllers = [];
      try {
        let refused = null;
        for (let i = 0; i < 51; i++) {
          const c = new AbortController();
          controllers.push(c);
          const r = await fetch(`${base}/api/v1/events/stream`, { signal: c.signal });
          if (r.status !== 200) {
            refused = { i, status: r.status, body: await r.text() };
            break;
          }
        }
        assert(refused && refused.i === 50, `refused: ${JSON.stringify(refused)}`);
        assert(refused.status === 503 && refused.body.includes("max 50"), JSON.stringify(refused));
      } finally {
        controllers.forEach((c) => c.abort());
      }
    });

    await step("the settings page accepts the values the daemon shows", async () => {
      await page.goto(`${base}/#/settings`);
      await page.getByTestId("save-settings").waitFor();
      await sleep(300);
      const errors = await page.locator(".field-error").allInnerTexts();
      assert(errors.length === 0, `fresh settings flagged: ${errors.join("; ")}`);
    });

    await step("a pasted GitHub token is checked, connects as its login, and disconnects", async () => {
      await page.goto(`${base}/#/accounts`);
      const card = page.getByTestId("account-github");
      await card.waitFor();
      await card.locator("summary").click();
      const form = page.getByTestId("paste-github");
      await form.locator('input[type="password"]').fill("ghp_wrong-token");
      await form.locator('button[type="submit"]').click();
      await form.locator(".field-error").filter({ hasText: "Bad credentials" }).waitFor();
      await form.locator('input[type="password"]').fill(E2E_PAT);
      await form.locator('button[type="submit"]').click();
      const row = page.getByTestId("connected-github-agent");
      await row.filter({ hasText: "e2e-octocat" }).waitFor();
      assert(githubSeen.some((l) => l.startsWith("GET /user")), `GitHub was not asked: ${githubSeen}`);
      const listed = await api("POST", "/api/v1/rpc", { cmd: "accounts" });
      assert(!JSON.stringify(listed.json).includes(E2E_PAT), "the token came back from the daemon");
      assert(listed.json.accounts[0].identity === "e2e-octocat", JSON.stringify(listed.json));
      await row.getByRole("button", { name: "Disconnect" }).click();
      await page.locator(".btn.danger").filter({ hasText: "Disconnect" }).click();
      await row.waitFor({ state: "detached" });
      assert(!log.includes(E2E_PAT), "the token reached sekiad's log");
    });

    await step("screenshots of every page, light and dark", async () => {
      await sleep(500);
      const pages = ["overview", "events", `events/${eventId}`, "workflows", "workflows/e2e.lua", "accounts", "settings", "logs"];
      for (const scheme of ["light", "dark"]) {
        await page.emulateMedia({ colorScheme: scheme });
        for (const p of pages) {
          await page.goto(`${base}/#/${p}`);
          await sleep(700);
          const name = p.replace(/[/.]/g, "-").replace(/evt_[^-]+.*/, "detail");
          await page.screenshot({ path: join(OUT_DIR, `${name}-${scheme}.png`) });
        }
      }
    });

    await step("no errors in the browser console", async () => {
      // 400: the deliberately wrong token of the accounts step, answered as bad input.
      const real = consoleErrors.filter(
        (e) => !e.includes("503") && !e.includes("status of 400") && !e.includes("EventSource"),
      );
      assert(real.length === 0, real.join("\n"));
    });
  } finally {
    stopAgent();
    for (const c of cleanups) c();
    if (browser) await browser.close().catch(() => {});
    for (const c of children.reverse()) {
      c.kill("SIGTERM");
      await new Promise((r) => (c.exitCode !== null ? r() : c.once("exit", r)));
    }
    rmSync(sandbox, { recursive: true, force: true });
  }
  console.log(`# ${passed} passed, ${failed} failed; screenshots in ${OUT_DIR}`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
