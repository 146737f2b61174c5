#[cogen::coroutine(crate = 3)]
fn f() {}

fn main() {}
