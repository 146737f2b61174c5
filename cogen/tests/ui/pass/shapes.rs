//! Shapes the attribute accepts: free functions and methods, generics and where clauses,
//! borrowed arguments, `impl Trait`, patterns, `mut` parameters, early return, `?`, a
//! panic-only body, `yield_!` inside other macros and path-qualified, the `crate` argument,
//! trait methods (default and declared), nested items, and `_` arguments. The expansion adds no
//! warning of its own.
#![deny(warnings)]
use std::fmt::Debug;

use cogen::prelude::*;

#[cogen::coroutine]
fn free(x: u32) -> u32 {
    x
}

#[coro]
fn borrowed(items: &[u32], name: &str) -> usize {
    yield_!(Pass::new());
    items.len() + name.len()
}

#[coro]
fn generic<T: Clone + Debug + 'static>(value: T) -> Vec<T>
where
    T: PartialEq,
{
    vec![value.clone(), value]
}

#[coro]
fn impl_trait(it: impl Iterator<Item = u32>) -> impl Debug {
    it.sum::<u32>()
}

#[coro]
fn patterns((a, b): (u32, u32), mut c: u32) -> u32 {
    c += 1;
    a + b + c
}

#[coro]
fn early(x: u32) -> Result<u32, String> {
    if x == 0 {
        return Err("zero".into());
    }
    let y: u32 = "7".parse().map_err(|_| String::from("parse"))?;
    Ok(x + y)
}

#[coro]
fn only_panics() -> u32 {
    panic!("never called")
}

#[coro]
fn in_macros() -> String {
    let v = vec![yield_!(free(1)), cogen::yield_!(free(2))];
    format!("{} {:?}", yield_!(free(3)), v)
}

#[cogen::coroutine(crate = ::cogen)]
fn explicit_crate() {}

struct Counter {
    n: u32,
}

impl Counter {
    #[coro]
    fn get(&self) -> u32 {
        self.n
    }

    #[coro]
    fn bump(&mut self, by: u32) -> u32 {
        self.n += by;
        yield_!(Pass::new());
        self.n
    }
}

#[coro]
fn uses_everything() -> u32 {
    let items = vec![1, 2, 3];
    let mut c = Counter { n: 0 };
    let a = yield_!(borrowed(&items, "xy"));
    let b = yield_!(c.bump(2)) + yield_!(c.get());
    let g = yield_!(generic(5u8));
    let _ = yield_!(impl_trait(items.iter().copied()));
    let p = yield_!(patterns((1, 2), 3));
    let e = yield_!(early(1)).unwrap_or(0);
    let _ = (yield_!(in_macros()), yield_!(explicit_crate()), only_panics);
    a as u32 + b + g.len() as u32 + p + e
}

trait Named {
    #[coro]
    fn name_len(&self) -> usize;

    #[coro]
    fn twice(&self) -> usize {
        yield_!(self.name_len()) * 2
    }
}

impl Named for Counter {
    #[coro]
    fn name_len(&self) -> usize {
        self.n as usize
    }
}

#[coro]
fn nested(_: u8, _unused: u8) -> u32 {
    #[coro]
    fn inner() -> u32 {
        yield_!(free(1))
    }
    yield_!(inner())
}

fn main() {
    let _ = (nested(0, 0), Counter { n: 1 }.twice());
    let mut s = Scheduler::new();
    let h = s.add(uses_everything());
    s.run().expect("runs");
    assert_eq!(h.take_result().transpose().expect("no panic"), Some(5 + 4 + 2 + 7 + 8));
}
