//! The `backline` command: `serve` (default), `migrate`, `demo`, `admin create-user`,
//! `config check`, `bench http`, `bench onsale`.

mod cli;

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "backline", version, about = "The open, self-hostable platform for live music and events")]
struct Cli {
    /// Configuration file (defaults → this file → BACKLINE_* environment).
    #[arg(long, global = true, default_value = "backline.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load demo data: an organization with two members, two venues, six events.
    Demo,
    /// Administration tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Configuration tasks.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Benchmarks (print JSON).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform administrator.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The password; read from BACKLINE_ADMIN_PASSWORD when omitted.
        #[arg(long, env = "BACKLINE_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load and validate the configuration, print it with secrets hidden.
    Check,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Event detail vs. a static route, in-process on SQLite with demo data.
    Http {
        /// Seconds per route.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Turn the published-event cache off to measure the database path.
        #[arg(long)]
        no_cache: bool,
    },
    /// The event and home pages as HTML vs. the JSON API for the same data.
    Web {
        /// Seconds per route.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// An on-sale rush (every buyer books one free ticket until sold out) beside the raw
    /// conditional-update rate of the same database.
    Onsale {
        /// Tickets on sale (one quota).
        #[arg(long, default_value_t = 10_000)]
        tickets: i64,
        /// Concurrent buyers.
        #[arg(long, default_value_t = 256)]
        buyers: usize,
        /// Drive a running server instead of an in-process one (registration must be open).
        #[arg(long)]
        url: Option<String>,
        /// In-process: run on this PostgreSQL server (a fresh database is created and dropped)
        /// instead of a fresh SQLite file. With --url: that server's database, for the baseline.
        #[arg(long)]
        database_url: Option<String>,
        /// Leave out the paid variant (it takes most of the run's time).
        #[arg(long)]
        no_paid: bool,
    },
}

fn main() -> std::process::ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    let config = match backline::load_config(Some(&cli.config)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("backline: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("backline: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command.unwrap_or(Command::Serve), config, started)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "backline failed");
            eprintln!("backline: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, config: backline::Config, started: Instant) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            kernel::telemetry::init_logging(&config.log);
            let listener = tokio::net::TcpListener::bind(config.server.bind)
                .await
                .map_err(|e| anyhow::anyhow!("server.bind {}: {e}", config.server.bind))?;
            let addr = listener.local_addr()?;
            let app = backline::build(config).await?;
            let shutdown = CancellationToken::new();
            tokio::spawn(wait_for_signal(shutdown.clone()));
            tracing::info!(url = %format!("http://{addr}"), database = app.kernel.config.database_kind(),
                ready_ms = started.elapsed().as_millis() as u64, "Backline is ready");
            println!("Backline is ready on http://{addr} (started in {} ms)", started.elapsed().as_millis());
            backline::serve(app, listener, shutdown).await
        }
        Command::Migrate => {
            kernel::telemetry::init_logging(&config.log);
            let db = kernel::Db::connect(config.database.url.expose_secret(), 2).await?;
            db.migrate().await?;
            println!("migrations applied ({})", config.database_kind());
            Ok(())
        }
        Command::Demo => {
            kernel::telemetry::init_logging(&config.log);
            let mut config = config;
            config.jobs.enabled = false;
            let app = backline::build(config).await?;
            let summary = cli::demo::load(&app).await?;
            println!("{summary}");
            // Deliver the welcome mails the demo accounts triggered.
            while app.kernel.jobs.dispatch_once().await? + app.kernel.jobs.work_once().await? > 0 {}
            Ok(())
        }
        Command::Admin { command: AdminCommand::CreateUser { email, name, password } } => {
            kernel::telemetry::init_logging(&config.log);
            let app = backline::build(config).await?;
            let user = cli::demo::create_admin(&app, &email, &name, password).await?;
            println!("platform administrator {} created ({})", user.email, user.id);
            Ok(())
        }
        Command::Config { command: ConfigCommand::Check } => {
            println!("{}", backline::describe_config(&config)?);
            println!("configuration ok");
            Ok(())
        }
        Command::Bench { command: BenchCommand::Http { duration, connections, no_cache } } => {
            let report = cli::bench::http(duration, connections, !no_cache).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Bench { command: BenchCommand::Web { duration, connections } } => {
            let report = cli::bench::web(duration, connections).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Bench { command: BenchCommand::Onsale { tickets, buyers, url, database_url, no_paid } } => {
            let opts = cli::bench::OnsaleOptions { tickets, buyers, url, database_url, paid: !no_paid };
            let report = cli::bench::onsale(opts).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            anyhow::ensure!(!report.oversold, "oversold");
            Ok(())
        }
    }
}

async fn wait_for_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                shutdown.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing in-flight requests");
    shutdown.cancel();
}
