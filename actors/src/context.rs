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
    exchanges: Vec<Exchange>,
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
            exchanges: Vec::new(),
            token_budget: token_budget.max(1),
            dropped: 0,
        }
    }

    pub fn push(&mut self, exchange: Exchange) {
        self.exchanges.push(exchange);
        while self.history_tokens() > self.token_budget && !self.exchanges.is_empty() {
            self.exchanges.remove(0);
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
        for e in &self.exchanges {
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
        estimate_tokens(&self.system_prompt) + self.history_tokens() + estimate_tokens(user_input)
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
}
