//! The original cogen tutorials, in Rust: a coroutine call with a return value, then signals
//! carrying values and a wait that times out.
//!
//! Run: `cargo run -p cogen-examples --bin tutorial`. It prints `foo`, `bar`,
//! `spam, ham and eggs`, then `spam`, `ham`, `eggs` and `No more stuff !`.
use std::time::Duration;

use cogen::prelude::*;

#[coro]
fn bar(what: &'static str) -> String {
    println!("bar");
    format!("spam, {what} and eggs")
}

#[coro]
fn foo() {
    println!("foo");
    let result = yield_!(bar("ham"));
    println!("{result}");
}

#[coro]
fn sender() {
    for word in ["spam", "ham", "eggs"] {
        yield_!(Signal::new("bar", word));
    }
    yield_!(Sleep::new(Duration::from_secs(3)));
}

#[coro]
fn receiver() {
    for _ in 0..3 {
        match yield_!(WaitForSignal::<&str>::new("bar")) {
            Ok(word) => println!("{word}"),
            Err(e) => println!("error: {e}"),
        }
    }
    match yield_!(WaitForSignal::<&str>::new("bar").timeout(Duration::from_secs(2))) {
        Ok(word) => println!("{word}"),
        Err(Error::Timeout) => println!("No more stuff !"),
        Err(e) => println!("error: {e}"),
    }
}

fn main() -> Result<(), Error> {
    let mut sched = Scheduler::new();
    sched.add(foo());
    sched.run()?;

    let mut sched = Scheduler::new();
    sched.add(receiver());
    sched.add(sender());
    sched.run()
}
