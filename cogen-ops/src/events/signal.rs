//! `Signal` and `WaitForSignal`: named one-to-many wake-ups carrying a value.

use std::any::type_name;
use std::fmt;
use std::hash::Hash;

use cogen_core::{
    Error, Event, OpContext, OpOptions, Operation, Outcome, PendingSignal, Placement, Processed,
    RunStatus, SignalId, Wake,
};

/// Wakes every coroutine waiting on `name` and gives each a clone of `value`; `yield_!`
/// gives the number woken. A signal with no waiter is not kept: it wakes nobody and gives 0.
///
/// With [`recipients(n)`](Signal::recipients) the signaller is held until at least `n`
/// coroutines wait, then all of them are woken. Several held signals on one name are delivered
/// in order. If a held signal times out it is withdrawn, wakes nobody and gives 0.
///
/// Priority: with `Op` or `First` the woken waiters go to the front of the active queue (in
/// reverse order), else to the back (in order); with `Coro` or `First` the signaller continues
/// first, else it goes to the back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// #[coro]
/// fn listener() -> Result<String, Error> {
///     yield_!(WaitForSignal::new("news").timeout(Duration::from_secs(2)))
/// }
/// #[coro]
/// fn announcer() -> usize {
///     yield_!(Signal::new("news", String::from("hi")).recipients(1))
/// }
/// let mut sched = Scheduler::new();
/// let a = sched.add(announcer()); // held until the listener waits
/// let l = sched.add(listener());
/// sched.run()?;
/// assert_eq!(a.take_result().transpose()?, Some(1));
/// assert_eq!(l.take_result().transpose()?.transpose()?.as_deref(), Some("hi"));
/// # Ok::<(), cogen::Error>(())
/// ```
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct Signal<N, V> {
    name: Option<N>,
    /// The name's `Debug` form, kept when the name itself moved into the signal table.
    shown: Option<String>,
    id: Option<SignalId>,
    value: V,
    recipients: usize,
    woken: usize,
    opts: OpOptions,
}

impl<N, V> Signal<N, V>
where
    N: Hash + Eq + fmt::Debug + 'static,
    V: Clone + 'static,
{
    /// A signal on `name` carrying `value`.
    pub fn new(name: N, value: V) -> Self {
        Signal {
            name: Some(name),
            shown: None,
            id: None,
            value,
            recipients: 0,
            woken: 0,
            opts: OpOptions::default(),
        }
    }

    /// Holds the signaller until at least `n` coroutines wait on the name.
    pub fn recipients(mut self, n: usize) -> Self {
        self.recipients = n;
        self
    }

    fn id(&mut self, cx: &mut OpContext<'_>) -> Option<SignalId> {
        if self.id.is_none() {
            let name = self.name.as_ref()?;
            self.id = cx.signals().lookup(name);
        }
        self.id
    }

    /// Wakes every current waiter; counts those woken.
    fn deliver(&mut self, cx: &mut OpContext<'_>, id: SignalId) {
        let placement = cx.resolve(self.opts.priority).affected_placement();
        let mut waiters = cx.signals().take_waiters(id);
        for token in waiters.drain(..) {
            let event = Event::Signal { value: &self.value, type_name: type_name::<V>() };
            if cx.wake(token, event, placement) == Wake::Completed {
                self.woken += 1;
            }
        }
        cx.signals().restore_waiters(id, waiters);
    }

    fn own_placement(&self, cx: &OpContext<'_>) -> Placement {
        if cx.resolve(self.opts.priority).favours_issuer() {
            Placement::Front
        } else {
            Placement::Back
        }
    }
}

impl<N: fmt::Debug, V> fmt::Debug for Signal<N, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Signal");
        match (&self.name, &self.shown) {
            (Some(n), _) => d.field("name", n),
            (None, Some(shown)) => d.field("name", &format_args!("{shown}")),
            (None, None) => d.field("name", &self.id),
        };
        d.field("value", &type_name::<V>()).field("recipients", &self.recipients).finish()
    }
}

impl<N, V> Operation for Signal<N, V>
where
    N: Hash + Eq + fmt::Debug + 'static,
    V: Clone + 'static,
{
    type Output = usize;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let id = match self.id(cx) {
            Some(id) => id,
            None if self.recipients > 0 => match self.name.take() {
                Some(name) => {
                    self.shown = Some(format!("{name:?}"));
                    let id = cx.signals().intern(name);
                    self.id = Some(id);
                    id
                }
                None => return Processed::Complete,
            },
            // Nobody ever waited on this name: nothing to wake.
            None => return self.finish(cx),
        };
        if self.recipients > 0 && cx.signals().waiter_count(id) < self.recipients {
            let token = cx.park_token();
            cx.signals().add_pending(id, PendingSignal { token, recipients: self.recipients });
            return Processed::Park;
        }
        self.deliver(cx, id);
        self.finish(cx)
    }

    fn run(&mut self, cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        let Event::Poke = event else { return RunStatus::NotYet };
        let Some(id) = self.id else { return RunStatus::NotYet };
        if cx.signals().waiter_count(id) < self.recipients {
            // Not enough after all (a waiter timed out meanwhile): hold on again.
            let token = cx.park_token();
            cx.signals().add_pending(id, PendingSignal { token, recipients: self.recipients });
            return RunStatus::NotYet;
        }
        self.deliver(cx, id);
        RunStatus::DoneAt(self.own_placement(cx))
    }

    fn finalize(&mut self, outcome: Outcome) -> usize {
        match outcome {
            Outcome::TimedOut => 0,
            _ => self.woken,
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        if let Some(id) = self.id {
            let token = cx.park_token();
            cx.signals().remove_pending(id, token);
        }
    }
}

