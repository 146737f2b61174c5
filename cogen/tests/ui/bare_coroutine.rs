// Stable rustc reserves the bare name for its own unstable coroutines: this is ambiguous even
// with our macro imported by name. Write `#[cogen::coroutine]` or `#[coro]`.
use cogen::coroutine;

#[coroutine]
fn f() {}

fn main() {}
