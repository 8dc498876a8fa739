//! `coffer admin plugins …`: the plugin administration of `/api/v1/admin/plugins` at the server's
//! command line, acting as the operator (audited as `operator`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use coffer_application::admin::Actor;
use coffer_application::plugins::{DryRunInput, OPERATOR, Plugins, SettingsChange};
use coffer_application::ports::{ActorFacts, SharingQuestion};
use coffer_domain::plugins::{Plugin, PluginId};
use serde_json::Value;
use uuid::Uuid;

use super::CliError;

/// `coffer admin plugins …`. A plugin is named by its name or its id.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the installed plugins in running order.
    List,
    /// Show a plugin: hooks, state, limits, configuration and its schema.
    Show {
        /// Name or id.
        plugin: String,
    },
    /// Install a component with its manifest (disabled unless --enable).
    Install {
        /// The manifest (JSON: name, version, description, hooks, config_schema, config).
        #[arg(long)]
        manifest: PathBuf,
        /// The WebAssembly component (.wasm).
        #[arg(long)]
        component: PathBuf,
        /// Enable it once installed.
        #[arg(long)]
        enable: bool,
    },
    /// Replace a plugin's configuration (JSON, checked against the plugin's schema).
    Configure {
        /// Name or id.
        plugin: String,
        /// The configuration as JSON text.
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        json: Option<String>,
        /// A file holding the configuration.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Enable a plugin (also after it was disabled automatically).
    Enable {
        /// Name or id.
        plugin: String,
    },
    /// Disable a plugin.
    Disable {
        /// Name or id.
        plugin: String,
    },
    /// Change a plugin's position in the running order, its limits or its failure policy.
    Set {
        /// Name or id.
        plugin: String,
        /// Position in the running order (lower runs first).
        #[arg(long)]
        position: Option<i64>,
        /// Memory limit in MiB.
        #[arg(long)]
        memory_mib: Option<u64>,
        /// Time limit per call in milliseconds.
        #[arg(long)]
        time_ms: Option<u64>,
        /// Output limit in bytes.
        #[arg(long)]
        output_bytes: Option<u32>,
        /// What a failed call decides: `deny` or `allow`.
        #[arg(long)]
        on_failure: Option<String>,
    },
    /// Remove a plugin.
    Uninstall {
        /// Name or id.
        plugin: String,
    },
    /// Call a plugin (enabled or not) on a sample: its decision, logs and duration.
    DryRun {
        /// Name or id.
        plugin: String,
        /// The sample.
        #[command(flatten)]
        sample: Sample,
    },
    /// Show the audit log, newest first.
    Audit {
        /// Only this plugin's entries (by name).
        #[arg(long)]
        plugin: Option<String>,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// What a dry run asks (exactly one of `--scan`, `--share-with`, `--link`, `--quota`).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Sample {
    /// Scan this file as an upload (upload scanners).
    #[arg(long, group = "sample")]
    scan: Option<PathBuf>,
    /// Ask whether a folder may be shared with this email (sharing policies).
    #[arg(long, group = "sample")]
    share_with: Option<String>,
    /// Ask whether a link to this path may be created (sharing policies).
    #[arg(long, group = "sample")]
    link: Option<String>,
    /// Ask for a quota, given the one the server would apply, in bytes (quota policies).
    #[arg(long, group = "sample")]
    quota: Option<u64>,
    /// With --share-with: `viewer` or `editor`.
    #[arg(long, default_value = "viewer", requires = "share_with")]
    role: String,
    /// With --link: days until it expires (none: never).
    #[arg(long, requires = "link")]
    expires_in_days: Option<u64>,
    /// With --link: the link has a password.
    #[arg(long, requires = "link")]
    password: bool,
}

/// Runs a plugin command.
pub async fn run(plugins: &Plugins, command: PluginCommand) -> Result<(), CliError> {
    let operator = Actor::Operator;
    match command {
        PluginCommand::List => {
            let list = plugins.list(operator).await?;
            println!(
                "{:<4}  {:<24}  {:<10}  {:<9}  HOOKS",
                "POS", "NAME", "VERSION", "STATE"
            );
            for plugin in list {
                println!(
                    "{:<4}  {:<24}  {:<10}  {:<9}  {}",
                    plugin.position,
                    plugin.name.as_str(),
                    plugin.version.as_str(),
                    state_of(&plugin),
                    hooks_of(&plugin)
                );
            }
        }
        PluginCommand::Show { plugin } => {
            let plugin = find(plugins, &plugin).await?;
            print_plugin(&plugin);
        }
        PluginCommand::Install {
            manifest,
            component,
            enable,
        } => {
            let manifest = coffer_api::parse_manifest(&read(&manifest)?)
                .map_err(|reason| CliError::Refused(format!("{}: {reason}", manifest.display())))?;
            let mut plugin = plugins
                .install(operator, manifest, read(&component)?)
                .await?;
            if enable {
                plugin = plugins.set_enabled(operator, plugin.id, true).await?;
            }
            println!(
                "installed {}@{} ({}), {}",
                plugin.name,
                plugin.version,
                plugin.id,
                state_of(&plugin)
            );
        }
        PluginCommand::Configure { plugin, json, file } => {
            let id = find(plugins, &plugin).await?.id;
            let text = match (json, file) {
                (Some(text), _) => text.into_bytes(),
                (None, Some(path)) => read(&path)?,
                (None, None) => unreachable!("clap requires --json or --file"),
            };
            let config: Value = serde_json::from_slice(&text)
                .map_err(|e| CliError::Refused(format!("the configuration is not JSON: {e}")))?;
            let plugin = plugins.configure(operator, id, config).await?;
            println!("configured {}: {}", plugin.name, plugin.config);
        }
        PluginCommand::Enable { plugin } => set_enabled(plugins, &plugin, true).await?,
        PluginCommand::Disable { plugin } => set_enabled(plugins, &plugin, false).await?,
        PluginCommand::Set {
            plugin,
            position,
            memory_mib,
            time_ms,
            output_bytes,
            on_failure,
        } => {
            let id = find(plugins, &plugin).await?.id;
            let change = SettingsChange {
                position,
                memory_bytes: memory_mib.map(|mib| mib.saturating_mul(1 << 20)),
                time_ms,
                output_bytes,
                failure_policy: on_failure,
            };
            let plugin = plugins.change_settings(operator, id, change).await?;
            print_plugin(&plugin);
        }
        PluginCommand::Uninstall { plugin } => {
            let plugin = find(plugins, &plugin).await?;
            plugins.uninstall(operator, plugin.id).await?;
            println!("uninstalled {}@{}", plugin.name, plugin.version);
        }
        PluginCommand::DryRun { plugin, sample } => {
            let id = find(plugins, &plugin).await?.id;
            let report = plugins
                .dry_run(operator, id, dry_run_input(sample)?)
                .await?;
            match &report.decision {
                Ok(answer) => println!("decision: {answer}"),
                Err(failure) => println!("failed: {failure}"),
            }
            println!("duration: {} µs", report.duration.as_micros());
            for log in &report.logs {
                println!("log {}: {}", log.level, log.message);
            }
        }
        PluginCommand::Audit { plugin, limit } => {
            let entries = plugins
                .audit_log(operator, plugin.as_deref(), None, limit)
                .await?;
            for entry in entries {
                let mut line = format!(
                    "{}  {:<16}  {}@{}",
                    entry.at.format("%Y-%m-%d %H:%M:%S%.3fZ"),
                    entry.action.as_str(),
                    entry.plugin,
                    entry.version.as_deref().unwrap_or("?")
                );
                let parts = [
                    entry.hook.map(|h| format!("hook={}", h.as_str())),
                    entry.actor.map(|a| format!("actor={a}")),
                    entry.subject.map(|s| format!("subject={s:?}")),
                    entry.reason.map(|r| format!("reason={r:?}")),
                    entry.duration.map(|d| format!("took={} µs", d.as_micros())),
                ];
                for part in parts.into_iter().flatten() {
                    line.push_str("  ");
                    line.push_str(&part);
                }
                println!("{line}");
            }
        }
    }
    Ok(())
}

async fn set_enabled(plugins: &Plugins, name_or_id: &str, enabled: bool) -> Result<(), CliError> {
    let id = find(plugins, name_or_id).await?.id;
    let plugin = plugins.set_enabled(Actor::Operator, id, enabled).await?;
    println!("{}@{} {}", plugin.name, plugin.version, state_of(&plugin));
    Ok(())
}

async fn find(plugins: &Plugins, name_or_id: &str) -> Result<Plugin, CliError> {
    Ok(match Uuid::parse_str(name_or_id) {
        Ok(id) => {
            plugins
                .get(Actor::Operator, PluginId::from_uuid(id))
                .await?
        }
        Err(_) => plugins.get_by_name(Actor::Operator, name_or_id).await?,
    })
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Refused(format!("{}: {e}", path.display())))
}

