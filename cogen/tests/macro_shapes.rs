//! The shapes `#[cogen::coroutine]` accepts, run under a real `Scheduler`: free functions and
//! methods, generics, borrowed arguments, `impl Trait`, unit return, early `return`, `?`,
//! panics, `mut` and pattern parameters, `yield_!` inside other macros and path-qualified,
//! the `crate` argument, kept attributes, names, and trait methods.
use std::cell::Cell;
use std::fmt::Debug;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use cogen::Coroutine;
use cogen::prelude::*;

/// Runs one coroutine to completion on a fresh scheduler and returns its value.
fn run<F: Future + 'static>(c: Coroutine<F>) -> F::Output {
    let mut sched = Scheduler::new();
    let h = sched.add(c);
    sched.run().expect("the scheduler runs");
    h.take_result().expect("finished").expect("did not panic")
}

#[cogen::coroutine]
fn free(x: u32) -> u32 {
    yield_!(Pass::new());
    x + 1
}

#[test]
fn free_fn() {
    assert_eq!(run(free(41)), 42);
}

struct Counter {
    n: u32,
}

impl Counter {
    #[coro]
    fn get(&self) -> u32 {
        yield_!(Pass::new());
        self.n
    }

    #[coro]
    fn bump(&mut self, by: u32) -> u32 {
        self.n += by;
        yield_!(Pass::new());
        self.n += by;
        self.n
    }

    #[coro]
    fn into_n(self) -> u32 {
        yield_!(Pass::new());
        self.n
    }
}

#[coro]
fn use_counter() -> (u32, u32, u32) {
    let mut c = Counter { n: 1 };
    let a = yield_!(c.bump(2));
    let b = yield_!(c.get());
    (a, b, yield_!(c.into_n()))
}

#[test]
fn methods_with_self_ref_mut_and_value() {
    assert_eq!(run(use_counter()), (5, 5, 5));
    let c = Counter { n: 7 };
    assert_eq!(run(c.into_n()), 7);
}

#[coro]
fn generic<T: Clone + 'static, const N: usize>(value: T) -> Vec<T>
where
    Vec<T>: PartialEq + Debug,
{
    yield_!(Pass::new());
    vec![value; N]
}

#[test]
fn generic_fn_with_bounds_where_clause_and_const_generic() {
    assert_eq!(run(generic::<_, 3>("a")), vec!["a", "a", "a"]);
}

#[coro]
fn sum_borrowed(items: &[u32], name: &str) -> usize {
    yield_!(Pass::new());
    items.iter().sum::<u32>() as usize + name.len()
}

#[coro]
fn push_borrowed(items: &mut Vec<u32>) {
    yield_!(Pass::new());
    items.push(4);
}

#[coro]
fn borrows_locals() -> (usize, Vec<u32>) {
    let mut local_vec = vec![1, 2, 3];
    let name = String::from("xy");
    let n = yield_!(sum_borrowed(&local_vec, &name));
    yield_!(push_borrowed(&mut local_vec));
    (n, local_vec)
}

#[test]
fn a_called_coroutine_borrows_the_callers_locals() {
    assert_eq!(run(borrows_locals()), (8, vec![1, 2, 3, 4]));
}

#[coro]
fn impl_trait(it: impl Iterator<Item = u32>) -> impl Debug + PartialEq<u32> {
    yield_!(Pass::new());
    it.sum::<u32>()
}

#[coro]
fn impl_trait_borrowed<'a>(it: impl Iterator<Item = &'a u32>) -> u32 {
    yield_!(Pass::new());
    it.copied().sum()
}

#[coro]
fn uses_impl_trait() -> bool {
    let v = [1, 2, 3];
    let a = yield_!(impl_trait(v.iter().copied()));
    let b = yield_!(impl_trait_borrowed(v.iter()));
    a == b
}

#[test]
fn impl_trait_argument_and_return() {
    assert!(run(uses_impl_trait()));
    assert_eq!(run(impl_trait([4, 5].into_iter())), 9);
}

#[coro]
fn unit(flag: Rc<Cell<bool>>) {
    yield_!(Pass::new());
    flag.set(true);
}

#[test]
fn unit_return() {
    let flag = Rc::new(Cell::new(false));
    run(unit(flag.clone()));
    assert!(flag.get());
}

#[coro]
fn early(x: u32) -> &'static str {
    if x == 0 {
        return "zero";
    }
    yield_!(Pass::new());
    if x == 1 {
        return "one";
    }
    "many"
}

#[test]
fn early_return() {
    assert_eq!(run(early(0)), "zero");
    assert_eq!(run(early(1)), "one");
    assert_eq!(run(early(2)), "many");
}

#[derive(Debug, PartialEq)]
struct MyError(String);

impl From<std::num::ParseIntError> for MyError {
    fn from(e: std::num::ParseIntError) -> Self {
        MyError(e.to_string())
    }
}

#[coro]
fn parse(s: &'static str) -> Result<u32, MyError> {
    yield_!(Pass::new());
    let n: u32 = s.parse()?;
    Ok(n)
}

#[coro]
fn question_mark(a: &'static str, b: &'static str) -> Result<u32, MyError> {
    let x = yield_!(parse(a))?;
    let y = yield_!(parse(b))?;
    Ok(x + y)
}

#[test]
fn question_mark_inside() {
    assert_eq!(run(question_mark("1", "2")), Ok(3));
    assert!(run(question_mark("1", "x")).is_err());
}

#[coro]
fn only_panics() -> u32 {
    panic!("only panics")
}

