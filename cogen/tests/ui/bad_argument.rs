#[cogen::coroutine(foo)]
fn f() {}

fn main() {}
