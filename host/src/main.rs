//! `tiergate`: the command line.

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use tiergate::{Config, Server};

/// tiergate keeps a record API's storage bill down: old records move from the hot database
/// to blob storage, and an edge component keeps serving every record, from wherever it
/// lives, with no change to the API.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Log format on stderr. The level comes from RUST_LOG (default: info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the edge: record reads from cache, blob storage or the origin; everything else
    /// passed to the origin. Stops cleanly on Ctrl-C or SIGTERM.
    ///
    /// Blob credentials come from TIERGATE_BLOB_ACCESS_KEY_ID and
    /// TIERGATE_BLOB_SECRET_ACCESS_KEY; see tiergate.example.toml for every setting.
    Serve {
        /// The configuration file.
        #[arg(long, short, default_value = "tiergate.toml")]
        config: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    match cli.command {
        Command::Serve { config } => {
            let config = Config::load(&config)?;
            let server = Server::start(config).await?;
            shutdown_signal()
                .await
                .context("waiting for a shutdown signal")?;
            tracing::info!("shutting down");
            server.shutdown().await;
        }
    }
    Ok(())
}

async fn shutdown_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        ctrl_c = tokio::signal::ctrl_c() => ctrl_c,
        _ = terminate.recv() => Ok(()),
    }
}
