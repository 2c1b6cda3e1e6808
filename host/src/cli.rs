//! The command line: `sluice standalone <worker.properties> [<connector> ...]`
//! and `sluice distributed <worker.properties>`, like Kafka's
//! connect-standalone and connect-distributed, and
//! `sluice plugin inspect <file.wasm>`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::sync::Arc;

use crate::config::{WorkerConfig, read_config_file};
use crate::logs::LogLevels;
use crate::rest::Api;
use crate::rest::tls::TlsListener;
use crate::worker::Worker;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "A connector host for Kafka whose plugins are WebAssembly components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one worker with its configuration and connectors in local files.
    Standalone {
        /// The worker configuration (.properties).
        worker: PathBuf,
        /// Connector configurations (.properties, or .json as the REST API takes).
        connectors: Vec<PathBuf>,
    },
    /// Runs one worker of a cluster: workers with the same group.id share
    /// connectors, offsets and statuses through Kafka topics.
    Distributed {
        /// The worker configuration (.properties), as connect-distributed takes.
        worker: PathBuf,
    },
    /// Looks at plugin components without running a worker.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Prints a plugin's kind, name, version, configuration keys and the
    /// host interfaces it imports (what it may ask to be granted).
    Inspect {
        /// The component (.wasm).
        file: PathBuf,
    },
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    // A task's trace is for operators: what failed and why, not the
    // worker's own stack. Without this, RUST_BACKTRACE=1 in the
    // environment makes every error capture a stack, and formatting the
    // first one reads the binary's debug information (about 200 MB held
    // at once). RUST_LIB_BACKTRACE=1 brings the stacks back.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    let loggers = init_logging();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.command {
        Command::Standalone { worker, connectors } => {
            runtime.block_on(standalone(worker, connectors, loggers))
        }
        Command::Distributed { worker } => runtime.block_on(distributed(worker, loggers)),
        Command::Plugin {
            command: PluginCommand::Inspect { file },
        } => inspect(&file),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `sluice plugin inspect`: loads one component and describes it.
fn inspect(file: &std::path::Path) -> Result<()> {
    let cache = std::env::temp_dir().join(format!("sluice-inspect-{}", std::process::id()));
    let runtime = crate::plugin::Runtime::new(&cache, true)?;
    let plugin = crate::plugin::Plugin::load(&runtime, file)
        .with_context(|| format!("{} is not a Sluice plugin", file.display()));
    // Compiled only for this look: not worth keeping.
    let _ = std::fs::remove_dir_all(&cache);
    print!("{}", plugin?.describe(&runtime));
    Ok(())
}

/// Logs to stderr at the levels of `RUST_LOG` (default info), through a
/// filter the REST API can replace at runtime.
fn init_logging() -> Arc<LogLevels> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let levels = LogLevels::new(&directives);
    let (filter, handle) = tracing_subscriber::reload::Layer::new(levels.filter());
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .init();
    Arc::new(levels.applying(Box::new(move |filter| {
        handle.reload(filter).map_err(|e| e.to_string())
    })))
}

/// Raises the soft limit on open files to the hard one, as servers that
/// hold many connections and files do: plugins' files and sockets are the
/// worker's descriptors (each instance may hold at most
/// `runtime::limits::MAX_RESOURCES_PER_INSTANCE`).
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            let soft = limit.rlim_cur;
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("open files stay limited to {soft}: raising the limit failed");
            }
        }
    }
}

