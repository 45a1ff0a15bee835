//! The daemon's accounts at run time: the providers (built-in table plus config overrides),
//! the token store chosen at start, each account's token source, and the browser sign-ins in
//! progress. The `Daemon` methods in `mod.rs` are thin adapters over this.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sekia_accounts::{
    Account, AccountError, AccountId, AuthScheme, CancelHandle, FlowOptions, PastedToken, Provider,
    RefreshPolicy, Revocation, Secret, SignIn, StoreChoice, StoreKind, TokenSet, TokenSource,
};
use sekia_protocol::clock::Clock;
use tokio::sync::watch;

use super::book::{AccountKind, Book, Record};
use crate::config::Config;
use crate::daemon::DaemonError;

/// The provider id under which a Slack account's app-level token (`xapp-…`) is stored, beside
/// the bot token stored under `slack`.
const SLACK_APP: &str = "slack-app";

pub(crate) struct Entry {
    pub record: Record,
    pub account: Arc<Account>,
}

/// The outcome of a browser sign-in, once there is one.
pub(crate) type SignInOutcome = Option<Result<Record, String>>;

pub(crate) struct Pending {
    pub provider: String,
    pub name: Option<String>,
    pub url: String,
    pub started_at: i64,
    pub cancel: CancelHandle,
    pub outcome: watch::Receiver<SignInOutcome>,
}

