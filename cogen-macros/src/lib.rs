//! The `#[cogen::coroutine]` attribute (also `#[coro]` from `cogen::prelude`). This file only
//! dispatches: `args` parses the attribute's arguments, `validate` checks the item, `expand`
//! writes the coroutine constructor and `rewrite` turns `yield_!` in its body into suspension
//! points.
//!
//! Use it through the `cogen` crate; see its documentation for examples.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod expand;
mod rewrite;
mod validate;

use proc_macro::TokenStream;

/// Turns a function into a constructor of a not-yet-started coroutine.
///
/// The body becomes a state machine that suspends at each `yield_!(...)`. Arguments:
/// `crate = path` names the `cogen` facade when it is re-exported under another path.
///
/// It applies to free functions, methods, trait methods with a default body, and trait method
/// declarations (`#[coro] fn f(&self) -> T;`, implemented with `#[coro]` too; such a trait
/// returns `impl Future` and is therefore not dyn-compatible).
///
/// Write it as `#[cogen::coroutine]`, or `#[coro]` after `use cogen::prelude::*`. A bare
/// `#[coroutine]` cannot work: rustc reserves that name for its own unstable coroutines and
/// rejects it as ambiguous.
#[proc_macro_attribute]
pub fn coroutine(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let args = args::parse(attr.into());
    let result = args.clone().and_then(|args| {
        let f = validate::function(item.clone())?;
        expand::coroutine(&args, f)
    });
    match result {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            // Emit a stand-in for the item beside the error, so the user sees this error only.
            let mut out = err.to_compile_error();
            out.extend(expand::stand_in(args.ok(), item));
            out.into()
        }
    }
}
