// A std future is not an operation: cogen coroutines run on the cogen scheduler only.
use cogen::prelude::*;

#[coro]
fn f() -> i32 {
    yield_!(std::future::ready(1))
}

fn main() {}
