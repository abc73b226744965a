//! The node in the test's own process (feature `node`): [`start_app`] from a
//! node's settings, and [`user_session`], the session settings of a user no
//! other test shares (tests share the machine's NATS and read brokers by user).

use arc_actors::session::SessionConfig;
use arc_agent::config::Config;
use arc_agent::App;

/// Starts a node in this process: the embedded defaults with `env`'s
/// `ARC__…` overrides. Panics naming what failed.
pub async fn start_app(env: Vec<(String, String)>) -> App {
    let cfg = Config::load_with(None, env)
        .unwrap_or_else(|e| panic!("the test node's configuration was refused: {e}"));
    App::start(cfg)
        .await
        .unwrap_or_else(|e| panic!("the test node did not start: {e}"))
}

/// The node's session settings for a new user `<prefix>-<uuid>`.
pub fn user_session(app: &App, prefix: &str) -> SessionConfig {
    let mut sc = app.ctx.cfg.session_config();
    sc.user_id = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    sc
}