#[test]
fn panic_only_body() {
    let mut sched = Scheduler::new();
    let h = sched.add(only_panics());
    sched.run().expect("the scheduler survives a panicking coroutine");
    assert!(h.take_result().expect("finished").is_err());
}

#[coro]
fn patterns((a, b): (u32, u32), mut c: u32, Counter { n }: Counter, [x, y]: [u8; 2]) -> u32 {
    c += 1;
    yield_!(Pass::new());
    c += 1;
    a + b + c + n + u32::from(x) + u32::from(y)
}

#[test]
fn mut_and_pattern_parameters() {
    assert_eq!(run(patterns((1, 2), 3, Counter { n: 10 }, [20, 30])), 1 + 2 + 5 + 10 + 50);
}

/// Sets its flag when dropped.
struct Guard(Rc<Cell<bool>>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[coro]
fn holds_guards(_named: Guard, _: Guard, flags: (Rc<Cell<bool>>, Rc<Cell<bool>>)) -> (bool, bool) {
    yield_!(Pass::new());
    (flags.0.get(), flags.1.get())
}

#[test]
fn unused_arguments_live_as_long_as_the_coroutine() {
    let (a, b) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
    let c = holds_guards(Guard(a.clone()), Guard(b.clone()), (a.clone(), b.clone()));
    assert!(!a.get() && !b.get(), "building the coroutine drops nothing");
    assert_eq!(run(c), (false, false), "both guards are alive while it runs");
    assert!(a.get() && b.get(), "and dropped when it ends");
}

#[coro]
fn in_other_macros() -> String {
    let v = vec![yield_!(free(1)), cogen::yield_!(free(2)), ::cogen::yield_!(free(3))];
    assert_eq!(yield_!(free(0)), 1, "{}", yield_!(free(9)));
    format!("{} {:?} {}", yield_!(free(yield_!(free(3)))), v, cogen::prelude::yield_![free(5)])
}

#[test]
fn yield_inside_other_macros_and_path_qualified() {
    assert_eq!(run(in_other_macros()), "5 [2, 3, 4] 6");
}

#[cogen::coroutine(crate = ::cogen)]
fn explicit_crate() -> u8 {
    yield_!(Pass::new());
    1
}

mod reexported {
    pub use cogen as my_cogen;
}

#[cogen::coroutine(crate = reexported::my_cogen)]
fn through_reexport() -> u8 {
    yield_!(Pass::new());
    2
}

#[test]
fn crate_argument() {
    assert_eq!(run(explicit_crate()), 1);
    assert_eq!(run(through_reexport()), 2);
}

/// A documented coroutine.
#[coro]
#[must_use]
#[allow(clippy::needless_return)]
#[deprecated = "kept attribute"]
fn documented() -> u8 {
    return 3;
}

#[test]
#[allow(deprecated)]
fn attributes_are_kept_and_name_is_the_fn_name() {
    assert_eq!(run(documented()), 3);
    assert_eq!(documented().name(), "documented");
    assert_eq!(free(1).name(), "free");
    assert_eq!(Counter { n: 0 }.get().name(), "get");
    assert_eq!(generic::<u8, 1>(0).name(), "generic");
}

trait Greeter {
    fn who(&self) -> String;

    #[coro]
    fn greet(&self) -> String {
        yield_!(Pass::new());
        format!("hello {}", self.who())
    }

    #[coro]
    fn shout(&self, times: usize) -> String;
}

struct Plain;

impl Greeter for Plain {
    fn who(&self) -> String {
        "plain".into()
    }

    #[coro]
    fn shout(&self, times: usize) -> String {
        let g = yield_!(self.greet());
        g.to_uppercase().repeat(times)
    }
}

struct Custom;

impl Greeter for Custom {
    fn who(&self) -> String {
        "custom".into()
    }

    #[coro]
    fn greet(&self) -> String {
        yield_!(Pass::new());
        format!("hi {}", self.who())
    }

    #[coro]
    fn shout(&self, _times: usize) -> String {
        String::from("!")
    }
}

#[coro]
fn greet_generic<G: Greeter>(g: &G) -> String {
    yield_!(g.greet())
}

#[coro]
fn use_greeters() -> Vec<String> {
    vec![
        yield_!(Plain.greet()),
        yield_!(Custom.greet()),
        yield_!(Plain.shout(2)),
        yield_!(Custom.shout(2)),
        yield_!(greet_generic(&Custom)),
    ]
}

#[test]
fn trait_methods_default_and_declared() {
    assert_eq!(
        run(use_greeters()),
        ["hello plain", "hi custom", "HELLO PLAINHELLO PLAIN", "!", "hi custom"]
    );
}

#[coro]
fn nested_items() -> u32 {
    #[coro]
    fn inner(x: u32) -> u32 {
        yield_!(Pass::new());
        x * 2
    }
    fn plain(x: u32) -> u32 {
        x + 1
    }
    let fut = async { 1 };
    drop(fut);
    let yield_ = 3;
    let not_a_yield = yield_ != 4;
    assert!(not_a_yield);
    plain(yield_!(inner(yield_)))
}

#[test]
fn nested_items_and_async_blocks_are_left_alone() {
    assert_eq!(run(nested_items()), 7);
}

#[coro]
fn sleeper(ms: u64) -> u64 {
    yield_!(Sleep::new(Duration::from_millis(ms)));
    ms
}

#[coro]
fn spawns() -> u64 {
    let a = yield_!(Spawn::new(sleeper(5)));
    let b = yield_!(sleeper(1));
    let a = yield_!(Join::new(&a)).expect("joined");
    a + b
}

#[test]
fn operations_and_calls_mix() {
    assert_eq!(run(spawns()), 6);
}
