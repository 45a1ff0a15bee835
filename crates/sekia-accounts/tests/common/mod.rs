//! Shared by the integration tests: a real oauth2-mock-server (tests/oauth-server/server.mjs)
//! in a child process, and an HTTP client standing in for the browser.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sekia_accounts::Provider;

pub struct MockServer {
    child: Child,
    pub base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

/// Through `..` so the daemon's tests, which include this file, find it too.
fn server_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sekia-accounts/tests/oauth-server")
}

impl MockServer {
    /// Starts the server on a free port. Fails (never skips) if it is not installed.
    pub fn start() -> MockServer {
        let dir = server_dir();
        assert!(
            dir.join("node_modules/oauth2-mock-server").is_dir(),
            "oauth2-mock-server is not installed in {}: run scripts/accounts-setup.sh \
             (it runs `npm ci` there); node 20+ is needed",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .arg("0")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot run `node` (install Node.js 20+)");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = lines.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(rest.trim().to_owned());
                    }
                    continue;
                }
                sink.lock().unwrap().push(line);
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("oauth2-mock-server did not report its address within 20 s");
        MockServer { child, base, lines }
    }

    /// A provider pointing at this server (PKCE on, a client id set).
    pub fn provider(&self) -> Provider {
        Provider {
            id: "mock".into(),
            display_name: "Mock".into(),
            auth_url: format!("{}/authorize", self.base),
            token_url: format!("{}/token", self.base),
            revocation_url: Some(format!("{}/revoke", self.base)),
            scopes: vec!["read".into(), "write".into()],
            scope_separator: " ",
            pkce: true,
            extra_auth_params: vec![],
            browser_sign_in: true,
            pasted: None,
            client_id: Some("sekia-test".into()),
            client_secret: None,
            api_url: format!("{}/api", self.base),
            redirect_url: None,
        }
    }

    /// Request lines seen so far that start with `prefix` (`TOKEN`, `AUTHORIZE`).
    pub fn lines(&self, prefix: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Waits until at least `n` lines with `prefix` arrived, then a little longer so that
    /// extra ones (which would be a bug) show up too.
    pub fn wait_lines(&self, prefix: &str, n: usize) -> Vec<String> {
        let start = Instant::now();
        while self.lines(prefix).len() < n && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        self.lines(prefix)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A "browser" that does not follow redirects, so tests can look at and alter each hop.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GETs `url` and returns the Location it redirects to.
pub async fn redirect_of(browser: &reqwest::Client, url: &str) -> String {
    let r = browser.get(url).send().await.unwrap();
    assert!(r.status().is_redirection(), "{url} answered {}", r.status());
    r.headers()
        .get(reqwest::header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of query parameter `key` in `url`.
pub fn query_param(url: &str, key: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}
