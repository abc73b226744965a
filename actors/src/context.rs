//! The rolling conversation history of one session.
//!
//! It lives in the session's shared state, not in the Brain actor, so a Brain
//! restarted after a crash finds the conversation where it was. When it
//! passes its token budget the oldest exchanges are folded into a summary
//! made by the session's own LLM ([`crate::summary`]); without summaries, or
//! when the model's summary is unusable, the oldest are dropped. Either way
//! what the caller stated in them (a name, an order number: [`crate::facts`])
//! stays in the prompt word for word, so a long call keeps it.

use crate::engine::{ChatMessage, ChatRole};
use crate::facts::Facts;

/// One completed exchange: what the user said and what the agent actually spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub user: String,
    pub agent: String,
}

/// The oldest exchanges to fold into the summary, and the summary so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryJob {
    pub previous: String,
    pub exchanges: Vec<Exchange>,
}

/// History kept within a token budget: the oldest exchanges are summarized
/// (or dropped) first.
#[derive(Debug, Clone)]
pub struct ConversationContext {
    system_prompt: String,
    /// Example exchanges shown after the system prompt (never dropped).
    examples: Vec<Exchange>,
    exchanges: Vec<Exchange>,
    /// The turn of each exchange (None when pushed without one).
    turns: Vec<Option<u64>>,
    /// Replies cut by a barge-in before their exchange was pushed: what was heard.
    cuts: std::collections::HashMap<u64, String>,
    token_budget: usize,
    dropped: usize,
    /// Fold the oldest exchanges into `summary` instead of dropping them.
    summarize: bool,
    /// What the folded exchanges said, in the model's words ("" = none yet).
    summary: String,
    /// Exchanges at the front being summarized now (0 = no summary in flight).
    summarizing: usize,
    summarized: usize,
    /// What the caller stated in exchanges that left the history.
    facts: Facts,
}

/// A cheap token estimate (about four characters a token for English), good
/// enough to keep a prompt inside a budget without a tokenizer.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4).max(1)
}

fn exchange_tokens(e: &Exchange) -> usize {
    estimate_tokens(&e.user) + estimate_tokens(&e.agent)
}

impl ConversationContext {
    pub fn new(system_prompt: impl Into<String>, token_budget: usize) -> Self {
        Self {
            system_prompt: system_prompt.into(),
            examples: Vec::new(),
            exchanges: Vec::new(),
            turns: Vec::new(),
            cuts: std::collections::HashMap::new(),
            token_budget: token_budget.max(1),
            dropped: 0,
            summarize: false,
            summary: String::new(),
            summarizing: 0,
            summarized: 0,
            facts: Facts::default(),
        }
    }

    /// Summarize the oldest exchanges when the history passes its budget
    /// ([`Self::summary_due`]) rather than dropping them.
    pub fn with_summaries(mut self, on: bool) -> Self {
        self.summarize = on;
        self
    }

    /// Example exchanges (question, answer) that follow the system prompt in
    /// every prompt: part of the instructions, not of the history.
    pub fn with_examples(mut self, examples: &[(String, String)]) -> Self {
        self.examples = examples
            .iter()
            .map(|(q, a)| Exchange {
                user: q.clone(),
                agent: a.clone(),
            })
            .collect();
        self
    }

    pub fn push(&mut self, exchange: Exchange) {
        self.push_exchange(None, exchange);
    }

    /// Push the exchange of `turn`; if that reply was already cut by a
    /// barge-in, only what the user heard of it is kept (nothing heard: no exchange).
    pub fn push_turn(&mut self, turn: u64, mut exchange: Exchange) {
        if let Some(heard) = self.cuts.remove(&turn) {
            if heard.is_empty() {
                return;
            }
            exchange.agent = heard;
        }
        self.push_exchange(Some(turn), exchange);
    }

    /// The reply of `turn` was interrupted after `heard`: keep only that.
    pub fn cut_reply(&mut self, turn: u64, heard: &str) {
        match self.turns.iter().position(|t| *t == Some(turn)) {
            Some(i) if heard.is_empty() => {
                self.exchanges.remove(i);
                self.turns.remove(i);
                if i < self.summarizing {
                    self.summarizing -= 1;
                }
            }
            Some(i) => self.exchanges[i].agent = heard.to_string(),
            None => {
                // A bounded map: only replies still being answered are cut.
                if self.cuts.len() > 64 {
                    self.cuts.clear();
                }
                self.cuts.insert(turn, heard.to_string());
            }
        }
    }

    fn push_exchange(&mut self, turn: Option<u64>, exchange: Exchange) {
        self.exchanges.push(exchange);
        self.turns.push(turn);
        if !self.summarize {
            self.drop_to(self.token_budget);
        } else if self.history_tokens() > 2 * self.token_budget {
            // Summaries are not keeping up (failing, or the model is slow):
            // the prompt stays bounded all the same.
            self.drop_to(self.token_budget);
        }
    }

