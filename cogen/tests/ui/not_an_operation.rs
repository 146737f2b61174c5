use cogen::prelude::*;

#[coro]
fn f() {
    yield_!(5u32);
}

fn main() {}
