//! Windows: the local API on a named pipe (`\\.\pipe\sekia-<user>` by default), the counterpart
//! of the Unix socket. The pipe admits only its owner and SYSTEM (a DACL set at creation;
//! Windows' default would let Everyone open it for reading), refuses clients on other machines,
//! and is created as the first instance of its name, so a second daemon (or anyone holding the
//! name) makes the start fail with "already running" instead of sharing the name.

use std::ffi::OsString;
use std::io;
use std::path::Path;

use tokio::net::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};

use crate::socket::SocketError;

/// Owner and SYSTEM: full access; nobody else. `P`: not inherited from anywhere.
const OWNER_ONLY: &str = "D:P(A;;GA;;;SY)(A;;GA;;;OW)";
/// `ERROR_ACCESS_DENIED`: what creating the first instance of a name that exists returns.
const ACCESS_DENIED: i32 = 5;
/// `ERROR_PIPE_BUSY`: every instance is taken; a client waits and tries again.
const PIPE_BUSY: i32 = 231;

/// Accepts API connections on a named pipe, keeping one unconnected instance ready.
pub struct PipeListener {
    name: OsString,
    next: Option<NamedPipeServer>,
}

impl PipeListener {
    pub(crate) fn bind(path: &Path) -> Result<Self, SocketError> {
        let name = path.as_os_str().to_owned();
        let first = create(&name, true).map_err(|source| {
            if source.raw_os_error() == Some(ACCESS_DENIED) {
                SocketError::AlreadyRunning(path.into())
            } else {
                SocketError::Bind {
                    path: path.into(),
                    source,
                }
            }
        })?;
        Ok(Self {
            name,
            next: Some(first),
        })
    }
}

impl axum::serve::Listener for PipeListener {
    type Io = NamedPipeServer;
    type Addr = String;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let server = match self.next.take() {
                Some(server) => server,
                None => match create(&self.name, false) {
                    Ok(server) => server,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot create a pipe instance; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            match server.connect().await {
                Ok(()) => {
                    // The next client's instance, before this one is handed over.
                    self.next = create(&self.name, false).ok();
                    return (server, self.name.to_string_lossy().into_owned());
                }
                Err(e) => tracing::debug!(error = %e, "a pipe client went away while connecting"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.name.to_string_lossy().into_owned())
    }
}

/// Opens the daemon's pipe as a client, waiting while every instance is busy.
pub(crate) async fn connect(path: &Path) -> io::Result<NamedPipeClient> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match ClientOptions::new().open(path) {
            Err(e)
                if e.raw_os_error() == Some(PIPE_BUSY)
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            result => return result,
        }
    }
}

fn create(name: &OsString, first: bool) -> io::Result<NamedPipeServer> {
    let mut options = ServerOptions::new();
    options
        .first_pipe_instance(first)
        .reject_remote_clients(true);
    let descriptor = OwnerOnly::new()?;
    let mut attributes = windows_sys::Win32::Security::SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<windows_sys::Win32::Security::SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.0,
        bInheritHandle: 0,
    };
    // SAFETY: `attributes` and the descriptor it points to outlive the call, which copies them.
    unsafe { options.create_with_security_attributes_raw(name, (&raw mut attributes).cast()) }
}

/// The [`OWNER_ONLY`] security descriptor, freed on drop.
struct OwnerOnly(windows_sys::Win32::Security::PSECURITY_DESCRIPTOR);

impl OwnerOnly {
    fn new() -> io::Result<Self> {
        use windows_sys::Win32::Security::Authorization::{
            ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
        };
        let sddl: Vec<u16> = OWNER_ONLY.encode_utf16().chain([0]).collect();
        let mut descriptor = std::ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated UTF-16; on success the descriptor is ours to free.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(descriptor))
    }
}

impl Drop for OwnerOnly {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW.
        unsafe { windows_sys::Win32::Foundation::LocalFree(self.0.cast()) };
    }
}
