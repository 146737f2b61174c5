// `.await` beside `yield_!`: still the one error at the `.await`.
use cogen::prelude::*;

#[coro]
fn f() {
    yield_!(Pass::new());
    std::future::ready(1).await;
}

fn main() {}
