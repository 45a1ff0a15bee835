// End-to-end smoke test of the real desktop binary through tauri-driver (WebDriver), with
// nothing but Node's fetch. Run it under Xvfb with tauri-driver listening (scripts/desktop-test.sh
// does both). Env: APP_BIN (the app), SEKIACTL (the CLI), OUT_DIR (screenshots),
// DRIVER (default http://127.0.0.1:4444). HOME and XDG_RUNTIME_DIR should be temporary: the app
// and sekiactl both use them to find the config, the history and the socket.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const DRIVER = process.env.DRIVER ?? "http://127.0.0.1:4444";
const APP_BIN = need("APP_BIN");
const SEKIACTL = need("SEKIACTL");
const SEKIAD = process.env.SEKIAD; // optional: enables the "a sekiad is already running" step
// The tray host the app starts (crates/sekia-tray), beside the app's binary.
const TRAY_BIN = join(dirname(APP_BIN), "sekia-tray");
const OUT_DIR = process.env.OUT_DIR ?? "test-output";
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
const SOCKET = join(process.env.XDG_RUNTIME_DIR ?? "", "sekia/sekiad.sock");
const WORKFLOWS = join(process.env.HOME ?? "", ".config/sekia/workflows");

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

async function wd(method, path, body) {
  const res = await fetch(DRIVER + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.value;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, f, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
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
    console.log(`not ok - ${name}: ${e.message}`);
    throw e;
  }
}

mkdirSync(OUT_DIR, { recursive: true });
let session;
const find = async (css) => (await wd("POST", `/session/${session}/element`, { using: "css selector", value: css }))[ELEMENT];
const text = async (css) => wd("GET", `/session/${session}/element/${await find(css)}/text`);
const screenshot = async (name) => {
  await sleep(500); // let WebKit paint the last DOM change: the screenshot is of the last frame
  const png = await wd("GET", `/session/${session}/screenshot`);
  const path = join(OUT_DIR, name);
  writeFileSync(path, Buffer.from(png, "base64"));
  console.log(`# screenshot ${path}`);
};
const sekiactl = (...args) => execFileSync(SEKIACTL, args, { encoding: "utf8" });

