//! Test helpers (feature `testing`): a throwaway `nats-server` on a loopback port.
//!
//! Other crates use it as a dev-dependency:
//! `sekia-bus = { workspace = true, features = ["testing"] }`.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let mut server = sekia_bus::testing::NatsServer::start()?;
//! let config = sekia_bus::NatsConfig::new(server.url());
//! // ... connect, test ...
//! server.restart()?; // same port: clients reconnect
//! # Ok(()) }
//! ```
//!
//! The calls block (for well under a second while the server comes up); that is
//! fine in a `#[tokio::test]`, and on a multi-threaded runtime other tasks keep
//! running meanwhile.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `nats-server` child process with JetStream, listening on 127.0.0.1 only, its
/// store in a temporary folder. Killed when dropped.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    starts: u32,
    extra_args: Vec<OsString>,
}

impl NatsServer {
    /// Starts a server on a free loopback port and waits until it accepts TCP.
    ///
    /// The binary is `$SEKIA_NATS_SERVER` if set, else `nats-server` from `PATH`, else
    /// Debian's `/usr/sbin/nats-server`.
    pub fn start() -> io::Result<Self> {
        Self::start_with_args(Vec::<OsString>::new())
    }

    /// Like [`start`](Self::start), with extra `nats-server` arguments, e.g.
    /// `["--auth", "s3cret"]` or `["--user", "u", "--pass", "p"]`. They are kept
    /// for restarts.
    pub fn start_with_args<I, A>(args: I) -> io::Result<Self>
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        let extra_args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        // The free port is only free when we look; if another process takes it
        // before nats-server binds it, the server exits and we try another.
        let mut last_err = None;
        for _ in 0..5 {
            match Self::start_on_port(free_port()?, extra_args.clone()) {
                Ok(server) => return Ok(server),
                // No binary: another port will not help.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("nats-server did not start")))
    }

    /// Starts a server on a given port (e.g. one a client is already trying to
    /// reach), with extra arguments.
    pub fn start_on_port<I, A>(port: u16, args: I) -> io::Result<Self>
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        let mut server = Self {
            binary: find_binary()?,
            port,
            dir: tempfile::Builder::new().prefix("sekia-nats-").tempdir()?,
            child: None,
            starts: 0,
            extra_args: args.into_iter().map(Into::into).collect(),
        };
        server.spawn()?;
        Ok(server)
    }

    /// `nats://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store folder.
    pub fn store_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the process is running (not stopped, not exited).
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the server (SIGKILL, like a crash) and waits for it to exit.
    pub fn stop(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            // Err = it had already exited; wait() reaps it either way.
            let _ = child.kill();
            child.wait()?;
        }
        Ok(())
    }

    /// Stops the server if it runs and starts it again on the same port and store.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.spawn()
    }

    fn log_path(&self) -> PathBuf {
        self.dir
            .path()
            .join(format!("nats-server-{}.log", self.starts))
    }

    fn spawn(&mut self) -> io::Result<()> {
        self.starts += 1;
        let log = File::create(self.log_path())?;
        let store = self.dir.path().join("jetstream");
        let child = Command::new(&self.binary)
            .arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-js")
            .arg("-sd")
            .arg(&store)
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot run {}: {e}", self.binary.display()),
                )
            })?;
        self.child = Some(child);
        self.wait_until_accepting()
    }

    fn wait_until_accepting(&mut self) -> io::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let exited = match &mut self.child {
                Some(child) => child.try_wait()?,
                None => None,
            };
            if let Some(status) = exited {
                self.child = None;
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "nats-server exited ({status}) on port {}:\n{log}",
                    self.port
                )));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.stop();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "nats-server not accepting on port {} after {START_TIMEOUT:?}",
                        self.port
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A loopback port that was free a moment ago: bind port 0, read it, let it go.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn find_binary() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("SEKIA_NATS_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file());
    if let Some(p) = on_path {
        return Ok(p);
    }
    let debian = PathBuf::from("/usr/sbin/nats-server");
    if debian.is_file() {
        return Ok(debian);
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "nats-server not found (apt-get install nats-server, or set SEKIA_NATS_SERVER)",
    ))
}
