//! The browser dashboard: the UI's built files, the same JSON API as the socket (plus
//! `/api/v1/rpc`) and the live-event stream, on TCP when `web.listen` is set. It is reachable by
//! more than its owner, so every request passes, in order: security headers, a Host/Origin check
//! (DNS rebinding), authentication (Basic or bearer; required beyond loopback), the CSRF
//! double-submit check on state-changing requests, and a body limit. At most
//! [`MAX_LIVE_CONNECTIONS`] live-event streams are served at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sekia_daemon::Daemon;
use sekia_daemon::config::WebConfig;
use subtle::ConstantTimeEq;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::services::{ServeDir, ServeFile};

use crate::routes::{ApiState, MAX_LIVE_CONNECTIONS, api_router};
use crate::serving::Serving;

/// Largest request body, in bytes (a workflow source is at most 1 MiB).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The CSRF cookie and header (sekia's names).
pub const CSRF_COOKIE: &str = "sekia_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

#[derive(Debug, Error)]
pub enum WebError {
    #[error("web.listen = {0:?}: cannot parse the address (use host:port, e.g. 127.0.0.1:7777)")]
    BadAddress(String),
    #[error(
        "web.listen = {0:?} is reachable from other machines, and no authentication is set: set web.username and web.password (SEKIA_WEB_USERNAME / SEKIA_WEB_PASSWORD) or web.token (SEKIA_WEB_TOKEN), or listen on 127.0.0.1"
    )]
    NoAuthBeyondLoopback(String),
    #[error("web.username and web.password must be set together")]
    HalfBasicAuth,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// Who may use the dashboard.
#[derive(Clone, Default)]
struct Auth {
    /// `user:password`, as Basic sends it.
    basic: Option<Vec<u8>>,
    token: Option<Vec<u8>>,
}

impl Auth {
    fn from_config(web: &WebConfig) -> Result<Self, WebError> {
        let basic = match (web.username.is_empty(), web.password.is_empty()) {
            (true, true) => None,
            (false, false) => {
                Some(format!("{}:{}", web.username, web.password.expose()).into_bytes())
            }
            _ => return Err(WebError::HalfBasicAuth),
        };
        let token = (!web.token.is_empty()).then(|| web.token.expose().as_bytes().to_vec());
        Ok(Self { basic, token })
    }

    fn required(&self) -> bool {
        self.basic.is_some() || self.token.is_some()
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        if let (Some(expected), Some(given)) = (&self.basic, value.strip_prefix("Basic "))
            && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(given.trim())
            && bool::from(decoded.ct_eq(expected))
        {
            return true;
        }
        if let (Some(expected), Some(given)) = (&self.token, value.strip_prefix("Bearer ")) {
            return bool::from(given.trim().as_bytes().ct_eq(expected));
        }
        false
    }
}

#[derive(Clone)]
struct Guard {
    auth: Auth,
    /// Host header values accepted (`127.0.0.1:7777`, `localhost:7777`, …); empty: any host
    /// (listening beyond loopback, where authentication is required instead).
    hosts: Arc<Vec<String>>,
}

/// The running dashboard.
pub struct WebServer {
    addr: SocketAddr,
    serving: Serving,
}

impl WebServer {
    /// Checks the config (refusing an unauthenticated listener beyond loopback), binds, and
    /// serves. `ui_dir` holds the built UI (`index.html` and assets).
    pub async fn bind(daemon: Daemon, web: &WebConfig, ui_dir: &Path) -> Result<Self, WebError> {
        let addr = parse_listen(&web.listen)?;
        let auth = Auth::from_config(web)?;
        let loopback = addr.ip().is_loopback();
        if !loopback && !auth.required() {
            return Err(WebError::NoAuthBeyondLoopback(web.listen.clone()));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| WebError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| WebError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let hosts = if loopback {
            let port = addr.port();
            vec![
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
                addr.to_string(),
            ]
        } else {
            Vec::new()
        };
        let guard = Guard {
            auth,
            hosts: Arc::new(hosts),
        };
        let app = dashboard_router(daemon, guard, ui_dir);
        let serving = Serving::start(listener, app, "dashboard server");
        tracing::info!(address = %format!("http://{addr}/"), "dashboard listening");
        Ok(Self { addr, serving })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn shutdown(self) {
        self.serving.stop().await;
    }
}

/// Go's `:8080` means every interface, as in sekia.
fn parse_listen(listen: &str) -> Result<SocketAddr, WebError> {
    let full = if listen.starts_with(':') {
        format!("0.0.0.0{listen}")
    } else {
        listen.to_owned()
    };
    full.parse()
        .map_err(|_| WebError::BadAddress(listen.to_owned()))
}

fn dashboard_router(daemon: Daemon, guard: Guard, ui_dir: &Path) -> Router {
    let api = api_router(ApiState {
        daemon,
        live_slots: Some(Arc::new(Semaphore::new(MAX_LIVE_CONNECTIONS))),
    });
    let index = ui_dir.join("index.html");
    let files = ServeDir::new(ui_dir).fallback(ServeFile::new(index));
    Router::new()
        .nest_service("/assets", ServeDir::new(ui_dir.join("assets")))
        .merge(api)
        .fallback_service(files)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(guard, check))
        .layer(middleware::from_fn(security_headers))
}

/// Host/Origin, authentication, then CSRF; sets the CSRF cookie when the browser has none.
async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !guard.hosts.is_empty() && !guard.hosts.iter().any(|h| h == host) {
        return refuse(StatusCode::MISDIRECTED_REQUEST, "unexpected Host header");
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && origin != "null"
        && !same_origin(origin, host)
    {
        return refuse(StatusCode::FORBIDDEN, "cross-origin request refused");
    }
    if guard.auth.required() && !guard.auth.allows(headers) {
        let mut r = refuse(StatusCode::UNAUTHORIZED, "authentication required");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"sekia\", charset=\"UTF-8\""),
        );
        return r;
    }
    let cookie = csrf_cookie(headers);
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe {
        let sent = headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let ok = cookie
            .as_deref()
            .is_some_and(|c| !sent.is_empty() && bool::from(c.as_bytes().ct_eq(sent)));
        if !ok {
            return refuse(StatusCode::FORBIDDEN, "CSRF token mismatch");
        }
    }
    let mut response = next.run(request).await;
    if cookie.is_none() {
        let value = format!(
            "{CSRF_COOKIE}={}; Path=/; SameSite=Strict",
            new_csrf_token()
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn same_origin(origin: &str, host: &str) -> bool {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o == host)
}

fn csrf_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == CSRF_COOKIE && value.len() == 64)
        .map(|(_, value)| value.to_owned())
}

/// 32 random bytes as 64 hex characters (sekia's format).
fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    hex::encode(bytes)
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where the built UI is: `SEKIA_UI_DIR`, then `../share/sekia/ui` beside the binary (an
/// installed package), then the source tree's `ui/dist` (a development build).
pub fn find_ui_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SEKIA_UI_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(bin) = exe.parent()
    {
        let installed = bin.join("../share/sekia/ui");
        if installed.join("index.html").is_file() {
            return installed;
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist")
}
