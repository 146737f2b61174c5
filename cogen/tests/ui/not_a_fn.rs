#[cogen::coroutine]
struct NotAFunction;

fn main() {}