pub(crate) struct Accounts {
    pub providers: BTreeMap<String, Provider>,
    /// Chosen on first need, so a daemon without accounts never probes the keychain (a
    /// prompt on some desktops) nor makes an age key.
    store: Mutex<Option<Arc<StoreChoice>>>,
    store_mode: String,
    /// What `store_kind` found before a store was chosen, so the UI's refreshes do not probe
    /// the keychain again and again.
    preview: Mutex<Option<(StoreKind, Option<String>)>>,
    files: std::path::PathBuf,
    config: Config,
    book: Book,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    sign_in_timeout: Duration,
    pub entries: Mutex<BTreeMap<String, Entry>>,
    pub sign_ins: Mutex<HashMap<String, Pending>>,
    /// Bumped whenever an account is added, removed or changes state, so connectors can start
    /// and stop and the UI can refresh.
    pub changed: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Accounts {
    /// Chooses the token store and loads the account list.
    pub fn open(config: &Config, clock: Arc<dyn Clock>) -> Result<Self, DaemonError> {
        // A config built in code (tests, embedders) has no folder yet: the loader's default.
        let dir = config.accounts.dir_or_default(&config.store.path);
        let dir = &dir;
        let mut providers = BTreeMap::new();
        for id in sekia_accounts::provider::BUILTIN {
            if let Some(p) = sekia_accounts::provider::builtin(id) {
                let p = match config.accounts.overrides(id) {
                    Some(o) => p.with_overrides(o),
                    None => p,
                };
                providers.insert(id.to_owned(), p);
            }
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| DaemonError::Accounts(format!("cannot make an HTTP client: {e}")))?;
        let accounts = Self {
            providers,
            store: Mutex::new(None),
            store_mode: config.accounts.store.clone(),
            preview: Mutex::new(None),
            files: dir.join("tokens"),
            config: config.clone(),
            book: Book::new(dir),
            http,
            clock,
            sign_in_timeout: config.accounts.sign_in_timeout.get(),
            entries: Mutex::new(BTreeMap::new()),
            sign_ins: Mutex::new(HashMap::new()),
            changed: watch::channel(0).0,
        };
        let records = accounts.book.load()?;
        {
            let mut entries = lock(&accounts.entries);
            for record in records {
                let Some(provider) = accounts.providers.get(&record.provider) else {
                    tracing::warn!(account = %record.name, provider = %record.provider, "account of an unknown provider ignored");
                    continue;
                };
                let account = accounts.account(provider, &record.name)?;
                if record.needs_reconnect {
                    account.set_needs_reconnect();
                }
                entries.insert(record.name.clone(), Entry { record, account });
            }
        }
        Ok(accounts)
    }

    /// The token store, chosen now if it was not yet.
    pub fn store(&self) -> Result<Arc<StoreChoice>, DaemonError> {
        let mut slot = lock(&self.store);
        if let Some(s) = slot.as_ref() {
            return Ok(Arc::clone(s));
        }
        let identity = || age_identity(&self.config, self.clock.as_ref());
        let choice = Arc::new(match self.store_mode.as_str() {
            "keyring" => sekia_accounts::keyring_store()?,
            "file" => sekia_accounts::file_store(&self.files, identity()?),
            _ => sekia_accounts::choose_store(&self.files, identity)?,
        });
        tracing::info!(store = %choice.kind, "account tokens are kept in {}", choice.kind);
        *slot = Some(Arc::clone(&choice));
        Ok(choice)
    }

    /// The store in use, or the one that would be chosen (without making a key), and why
    /// the keychain is not used.
    pub fn store_kind(&self) -> (StoreKind, Option<String>) {
        if let Some(s) = lock(&self.store).as_ref() {
            return (s.kind, s.why_not_keyring.clone());
        }
        if let Some(p) = lock(&self.preview).as_ref() {
            return p.clone();
        }
        let found = match self.store_mode.as_str() {
            "file" => (
                StoreKind::EncryptedFile,
                Some("accounts.store is \"file\"".into()),
            ),
            "keyring" => (StoreKind::Keyring, None),
            _ => match sekia_accounts::KeyringStore::open().and_then(|k| k.probe()) {
                Ok(()) => (StoreKind::Keyring, None),
                Err(e) => (StoreKind::EncryptedFile, Some(e.to_string())),
            },
        };
        *lock(&self.preview) = Some(found.clone());
        found
    }

    fn account(&self, provider: &Provider, name: &str) -> Result<Arc<Account>, DaemonError> {
        Ok(Arc::new(Account::new(
            AccountId::new(&provider.id, name)?,
            provider.clone(),
            Arc::clone(&self.store()?.store),
            self.http.clone(),
            Arc::clone(&self.clock),
            RefreshPolicy::default(),
        )))
    }

    pub fn provider(&self, id: &str) -> Result<&Provider, DaemonError> {
        self.providers.get(id).ok_or_else(|| {
            DaemonError::invalid(
                "provider",
                format!(
                    "{id:?} is not a provider sekia connects to; use one of {}",
                    sekia_accounts::provider::BUILTIN.join(", ")
                ),
            )
        })
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Saves the list; entries whose token source found the account refused are marked.
    pub fn save(&self) -> Result<(), DaemonError> {
        let records: Vec<Record> = lock(&self.entries)
            .values()
            .map(|e| e.record.clone())
            .collect();
        self.book.save(&records)
    }

    /// Carries token-source state changes (a refresh refused) into the saved list.
    pub fn sync_states(&self) {
        let mut changed = false;
        for entry in lock(&self.entries).values_mut() {
            let refused = entry.account.state() == sekia_accounts::AccountState::NeedsReconnect;
            if refused != entry.record.needs_reconnect {
                entry.record.needs_reconnect = refused;
                changed = true;
            }
        }
        if changed {
            if let Err(e) = self.save() {
                tracing::warn!(error = %e, "cannot save the account list");
            }
            self.notify();
        }
    }

    /// The name a new account gets: the one asked for (checked), else sekia's agent name for
    /// the provider (`github-agent`) while it is free, else one made from the identity.
    fn name_for(
        &self,
        provider: &str,
        asked: Option<&str>,
        identity: Option<&str>,
    ) -> Result<String, DaemonError> {
        let entries = lock(&self.entries);
        if let Some(name) = asked.map(str::trim).filter(|n| !n.is_empty()) {
            check_name(name)?;
            if let Some(e) = entries.get(name)
                && e.record.provider != provider
            {
                return Err(DaemonError::invalid(
                    "name",
                    format!(
                        "{name} is already the name of a {} account; account names are agent names and must be unique",
                        e.record.provider
                    ),
                ));
            }
            return Ok(name.to_owned());
        }
        let default = format!("{provider}-agent");
        if !entries.contains_key(&default) {
            return Ok(default);
        }
        let from_identity: String = identity
            .unwrap_or("account")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        let base = format!("{provider}-{}", from_identity.trim_matches('-'));
        let mut name = base.clone();
        let mut n = 2;
        while entries.contains_key(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        Ok(name)
    }

    /// Stores tokens for an account (new, or reconnecting an existing one) and remembers it.
    async fn remember(
        &self,
        provider: &Provider,
        name: String,
        identity: String,
        kind: AccountKind,
        tokens: TokenSet,
    ) -> Result<Record, DaemonError> {
        let existing = lock(&self.entries)
            .get(&name)
            .map(|e| Arc::clone(&e.account));
        let account = match existing {
            Some(a) => a,
            None => self.account(provider, &name)?,
        };
        account.connect(tokens).await?;
        let record = Record {
            provider: provider.id.clone(),
            name: name.clone(),
            identity,
            kind,
            connected_at: unix_millis(self.clock.as_ref()),
            needs_reconnect: false,
        };
        lock(&self.entries).insert(
            name.clone(),
            Entry {
                record: record.clone(),
                account,
            },
        );
        self.save()?;
        tracing::info!(account = %name, provider = %provider.id, "account connected");
        self.notify();
        Ok(record)
    }

    /// Checks pasted tokens with the service, then stores them.
    pub async fn add_token(
        &self,
        provider_id: &str,
        name: Option<&str>,
        token: &Secret,
        app_token: Option<&Secret>,
    ) -> Result<Record, DaemonError> {
        let provider = self.provider(provider_id)?.clone();
        let Some(kind) = provider.pasted else {
            return Err(DaemonError::invalid(
                "provider",
                format!(
                    "{} accounts are added by signing in, not by pasting a token",
                    provider.display_name
                ),
            ));
        };
        sekia_accounts::check_format(kind, "token", token.expose())
            .map_err(|m| DaemonError::invalid("token", m))?;
        let app_token = match (kind, app_token) {
            (PastedToken::SlackBotAndAppToken, Some(t)) => {
                sekia_accounts::check_format(kind, "app_token", t.expose())
                    .map_err(|m| DaemonError::invalid("app_token", m))?;
                Some(t)
            }
            (PastedToken::SlackBotAndAppToken, None) => {
                return Err(DaemonError::invalid(
                    "app_token",
                    "Slack needs an app-level token (xapp-…) too, for Socket Mode",
                ));
            }
            _ => None,
        };
        let scheme = scheme_of(&provider.id, AccountKind::Token);
        let identity = sekia_accounts::identity::look_up(&self.http, &provider, token, scheme)
            .await
            .map_err(|e| field_error("token", e))?;
        if let Some(app) = app_token {
            sekia_accounts::identity::check_slack_app_token(&self.http, &provider, app)
                .await
                .map_err(|e| field_error("app_token", e))?;
        }
        let name = self.name_for(&provider.id, name, Some(&identity))?;
        if let Some(app) = app_token {
            self.save_slack_app_token(&name, app).await?;
        }
        self.remember(
            &provider,
            name,
            identity,
            AccountKind::Token,
            pasted_tokens(token),
        )
        .await
    }

    /// Keeps a Slack account's app-level token beside its bot token.
    async fn save_slack_app_token(&self, name: &str, app: &Secret) -> Result<(), DaemonError> {
        let id = AccountId::new(SLACK_APP, name)?;
        let store = Arc::clone(&self.store()?.store);
        let tokens = pasted_tokens(app);
        blocking(move || store.save(&id, &tokens)).await?;
        Ok(())
    }

    /// Starts a browser sign-in; the outcome arrives on the pending entry's watch. Slack's
    /// sign-in gives the bot token only: its app-level token comes along, checked first.
    pub async fn start_sign_in(
        self: &Arc<Self>,
        provider_id: &str,
        name: Option<String>,
        app_token: Option<Secret>,
    ) -> Result<(String, String), DaemonError> {
        let provider = self.provider(provider_id)?.clone();
        if let Some(n) = name.as_deref() {
            self.name_for(&provider.id, Some(n), None)?;
        }
        // (Without browser sign-in, SignIn::start says to paste instead.)
        let slack =
            provider.browser_sign_in && provider.pasted == Some(PastedToken::SlackBotAndAppToken);
        let app_token = match (slack.then_some(provider.pasted).flatten(), app_token) {
            (Some(kind @ PastedToken::SlackBotAndAppToken), Some(t)) => {
                sekia_accounts::check_format(kind, "app_token", t.expose())
                    .map_err(|m| DaemonError::invalid("app_token", m))?;
                sekia_accounts::identity::check_slack_app_token(&self.http, &provider, &t)
                    .await
                    .map_err(|e| field_error("app_token", e))?;
                Some(t)
            }
            (Some(PastedToken::SlackBotAndAppToken), None) => {
                return Err(DaemonError::invalid(
                    "app_token",
                    "Slack needs an app-level token (xapp-…) too, for Socket Mode",
                ));
            }
            _ => None,
        };
        let sign_in = SignIn::start(
            &provider,
            self.http.clone(),
            Arc::clone(&self.clock),
            FlowOptions {
                timeout: self.sign_in_timeout,
                ..FlowOptions::default()
            },
        )
        .await?;
        let id = format!("signin_{}", unix_millis(self.clock.as_ref()));
        let id = {
            let sign_ins = lock(&self.sign_ins);
            let mut unique = id.clone();
            let mut n = 1;
            while sign_ins.contains_key(&unique) {
                n += 1;
                unique = format!("{id}_{n}");
            }
            unique
        };
        let url = sign_in.authorize_url().to_owned();
        let (tx, rx) = watch::channel(None);
        lock(&self.sign_ins).insert(
            id.clone(),
            Pending {
                provider: provider.id.clone(),
                name: name.clone(),
                url: url.clone(),
                started_at: unix_millis(self.clock.as_ref()),
                cancel: sign_in.cancel_handle(),
                outcome: rx,
            },
        );
        self.notify();
        tracing::info!(provider = %provider.id, sign_in = %id, "browser sign-in started");
        let this = Arc::clone(self);
        let flow_id = id.clone();
        tokio::spawn(async move {
            let outcome = this
                .finish_sign_in(&provider, name, sign_in, app_token)
                .await;
            if let Err(e) = &outcome {
                tracing::warn!(provider = %provider.id, error = %e, "sign-in failed");
            }
            let _ = tx.send(Some(outcome.map_err(|e| e.to_string())));
            // Kept a little so a waiting `sekiactl accounts connect` can read the outcome.
            tokio::time::sleep(Duration::from_secs(60)).await;
            lock(&this.sign_ins).remove(&flow_id);
            this.notify();
        });
        Ok((id, url))
    }

    async fn finish_sign_in(
        &self,
        provider: &Provider,
        name: Option<String>,
        sign_in: SignIn,
        app_token: Option<Secret>,
    ) -> Result<Record, DaemonError> {
        let tokens = sign_in.finish().await?;
        let scheme = scheme_of(&provider.id, AccountKind::Oauth);
        let identity =
            sekia_accounts::identity::look_up(&self.http, provider, &tokens.access_token, scheme)
                .await?;
        let name = self.name_for(&provider.id, name.as_deref(), Some(&identity))?;
        if let Some(app) = &app_token {
            self.save_slack_app_token(&name, app).await?;
        }
        self.remember(provider, name, identity, AccountKind::Oauth, tokens)
            .await
    }

    /// Waits for a sign-in's outcome.
    pub async fn wait_sign_in(&self, id: &str) -> Result<Record, DaemonError> {
        let mut rx = lock(&self.sign_ins)
            .get(id)
            .map(|p| p.outcome.clone())
            .ok_or_else(|| DaemonError::NotFound(format!("sign-in {id}")))?;
        let outcome = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| DaemonError::Accounts("the sign-in stopped".into()))?
            .clone();
        match outcome {
            Some(Ok(record)) => Ok(record),
            Some(Err(message)) => Err(DaemonError::Accounts(message)),
            None => Err(DaemonError::Accounts("the sign-in stopped".into())),
        }
    }

    pub fn cancel_sign_in(&self, id: &str) -> Result<(), DaemonError> {
        let sign_ins = lock(&self.sign_ins);
        let pending = sign_ins
            .get(id)
            .ok_or_else(|| DaemonError::NotFound(format!("sign-in {id}")))?;
        pending.cancel.cancel();
        Ok(())
    }

    /// Revokes the account's token where the provider allows it, deletes its tokens and
    /// forgets it. A revocation that fails does not keep the account: the user asked for it
    /// to be gone, and is told what to do at the provider.
    pub async fn disconnect(&self, name: &str) -> Result<(bool, Option<String>), DaemonError> {
        let (record, account) = {
            let entries = lock(&self.entries);
            let e = entries
                .get(name)
                .ok_or_else(|| DaemonError::NotFound(format!("account {name}")))?;
            (e.record.clone(), Arc::clone(&e.account))
        };
        let provider = self.provider(&record.provider)?.clone();
        let (revoked, note) = match account.stored_tokens().await {
            Ok(Some(tokens)) => {
                match sekia_accounts::revoke(
                    &self.http,
                    &provider,
                    &tokens,
                    record.kind == AccountKind::Token,
                )
                .await
                {
                    Ok(Revocation::Revoked) => (true, None),
                    Ok(Revocation::NotOffered(what)) => (false, Some(what)),
                    Err(e) => {
                        tracing::warn!(account = %name, error = %e, "revoking the token failed; removing the account anyway");
                        (
                            false,
                            Some(format!(
                                "the token could not be revoked ({e}); revoke it in {}'s settings",
                                provider.display_name
                            )),
                        )
                    }
                }
            }
            Ok(None) => (false, None),
            Err(e) => (
                false,
                Some(format!("the stored token could not be read: {e}")),
            ),
        };
        account.disconnect().await?;
        if record.provider == "slack" {
            let id = AccountId::new(SLACK_APP, name)?;
            let store = Arc::clone(&self.store()?.store);
            blocking(move || store.delete(&id)).await?;
        }
        lock(&self.entries).remove(name);
        self.save()?;
        tracing::info!(account = %name, revoked, "account disconnected");
        self.notify();
        Ok((revoked, note))
    }

    /// Accounts whose connector should run (name → provider): connected, not refused.
    pub fn connected(&self) -> BTreeMap<String, String> {
        lock(&self.entries)
            .values()
            .filter(|e| {
                !e.record.needs_reconnect
                    && e.account.state() == sekia_accounts::AccountState::Connected
            })
            .map(|e| (e.record.name.clone(), e.record.provider.clone()))
            .collect()
    }

    /// The token source of an account and how its token is sent, for the connectors.
    pub fn token_source(&self, name: &str) -> Option<(Arc<dyn TokenSource>, AuthScheme)> {
        let entries = lock(&self.entries);
        let e = entries.get(name)?;
        let source: Arc<dyn TokenSource> = Arc::clone(&e.account) as Arc<dyn TokenSource>;
        Some((source, scheme_of(&e.record.provider, e.record.kind)))
    }

    /// A Slack account's app-level token.
    pub async fn slack_app_token(&self, name: &str) -> Result<Option<Secret>, DaemonError> {
        let id = AccountId::new(SLACK_APP, name)?;
        let store = Arc::clone(&self.store()?.store);
        Ok(blocking(move || store.load(&id))
            .await?
            .map(|t| t.access_token))
    }
}

/// Linear's personal API keys go into `Authorization` bare; everything else is a bearer token.
fn scheme_of(provider: &str, kind: AccountKind) -> AuthScheme {
    if provider == "linear" && kind == AccountKind::Token {
        AuthScheme::Raw
    } else {
        AuthScheme::Bearer
    }
}

fn pasted_tokens(token: &Secret) -> TokenSet {
    TokenSet {
        access_token: token.clone(),
        refresh_token: None,
        expires_at: None,
        scopes: Vec::new(),
        token_type: "Bearer".into(),
    }
}

/// A service refusing a pasted token is bad input in that field; anything else stays what it
/// is.
fn field_error(field: &str, e: AccountError) -> DaemonError {
    match e {
        AccountError::ApiRejected { message, .. } => DaemonError::invalid(field, message),
        other => other.into(),
    }
}

/// Account names become agent names and subject tokens.
fn check_name(name: &str) -> Result<(), DaemonError> {
    let ok = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(DaemonError::invalid(
            "name",
            "use at most 64 letters, digits, '-' or '_' (the name is the connector's agent name, e.g. github-work)",
        ))
    }
}

/// sekia's age key for the encrypted token files: `SEKIA_AGE_KEY`/`SEKIA_AGE_KEY_FILE`,
/// `secrets.identity`, `~/.config/sekia/age.key`; made (0600) at the configured or default
/// path when there is none yet, so the file store works on a fresh headless machine.
fn age_identity(config: &Config, clock: &dyn Clock) -> Result<age::x25519::Identity, AccountError> {
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let failed = |path: &std::path::Path, message: String| AccountError::File {
        path: path.to_path_buf(),
        message,
    };
    let found = crate::secrets::find_identities(&env, &config.secrets.identity, home.as_deref());
    match found {
        Ok(Some(mut ids)) if !ids.is_empty() => return Ok(ids.remove(0)),
        Ok(_) => {}
        Err(crate::secrets::SecretsError::IdentityFile { path, message }) if !path.exists() => {
            tracing::debug!(path = %path.display(), message, "no age key yet");
        }
        Err(e) => return Err(failed(&config.secrets.identity, e.to_string())),
    }
    let path = if config.secrets.identity.as_os_str().is_empty() {
        match &home {
            Some(h) => crate::secrets::default_key_path(h),
            None => config.accounts.dir.join("age.key"),
        }
    } else {
        config.secrets.identity.clone()
    };
    let now = crate::gotime::go_time(clock.now());
    crate::secrets::keygen(&path, false, &now).map_err(|e| failed(&path, e.to_string()))?;
    tracing::info!(path = %path.display(), "made an age key for the encrypted token files");
    let mut ids =
        crate::secrets::read_identity_file(&path).map_err(|e| failed(&path, e.to_string()))?;
    Ok(ids.remove(0))
}

fn unix_millis(clock: &dyn Clock) -> i64 {
    clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
) -> Result<T, DaemonError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DaemonError::Accounts(format!("token store task failed: {e}")))?
        .map_err(Into::into)
}