    /// Drops the oldest exchanges until the history fits `budget`.
    fn drop_to(&mut self, budget: usize) {
        while self.history_tokens() > budget && !self.exchanges.is_empty() {
            let gone = self.exchanges.remove(0);
            self.facts.add(&gone.user);
            self.turns.remove(0);
            self.dropped += 1;
            self.summarizing = self.summarizing.saturating_sub(1);
        }
    }

    /// The first `n` exchanges leave the history (their facts stay).
    fn fold(&mut self, n: usize) -> usize {
        let n = n.min(self.exchanges.len());
        for gone in self.exchanges.drain(..n) {
            self.facts.add(&gone.user);
        }
        self.turns.drain(..n);
        n
    }

    /// The history has passed its budget and no summary is being made: the
    /// oldest exchanges to fold into the summary, leaving about half the
    /// budget (so one summary serves several turns). They stay in the prompt
    /// until [`Self::apply_summary`] replaces them.
    pub fn summary_due(&mut self) -> Option<SummaryJob> {
        if !self.summarize || self.summarizing > 0 || self.history_tokens() <= self.token_budget {
            return None;
        }
        let keep = self.token_budget / 2;
        let mut left = self.history_tokens();
        let mut n = 0;
        // The newest exchange always stays as it was said.
        while n + 1 < self.exchanges.len() && left > keep {
            left -= exchange_tokens(&self.exchanges[n]);
            n += 1;
        }
        if n == 0 {
            return None;
        }
        self.summarizing = n;
        Some(SummaryJob {
            previous: self.summary.clone(),
            exchanges: self.exchanges[..n].to_vec(),
        })
    }

    /// The summary of the last [`SummaryJob`] is in: its exchanges leave the
    /// history and the summary takes their place in every prompt.
    pub fn apply_summary(&mut self, summary: String) {
        self.summarized += self.fold(self.summarizing);
        self.summarizing = 0;
        self.summary = summary;
    }

    /// The summary could not be made, or was unusable: the job's exchanges
    /// are dropped as without summaries (their facts stay), so a model that
    /// cannot summarize is not asked again at every turn.
    pub fn summary_failed(&mut self) {
        self.dropped += self.fold(self.summarizing);
        self.summarizing = 0;
    }

    /// A summary was asked for by a Brain that is gone: it will never come,
    /// and the next push may ask again.
    pub fn summary_abandoned(&mut self) {
        self.summarizing = 0;
    }

