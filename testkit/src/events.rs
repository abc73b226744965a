//! Looking up what a session emitted.

use arc_actors::events::Event;
use std::borrow::Borrow;

/// The first of `events` (events or `Arc`s of them) that `pick` takes
/// something from.
pub fn find_event<'a, E: Borrow<Event>, T>(
    events: &'a [E],
    pick: impl FnMut(&'a Event) -> Option<T>,
) -> Option<T> {
    events.iter().map(Borrow::borrow).find_map(pick)
}