fn dry_run_input(sample: Sample) -> Result<DryRunInput, CliError> {
    let operator = || ActorFacts {
        user_id: String::new(),
        email: OPERATOR.to_owned(),
    };
    Ok(if let Some(path) = sample.scan {
        DryRunInput::Scan {
            path: format!(
                "/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
            content: read(&path)?,
        }
    } else if let Some(member_email) = sample.share_with {
        DryRunInput::Sharing(SharingQuestion::Share {
            actor: operator(),
            folder_path: "/Shared".into(),
            member_email,
            editor: match sample.role.as_str() {
                "editor" => true,
                "viewer" => false,
                other => {
                    return Err(CliError::Refused(format!(
                        "--role must be viewer or editor, not {other}"
                    )));
                }
            },
        })
    } else if let Some(path) = sample.link {
        DryRunInput::Sharing(SharingQuestion::Link {
            actor: operator(),
            path,
            is_folder: false,
            expires_in_seconds: sample.expires_in_days.map(|days| days * 86_400),
            has_password: sample.password,
            allow_download: true,
        })
    } else if let Some(server_quota) = sample.quota {
        DryRunInput::Quota {
            user: operator(),
            server_quota,
        }
    } else {
        unreachable!("clap requires one sample")
    })
}

fn state_of(plugin: &Plugin) -> &'static str {
    match (plugin.enabled, &plugin.disabled_reason) {
        (true, _) => "enabled",
        (false, Some(_)) => "failed",
        (false, None) => "disabled",
    }
}

fn hooks_of(plugin: &Plugin) -> String {
    plugin
        .hooks
        .iter()
        .map(|h| h.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_plugin(plugin: &Plugin) {
    println!("{}@{} ({})", plugin.name, plugin.version, plugin.id);
    if !plugin.description.is_empty() {
        println!("  {}", plugin.description);
    }
    println!("  state:      {}", state_of(plugin));
    if let Some(reason) = &plugin.disabled_reason {
        println!("  disabled:   {reason}");
    }
    println!(
        "  hooks:      {} (coffer:plugin@{})",
        hooks_of(plugin),
        plugin.interface_version
    );
    println!("  position:   {}", plugin.position);
    println!(
        "  limits:     {} MiB memory, {} ms per call, {} B output",
        plugin.limits.memory_bytes() >> 20,
        plugin.limits.time().as_millis(),
        plugin.limits.output_bytes()
    );
    println!("  on failure: {}", plugin.failure_policy.as_str());
    println!("  sha256:     {}", plugin.digest);
    println!("  config:     {}", plugin.config);
    if let Some(schema) = &plugin.config_schema {
        println!("  schema:     {schema}");
    }
}
