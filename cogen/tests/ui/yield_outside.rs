use cogen::prelude::*;

fn not_a_coroutine() {
    yield_!(Pass::new());
}

fn main() {
    not_a_coroutine();
}
