//! `sekiactl`: talks to a running sekiad over its socket, and manages secrets locally.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use sekia_cli::output::{local_time, table};
use sekia_daemon::config::{LoadOptions, default_socket, expand_tilde};
use sekia_daemon::secrets;
use sekia_protocol::{AgentsResponse, StatusResponse};
use sekia_server::ApiClient;

#[derive(Parser)]
#[command(
    name = "sekiactl",
    version,
    about = "Control a running sekiad and manage sekia secrets"
)]
struct Args {
    /// The daemon's socket (default: server.socket from sekia.toml, else the platform default)
    #[arg(long, global = true, value_name = "PATH", env = "SEKIA_SERVER_SOCKET")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show daemon status
    Status {
        /// Print the daemon's JSON answer
        #[arg(long)]
        json: bool,
    },
    /// List registered agents
    Agents {
        /// Print the daemon's JSON answer
        #[arg(long)]
        json: bool,
    },
    /// List, reload, sign and dry-run workflows
    Workflows {
        #[command(subcommand)]
        command: Option<WorkflowsCommand>,
    },
    /// Event history: search, show, replay, tail, publish a test event
    #[command(subcommand)]
    Events(sekia_cli::events::EventsCommand),
    /// Connected accounts: list, sign in, paste a token, disconnect
    #[command(subcommand)]
    Accounts(sekia_cli::accounts::AccountsCommand),
    /// Encrypt config values with age (ENC[...]) and manage the key
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Ask agents to read their config again
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Every agent (the daemon's connectors and standalone sekia-agents) reads its config
    /// again; connectors whose settings changed restart with them
    Reload {
        /// Only this agent (its name, as in `sekiactl agents`)
        #[arg(long)]
        target: Option<String>,
    },
}

#[derive(Subcommand)]
enum WorkflowsCommand {
    /// List loaded workflows and files that failed to load (the default)
    List {
        /// Print the daemon's JSON answer
        #[arg(long)]
        json: bool,
    },
    /// Reload every workflow file now
    Reload,
    /// Write workflows.sha256 for `workflows.verify_integrity`
    Sign {
        /// The workflows folder (default: workflows.dir from sekia.toml)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The skills folder, whose handler.lua files go into skills.sha256 (default:
        /// skills.dir from sekia.toml, when it exists)
        #[arg(long, value_name = "DIR")]
        skills_dir: Option<PathBuf>,
    },
    /// Run a workflow file against an event in a fresh sandbox; prints what it would do as
    /// JSON lines and sends nothing
    Test {
        /// The workflow file
        file: PathBuf,
        /// The event, as sekia's JSON ({"id","type","source","timestamp","payload"})
        #[arg(long, value_name = "EVENT.json")]
        event: PathBuf,
        /// What sekia.ai and sekia.ai_json answer (default: AI not configured)
        #[arg(long, value_name = "TEXT")]
        ai_answer: Option<String>,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Create an age key file (0600, in a 0700 folder) and print its public key
    Keygen {
        /// Where to write the key (default ~/.config/sekia/age.key)
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Replace an existing key file (values encrypted to it become unreadable)
        #[arg(long)]
        force: bool,
    },
    /// Encrypt a value (or standard input) into ENC[...] for sekia.toml
    Encrypt {
        /// The value; read from standard input when absent (keeps it out of shell history)
        value: Option<String>,
        /// Encrypt to this public key instead of the configured identity's
        #[arg(long, value_name = "age1...")]
        recipient: Option<String>,
    },
    /// Decrypt an ENC[...] value with the configured identity
    Decrypt { value: String },
    /// Not supported: AWS KMS
    #[command(name = "kms-encrypt", hide = true)]
    KmsEncrypt { _value: Option<String> },
    /// Not supported: AWS KMS
    #[command(name = "kms-decrypt", hide = true)]
    KmsDecrypt { _value: Option<String> },
    /// Not supported: AWS Secrets Manager
    #[command(name = "asm-get", hide = true)]
    AsmGet { _name: Option<String> },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Secrets(cmd) => run_secrets(cmd),
        Command::Workflows {
            command: Some(WorkflowsCommand::Sign { dir, skills_dir }),
        } => sign_workflows(dir, skills_dir),
        Command::Workflows {
            command:
                Some(WorkflowsCommand::Test {
                    file,
                    event,
                    ai_answer,
                }),
        } => {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(test_workflow(&file, &event, ai_answer)),
                Err(e) => Err(e.into()),
            }
        }
        command => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(run_api(command, args.socket)),
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sekiactl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_api(command: Command, socket: Option<PathBuf>) -> Result<()> {
    let client = ApiClient::new(socket.unwrap_or_else(configured_socket));
    match command {
        Command::Status { json: true } => print_raw(&client, "/api/v1/status").await,
        Command::Status { json: false } => {
            let s: StatusResponse = client.get("/api/v1/status").await?;
            print!(
                "Status:       {}\nUptime:       {}\nNATS Running: {}\nStarted At:   {}\nAgents:       {}\nWorkflows:    {}\n",
                s.status,
                s.uptime,
                s.nats_running,
                local_time(&s.started_at, "%Y-%m-%d %H:%M:%S"),
                s.agent_count,
                s.workflow_count
            );
            Ok(())
        }
        Command::Agents { json: true } => print_raw(&client, "/api/v1/agents").await,
        Command::Agents { json: false } => {
            let a: AgentsResponse = client.get("/api/v1/agents").await?;
            if a.agents.is_empty() {
                println!("No agents registered.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = a
                .agents
                .iter()
                .map(|a| {
                    vec![
                        a.name.clone(),
                        a.version.clone(),
                        a.status.clone(),
                        a.events_processed.to_string(),
                        a.errors.to_string(),
                        local_time(&a.last_heartbeat, "%H:%M:%S"),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "NAME",
                        "VERSION",
                        "STATUS",
                        "EVENTS",
                        "ERRORS",
                        "LAST HEARTBEAT"
                    ],
                    &rows
                )
            );
            Ok(())
        }
        Command::Workflows {
            command: None | Some(WorkflowsCommand::List { json: false }),
        } => {
            let report: serde_json::Value = client.get("/api/v1/workflows").await?;
            print!("{}", workflows_table(&report));
            Ok(())
        }
        Command::Workflows {
            command: Some(WorkflowsCommand::List { json: true }),
        } => print_raw(&client, "/api/v1/workflows").await,
        Command::Workflows {
            command: Some(WorkflowsCommand::Reload),
        } => {
            let _: serde_json::Value = client.post("/api/v1/workflows/reload", None).await?;
            println!("Workflows reloaded.");
            Ok(())
        }
        Command::Config(ConfigCommand::Reload { target }) => {
            let path = match &target {
                Some(t) => format!(
                    "/api/v1/config/reload?target={}",
                    sekia_cli::output::url_encode(t)
                ),
                None => "/api/v1/config/reload".to_owned(),
            };
            let r: sekia_protocol::ConfigReloadResponse = client.post(&path, None).await?;
            println!("Config reload requested for: {}", r.target);
            Ok(())
        }
        Command::Events(cmd) => {
            sekia_cli::events::run(&client, cmd, chrono::Utc::now().timestamp()).await
        }
        Command::Accounts(cmd) => sekia_cli::accounts::run(&client, cmd).await,
        Command::Workflows { .. } | Command::Secrets(_) => {
            unreachable!("handled without the daemon")
        }
    }
}

fn workflows_table(report: &serde_json::Value) -> String {
    let empty = Vec::new();
    let workflows = report["workflows"].as_array().unwrap_or(&empty);
    let failures = report["load_errors"].as_array().unwrap_or(&empty);
    let mut out = String::new();
    if workflows.is_empty() {
        out.push_str("No workflows loaded.\n");
    } else {
        let rows: Vec<Vec<String>> = workflows
            .iter()
            .map(|w| {
                let text = |k: &str| w[k].as_str().unwrap_or_default().to_string();
                let last_error = match w["last_error"].as_object() {
                    Some(e) => match e.get("line").and_then(|l| l.as_u64()) {
                        Some(line) => {
                            format!("line {line}: {}", e["message"].as_str().unwrap_or_default())
                        }
                        None => e["message"].as_str().unwrap_or_default().to_string(),
                    },
                    None => String::new(),
                };
                vec![
                    text("name"),
                    w["handlers"].to_string(),
                    w["patterns"]
                        .as_array()
                        .map(|p| {
                            p.iter()
                                .filter_map(|v| v.as_str())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default(),
                    w["events"].to_string(),
                    w["errors"].to_string(),
                    local_time(&text("loaded_at"), "%Y-%m-%d %H:%M:%S"),
                    last_error,
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "NAME",
                "HANDLERS",
                "PATTERNS",
                "EVENTS",
                "ERRORS",
                "LOADED AT",
                "LAST ERROR",
            ],
            &rows,
        ));
    }
    for f in failures {
        let line = f["line"]
            .as_u64()
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "Not loaded: {}{line}: {}\n",
            f["file"].as_str().unwrap_or_default(),
            f["message"].as_str().unwrap_or_default()
        ));
    }
    out
}

/// Writes `workflows.sha256` (and `skills.sha256` for skill handlers). Folders default to
/// the ones in the config sekiad would read.
fn sign_workflows(dir: Option<PathBuf>, skills_dir: Option<PathBuf>) -> Result<()> {
    let configured =
        || sekia_daemon::config::load(&LoadOptions::from_process(None)).map(|l| l.config);
    let dir = match dir {
        Some(d) => d,
        None => configured()?.workflows.dir,
    };
    report_signed(&dir, &sekia_workflow::sign(&dir)?, "workflow");
    let skills_dir = match skills_dir {
        Some(d) => Some(d),
        None => Some(configured()?.skills.dir).filter(|d| d.is_dir()),
    };
    if let Some(skills) = skills_dir {
        report_signed(
            &skills,
            &sekia_workflow::sign_skills(&skills)?,
            "skill handler",
        );
    }
    Ok(())
}

/// `sign` and `sign_skills` have written the manifest; say what is in it, as sekia did.
fn report_signed(dir: &Path, manifest: &sekia_workflow::Manifest, what: &str) {
    println!(
        "Signed {} {what}(s) in {}",
        manifest.entries.len(),
        dir.display()
    );
    print!("{}", manifest.render());
}

async fn test_workflow(file: &Path, event: &Path, ai_answer: Option<String>) -> Result<()> {
    let source =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let event_text =
        std::fs::read_to_string(event).with_context(|| format!("reading {}", event.display()))?;
    let event: sekia_protocol::Event = serde_json::from_str(&event_text)
        .with_context(|| format!("{}: not a sekia event", event.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let report = sekia_workflow::dry_run(&source, &name, event, ai_answer).await;
    print!("{}", report.to_json_lines());
    if let Some(e) = &report.load_error {
        bail!("{e}");
    }
    if let Some(first) = report.handler_errors.first() {
        bail!("{first}");
    }
    if !report.matched {
        eprintln!("note: no handler of {name} matches {}", report.subject);
    }
    Ok(())
}

async fn print_raw(client: &ApiClient, path: &str) -> Result<()> {
    let body = client.get_raw(path).await?;
    println!("{}", String::from_utf8_lossy(&body).trim_end());
    Ok(())
}

/// `server.socket` from the config file sekiad would read, else the platform default.
fn configured_socket() -> PathBuf {
    let opts = LoadOptions::from_process(None);
    let from_file = opts
        .search_dirs
        .iter()
        .map(|d| d.join("sekia.toml"))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| text.parse::<sekia_daemon::config::toml::Table>().ok())
        .and_then(|t| t.get("server")?.get("socket")?.as_str().map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty());
    match from_file {
        Some(p) => expand_tilde(&p, opts.home.as_deref()),
        None => default_socket(&opts.env, opts.home.as_deref()),
    }
}

fn run_secrets(cmd: SecretsCommand) -> Result<()> {
    let opts = LoadOptions::from_process(None);
    let home = opts.home.clone();
    match cmd {
        SecretsCommand::Keygen { output, force } => {
            let path = match output {
                Some(p) => expand_tilde(&p, home.as_deref()),
                None => secrets::default_key_path(
                    home.as_deref().context("HOME is not set; pass --output")?,
                ),
            };
            let created = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let public = secrets::keygen(&path, force, &created)?;
            println!("Created age key: {}", path.display());
            println!("Public key: {public}");
            Ok(())
        }
        SecretsCommand::Encrypt { value, recipient } => {
            let recipient = match recipient {
                Some(r) => secrets::parse_recipient(&r)?,
                None => identities(&opts)?
                    .first()
                    .map(|i| i.to_public())
                    .context("no age identity found")?,
            };
            let plain = match value {
                Some(v) => v,
                None => read_stdin()?,
            };
            println!("{}", secrets::encrypt_value(&plain, &recipient)?);
            Ok(())
        }
        SecretsCommand::Decrypt { value } => {
            println!("{}", secrets::decrypt_value(&value, &identities(&opts)?)?);
            Ok(())
        }
        SecretsCommand::KmsEncrypt { .. } | SecretsCommand::KmsDecrypt { .. } => {
            Err(secrets::SecretsError::Unsupported("KMS").into())
        }
        SecretsCommand::AsmGet { .. } => Err(secrets::SecretsError::Unsupported("ASM").into()),
    }
}

fn identities(opts: &LoadOptions) -> Result<Vec<secrets::Identity>> {
    match secrets::find_identities(&opts.env, Path::new(""), opts.home.as_deref())? {
        Some(ids) => Ok(ids),
        None => bail!(
            "no age identity found: set SEKIA_AGE_KEY or SEKIA_AGE_KEY_FILE, or run `sekiactl secrets keygen`"
        ),
    }
}

fn read_stdin() -> Result<String> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Enter the value to encrypt, then Ctrl+D:");
    }
    let mut value = String::new();
    stdin
        .read_to_string(&mut value)
        .context("reading the value from standard input")?;
    // A trailing newline from `echo` or the terminal is not part of a secret.
    Ok(value
        .strip_suffix('\n')
        .map(|v| v.strip_suffix('\r').unwrap_or(v))
        .unwrap_or(&value)
        .to_string())
}
