//! `tiergate`: the command line.

mod console;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tiergate::archive::{self, schedule};
use tiergate::kv::{self, KvBackend};
use tiergate::ops::admin::{self, Admin};
use tiergate::restore::Restorer;
use tiergate::restore::endpoint::InProcessRestore;
use tiergate::{Archiver, Config, Server};
use tiergate_hotstore::LazyHotStore;

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

/// The demo's access mode (`[edge.auth] mode`).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DemoAuth {
    /// Anyone reads every record.
    None,
    /// Bearer tokens from a token issuer of the demo's own.
    Jwt,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole system on this machine, on embedded defaults, and print what to try.
    ///
    /// A sample billing API over SQLite with generated records, an embedded S3-compatible
    /// store, the edge in front of the API and the archiver moving records older than 90
    /// days every 15 seconds. Ctrl-C stops it; a restart with the same --data-dir keeps
    /// everything.
    Demo {
        /// Where the edge serves.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Where Prometheus metrics are served, at /metrics.
        #[arg(long, default_value = "127.0.0.1:9464")]
        admin: std::net::SocketAddr,
        /// Where the demo keeps its database, blob storage and config.
        #[arg(long, default_value = "tiergate-demo")]
        data_dir: PathBuf,
        /// Records generated on the first start.
        #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..))]
        records: u64,
        /// When the archiver runs: cron, with seconds.
        #[arg(long, default_value = "*/15 * * * * *")]
        schedule: String,
        /// Seconds an archived record stays in the API's database before it is deleted.
        #[arg(long, default_value_t = 30)]
        grace_seconds: u64,
        /// Who reads which record: "none" (anyone reads everything) or "jwt" (a token
        /// issuer of the demo's own; it prints tokens for two customers to try).
        #[arg(long, value_enum, default_value_t = DemoAuth::None)]
        auth: DemoAuth,
    },
    /// Serve the edge: record reads from cache, blob storage or the origin; everything else
    /// passed to the origin. Stops cleanly on Ctrl-C or SIGTERM.
    ///
    /// Blob credentials come from TIERGATE_BLOB_ACCESS_KEY_ID and
    /// TIERGATE_BLOB_SECRET_ACCESS_KEY; see tiergate.example.toml for every setting.
    ///
    /// With [hot] and [archive] configured, the archiver also runs on archive.schedule.
    /// Prometheus metrics are served at http://<server.admin_listen>/metrics (default
    /// 127.0.0.1:9464).
    Serve {
        /// The configuration file.
        #[arg(long, short, default_value = "tiergate.toml")]
        config: PathBuf,
    },
    /// Move cold records from the hot database to blob storage: copy, verify (the store checks
    /// each copy's checksum as it writes it), then (after the grace period, in a later run)
    /// read the copy back, check it, and delete the hot row if the record is unchanged.
    ///
    /// Without --once, runs on archive.schedule until Ctrl-C. A run that is stopped or
    /// crashes is safe: the next run repairs whatever it left half done.
    Archive {
        /// The configuration file.
        #[arg(long, short, default_value = "tiergate.toml")]
        config: PathBuf,
        /// Run once now, with a progress bar and a summary; exit 1 if a record failed.
        #[arg(long)]
        once: bool,
        /// Say what a run would copy now, and change nothing.
        #[arg(long, conflicts_with = "once")]
        dry_run: bool,
        /// With --once: walk the records table from the beginning, not from where the last
        /// run got to, to archive at once what lies behind that point (records restored
        /// without a write, holds lifted); otherwise one run in 24 does.
        #[arg(long, requires = "once")]
        from_beginning: bool,
    },
    /// Audit the archive: read back the blob copy of every archived and deleted record and
    /// check its size, hashes and metadata. Lists each problem by record id; exit 1 if any.
    Verify {
        /// The configuration file.
        #[arg(long, short, default_value = "tiergate.toml")]
        config: PathBuf,
        /// Check only this percentage of the copies (the same ones every time).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(1..=100))]
        sample: u8,
    },
    /// The monthly storage bill with every record in the hot database and with tiergate,
    /// from the counts and sizes measured now, a projection (2M x 300 KB by default) and
    /// the months ahead; prices from a built-in profile or [cost] in the config.
    ///
    /// Prints a table and writes a chart of the bill by tier, before and after, as SVG.
    Cost {
        /// The configuration file.
        #[arg(long, short, default_value = "tiergate.toml")]
        config: PathBuf,
        /// Where to write the chart.
        #[arg(long, default_value = "tiergate-cost.svg")]
        chart: PathBuf,
    },
    /// Put archived records back in the hot database, as they were archived.
    ///
    /// Each record's copy is read, checked against the ledger and inserted as the row it
    /// was, every column; then the copy goes. For changes made straight in the database:
    /// writes through the edge restore their record by themselves. A restored record that
    /// stays unchanged is archived again by the next run, as any cold record (set its
    /// legal-hold column to keep it hot). Exit 1 if any failed.
    Restore {
        /// The configuration file.
        #[arg(long, short, default_value = "tiergate.toml")]
        config: PathBuf,
        /// The records' ids.
        #[arg(
            value_name = "ID",
            required_unless_present_any = ["changed_from", "changed_until"]
        )]
        ids: Vec<String>,
        /// Also every archived record last changed at or after this time: a UTC date
        /// (2024-01-31) or an RFC 3339 time (2024-01-31T12:00:00Z).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        changed_from: Option<chrono::DateTime<chrono::Utc>>,
        /// Also every archived record last changed before this time (same forms).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        changed_until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Show the ledger: records per state and their bytes, the hot table, the last run.
    Status {
        /// The configuration file.
        #[arg(long, short, default_value = "tiergate.toml")]
        config: PathBuf,
    },
}

