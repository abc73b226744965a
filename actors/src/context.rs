//! The rolling conversation history of one session.
//!
//! It lives in the session's shared state, not in the Brain actor, so a Brain
//! restarted after a crash finds the conversation where it was.

use crate::engine::{ChatMessage, ChatRole};

/// One completed exchange: what the user said and what the agent actually spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub user: String,
    pub agent: String,
}

/// History kept within a token budget: the oldest exchanges are dropped first.
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
}

/// A cheap token estimate (about four characters a token for English), good
/// enough to keep a prompt inside a budget without a tokenizer.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4).max(1)
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
        }
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
        while self.history_tokens() > self.token_budget && !self.exchanges.is_empty() {
            self.exchanges.remove(0);
            self.turns.remove(0);
            self.dropped += 1;
        }
    }

    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// Exchanges dropped to stay inside the budget.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    pub fn history_tokens(&self) -> usize {
        self.exchanges
            .iter()
            .map(|e| estimate_tokens(&e.user) + estimate_tokens(&e.agent))
            .sum()
    }

    /// The prompt for the next reply: system prompt, history, then `user_input`.
    pub fn messages_for(&self, user_input: &str) -> Vec<ChatMessage> {
        let mut out = Vec::with_capacity(self.exchanges.len() * 2 + 2);
        if !self.system_prompt.is_empty() {
            out.push(ChatMessage {
                role: ChatRole::System,
                content: self.system_prompt.clone(),
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
        let examples: usize = self
            .examples
            .iter()
            .map(|e| estimate_tokens(&e.user) + estimate_tokens(&e.agent))
            .sum();
        estimate_tokens(&self.system_prompt)
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
