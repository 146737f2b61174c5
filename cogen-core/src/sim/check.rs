//! The seed sweep: [`check`] runs a scenario under many seeds and reports the first that
//! fails, with how to replay it and, when recorded, the end of its trace.

use std::fmt;

use super::Sim;
use super::trace::{TRACE_TAIL, TRACE_VAR, Trace};

/// The environment variable that makes [`check`] run one seed only (to replay a failure).
pub const SEED_VAR: &str = "COGEN_SIM_SEED";

/// A scenario that failed under [`check`]: its seed, its error, the run's trace hash and,
/// if it was recorded, the last [`TRACE_TAIL`] events of its trace.
#[derive(Debug)]
#[non_exhaustive]
pub struct CheckFailure<E> {
    /// The failing seed.
    pub seed: u64,
    /// The scenario's error.
    pub error: E,
    /// [`Sim::trace_hash`] when the scenario returned.
    pub trace_hash: u64,
    /// The end of the run's printable trace, when it was recorded (a replay with
    /// `COGEN_SIM_SEED`, `COGEN_SIM_TRACE` set, or [`Sim::record_trace`] in the scenario).
    pub trace: Option<Trace>,
}

impl<E: fmt::Display> fmt::Display for CheckFailure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "simulation failed with seed {seed}: {error} (trace {hash:#018x}); replay it with \
             {SEED_VAR}={seed}",
            seed = self.seed,
            error = self.error,
            hash = self.trace_hash,
        )?;
        match &self.trace {
            Some(trace) => write!(f, "\nthe end of its trace:\n{trace}"),
            None => {
                write!(f, " (the replay prints the end of its trace; {TRACE_VAR}=1 records it)")
            }
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for CheckFailure<E> {}

/// Runs `scenario` on a fresh [`Sim`] for each seed (only the one in `COGEN_SIM_SEED` if that
/// is set), and stops at the first error, which it prints to stderr with the seed and the
/// command to replay it. A replay (`COGEN_SIM_SEED` set) records the printable trace, and
/// so does every run with `COGEN_SIM_TRACE=1`; a failure then prints its last
/// [`TRACE_TAIL`] events. Returns the number of seeds run.
///
/// # Errors
///
/// The first failure, as a [`CheckFailure`]; also if `COGEN_SIM_SEED` is set but is not a
/// number (with seed 0 and an error saying so, if `E` can be made from a string).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
///
/// #[coro]
/// fn nap() { yield_!(Sleep::new(Duration::from_secs(1))); }
///
/// let seeds = cogen::sim::check(0..10, |sim| -> Result<(), Error> {
///     let host = sim.host("10.0.0.1".parse().map_err(std::io::Error::other)?)?;
///     host.spawn(nap());
///     sim.run()
/// })?;
/// assert!(seeds == 10 || std::env::var("COGEN_SIM_SEED").is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check<E, F>(
    seeds: impl IntoIterator<Item = u64>,
    mut scenario: F,
) -> Result<usize, CheckFailure<E>>
where
    E: fmt::Display + From<std::io::Error>,
    F: FnMut(&mut Sim) -> Result<(), E>,
{
    let forced = match std::env::var(SEED_VAR) {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(seed) => Some(seed),
            Err(e) => {
                let error = std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{SEED_VAR}={v:?} is not a seed: {e}"),
                );
                let error = E::from(error);
                return Err(CheckFailure { seed: 0, error, trace_hash: 0, trace: None });
            }
        },
        Err(_) => None,
    };
    let seeds: Box<dyn Iterator<Item = u64>> = match forced {
        Some(seed) => Box::new(std::iter::once(seed)),
        None => Box::new(seeds.into_iter()),
    };
    let mut ran = 0;
    for seed in seeds {
        let mut sim = Sim::new(seed);
        if forced.is_some() {
            sim.record_trace(true);
        }
        let outcome = scenario(&mut sim);
        ran += 1;
        if let Err(error) = outcome {
            let trace = sim.is_recording_trace().then(|| sim.trace().tail(TRACE_TAIL));
            let failure = CheckFailure { seed, error, trace_hash: sim.trace_hash(), trace };
            eprintln!("{failure}");
            return Err(failure);
        }
    }
    Ok(ran)
}
