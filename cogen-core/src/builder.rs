//! The scheduler's configuration and its builder.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::error::Error;
use crate::priority::Priority;
use crate::scheduler::Scheduler;

/// A coroutine that panicked while nobody joined it, as given to the panic hook.
#[derive(Clone, Debug)]
pub struct PanicReport {
    /// The coroutine's name.
    pub name: &'static str,
    /// The panic message.
    pub message: String,
}

/// The hook type for unjoined panics.
pub type PanicHook = Rc<dyn Fn(&PanicReport)>;

/// A common bound for [`SchedulerBuilder::reactor_resolution`] (the default before the
/// reactor moved to `polling`; now there is none by default).
pub const DEFAULT_REACTOR_RESOLUTION: Duration = Duration::from_secs(1);
/// Default for [`SchedulerBuilder::default_buffer_size`]: one page pair, a common socket read.
pub const DEFAULT_BUFFER_SIZE: usize = 8192;

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) default_priority: Priority,
    pub(crate) default_timeout: Option<Duration>,
    pub(crate) socket_timeout: Option<Duration>,
    pub(crate) reactor_resolution: Option<Duration>,
    pub(crate) reactor_greedy: bool,
    pub(crate) ops_greedy: bool,
    pub(crate) default_buffer_size: usize,
    pub(crate) panic_hook: PanicHook,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_priority: Priority::Last,
            default_timeout: None,
            socket_timeout: None,
            reactor_resolution: None,
            reactor_greedy: true,
            ops_greedy: false,
            default_buffer_size: DEFAULT_BUFFER_SIZE,
            panic_hook: Rc::new(|r: &PanicReport| {
                eprintln!(
                    "cogen: coroutine `{}` panicked: {} (nobody joined it)",
                    r.name, r.message
                )
            }),
        }
    }
}

/// Builds a [`Scheduler`] with non-default settings.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cogen::prelude::*;
///
/// let sched = Scheduler::builder()
///     .default_priority(Priority::First)
///     .default_timeout(Duration::from_secs(15))
///     .ops_greedy(true)
///     .build()?;
/// # drop(sched);
/// # Ok::<(), cogen::Error>(())
/// ```
#[derive(Default)]
pub struct SchedulerBuilder {
    config: Config,
}

impl fmt::Debug for SchedulerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("SchedulerBuilder")
            .field("default_priority", &c.default_priority)
            .field("default_timeout", &c.default_timeout)
            .field("socket_timeout", &c.socket_timeout)
            .field("reactor_resolution", &c.reactor_resolution)
            .field("reactor_greedy", &c.reactor_greedy)
            .field("ops_greedy", &c.ops_greedy)
            .field("default_buffer_size", &c.default_buffer_size)
            .finish_non_exhaustive()
    }
}

impl SchedulerBuilder {
    /// The priority that replaces `Priority::Default` on every operation. Default: `Last`.
    pub fn default_priority(mut self, priority: Priority) -> Self {
        self.config.default_priority = priority.resolve(Priority::Last);
        self
    }

    /// A timeout for every operation that has none of its own (`Sleep` keeps its own
    /// duration; use `.no_timeout()` on an operation to opt out). Default: none.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.config.default_timeout = Some(timeout);
        self
    }

    /// A timeout for every socket operation that has none of its own; it takes precedence
    /// over `default_timeout` for sockets (the original's socket default timeout). Default:
    /// none.
    pub fn socket_timeout(mut self, timeout: Duration) -> Self {
        self.config.socket_timeout = Some(timeout);
        self
    }

    /// The longest the reactor waits in one call when no timer bounds the wait. Default: none
    /// (the wait passes no timeout, which costs the fewest system calls). Wake-ups (I/O,
    /// timers, remote handles) never wait for it; it bounds how long a lost notification could
    /// go unnoticed.
    pub fn reactor_resolution(mut self, resolution: Duration) -> Self {
        self.config.reactor_resolution = Some(resolution.max(Duration::from_micros(1)));
        self
    }

    /// Poll for I/O on every loop pass, even while coroutines are runnable (only when some
    /// operation waits on I/O). Default: true, as in the original.
    pub fn reactor_greedy(mut self, greedy: bool) -> Self {
        self.config.reactor_greedy = greedy;
        self
    }

    /// Try an I/O operation before registering it, even when readiness is unknown. Default:
    /// false, as in the original.
    pub fn ops_greedy(mut self, greedy: bool) -> Self {
        self.config.ops_greedy = greedy;
        self
    }

    /// The read buffer size socket operations use when none is given. Default: 8192 bytes.
    pub fn default_buffer_size(mut self, size: usize) -> Self {
        self.config.default_buffer_size = size.max(1);
        self
    }

    /// Called when a coroutine panics while nobody joins it. Default: a line on stderr.
    pub fn panic_hook(mut self, hook: impl Fn(&PanicReport) + 'static) -> Self {
        self.config.panic_hook = Rc::new(hook);
        self
    }

    /// Builds the scheduler.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the OS poller cannot be created (out of file descriptors, say).
    pub fn build(self) -> Result<Scheduler, Error> {
        Scheduler::with_config(self.config)
    }
}
