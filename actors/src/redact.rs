//! PII redaction at the source: phone numbers, e-mail addresses, payment
//! card numbers (Luhn-checked, so order numbers and timestamps stay) and US
//! social security numbers are masked in the text of every event before it
//! leaves the node, when redaction is on. Events are only ever read by the
//! mirrors, so the live loop (actor messages) keeps the true text.

use crate::events::Event;
use regex::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

/// A kind of personal data the redactor can mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PiiKind {
    Email,
    Card,
    Ssn,
    Phone,
}

impl PiiKind {
    pub const ALL: [PiiKind; 4] = [PiiKind::Email, PiiKind::Card, PiiKind::Ssn, PiiKind::Phone];

    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Card => "card",
            PiiKind::Ssn => "ssn",
            PiiKind::Phone => "phone",
        }
    }

    pub fn parse(s: &str) -> Option<PiiKind> {
        PiiKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn mask(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Card => "[CARD]",
            PiiKind::Ssn => "[SSN]",
            PiiKind::Phone => "[PHONE]",
        }
    }
}

/// Which texts of the events are masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedactFields {
    /// What the user said: transcripts, `user_input`, history.
    pub user_text: bool,
    /// What the agent said: replies, TTS text, history.
    pub agent_text: bool,
}

/// Masks PII in event texts.
#[derive(Debug, Clone)]
pub struct Redactor {
    kinds: Vec<PiiKind>,
    fields: RedactFields,
}

struct Patterns {
    email: Regex,
    card: Regex,
    ssn: Regex,
    phone: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        // Built from constant patterns: a failure here is a bug caught by the tests.
        email: Regex::new(r"(?i)\b[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}\b")
            .expect("email pattern"),
        card: Regex::new(r"\b\d(?:[ \-]?\d){12,18}\b").expect("card pattern"),
        ssn: Regex::new(r"\b\d{3}-\d{2}-\d{4}\b").expect("ssn pattern"),
        phone: Regex::new(
            r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)[\s.\-]?|\b\d{3}[\s.\-])\d{3}[\s.\-]\d{4}\b|\+\d{1,3}[\s.\-]?\d{2,4}(?:[\s.\-]?\d{2,4}){2,4}\b",
        )
        .expect("phone pattern"),
    })
}

