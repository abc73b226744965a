//! What `converse` prints while the conversation runs (what was heard, the
//! reply sentence by sentence), and how to play the answer.

use arc_actors::session::SessionNotice;
use std::io::Write;
use std::path::Path;

/// What `converse` prints while the conversation runs: what was heard, then
/// the reply on one line, sentence by sentence as the brain makes them.
#[derive(Debug, Default)]
pub struct LiveEcho {
    replying: bool,
}

impl LiveEcho {
    /// The text to print for `notice`, if any.
    pub fn text(&mut self, notice: &SessionNotice) -> Option<String> {
        match notice {
            SessionNotice::FinalTranscript { text, .. } => {
                let end = self.finish().unwrap_or_default();
                Some(format!("{end}heard: {text}\n"))
            }
            SessionNotice::AgentSentence { text, .. } => {
                let text = text.trim();
                if text.is_empty() {
                    return None;
                }
                let start = if self.replying { " " } else { "reply: " };
                self.replying = true;
                Some(format!("{start}{text}"))
            }
            SessionNotice::AgentTurnDone { interrupted, .. } => {
                let end = self.finish()?;
                Some(if *interrupted {
                    format!(" (interrupted){end}")
                } else {
                    end
                })
            }
            _ => None,
        }
    }

    /// Ends a reply line left open (no answer came in time).
    pub fn finish(&mut self) -> Option<String> {
        std::mem::take(&mut self.replying).then(|| "\n".to_string())
    }
}

pub(super) fn print_now(text: &str) {
    let mut out = std::io::stdout().lock();
    // stdout closed (a pipe read by `head`): the conversation goes on.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A path as a shell word: quoted when it holds anything but plain characters.
fn shell_word(path: &Path) -> String {
    let s = path.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A `file://` URL of `path` (made absolute), percent-encoded.
fn file_url(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut url = String::from("file://");
    for b in absolute.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Where the answer is and how to play it.
pub fn play_hint(output: &Path) -> String {
    let word = shell_word(output);
    format!(
        "the answer is in {}; play it with one of\n  aplay {word}\n  ffplay -autoexit -nodisp {word}\n  \
         or open {} in a browser",
        output.display(),
        file_url(output)
    )
}
