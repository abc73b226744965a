//! [`ScriptedCall`]: a session whose caller says a script (the synthetic STT
//! hears its lines), what the session sent back, and the caller's moves.

use crate::recording::RecordingOutput;
use arc_actors::node::{NodeError, NodeHandle, SessionSpec};
use arc_actors::session::{EndReason, SessionConfig, SessionHandle, SessionSummary};
use arc_actors::synthetic::{run_script_paced, ScriptBook};
use std::sync::Arc;
use std::time::Duration;

/// Owned lines of a script.
pub fn lines(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

/// A started session with a simulated caller.
pub struct ScriptedCall {
    pub session: SessionHandle,
    pub out: Arc<RecordingOutput>,
    pub script: Vec<String>,
}

impl ScriptedCall {
    /// Writes `script` in `scripts` (the book the node's synthetic STT reads)
    /// for the session of `config`, and starts that session on `node`.
    pub async fn start(
        node: &NodeHandle,
        scripts: &ScriptBook,
        config: SessionConfig,
        script: Vec<String>,
    ) -> Result<ScriptedCall, NodeError> {
        let session_id = config.session_id.clone();
        assert!(
            scripts.write(session_id.clone(), script.clone()),
            "session {session_id} is already being started"
        );
        let out = Arc::new(RecordingOutput::default());
        let started = node
            .start_session(SessionSpec {
                config,
                output: out.clone(),
            })
            .await;
        // What the engines did not read (engines without a scripted STT).
        scripts.take(&session_id);
        Ok(ScriptedCall {
            session: started?,
            out,
            script,
        })
    }

    /// Says `lines` one by one, each after the answer to the one before (up
    /// to `timeout` each); how many were answered.
    pub async fn say(&self, lines: &[String], timeout: Duration) -> usize {
        self.say_paced(lines, timeout, false).await
    }

    /// [`ScriptedCall::say`], with `realtime` at a microphone's pace.
    pub async fn say_paced(&self, lines: &[String], timeout: Duration, realtime: bool) -> usize {
        run_script_paced(&self.session, &*self.out, lines, timeout, realtime).await
    }

    /// Says the whole script.
    pub async fn say_all(&self, timeout: Duration) -> usize {
        self.say(&self.script, timeout).await
    }

    /// The caller leaves (`user_left`); the session's summary once it stopped.
    pub async fn hang_up(&self) -> Option<SessionSummary> {
        self.session.end(EndReason::UserLeft);
        self.session.wait().await
    }
}
