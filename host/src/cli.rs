//! The command line: `sluice standalone <worker.properties> [<connector> ...]`,
//! like Kafka's connect-standalone.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::{WorkerConfig, read_config_file};
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
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
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
            runtime.block_on(standalone(worker, connectors))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn standalone(worker_file: PathBuf, connector_files: Vec<PathBuf>) -> Result<()> {
    let base = worker_file
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let map = read_config_file(&worker_file)?;
    let config = WorkerConfig::from_map(&map, &base)
        .with_context(|| format!("in worker configuration {}", worker_file.display()))?;
    let listener = config
        .listener
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut connectors = Vec::new();
    for file in &connector_files {
        connectors.push((file, read_config_file(file)?));
    }
    let worker = Worker::start(config).await?;
    for (file, raw) in connectors {
        worker
            .add_connector(raw)
            .await
            .with_context(|| format!("in connector configuration {}", file.display()))?;
    }
    let tcp = tokio::net::TcpListener::bind(&listener)
        .await
        .with_context(|| format!("binding the REST listener {listener}"))?;
    tracing::info!("REST API listening on http://{}", tcp.local_addr()?);
    let app = crate::rest::router(worker.clone());
    let server = tokio::spawn(async move { axum::serve(tcp, app).await });
    shutdown_signal().await?;
    tracing::info!("stopping: flushing and committing every task");
    worker.shutdown().await;
    server.abort();
    tracing::info!("stopped");
    Ok(())
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
