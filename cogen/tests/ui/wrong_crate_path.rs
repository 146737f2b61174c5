#[cogen::coroutine(crate = ::not_cogen)]
fn f() {}

fn main() {}
