use cogen::prelude::*;

#[coro]
fn f() {
    yield_!(Pass::new(), Pass::new());
}

fn main() {}
