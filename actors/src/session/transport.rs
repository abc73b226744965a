//! Transport: hands agent audio and notices to the session's output, and
//! marks the moment each turn's first audio leaves (the end of the
//! voice-to-voice latency).

use super::messages::{ArchiverMsg, TransportMsg};
use super::shared::Shared;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::Instant;

pub(crate) struct TransportActor;

pub(crate) struct TransportState {
    shared: Arc<Shared>,
    last_started_turn: u64,
}

impl Actor for TransportActor {
    type Msg = TransportMsg;
    type State = TransportState;
    type Arguments = Arc<Shared>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        shared: Arc<Shared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(TransportState {
            shared,
            last_started_turn: 0,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TransportMsg::Play { turn, frame } => {
                if turn > st.last_started_turn {
                    st.last_started_turn = turn;
                    st.shared.to_archiver(ArchiverMsg::FirstAudio {
                        turn,
                        at: Instant::now(),
                    });
                }
                st.shared.output.play(turn, frame);
            }
            TransportMsg::Flush => st.shared.output.flush(),
            TransportMsg::Notice(n) => st.shared.output.notice(n),
            TransportMsg::Fault => panic!("fault injected into transport"),
        }
        Ok(())
    }
}