/// The Luhn checksum of the digits in `s`.
pub fn luhn_valid(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl Redactor {
    pub fn new(kinds: Vec<PiiKind>, fields: RedactFields) -> Self {
        Self { kinds, fields }
    }

    /// Every kind, both fields.
    pub fn all() -> Self {
        Self::new(
            PiiKind::ALL.to_vec(),
            RedactFields {
                user_text: true,
                agent_text: true,
            },
        )
    }

    /// `text` with the enabled kinds masked (borrowed when nothing matched).
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let p = patterns();
        let mut out: Cow<'a, str> = Cow::Borrowed(text);
        for kind in PiiKind::ALL {
            if !self.kinds.contains(&kind) {
                continue;
            }
            let replaced = match kind {
                PiiKind::Email => p.email.replace_all(&out, kind.mask()).into_owned(),
                PiiKind::Ssn => p.ssn.replace_all(&out, kind.mask()).into_owned(),
                PiiKind::Phone => p.phone.replace_all(&out, kind.mask()).into_owned(),
                PiiKind::Card => p
                    .card
                    .replace_all(&out, |c: &regex::Captures<'_>| {
                        if luhn_valid(&c[0]) {
                            kind.mask().to_string()
                        } else {
                            c[0].to_string()
                        }
                    })
                    .into_owned(),
            };
            if replaced != *out {
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    fn user(&self, s: &mut String) {
        if self.fields.user_text {
            if let Cow::Owned(m) = self.mask(s) {
                *s = m;
            }
        }
    }

    fn agent(&self, s: &mut String) {
        if self.fields.agent_text {
            if let Cow::Owned(m) = self.mask(s) {
                *s = m;
            }
        }
    }

    /// The event with its texts masked; `None` when nothing changed (the
    /// caller keeps the original without a copy).
    pub fn redact_event(&self, event: &Event) -> Option<Event> {
        let mut e = match event {
            Event::BrainRequest(_)
            | Event::BrainResponse(_)
            | Event::TtsRequest(_)
            | Event::ToolCall(_)
            | Event::ToolResult(_)
            | Event::Conversation(_) => event.clone(),
            _ => return None,
        };
        match &mut e {
            Event::BrainRequest(r) => {
                self.user(&mut r.user_input);
                for t in &mut r.context.previous_turns {
                    self.user(&mut t.user);
                    self.agent(&mut t.agent);
                }
            }
            Event::BrainResponse(r) => self.agent(&mut r.agent_response),
            Event::TtsRequest(r) => self.agent(&mut r.text),
            // Arguments and results carry what the user said (a phone number to look up).
            Event::ToolCall(t) => self.user(&mut t.arguments),
            Event::ToolResult(t) => self.user(&mut t.result),
            Event::Conversation(c) => {
                self.user(&mut c.user_message.text);
                self.agent(&mut c.agent_response.text);
            }
            _ => {}
        }
        (e != *event).then_some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, does it hold PII?)
    const CORPUS: &[(&str, bool)] = &[
        ("Call me at 415-555-0132 please", true),
        ("my number is (212) 555-7788", true),
        ("reach me on +44 20 7946 0958 tomorrow", true),
        ("it's +1 650 253 0000", true),
        ("phone 415.555.0199", true),
        ("text 555-123-4567 when you land", true),
        ("email jane.doe@example.com", true),
        ("write to support+billing@my-shop.co.uk", true),
        ("J.SMITH@MAIL.EXAMPLE.ORG is my address", true),
        ("my card is 4111 1111 1111 1111", true),
        ("card 5500-0000-0000-0004 expires soon", true),
        ("use 378282246310005 for the payment", true),
        ("visa 4012888888881881", true),
        ("my social is 123-45-6789", true),
        ("SSN 078-05-1120 on file", true),
        ("contact: bob@example.net or 650-555-0100", true),
        ("the total is $3.50 at 5 p.m.", false),
        ("order number 1234567890123 shipped", false),
        ("call me at noon", false),
        ("meet me at room 101 on floor 3", false),
        ("the year 2024 was great", false),
        ("version 1.2.3 is out", false),
        ("it costs 1,299 dollars", false),
        ("my zip code is 94103", false),
        ("flight UA 1234 leaves at 10:45", false),
        ("the ratio is 3:2 and the score 21-19", false),
        ("send it to the email address I gave you", false),
        ("at sign @ is a symbol", false),
        ("isbn 978-3-16-148410-0", false),
        ("the date 2025-11-25 works", false),
        ("tracking 1Z999AA10123456784", false),
        ("a card ending in 1111", false),
    ];

    #[test]
    fn precision_and_recall_over_the_corpus() {
        let r = Redactor::all();
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for (text, has_pii) in CORPUS {
            let masked = r.mask(text);
            let flagged = masked != *text;
            match (flagged, has_pii) {
                (true, true) => tp += 1,
                (true, false) => {
                    fp += 1;
                    println!("false positive: {text:?} -> {masked:?}");
                }
                (false, true) => {
                    fn_ += 1;
                    println!("missed: {text:?}");
                }
                _ => {}
            }
        }
        let precision = tp as f64 / (tp + fp).max(1) as f64;
        let recall = tp as f64 / (tp + fn_).max(1) as f64;
        println!(
            "PII corpus: {} strings, precision {precision:.3}, recall {recall:.3}",
            CORPUS.len()
        );
        assert!(CORPUS.len() >= 30);
        assert!(precision >= 0.95, "precision {precision}");
        assert!(recall >= 0.95, "recall {recall}");
    }

    #[test]
    fn masks_keep_the_rest_of_the_text() {
        let r = Redactor::all();
        assert_eq!(
            r.mask("Call 415-555-0132 or mail jane@example.com, card 4111 1111 1111 1111."),
            "Call [PHONE] or mail [EMAIL], card [CARD]."
        );
        assert!(matches!(r.mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn kinds_and_fields_are_configurable() {
        let only_email = Redactor::new(
            vec![PiiKind::Email],
            RedactFields {
                user_text: true,
                agent_text: false,
            },
        );
        assert_eq!(
            only_email.mask("a@b.io 415-555-0132"),
            "[EMAIL] 415-555-0132"
        );
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(!luhn_valid("4111 1111 1111 1112"));
    }
}
