#[cogen::coroutine]
extern "C" fn f() {}

fn main() {}