try {
  await step("the app starts and opens its window", async () => {
    session = (await wd("POST", "/session", {
      capabilities: { alwaysMatch: { browserName: "wry", "tauri:options": { application: APP_BIN } } },
    })).sessionId;
  });

  await step("the window shows the daemon running, in the tray host the app started", async () => {
    await until("#status = running", async () => (await text("#status")) === "running");
    await until("#agent-count = 0", async () => (await text("#agent-count")) === "0");
    await until("the tray host", async () => pidsOf(TRAY_BIN).length === 1);
    await screenshot("desktop-status.png");
  });

  await step("sekiactl talks to the app's daemon", async () => {
    if (!existsSync(SOCKET)) throw new Error(`no socket at ${SOCKET}`);
    const out = sekiactl("status", "--json");
    const s = JSON.parse(out);
    if (s.status !== "ok") throw new Error(out);
  });

  await step("an event published with sekiactl appears in the window", async () => {
    sekiactl("events", "publish", "--source", "e2e", "--type", "e2e.smoke",
      "--payload", JSON.stringify({ title: "hello from sekiactl" }));
    await until("the event in #events", async () => (await text("#events")).includes("e2e.smoke"));
    const events = await text("#events");
    if (!events.includes("hello from sekiactl")) throw new Error(`payload missing: ${events}`);
    await screenshot("desktop-event.png");
  });

  await step("the window's button publishes a test event", async () => {
    await wd("POST", `/session/${session}/element/${await find("#publish")}/click`, {});
    await until("desktop.test in #events", async () => (await text("#events")).includes("desktop.test"));
    const out = sekiactl("events", "search", "--type", "desktop.test", "--json");
    if (!out.includes("desktop.test")) throw new Error(`not in history: ${out}`);
  });

  await step("an error from the daemon reaches the window with the field at fault", async () => {
    const answer = await wd("POST", `/session/${session}/execute/async`, {
      script: `const done = arguments[0];
        window.__TAURI_INTERNALS__.invoke("rpc", { call: { cmd: "no_such_command" } })
          .then((v) => done({ ok: v }), (e) => done({ err: e }));`,
      args: [],
    });
    if (!answer.err || answer.err.field !== "call") throw new Error(JSON.stringify(answer));
  });

  await step("the page's CSP refuses an inline script (tauri.conf.json)", async () => {
    const answer = await wd("POST", `/session/${session}/execute/async`, {
      script: `const done = arguments[0];
        const refused = [];
        document.addEventListener("securitypolicyviolation", (e) => refused.push(e.violatedDirective));
        const s = document.createElement("script");
        s.textContent = "window.__sekiaInline = 1";
        document.head.appendChild(s);
        setTimeout(() => done({ ran: window.__sekiaInline === 1, refused }), 300);`,
      args: [],
    });
    if (answer.ran) throw new Error("an inline script ran");
    if (!answer.refused.some((d) => d.startsWith("script-src"))) throw new Error(JSON.stringify(answer));
  });

  await step("a workflow that does not load is announced in the window as it happens (sekia:attention)", async () => {
    mkdirSync(WORKFLOWS, { recursive: true });
    const broken = join(WORKFLOWS, "e2e-broken.lua");
    writeFileSync(broken, "this is not lua");
    try {
      // The notice comes only from the pushed event (the overview's own list is polled).
      await until("the notice in the window", async () => (await text(".notices")).includes("e2e-broken.lua"));
      await screenshot("desktop-attention.png");
    } finally {
      unlinkSync(broken);
    }
  });

  await step("without a GPU, WebKit paints in software instead of through emulated OpenGL", async () => {
    const gpu = existsSync("/dev/dri") && readdirSync("/dev/dri").some((n) => n.startsWith("renderD"));
    const web = descendants(appPid()).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, "latin1").startsWith("WebKitWebProces");
      } catch {
        return false;
      }
    });
    if (web.length === 0) throw new Error("no WebKit web process");
    const env = readFileSync(`/proc/${web[0]}/environ`, "latin1").split("\0");
    const software = env.includes("WEBKIT_DISABLE_COMPOSITING_MODE=1");
    if (software === gpu) throw new Error(`GPU render node: ${gpu}; software painting: ${software}`);
  });

  await step("closing the window ends its process and frees WebKit; the tray host's daemon keeps answering", async () => {
    const pid = appPid();
    const tray = pidsOf(TRAY_BIN)[0];
    const open = pssMiB(pid) + pssMiB(tray);
    // As the window's close button does: WM_DELETE_WINDOW. (WebDriver's Close Window would
    // end the session, and WebKitWebDriver kills the app with its last window.)
    execFileSync("/usr/bin/python3", [join(HERE, "close-window.py"), "sekia"]);
    await until("the window's process (and its WebKit processes) to exit", async () => !existsSync(`/proc/${pid}`), 15000);
    const s = JSON.parse(sekiactl("status", "--json"));
    if (s.status !== "ok") throw new Error(`daemon: ${JSON.stringify(s)}`);
    await sleep(1000);
    const closed = pssMiB(tray);
    console.log(`# PSS (window + WebKit processes + tray host): window open ${open.toFixed(1)} MiB, closed ${closed.toFixed(1)} MiB`);
    writeFileSync(join(OUT_DIR, "desktop-memory.json"), JSON.stringify({ open_pss_mib: open, closed_pss_mib: closed }) + "\n");
    await wd("DELETE", `/session/${session}`).catch(() => {});
    session = undefined;
  });

  await step("SIGTERM stops the tray host's daemon cleanly and removes its socket", async () => {
    // A logout or `kill` sends SIGTERM, which quits as the tray's Quit does.
    const tray = pidsOf(TRAY_BIN)[0];
    process.kill(tray, "SIGTERM");
    await until("the socket to go away", async () => !existsSync(SOCKET), 15000);
    await until("the tray host to exit", async () => !existsSync(`/proc/${tray}`), 15000);
  });

  if (SEKIAD) {
    await step("with a headless sekiad already running, the window uses it and starts no second daemon", async () => {
      const sekiad = spawn(SEKIAD, [], { stdio: ["ignore", "ignore", "inherit"] });
      const exited = new Promise((r) => sekiad.on("exit", r));
      try {
        await until("sekiad's socket", async () => existsSync(SOCKET));
        session = (await wd("POST", "/session", {
          capabilities: { alwaysMatch: { browserName: "wry", "tauri:options": { application: APP_BIN } } },
        })).sessionId;
        await until("#status = running", async () => (await text("#status")) === "running");
        sekiactl("events", "publish", "--source", "e2e", "--type", "e2e.headless",
          "--payload", JSON.stringify({ title: "hello from sekiad" }));
        await until("sekiad's event in #events", async () => (await text("#events")).includes("e2e.headless"));
        await screenshot("desktop-with-sekiad.png");
        if (pidsOf(TRAY_BIN).length !== 0) throw new Error("a tray host was started beside sekiad");
        // The headless daemon was left alone.
        if (JSON.parse(sekiactl("status", "--json")).status !== "ok") throw new Error("sekiad disturbed");
      } finally {
        sekiad.kill("SIGTERM");
        await exited;
      }
    });
  }
} catch {
  // reported by step()
} finally {
  if (session) {
    await wd("DELETE", `/session/${session}`).catch(() => {});
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

/** The window process this test started: APP_BIN running with this test's XDG_RUNTIME_DIR. */
function appPid() {
  const [pid] = pidsOf(APP_BIN);
  if (pid === undefined) throw new Error(`no ${APP_BIN} process of this test`);
  return pid;
}

/** Processes of `binary` running with this test's XDG_RUNTIME_DIR. */
function pidsOf(binary) {
  const mine = `XDG_RUNTIME_DIR=${process.env.XDG_RUNTIME_DIR}`;
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`) !== binary) continue;
      // Short-lived helper runs are neither a window nor a tray host: the tray host's update
      // check (the window's binary) and the window asking the tray binary for the socket.
      const args = readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0");
      if (args.some((a) => a.startsWith("--check-updates") || a === "--socket")) continue;
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(mine)) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

/** Processes started by `pid`, recursively (WebKit's web and network processes). */
function descendants(pid) {
  const children = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry), ...descendants(Number(entry)));
    } catch {
      // gone
    }
  }
  return children;
}

/** Proportional memory of the app and its WebKit processes, MiB (RSS would count shared
 * libraries once per process). */
function pssMiB(pid) {
  let kib = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, "latin1"));
      if (m) kib += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kib / 1024;
}