    /// What the caller stated in exchanges that left the history.
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// The model's summary of the folded exchanges ("" when none yet).
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// Exchanges folded into the summary so far.
    pub fn summarized(&self) -> usize {
        self.summarized
    }

    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// Exchanges dropped to stay inside the budget.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    pub fn history_tokens(&self) -> usize {
        self.exchanges.iter().map(exchange_tokens).sum()
    }

    /// The system message: the instructions, then what is known from the
    /// summarized part of the call.
    fn system_message(&self) -> String {
        let mut parts = Vec::new();
        if !self.system_prompt.is_empty() {
            parts.push(self.system_prompt.clone());
        }
        if !self.summary.is_empty() {
            parts.push(format!("Earlier in this call: {}", self.summary));
        }
        if !self.facts.is_empty() {
            parts.push(format!("The caller said earlier: {}", self.facts.quoted()));
        }
        parts.join("\n\n")
    }

    /// The prompt for the next reply: system prompt (with the summary),
    /// examples, history, then `user_input`.
    pub fn messages_for(&self, user_input: &str) -> Vec<ChatMessage> {
        let mut out = Vec::with_capacity(self.exchanges.len() * 2 + 2);
        let system = self.system_message();
        if !system.is_empty() {
            out.push(ChatMessage {
                role: ChatRole::System,
                content: system,
            });
        }
        for e in self.examples.iter().chain(&self.exchanges) {
            out.push(ChatMessage {
                role: ChatRole::User,
                content: e.user.clone(),
            });
            out.push(ChatMessage {
                role: ChatRole::Assistant,
                content: e.agent.clone(),
            });
        }
        out.push(ChatMessage {
            role: ChatRole::User,
            content: user_input.to_string(),
        });
        out
    }

    /// Tokens the prompt for `user_input` will use (system + history + input).
    pub fn prompt_tokens(&self, user_input: &str) -> usize {
        let examples: usize = self.examples.iter().map(exchange_tokens).sum();
        estimate_tokens(&self.system_message())
            + examples
            + self.history_tokens()
            + estimate_tokens(user_input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_within_budget_dropping_oldest() {
        let mut c = ConversationContext::new("be brief", 20);
        for i in 0..10 {
            c.push(Exchange {
                user: format!("question number {i}"),
                agent: format!("answer number {i}"),
            });
        }
        assert!(c.history_tokens() <= 20);
        assert!(c.dropped() > 0);
        assert_eq!(c.exchanges().last().unwrap().user, "question number 9");
        let m = c.messages_for("next");
        assert_eq!(m[0].role, ChatRole::System);
        assert_eq!(m.last().unwrap().content, "next");
    }

    fn exchange(i: usize) -> Exchange {
        Exchange {
            user: format!("question number {i} about the weather"),
            agent: format!("answer number {i} about the sunshine"),
        }
    }

    #[test]
    fn a_summary_replaces_the_oldest_exchanges_and_goes_into_the_prompt() {
        let mut c = ConversationContext::new("be brief", 60).with_summaries(true);
        let mut job = None;
        for i in 0..10 {
            c.push(exchange(i));
            if let Some(j) = c.summary_due() {
                job = Some((i, j));
                break;
            }
        }
        let (at, job) = job.expect("a summary is due past the budget");
        assert!(job.previous.is_empty());
        assert_eq!(job.exchanges[0], exchange(0));
        // Nothing is dropped while it is made, and no second job starts.
        assert_eq!(c.dropped(), 0);
        c.push(exchange(at + 1));
        assert_eq!(c.summary_due(), None);
        let folded = job.exchanges.len();
        let before = c.exchanges().len();
        c.apply_summary("The caller is Alice, order 4417.".into());
        assert_eq!(c.exchanges().len(), before - folded);
        assert_eq!(c.summarized(), folded);
        assert_eq!(c.exchanges().last(), Some(&exchange(at + 1)));
        let m = c.messages_for("what is my order number?");
        assert_eq!(m[0].role, ChatRole::System);
        assert!(m[0].content.starts_with("be brief"));
        assert!(m[0]
            .content
            .contains("Earlier in this call: The caller is Alice, order 4417."));
        // The next job carries this summary on.
        let mut next = None;
        for i in 20..40 {
            c.push(exchange(i));
            if let Some(j) = c.summary_due() {
                next = Some(j);
                break;
            }
        }
        assert_eq!(next.unwrap().previous, "The caller is Alice, order 4417.");
    }

    #[test]
    fn without_summaries_or_while_they_fail_the_history_stays_bounded() {
        let mut c = ConversationContext::new("", 60).with_summaries(true);
        for i in 0..40 {
            c.push(exchange(i));
            if c.summary_due().is_some() {
                c.summary_failed();
            }
            assert!(c.history_tokens() <= 2 * 60 + 20, "{}", c.history_tokens());
        }
        assert!(c.dropped() > 0);
        assert_eq!(c.summary(), "");
        // A summary in flight forever (its maker died) does not hold the cap off.
        let mut c = ConversationContext::new("", 60).with_summaries(true);
        for i in 0..40 {
            c.push(exchange(i));
            let _ = c.summary_due();
            assert!(c.history_tokens() <= 2 * 60 + 20);
        }
        // A late summary after drops folds only what is still there.
        c.apply_summary("late".into());
        assert_eq!(c.summary(), "late");
        assert!(!c.exchanges().is_empty());
    }

    #[test]
    fn what_the_caller_stated_survives_the_drop_of_its_turn() {
        let mut c = ConversationContext::new("be brief", 40).with_summaries(true);
        c.push(Exchange {
            user: "My name is Alice and my order number is 4417.".into(),
            agent: "Thanks Alice.".into(),
        });
        for i in 0..10 {
            c.push(exchange(i));
            if c.summary_due().is_some() {
                // A model that cannot summarize: the job's turns are dropped.
                c.summary_failed();
            }
        }
        assert!(c.dropped() > 0);
        assert!(!c.exchanges().iter().any(|e| e.user.contains("Alice")));
        let m = c.messages_for("what is my order number?");
        assert!(
            m[0].content.contains(
                "The caller said earlier: \"My name is Alice and my order number is 4417.\""
            ),
            "{}",
            m[0].content
        );
        // Without summaries at all, the same.
        let mut c = ConversationContext::new("", 20);
        c.push(Exchange {
            user: "I'm Bob, account 12345.".into(),
            agent: "Hello Bob.".into(),
        });
        for i in 0..5 {
            c.push(exchange(i));
        }
        assert!(c.messages_for("x")[0].content.contains("account 12345"));
    }

    #[test]
    fn a_cut_reply_keeps_only_what_was_heard() {
        let ex = |a: &str| Exchange {
            user: "tell me a story".into(),
            agent: a.into(),
        };
        let mut c = ConversationContext::new("", 1000);
        // cut after the exchange is in
        c.push_turn(1, ex("Once upon a time. There was a fox. The end."));
        c.cut_reply(1, "Once upon a time.");
        assert_eq!(c.exchanges()[0].agent, "Once upon a time.");
        // cut before the Brain has finished: the later push is cut too
        c.cut_reply(2, "Hello.");
        c.push_turn(2, ex("Hello. How are you?"));
        assert_eq!(c.exchanges()[1].agent, "Hello.");
        // nothing heard: no exchange
        c.push_turn(3, ex("Unheard."));
        c.cut_reply(3, "");
        assert_eq!(c.exchanges().len(), 2);
    }
}
