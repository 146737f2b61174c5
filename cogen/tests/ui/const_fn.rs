#[cogen::coroutine]
const fn f() {}

fn main() {}
