//! `sekiactl accounts`: list, connect (browser sign-in), add-token (pasted), disconnect, over
//! the local API's `rpc` route — the same calls the UI makes.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use sekia_daemon::{AccountInfo, AccountsReport, Disconnected, SignInStarted};
use sekia_server::ApiClient;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::output::table;

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// List connected accounts and where their tokens are kept
    List {
        #[arg(long)]
        json: bool,
    },
    /// Sign in in the browser: prints the URL to open, then waits for the sign-in to finish.
    /// Slack (with `accounts.slack.redirect_url` set) also reads its app-level token (xapp-…)
    /// from standard input first
    Connect {
        /// google, github, linear, or slack
        provider: String,
        /// The account's name, which is also its connector's agent name (default
        /// `<provider>-agent` for the first account of a provider)
        #[arg(long)]
        name: Option<String>,
    },
    /// Add an account from a pasted token, read from standard input (one line; Slack: the bot
    /// token xoxb-… then the app-level token xapp-… on the next line). Checked with the service
    /// before it is stored.
    AddToken {
        /// github (personal access token), linear (API key) or slack (bot + app tokens)
        provider: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove an account: revokes its token where the provider allows, deletes it
    Disconnect { name: String },
}

pub async fn run(client: &ApiClient, command: AccountsCommand) -> Result<()> {
    match command {
        AccountsCommand::List { json: true } => {
            let report: Value = rpc(client, json!({"cmd": "accounts"})).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        AccountsCommand::List { json: false } => {
            let report: AccountsReport = rpc(client, json!({"cmd": "accounts"})).await?;
            print!("{}", accounts_table(&report));
            Ok(())
        }
        AccountsCommand::Connect { provider, name } => {
            let app_token = if provider == "slack" {
                Some(read_line(
                    "Paste the app-level token (xapp-…), then Enter:",
                    "app-level token",
                )?)
            } else {
                None
            };
            let started: SignInStarted = rpc(
                client,
                json!({"cmd": "connect_account", "args": {"provider": provider, "name": name, "app_token": app_token}}),
            )
            .await?;
            eprintln!(
                "Open this address in your browser to sign in (waiting up to the sign-in timeout; Ctrl-C cancels):"
            );
            println!("{}", started.url);
            let cancel_client = ApiClient::new(client.socket());
            let id = started.id.clone();
            let wait = rpc::<AccountInfo>(
                client,
                json!({"cmd": "wait_sign_in", "args": {"id": started.id}}),
            );
            tokio::select! {
                done = wait => {
                    let account = done?;
                    println!("Connected {} as {} ({}).", account.name, account.identity, account.provider);
                    Ok(())
                }
                _ = tokio::signal::ctrl_c() => {
                    let _: Value = rpc(&cancel_client, json!({"cmd": "cancel_sign_in", "args": {"id": id}})).await?;
                    bail!("sign-in cancelled")
                }
            }
        }
        AccountsCommand::AddToken { provider, name } => {
            let (token, app_token) = read_tokens(&provider)?;
            let account: AccountInfo = rpc(
                client,
                json!({"cmd": "add_account_token", "args": {
                    "provider": provider, "name": name, "token": token, "app_token": app_token,
                }}),
            )
            .await?;
            println!(
                "Connected {} as {} ({}).",
                account.name, account.identity, account.provider
            );
            Ok(())
        }
        AccountsCommand::Disconnect { name } => {
            let done: Disconnected = rpc(
                client,
                json!({"cmd": "disconnect_account", "args": {"name": name}}),
            )
            .await?;
            println!(
                "Disconnected {}{}.",
                done.name,
                if done.revoked {
                    "; the token is revoked"
                } else {
                    ""
                }
            );
            if let Some(note) = done.note {
                println!("Note: {note}");
            }
            Ok(())
        }
    }
}

async fn rpc<T: DeserializeOwned>(client: &ApiClient, call: Value) -> Result<T> {
    Ok(client.post("/api/v1/rpc", Some(&call)).await?)
}

/// Tokens come on standard input, never as arguments (which shell history and `ps` keep).
fn read_tokens(provider: &str) -> Result<(String, Option<String>)> {
    let stdin = std::io::stdin();
    let slack = provider == "slack";
    if stdin.is_terminal() {
        eprintln!(
            "{}",
            if slack {
                "Paste the bot token (xoxb-…), Enter, then the app-level token (xapp-…), Enter:"
            } else {
                "Paste the token, then Enter:"
            }
        );
    }
    let mut lines = stdin.lock().lines();
    let mut next = |what: &str| -> Result<String> {
        let line = lines
            .next()
            .with_context(|| format!("no {what} on standard input"))?
            .context("cannot read standard input")?;
        Ok(line.trim().to_owned())
    };
    let token = next("token")?;
    let app = if slack {
        Some(next("app-level token (second line)")?)
    } else {
        None
    };
    Ok((token, app))
}

/// One line from standard input (a token), with a prompt when it is a terminal.
fn read_line(prompt: &str, what: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("{prompt}");
    }
    let line = stdin
        .lock()
        .lines()
        .next()
        .with_context(|| format!("no {what} on standard input"))?
        .context("cannot read standard input")?;
    Ok(line.trim().to_owned())
}

fn accounts_table(report: &AccountsReport) -> String {
    let store = match report.store {
        sekia_daemon::TokenStoreKind::Keyring => "the OS keychain".to_owned(),
        sekia_daemon::TokenStoreKind::EncryptedFile => format!(
            "age-encrypted files{}",
            report
                .store_note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
    };
    let mut out = format!("Tokens are kept in {store}.\n");
    if report.accounts.is_empty() {
        out.push_str("No accounts connected. Try `sekiactl accounts add-token github` or `sekiactl accounts connect google`.\n");
        return out;
    }
    let rows: Vec<Vec<String>> = report
        .accounts
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.provider.clone(),
                a.identity.clone(),
                serde_json::to_value(a.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                serde_json::to_value(a.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&table(
        &["NAME", "PROVIDER", "IDENTITY", "STATE", "KIND"],
        &rows,
    ));
    out
}
