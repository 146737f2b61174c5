use cogen::prelude::*;

#[coro]
fn f() {
    yield_!();
}

fn main() {}
