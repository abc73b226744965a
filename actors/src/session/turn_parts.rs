//! The parts of one turn's conversation record as Stt, Brain, Tts and
//! Playout report them. They wait in the shared state, not in the
//! Archiver, so an Archiver that crashed and restarted loses none of them
//! (nor any that were sent while it was down): it finds them there.

use super::messages::{AgentRecord, SpokenRecord, UserRecord};
use std::time::Instant;

/// One report about a turn, for its record.
pub(crate) enum TurnPart {
    User(UserRecord),
    Agent(AgentRecord),
    FirstAudio {
        turn: u64,
        at: Instant,
    },
    Spoken(SpokenRecord),
    Interrupted {
        turn: u64,
    },
    /// The turn's audio is over: what the user heard of it.
    Played {
        turn: u64,
        text: String,
        interrupted: bool,
    },
}

impl TurnPart {
    pub(crate) fn turn(&self) -> u64 {
        match self {
            TurnPart::User(u) => u.turn,
            TurnPart::Agent(a) => a.turn,
            TurnPart::Spoken(s) => s.turn,
            TurnPart::FirstAudio { turn, .. }
            | TurnPart::Interrupted { turn }
            | TurnPart::Played { turn, .. } => *turn,
        }
    }
}

/// What has been reported about a turn so far.
#[derive(Default)]
pub(crate) struct TurnParts {
    pub(crate) user: Option<UserRecord>,
    pub(crate) agent: Option<AgentRecord>,
    pub(crate) spoken: Option<SpokenRecord>,
    pub(crate) first_audio: Option<Instant>,
    pub(crate) interrupted: bool,
    /// What the user heard, once the turn's audio is over.
    pub(crate) played: Option<(String, bool)>,
}

impl TurnParts {
    pub(crate) fn add(&mut self, part: TurnPart) {
        match part {
            TurnPart::User(u) => self.user = Some(u),
            TurnPart::Agent(a) => self.agent = Some(a),
            TurnPart::FirstAudio { at, .. } => {
                self.first_audio.get_or_insert(at);
            }
            TurnPart::Spoken(s) => self.spoken = Some(s),
            TurnPart::Interrupted { .. } => self.interrupted = true,
            TurnPart::Played {
                text, interrupted, ..
            } => self.played = Some((text, interrupted)),
        }
    }

    /// Everything the record needs is in: the user, agent and spoken
    /// records and, when audio was played, its first-audio mark (which the
    /// Playout may report after the Tts is done) and the end of its audio.
    /// `force` (the session's end) waits for the audio no longer.
    pub(crate) fn ready(&self, force: bool) -> bool {
        let audio_pending = self.first_audio.is_none()
            && self
                .spoken
                .as_ref()
                .is_some_and(|s| s.audio_ms > 0 && !s.interrupted)
            && !self.interrupted;
        self.user.is_some()
            && self.agent.is_some()
            && self.spoken.is_some()
            && (force || (!audio_pending && self.played.is_some()))
    }
}
