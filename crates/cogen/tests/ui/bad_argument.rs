#[cogen::coroutine(fast)]
fn f() {}

fn main() {}
