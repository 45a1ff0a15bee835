//! Runs the real binaries in a throw-away home: its own HOME, XDG_RUNTIME_DIR and working
//! folder, so tests never touch the user's files and can run side by side.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        let runtime = dir.path().join("run");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&runtime).unwrap();
        let env = vec![
            ("HOME".to_string(), home.display().to_string()),
            ("XDG_RUNTIME_DIR".to_string(), runtime.display().to_string()),
            ("SEKIA_LOG".to_string(), "info".to_string()),
        ];
        Self { dir, env }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Where sekiad puts its socket by default in this sandbox.
    pub fn socket(&self) -> PathBuf {
        self.env
            .iter()
            .find(|(k, _)| k == "SEKIA_SERVER_SOCKET")
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(|| self.dir.path().join("run/sekia/sekiad.sock"))
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.into()));
    }

    fn command(&self, bin: &str) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path());
        cmd
    }

    pub fn spawn_sekiad(&self, args: &[&str]) -> Child {
        self.command(env!("CARGO_BIN_EXE_sekiad"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sekiad")
    }

    /// Runs sekiad to completion (for start-up failures).
    pub fn run_sekiad(&self, args: &[&str]) -> Output {
        let mut child = self.spawn_sekiad(args);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "sekiad did not exit: {:?}",
                    child.wait_with_output().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn sekiactl(&self, args: &[&str]) -> Output {
        self.sekiactl_stdin(args, None)
    }

    pub fn sekiactl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command(env!("CARGO_BIN_EXE_sekiactl"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sekiactl");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    /// Waits until sekiad answers `sekiactl status`.
    pub fn wait_ready(&self, child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                let out = read_rest(child);
                panic!("sekiad exited early with {status}: {out}");
            }
            if self.socket().exists() && self.sekiactl(&["status"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sekiad did not become ready");
    }
}

pub fn read_rest(child: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// SIGTERM, then wait (bounded) for a clean exit.
pub fn terminate(mut child: Child) -> (std::process::ExitStatus, String) {
    // SAFETY: kill with a valid pid of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = read_rest(&mut child);
            return (status, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sekiad did not stop within 15 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// sekia's own sample `configs/sekia.toml`, verbatim.
pub const SEKIA_SAMPLE_CONFIG: &str = r#"[server]
listen = "127.0.0.1:7600"
socket = "/tmp/sekiad.sock"

[nats]
embedded = true
data_dir = "~/.local/share/sekia/nats"

[workflows]
dir = "~/.config/sekia/workflows"
hot_reload = true

[web]
listen = ":8080"

# [ai]
# provider = "anthropic"
# api_key = ""            # or set SEKIA_AI_API_KEY env var
# model = "claude-sonnet-4-20250514"
# max_tokens = 1024
# temperature = 0.0
# system_prompt = ""
"#;
