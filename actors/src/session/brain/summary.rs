//! The Brain's part in summarizing a long call: after a reply, when the
//! history passed its budget, the session's LLM is asked in the background
//! ([`crate::summary`]) and the answer folded into the context.

use super::BrainState;
use crate::session::messages::BrainMsg;
use ractor::ActorRef;
use std::time::{Duration, Instant};
use tracing::Instrument;

impl BrainState {
    /// After a reply: if the history passed its budget, the session's LLM
    /// folds the oldest turns into the summary, in the background.
    pub(super) fn maybe_summarize(&self, myself: &ActorRef<BrainMsg>) {
        let Some(job) = self.shared.with_context(|c| c.summary_due()) else {
            return;
        };
        let cfg = &self.shared.config;
        let llm = self.shared.engines.llm.clone();
        let max_tokens = cfg.brain.summary_max_tokens;
        let timeout = Duration::from_millis(cfg.brain.turn_timeout_ms);
        let trace_id = crate::ids::new_trace_id();
        let span = tracing::info_span!("summary", session_id = %cfg.session_id, trace_id = %trace_id, exchanges = job.exchanges.len());
        let me = myself.clone();
        tokio::spawn(
            async move {
                let started = Instant::now();
                let result = crate::summary::summarize(llm, &job, max_tokens, timeout, &trace_id)
                    .await
                    .map_err(|e| e.to_string());
                tracing::debug!(
                    ms = started.elapsed().as_millis() as u64,
                    ok = result.is_ok(),
                    "summary of the oldest turns"
                );
                let _ = me.cast(BrainMsg::Summarized(result));
            }
            .instrument(span),
        );
    }

    pub(super) fn take_summary(&self, result: Result<String, String>) {
        let session_id = &self.shared.config.session_id;
        match result {
            Ok(summary) => {
                let folded = self.shared.with_context(|c| {
                    let before = c.summarized();
                    c.apply_summary(summary);
                    c.summarized() - before
                });
                tracing::info!(session_id = %session_id, folded, "oldest turns folded into the call's summary");
            }
            Err(e) => {
                let facts = self.shared.with_context(|c| {
                    c.summary_failed();
                    c.facts().items().len()
                });
                tracing::info!(session_id = %session_id, error = %e, facts, "no usable summary of the oldest turns: they are dropped, what the caller stated in them is kept");
            }
        }
    }
}
