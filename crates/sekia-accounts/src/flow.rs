//! The browser sign-in (RFC 8252, native apps): a listener on 127.0.0.1 with a random port
//! receives the redirect, PKCE S256 binds the code to this process, and a random `state`
//! (compared in constant time) rejects redirects we did not start.
//!
//! [`SignIn::start`] opens the listener and builds the URL; the caller opens the browser.
//! [`SignIn::finish`] waits for the redirect (timeout, cancel), exchanges the code, and only
//! then answers the browser with a success or failure page, so the page tells the truth.
//!
//! **Through an HTTPS redirect page** ([`Provider::redirect_url`], for Slack, which refuses
//! loopback redirects): that page is the registered `redirect_uri`, and `state` is
//! `<port>.<random>`. The page must send the browser on, query string unchanged, to
//! `http://127.0.0.1:<port>/callback?<query>` — `docs/slack-redirect.html` is such a page. The
//! state is still checked whole, so a forwarded redirect we did not start is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use sekia_protocol::clock::Clock;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::AccountError;
use crate::pkce::{pkce_pair, random_token};
use crate::provider::Provider;
use crate::secret::TokenSet;
use crate::token_endpoint::{self, Grant};

/// How a sign-in waits.
#[derive(Clone, Debug)]
pub struct FlowOptions {
    /// How long to wait for the browser to come back, counted from `start`. Default 5 minutes.
    pub timeout: Duration,
    /// How long the browser's request waits for the code exchange before the page is served
    /// anyway (it then says the outcome is unknown).
    pub page_wait: Duration,
    /// The loopback port to listen on; 0 (the default) picks a free one. A fixed port lets a
    /// sign-in on a headless machine come back through an SSH port forward (sekia's
    /// `google.auth_port`).
    pub port: u16,
}

impl Default for FlowOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5 * 60),
            page_wait: Duration::from_secs(60),
            port: 0,
        }
    }
}

/// Cancels a running sign-in (the UI's Cancel button); `finish` then returns `Cancelled`.
#[derive(Clone, Debug)]
pub struct CancelHandle(CancellationToken);

impl CancelHandle {
    pub fn cancel(&self) {
        self.0.cancel();
    }
}

/// What the redirect carried, already checked against our state.
type Callback = Result<String, AccountError>;
/// The page the browser gets: `Ok` success text, `Err` failure text.
type PageReply = Result<(), String>;
/// From the handler to `finish`: the checked redirect, and where to send the page's outcome.
type Delivery = (Callback, oneshot::Sender<PageReply>);

struct Shared {
    expected_state: String,
    page_wait: Duration,
    provider: String,
    /// Taken by the first redirect to our path; later ones get a "finished" page.
    tx: Mutex<Option<oneshot::Sender<Delivery>>>,
}

/// A sign-in in progress.
pub struct SignIn {
    url: String,
    redirect_uri: String,
    verifier: Option<String>,
    provider: Provider,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    rx: oneshot::Receiver<Delivery>,
    cancel: CancellationToken,
    deadline: tokio::time::Instant,
    timeout: Duration,
    server: JoinHandle<()>,
}

const CALLBACK_PATH: &str = "/callback";