impl<N, V> Signal<N, V>
where
    N: Hash + Eq + fmt::Debug + 'static,
    V: Clone + 'static,
{
    fn finish(&self, cx: &OpContext<'_>) -> Processed {
        match self.own_placement(cx) {
            Placement::Front => Processed::Complete,
            Placement::Back => Processed::Yield(Placement::Back),
        }
    }
}

/// Waits for a [`Signal`] on `name` and receives a clone of its value.
///
/// `V` is the expected value type: a signal carrying another type wakes the waiter with
/// [`Error::SignalType`]. A timeout gives [`Error::Timeout`]. The name type defaults to
/// `&'static str`, so `WaitForSignal::<String>::new("abc")` reads naturally.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
/// #[coro]
/// fn lonely() -> bool {
///     let r = yield_!(WaitForSignal::<u32>::new("nobody").timeout(Duration::from_millis(10)));
///     matches!(r, Err(Error::Timeout))
/// }
/// let mut sched = Scheduler::new();
/// let h = sched.add(lonely());
/// sched.run()?;
/// assert_eq!(h.take_result().transpose()?, Some(true));
/// # Ok::<(), cogen::Error>(())
/// ```
#[must_use = "an operation does nothing until it is yielded with yield_!"]
pub struct WaitForSignal<V, N = &'static str> {
    name: Option<N>,
    /// The name's `Debug` form, kept when the name itself moved into the signal table.
    shown: Option<String>,
    id: Option<SignalId>,
    received: Option<Result<V, Error>>,
    opts: OpOptions,
}

impl<V, N> WaitForSignal<V, N>
where
    V: Clone + 'static,
    N: Hash + Eq + fmt::Debug + 'static,
{
    /// Waits on `name`.
    pub fn new(name: N) -> Self {
        WaitForSignal {
            name: Some(name),
            shown: None,
            id: None,
            received: None,
            opts: OpOptions::default(),
        }
    }
}

impl<V, N: fmt::Debug> fmt::Debug for WaitForSignal<V, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("WaitForSignal");
        match (&self.name, &self.shown) {
            (Some(n), _) => d.field("name", n),
            (None, Some(shown)) => d.field("name", &format_args!("{shown}")),
            (None, None) => d.field("name", &self.id),
        };
        d.field("value", &type_name::<V>()).finish()
    }
}

impl<V, N> Operation for WaitForSignal<V, N>
where
    V: Clone + 'static,
    N: Hash + Eq + fmt::Debug + 'static,
{
    type Output = Result<V, Error>;

    fn options(&mut self) -> &mut OpOptions {
        &mut self.opts
    }

    fn process(&mut self, cx: &mut OpContext<'_>) -> Processed {
        let id = match (self.id, self.name.as_ref().and_then(|n| cx.signals().lookup(n))) {
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => match self.name.take() {
                Some(name) => {
                    self.shown = Some(format!("{name:?}"));
                    cx.signals().intern(name)
                }
                None => return Processed::Complete,
            },
        };
        self.id = Some(id);
        let token = cx.park_token();
        cx.signals().add_waiter(id, token);
        if let Some(held) = cx.signals().take_ready_pending(id) {
            cx.poke_after_park(held.token);
        }
        Processed::Park
    }

    fn run(&mut self, _cx: &mut OpContext<'_>, event: Event<'_>) -> RunStatus {
        match event {
            Event::Signal { value, type_name: found } => {
                self.received = Some(match value.downcast_ref::<V>() {
                    Some(v) => Ok(v.clone()),
                    None => Err(Error::SignalType { expected: type_name::<V>(), found }),
                });
                RunStatus::Done
            }
            _ => RunStatus::NotYet,
        }
    }

    fn finalize(&mut self, outcome: Outcome) -> Self::Output {
        match (outcome, self.received.take()) {
            (Outcome::TimedOut, _) | (_, None) => Err(Error::Timeout),
            (_, Some(r)) => r,
        }
    }

    fn cleanup(&mut self, cx: &mut OpContext<'_>) {
        if let Some(id) = self.id {
            cx.remove_signal_waiter(id);
        }
    }
}
