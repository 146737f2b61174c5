//! What the printable trace knows of one host's coroutines between passes, and the events a
//! pass gave: which coroutines ran, what they had been parked on, what they park on now.
//!
//! Built from the scheduler's runnable list before a pass and its [`Dump`] after it, so the
//! scheduler itself has no hook (its hot path pays nothing for the trace).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::dump::{CoroutineInfo, CoroutineState, Dump};
use crate::id::TaskId;

use super::trace::EventKind;

/// One live coroutine as last seen.
struct Known {
    /// `name #id`.
    label: String,
    /// The operation it was parked on (kept while it waits to run after a wake).
    parked_on: Option<String>,
}

/// The coroutines of one host as of its last pass.
#[derive(Default)]
pub(crate) struct PassTrace {
    known: HashMap<TaskId, Known>,
}

fn label(c: &CoroutineInfo) -> String {
    format!("{} #{}", c.name, c.id.index)
}

impl PassTrace {
    /// The events of a pass of `host` that started with `runnable` queued and ended with
    /// `dump`; remembers `dump` for the next pass.
    pub(crate) fn after_pass(
        &mut self,
        host: IpAddr,
        runnable: &[TaskId],
        dump: &Dump,
    ) -> Vec<EventKind> {
        let after: HashMap<TaskId, &CoroutineInfo> =
            dump.coroutines.iter().map(|c| (c.id, c)).collect();
        let ran: HashSet<TaskId> = runnable.iter().copied().collect();
        let mut events = Vec::new();
        // The coroutines queued at the start ran first, in their order.
        for id in runnable {
            let prev = self.known.get(id);
            let coroutine = match (after.get(id), prev) {
                (Some(c), _) => label(c),
                (None, Some(k)) => k.label.clone(),
                (None, None) => format!("#{}", id.index),
            };
            let from = prev.and_then(|k| k.parked_on.clone());
            events.push(EventKind::Resumed { host, coroutine: coroutine.clone(), from });
            events.push(outcome(host, coroutine, after.get(id).copied()));
        }
        // Coroutines woken (or spawned) during the pass that ran in it too.
        for c in dump.coroutines.iter().filter(|c| !ran.contains(&c.id)) {
            if c.state != CoroutineState::Parked {
                continue;
            }
            let prev = self.known.get(&c.id).and_then(|k| k.parked_on.clone());
            if self.known.contains_key(&c.id) && prev.as_deref() == c.operation.as_deref() {
                continue; // still on the same operation: it did not run
            }
            events.push(EventKind::Resumed { host, coroutine: label(c), from: prev });
            events.push(outcome(host, label(c), Some(c)));
        }
        // Coroutines gone without running: cancelled (or their host's handle dropped them).
        let mut gone: Vec<(&TaskId, &Known)> = self
            .known
            .iter()
            .filter(|(id, _)| !after.contains_key(id) && !ran.contains(id))
            .collect();
        gone.sort_by_key(|(id, _)| id.index);
        for (_, k) in gone {
            events.push(EventKind::Finished { host, coroutine: k.label.clone() });
        }
        let known = dump
            .coroutines
            .iter()
            .map(|c| {
                let parked_on = match c.state {
                    CoroutineState::Parked => c.operation.clone(),
                    _ if ran.contains(&c.id) => None,
                    _ => self.known.get(&c.id).and_then(|k| k.parked_on.clone()),
                };
                (c.id, Known { label: label(c), parked_on })
            })
            .collect();
        self.known = known;
        events
    }
}

/// Where a coroutine that ran stands after the pass.
fn outcome(host: IpAddr, coroutine: String, after: Option<&CoroutineInfo>) -> EventKind {
    match after {
        None => EventKind::Finished { host, coroutine },
        Some(c) if c.state == CoroutineState::Parked => EventKind::Parked {
            host,
            coroutine,
            on: c.operation.clone().unwrap_or_else(|| "an operation".into()),
        },
        Some(_) => EventKind::Yielded { host, coroutine },
    }
}