async fn standalone(
    worker_file: PathBuf,
    connector_files: Vec<PathBuf>,
    loggers: Arc<LogLevels>,
) -> Result<()> {
    raise_open_file_limit();
    let map = read_config_file(&worker_file)?;
    let config = WorkerConfig::from_map(&map, &base_dir(&worker_file))
        .with_context(|| format!("in worker configuration {}", worker_file.display()))?;
    let mut connectors = Vec::new();
    for file in &connector_files {
        connectors.push(read_config_file(file)?);
    }
    let (api, servers) = serve_rest(&config, loggers).await?;
    let worker = Worker::start(config).await?;
    if let Err(e) = worker.start_connectors(connectors).await {
        worker.shutdown().await;
        return Err(anyhow::Error::from(e).context(format!(
            "in the connector configurations {}",
            connector_files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    api.ready(Arc::clone(&worker));
    tracing::info!("worker started");
    shutdown_signal().await?;
    tracing::info!("stopping: flushing and committing every task");
    worker.shutdown().await;
    for server in servers {
        server.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// `sluice distributed`: creates or checks the internal topics, reads
/// them, joins the group and runs what the leader assigns, until told to
/// stop; then stops its tasks and leaves the group, so the others take
/// its work over at once.
async fn distributed(worker_file: PathBuf, loggers: Arc<LogLevels>) -> Result<()> {
    raise_open_file_limit();
    let map = read_config_file(&worker_file)?;
    let config = WorkerConfig::distributed_from_map(&map, &base_dir(&worker_file))
        .with_context(|| format!("in worker configuration {}", worker_file.display()))?;
    // The group's own connection (cluster::membership) reads the same
    // security keys as the worker's clients; what it cannot do is named
    // before anything starts.
    crate::cluster::secure_link::LinkSecurity::from_client_settings(&config.admin)
        .with_context(|| format!("in worker configuration {}", worker_file.display()))?;
    let (api, servers) = serve_rest(&config, loggers).await?;
    let worker = Worker::start(config)
        .await
        .with_context(|| format!("starting the worker of {}", worker_file.display()))?;
    api.ready(Arc::clone(&worker));
    let mut member = tokio::spawn(Arc::clone(&worker).run_member());
    let reconciler = tokio::spawn(Arc::clone(&worker).run_reconciler());
    tracing::info!("worker started; joining the group");
    let outcome = tokio::select! {
        ended = &mut member => Some(ended),
        signal = shutdown_signal() => {
            signal?;
            None
        }
    };
    tracing::info!("stopping: flushing and committing every task, then leaving the group");
    worker.shutdown().await;
    let outcome = match outcome {
        Some(ended) => ended,
        None => match tokio::time::timeout(worker.stop_grace() * 2, member).await {
            Ok(ended) => ended,
            Err(_) => Ok(Ok(())),
        },
    };
    reconciler.abort();
    for server in servers {
        server.abort();
    }
    outcome.context("the group membership task")??;
    tracing::info!("stopped");
    Ok(())
}

/// The directory relative paths of a worker file are taken from.
fn base_dir(worker_file: &std::path::Path) -> PathBuf {
    worker_file
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Binds the REST listeners and serves the API on them. It answers from
/// the start (503 until the worker is ready), so health checks can tell
/// "starting" from "down".
async fn serve_rest(
    config: &WorkerConfig,
    loggers: Arc<LogLevels>,
) -> Result<(Arc<Api>, Vec<tokio::task::JoinHandle<std::io::Result<()>>>)> {
    let api = Api::starting(loggers, config.rest_auth.clone());
    let app = crate::rest::router(Arc::clone(&api));
    let mut servers = Vec::new();
    for listener in &config.listeners {
        let tcp = tokio::net::TcpListener::bind(&listener.address)
            .await
            .with_context(|| format!("binding the REST listener {listener}"))?;
        let scheme = if listener.https { "https" } else { "http" };
        tracing::info!("REST API listening on {scheme}://{}", tcp.local_addr()?);
        let app = app.clone();
        servers.push(if listener.https {
            let tls = config
                .rest_tls
                .as_ref()
                .context("an https listener needs listeners.https.ssl.keystore.*")?;
            let tls = TlsListener::new(tcp, tls)
                .with_context(|| format!("starting the REST listener {listener}"))?;
            tokio::spawn(async move { axum::serve(tls, app).await })
        } else {
            tokio::spawn(async move { axum::serve(tcp, app).await })
        });
    }
    Ok((api, servers))
}

async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    Ok(())
}