/// A failed command prints its error and the chain of its causes, and exits 1.
/// Not as `main` returning the error would: that prints a stack backtrace whenever
/// `RUST_BACKTRACE` is set, and an operator's mistake (a bad config, a missing secret) is
/// not a crash. A command that ran but found something to alert on (a failed run, a lost
/// copy) exits 1 too, after its alert.
fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let filter =
        tiergate::ops::logs::filter(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    match cli.command {
        Command::Demo {
            listen,
            admin,
            data_dir,
            records,
            schedule,
            grace_seconds,
            auth,
        } => {
            let demo = tiergate::demo::start(&tiergate::demo::DemoOptions {
                listen,
                admin,
                data_dir,
                records,
                schedule,
                grace_seconds,
                jwt: auth == DemoAuth::Jwt,
            })
            .await?;
            console::demo(&demo);
            shutdown_signal()
                .await
                .context("waiting for a shutdown signal")?;
            tracing::info!("shutting down");
            demo.shutdown().await;
        }
        Command::Serve { config } => {
            let config = Config::load(&config)?;
            let kv = kv::open(&config.cache).context("opening the edge cache")?;
            let restore = InProcessRestore::from_config(&config, kv.clone());
            let admin = Admin::start(
                admin::bind(config.admin_listen).await?,
                restore,
                Some(kv.clone()),
            )
            .await?;
            let scheduled = match config.archive.as_ref().and_then(|a| a.schedule.clone()) {
                Some(cron) => {
                    let archiver =
                        schedule::archiver_unless_unreachable(&config, kv.clone()).await?;
                    let webhook = config.alert_webhook.clone();
                    let (config, kv) = (config.clone(), kv.clone());
                    Some(schedule::spawn(archiver, config, kv, cron, webhook))
                }
                None => None,
            };
            let server = Server::start_with_cache(config, kv).await?;
            admin.ready();
            shutdown_signal()
                .await
                .context("waiting for a shutdown signal")?;
            tracing::info!("shutting down");
            admin.stopping();
            if let Some(task) = scheduled {
                task.abort();
            }
            server.shutdown().await;
        }
        Command::Archive {
            config,
            once,
            dry_run,
            from_beginning,
        } => {
            let config = Config::load(&config)?;
            if dry_run {
                let store = archive::open_hot_store(&config).await?;
                let plan = archive::dry_run(&store, archive::archive_config(&config)?).await?;
                console::dry_run(&plan);
                return Ok(ExitCode::SUCCESS);
            }
            if once {
                // A run that cannot start or breaks off alerts as a scheduled one does: the
                // operator's scheduler may be all that runs it.
                let ran = async {
                    let archiver = Archiver::new(&config, command_cache(&config)?).await?;
                    console::run_with_progress(&archiver, from_beginning).await
                }
                .await;
                let alert = match &ran {
                    Ok(report) => schedule::alert(report),
                    Err(e) => Some(schedule::broke_off(e)),
                };
                if let Some(alert) = &alert {
                    tiergate::telemetry::alert::send(config.alert_webhook.as_ref(), alert).await;
                }
                ran?;
                if alert.is_some() {
                    return Ok(ExitCode::FAILURE);
                }
            } else {
                let kv = scheduled_archive_cache(&config)?;
                let archiver = Archiver::new(&config, kv.clone()).await?;
                let cron = config
                    .archive
                    .as_ref()
                    .and_then(|a| a.schedule.clone())
                    .context("archive.schedule is not set: add it, or run with --once")?;
                let admin =
                    Admin::start(admin::bind(config.admin_listen).await?, None, None).await?;
                let webhook = config.alert_webhook.clone();
                let task = schedule::spawn(Some(Arc::new(archiver)), config, kv, cron, webhook);
                admin.ready();
                shutdown_signal()
                    .await
                    .context("waiting for a shutdown signal")?;
                task.abort();
            }
        }
        Command::Verify { config, sample } => {
            let config = Config::load(&config)?;
            let store = archive::open_hot_store(&config).await?;
            let audit = console::verify(&config, &store, sample).await?;
            if let Some(alert) = tiergate::ops::verify::alert(&audit) {
                tiergate::telemetry::alert::send(config.alert_webhook.as_ref(), &alert).await;
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Cost { config, chart } => {
            let config = Config::load(&config)?;
            let store = archive::open_hot_store(&config).await?;
            let report = tiergate::ops::cost::report(&config, &store).await?;
            print!("{}", tiergate_cost::render_table(&report));
            let svg = tiergate_cost::render_svg(&report)?;
            std::fs::write(&chart, svg)
                .with_context(|| format!("writing the chart to {}", chart.display()))?;
            println!("\nChart: {}", chart.display());
        }
        Command::Restore {
            config,
            mut ids,
            changed_from,
            changed_until,
        } => {
            let config = Config::load(&config)?;
            let archive = archive::archive_config(&config)?;
            if changed_from.is_some() || changed_until.is_some() {
                let store = archive::open_hot_store(&config).await?;
                let range = tiergate::restore::ChangedBetween::new(changed_from, changed_until)?;
                let found = range.ids(&store).await?;
                println!("{} archived records last changed {range}", found.len());
                ids.extend(found);
            }
            // A restored row holds the bytes the copy held, so a cached copy would stay
            // right; it goes all the same, as every hidden copy's does.
            let restorer = Restorer::new(
                Arc::new(LazyHotStore::new(archive.hot.clone())),
                &archive.settings,
                Some(command_cache(&config)?),
            );
            if !console::restore(&restorer, &ids).await {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Status { config } => {
            let config = Config::load(&config)?;
            let store = archive::open_hot_store(&config).await?;
            console::status(&config, &store.status().await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A time on the command line: a UTC date or an RFC 3339 time.
fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| time.to_utc())
        .map_err(|e| {
            format!(
                "{e}; expected a UTC date (2024-01-31) or an RFC 3339 time (2024-01-31T12:00:00Z)"
            )
        })
}

/// The cache a command of its own (`archive --once`, `restore`) drops cached copies from,
/// so that what it hides, expires or restores stops being served at once: the edges' own
/// when it is shared (Redis); the redb file itself when no server holds it; else the local
/// cache of the `serve` on this machine, through its admin address (`server.admin_listen`).
fn command_cache(config: &Config) -> anyhow::Result<Arc<dyn KvBackend>> {
    use tiergate::config::CacheBackend;
    let serve_drops =
        || -> Arc<dyn KvBackend> { Arc::new(kv::ServeDrops::new(config.admin_listen)) };
    if let CacheBackend::Memory = config.cache.backend {
        return Ok(serve_drops());
    }
    match kv::open(&config.cache) {
        Err(kv::KvError::InUse(_)) => Ok(serve_drops()),
        opened => opened.context("opening the edge cache"),
    }
}

/// The cache a scheduled archiver outside `serve` drops cached copies from: the edges' own
/// when it is shared (Redis). A local cache lives in its server's process, which cannot be
/// on this admin address (this process holds it): the run gets a private one, and the
/// edges' copies of what it hid or expired are served until their TTL, which the log says.
fn scheduled_archive_cache(config: &Config) -> anyhow::Result<Arc<dyn KvBackend>> {
    use tiergate::config::{CacheBackend, CacheConfig};
    if let CacheBackend::Redis(_) = config.cache.backend {
        return kv::open(&config.cache).context("opening the shared edge cache");
    }
    tracing::info!(
        "the edges' caches are local to their servers: copies of records this run hides or \
         expires stay cached there until their TTL (run the archiver from `serve`'s schedule, \
         or share the cache in Redis, to drop them at once)"
    );
    Ok(kv::open(&CacheConfig {
        backend: CacheBackend::Memory,
        budget_bytes: 0,
        answer_hits_in_host: false,
    })?)
}

async fn shutdown_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        ctrl_c = tokio::signal::ctrl_c() => ctrl_c,
        _ = terminate.recv() => Ok(()),
    }
}
