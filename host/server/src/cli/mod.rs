//! The command line: `coffer [serve]`, `coffer migrate`, `coffer admin …`, `coffer openapi`,
//! `coffer config`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use coffer_application::AppError;
use coffer_application::admin::Actor;

mod plugins;

pub use plugins::PluginCommand;

use crate::app::{self, Server, StartupError};
use crate::settings::Settings;
use crate::telemetry;

/// Coffer: self-hosted file storage.
#[derive(Debug, Parser)]
#[command(name = "coffer", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./coffer.toml if it exists. Settings can also be
    /// given as COFFER_<SECTION>__<KEY> environment variables, e.g. COFFER_DATABASE__URL.
    #[arg(long, global = true, env = "COFFER_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit (the server also applies them at start).
    Migrate,
    /// Manage accounts and plugins directly in the database.
    Admin {
        /// The action.
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Print the configuration in force (secrets masked).
    Config,
}

/// `coffer admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account, whatever the sign-up policy.
    CreateUser {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password and revoke every token of the account.
    ResetPassword {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    ListUsers,
    /// Collect garbage now: purge expired trash, prune old revisions, delete unreferenced
    /// blocks (also runs in the background every `storage.gc_interval`).
    Gc,
    /// Manage plugins: the actions of `/api/v1/admin/plugins`, audited as `operator`. Running
    /// servers pick up changes within `plugins.refresh_interval`.
    Plugins {
        /// The action.
        #[command(subcommand)]
        action: PluginCommand,
    },
}

/// A command failed; the message is for the operator.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Loading settings failed.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// Starting failed.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// Telemetry failed.
    #[error(transparent)]
    Telemetry(#[from] telemetry::TelemetryError),
    /// A use case refused.
    #[error("{0}")]
    Refused(String),
    /// Input/output failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<AppError> for CliError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Infrastructure(inner) => {
                CliError::Refused(format!("internal error: {inner}"))
            }
            other => CliError::Refused(other.to_string()),
        }
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let (store, _) = app::wire(&settings).await?;
            store.close().await;
            println!(
                "database {} is up to date",
                settings.database_url().redacted()
            );
            Ok(())
        }
        Command::Admin { action } => admin(settings, action).await,
        Command::Openapi => {
            let document = coffer_api::openapi()
                .to_pretty_json()
                .map_err(|e| CliError::Refused(e.to_string()))?;
            println!("{document}");
            Ok(())
        }
        Command::Config => {
            let mut shown = settings.clone();
            shown.database.url = Some(crate::settings::SecretUrl::new(
                settings.database_url().redacted(),
            ));
            let text = toml_text(&shown)?;
            print!("{text}");
            Ok(())
        }
    }
}

fn toml_text(settings: &Settings) -> Result<String, CliError> {
    toml::to_string_pretty(settings).map_err(|e| CliError::Refused(e.to_string()))
}

async fn serve(settings: Settings) -> Result<(), CliError> {
    let _telemetry = telemetry::init(&settings.telemetry)?;
    tracing::info!(
        database = %settings.database_url().redacted(),
        "starting coffer {}",
        env!("CARGO_PKG_VERSION")
    );
    let server = Server::build(&settings).await?;
    let url = format!("http://{}", server.local_addr());
    println!("Coffer is listening on {url}");
    println!("  Web app: open {url}/ in a browser");
    println!("  API reference: {url}/api/docs");
    if server.has_no_accounts().await {
        println!(
            "  No account exists yet. Sign up at {url}/signup, or create the first one (it \
             becomes the administrator) with:"
        );
        println!(
            "    curl -X POST {url}/api/v1/auth/signup -H 'content-type: application/json' \\\n      -d '{{\"email\": \"you@example.org\", \"password\": \"at least 8 characters\"}}'"
        );
        println!("  or: coffer admin create-user --email you@example.org --admin");
    }
    server.run_until(app::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn admin(settings: Settings, action: AdminCommand) -> Result<(), CliError> {
    let (store, use_cases) = app::wire(&settings).await?;
    let result = match action {
        AdminCommand::CreateUser {
            email,
            admin,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let view = use_cases
                .admin
                .create_user(Actor::Operator, &email, &password, admin)
                .await?;
            println!(
                "created {} ({}){}",
                view.user.email(),
                view.user.id(),
                if view.user.is_admin() {
                    ", administrator"
                } else {
                    ""
                }
            );
            Ok(())
        }
        AdminCommand::ResetPassword {
            email,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            use_cases.admin.reset_password(&email, &password).await?;
            println!("password of {email} reset; its tokens were revoked");
            Ok(())
        }
        AdminCommand::Gc => {
            let report = use_cases
                .files
                .collect_garbage(&mut |progress| {
                    use coffer_application::files::GcProgress;
                    match progress {
                        GcProgress::Trash(n) => println!("trash: {n} expired items deleted"),
                        GcProgress::Revisions(n) => println!("revisions: {n} old revisions pruned"),
                        GcProgress::Blocks(n) => {
                            println!("blocks: {n} unreferenced blocks deleted")
                        }
                    }
                })
                .await?;
            println!(
                "done: {} trashed items, {} revisions, {} blocks deleted; {} journal entries pruned; \
                 {} unfinished writes swept",
                report.trash_purged,
                report.revisions_pruned,
                report.blocks_deleted,
                report.changes_pruned,
                report.debris_swept
            );
            Ok(())
        }
        AdminCommand::Plugins { action } => plugins::run(&use_cases.plugins, action).await,
        AdminCommand::ListUsers => {
            let mut after: Option<String> = None;
            println!("{:<36}  {:<8}  {:<8}  EMAIL", "ID", "ADMIN", "STATUS");
            loop {
                let page = use_cases
                    .admin
                    .list_users(Actor::Operator, after.as_deref(), 1000)
                    .await?;
                for view in &page.users {
                    let user = &view.user;
                    println!(
                        "{:<36}  {:<8}  {:<8}  {}",
                        user.id(),
                        if user.is_admin() { "yes" } else { "no" },
                        if user.is_active() {
                            "active"
                        } else {
                            "disabled"
                        },
                        user.email()
                    );
                }
                match page.next_after {
                    Some(next) => after = Some(next.to_string()),
                    None => break,
                }
            }
            Ok(())
        }
    };
    store.close().await;
    result
}

fn read_password(from_stdin: bool) -> Result<String, CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Refused(
            "no terminal to prompt for a password: pass --password-stdin".into(),
        ));
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    if first != second {
        return Err(CliError::Refused("the passwords differ".into()));
    }
    Ok(first)
}
