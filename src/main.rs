//! `arc-agent`: the node binary (anyhow lives here, at the edge).

use anyhow::Context;
use arc_agent::app::App;
use arc_agent::config::Config;
use arc_agent::telemetry;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "arc-agent",
    version,
    about = "ARC voice-agent orchestrator node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node: supervisor, mirrors, heartbeats, HTTP.
    Serve {
        /// A TOML file over the embedded config/default.toml.
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check a configuration and print the effective one.
    Config {
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run many scripted sessions in one process and report throughput,
    /// latency and memory (synthetic engines; brokers as configured).
    Loadgen {
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
        /// Concurrent sessions.
        #[arg(long, default_value_t = 100)]
        sessions: usize,
        /// Turns per session.
        #[arg(long, default_value_t = 3)]
        turns: usize,
        /// Users speak at microphone pace (one 20 ms frame every 20 ms).
        #[arg(long)]
        realtime: bool,
    },
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            let _telemetry = telemetry::init(&cfg).context("telemetry failed to start")?;
            let app = App::start(cfg).await.context("node failed to start")?;
            let why = wait_for_signal().await;
            app.shutdown(why).await;
        }
        Command::Config { config } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            println!("{cfg:#?}");
        }
        Command::Loadgen {
            config,
            sessions,
            turns,
            realtime,
        } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            let _telemetry = telemetry::init(&cfg).context("telemetry failed to start")?;
            let report = arc_agent::loadgen::run(cfg, sessions, turns, realtime)
                .await
                .context("load generation failed")?;
            println!("{report}");
        }
    }
    Ok(())
}
