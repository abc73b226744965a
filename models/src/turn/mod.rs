//! Semantic end of turn: Smart Turn v3.2 (pipecat's audio turn model, ONNX)
//! behind [`TurnEngine`](arc_actors::engine::TurnEngine).
//!
//! - [`features`]: the whisper-style log-mel features it reads.
//! - [`smart_turn`]: the model on the inference pool.

pub mod features;
pub mod smart_turn;

pub use smart_turn::{SmartTurn, TurnLoadError};
