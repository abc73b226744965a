//! What every part of a running node shares, as values: the [`NodeContext`]
//! (configuration, the session supervisor, the event sink, the identity, the
//! metrics, the draining flag), the node's [`identity`], and the one
//! [`Shutdown`] that stops its tasks in a stated order.
//!
//! `node` sits below the transports, the cluster code and the HTTP server,
//! which all take a `NodeContext`; it calls only `config` and `ops`.

mod access;
mod context;
pub(crate) mod identity;
mod shutdown;

pub(crate) use access::{Access, Need};
pub use context::NodeContext;
pub(crate) use shutdown::{Shutdown, Stage};
