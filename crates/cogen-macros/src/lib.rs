//! The `#[cogen::coroutine]` attribute (also `#[coro]` from `cogen::prelude`). This file only
//! dispatches: `args` parses the attribute's arguments, `validate` checks the item, and
//! `expand` writes the coroutine constructor.
//!
//! Use it through the `cogen` crate; see its documentation for examples.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod expand;
mod validate;

use proc_macro::TokenStream;

/// Turns a function into a constructor of a not-yet-started coroutine.
///
/// The body becomes a state machine that suspends at each `yield_!(...)`. Arguments:
/// `crate = path` names the `cogen` facade when it is re-exported under another path.
///
/// Write it as `#[cogen::coroutine]`, or `#[coro]` after `use cogen::prelude::*`. A bare
/// `#[coroutine]` cannot work: rustc reserves that name for its own unstable coroutines and
/// rejects it as ambiguous.
#[proc_macro_attribute]
pub fn coroutine(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2 = proc_macro2::TokenStream::from(item);
    let result = args::parse(attr.into())
        .and_then(|args| validate::function(item2.clone()).map(|f| (args, f)))
        .map(|(args, f)| expand::coroutine(&args, f));
    match result {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            // Emit the item unchanged beside the error, so the user sees this error only.
            let mut out = err.to_compile_error();
            out.extend(item2);
            out.into()
        }
    }
}
