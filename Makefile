.PHONY: run test bench bench-desktop desktop desktop-test ui ui-test
# Start sekia (headless daemon in the foreground).
run:
	@scripts/run.sh
# The whole test suite, as CI runs it.
test:
	@scripts/test.sh
# Benchmarks; figures go into README.md's performance section.
bench:
	@scripts/bench.sh
# The desktop tray app (needs a display; see src-tauri/README.md).
desktop:
	@cargo build --quiet -p sekia-tray && cargo run --manifest-path src-tauri/Cargo.toml
# The desktop shell's tests: mock-runtime unit tests and a WebDriver test under Xvfb.
desktop-test:
	@scripts/desktop-test.sh
# Build the UI (ui/dist), served by the desktop window and the dashboard.
ui:
	@cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build
# The UI's tests: svelte-check, Vitest, and the Chromium end-to-end test against sekiad.
ui-test:
	@scripts/ui-test.sh
# Desktop figures (first window, PSS open/closed, idle CPU, .deb size) against a minimal Tauri app.
bench-desktop:
	@scripts/bench-desktop.sh