impl SignIn {
    /// Opens the loopback listener and builds the authorization URL.
    pub async fn start(
        provider: &Provider,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        options: FlowOptions,
    ) -> Result<SignIn, AccountError> {
        if !provider.browser_sign_in {
            return Err(AccountError::NoBrowserSignIn {
                provider: provider.display_name.clone(),
                instead: "paste its tokens instead (a bot token xoxb-… and an app-level token xapp-…)",
            });
        }
        let client_id = provider.require_client_id()?.to_owned();
        let mut url = provider.endpoint("authorization URL", &provider.auth_url)?;
        provider.endpoint("token URL", &provider.token_url)?;

        // 127.0.0.1, not localhost: RFC 8252 §8.3, and no IPv6/IPv4 resolution surprises.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|source| AccountError::Listen { source })?;
        let port = listener
            .local_addr()
            .map_err(|source| AccountError::Listen { source })?
            .port();
        let (redirect_uri, state) = match &provider.redirect_url {
            Some(page) => (
                provider.endpoint("redirect URL", page)?.to_string(),
                format!("{port}.{}", random_token(32)?),
            ),
            None => (
                format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
                random_token(32)?,
            ),
        };
        let (challenge, verifier) = if provider.pkce {
            let (c, v) = pkce_pair()?;
            (Some(c), Some(v))
        } else {
            (None, None)
        };

        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &client_id)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("state", &state);
            if !provider.scopes.is_empty() {
                q.append_pair("scope", &provider.scopes.join(provider.scope_separator));
            }
            if let Some(c) = &challenge {
                q.append_pair("code_challenge", c)
                    .append_pair("code_challenge_method", "S256");
            }
            for (k, v) in &provider.extra_auth_params {
                q.append_pair(k, v);
            }
        }

        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            expected_state: state,
            page_wait: options.page_wait,
            provider: provider.display_name.clone(),
            tx: Mutex::new(Some(tx)),
        });
        let app = axum::Router::new().fallback(callback).with_state(shared);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "sign-in listener stopped");
            }
        });
        Ok(SignIn {
            url: url.to_string(),
            redirect_uri,
            verifier,
            provider: provider.clone(),
            http,
            clock,
            rx,
            cancel: CancellationToken::new(),
            deadline: tokio::time::Instant::now() + options.timeout,
            timeout: options.timeout,
            server,
        })
    }

    /// The URL to open in the system browser.
    pub fn authorize_url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:<port>/callback`.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle(self.cancel.clone())
    }

    /// Waits for the redirect, exchanges the code, answers the browser, returns the tokens.
    pub async fn finish(mut self) -> Result<TokenSet, AccountError> {
        let received = tokio::select! {
            r = &mut self.rx => r.map_err(|_| AccountError::Internal("the sign-in listener stopped".into())),
            () = self.cancel.cancelled() => Err(AccountError::Cancelled),
            () = tokio::time::sleep_until(self.deadline) => Err(AccountError::Timeout { after: self.timeout }),
        };
        let (callback, page) = received?;
        let result = match callback {
            Ok(code) => {
                token_endpoint::request(
                    &self.http,
                    &self.provider,
                    &self.clock,
                    Grant::Code {
                        code: &code,
                        redirect_uri: &self.redirect_uri,
                        verifier: self.verifier.as_deref(),
                    },
                )
                .await
            }
            Err(e) => Err(e),
        };
        let _ = page.send(match &result {
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        });
        result
    }
}

impl Drop for SignIn {
    fn drop(&mut self) {
        // Stops accepting; a page already being served finishes on its own connection task.
        self.server.abort();
    }
}

async fn callback(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if uri.path() != CALLBACK_PATH {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let Some(tx) = shared.tx.lock().ok().and_then(|mut t| t.take()) else {
        return page(
            StatusCode::GONE,
            "Sign-in already finished",
            "This sign-in has already finished. You can close this tab.",
        );
    };
    let outcome = check(&shared, &params);
    let (reply_tx, reply_rx) = oneshot::channel();
    if tx.send((outcome, reply_tx)).is_err() {
        return page(
            StatusCode::GONE,
            "Sign-in no longer waiting",
            "sekia stopped waiting for this sign-in. Start it again from sekia.",
        );
    }
    match tokio::time::timeout(shared.page_wait, reply_rx).await {
        Ok(Ok(Ok(()))) => page(
            StatusCode::OK,
            "Signed in",
            &format!(
                "Your {} account is connected to sekia. You can close this tab.",
                shared.provider
            ),
        ),
        Ok(Ok(Err(message))) => page(StatusCode::BAD_REQUEST, "Sign-in failed", &message),
        _ => page(
            StatusCode::OK,
            "Sign-in received",
            "sekia received the sign-in; see sekia for the result. You can close this tab.",
        ),
    }
}

/// State first: an error or a code without our state may be forged and is not looked at.
fn check(shared: &Shared, params: &HashMap<String, String>) -> Callback {
    let state_ok = params
        .get("state")
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(shared.expected_state.as_bytes())));
    if !state_ok {
        return Err(AccountError::StateMismatch);
    }
    if let Some(error) = params.get("error") {
        return Err(if error == "access_denied" {
            AccountError::AccessDenied {
                provider: shared.provider.clone(),
            }
        } else {
            AccountError::Authorization {
                provider: shared.provider.clone(),
                code: error.chars().take(100).collect(),
                description: params
                    .get("error_description")
                    .map(|d| d.chars().take(300).collect()),
            }
        });
    }
    match params.get("code").filter(|c| !c.is_empty()) {
        Some(code) => Ok(code.clone()),
        None => Err(AccountError::MissingCode),
    }
}

/// A plain page: no scripts, no external resources, text escaped.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>sekia: {t}</title></head>\
         <body style=\"font-family: sans-serif; max-width: 36em; margin: 4em auto\">\
         <h1>{t}</h1><p>{m}</p></body></html>",
        t = escape(title),
        m = escape(message)
    );
    (
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Html(body),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
