#[cogen::coroutine(crate = ::cogen, crate = ::cogen)]
fn f() {}

fn main() {}
