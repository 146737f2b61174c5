// Only the coroutine's own body can suspend: a closure inside it is an ordinary function.
use cogen::prelude::*;

#[coro]
fn f() {
    let c = || yield_!(Pass::new());
    c();
}

fn main() {}
