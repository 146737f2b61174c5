//! Parsing of the attribute's arguments: `#[cogen::coroutine]` or
//! `#[cogen::coroutine(crate = path)]`.

use proc_macro2::TokenStream;
use syn::parse::Parser;

/// The parsed arguments.
pub(crate) struct Args {
    /// The path of the `cogen` facade crate (default `::cogen`).
    pub(crate) krate: syn::Path,
}

pub(crate) fn parse(attr: TokenStream) -> syn::Result<Args> {
    let mut krate: syn::Path = syn::parse_quote!(::cogen);
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            krate = meta.value()?.parse().map_err(|e: syn::Error| {
                syn::Error::new(
                    e.span(),
                    "`crate = ...` expects the path of the cogen crate, like `crate = ::cogen`",
                )
            })?;
            Ok(())
        } else {
            Err(meta.error(
                "unknown argument to #[cogen::coroutine]; the only argument is `crate = path`",
            ))
        }
    });
    parser.parse2(attr)?;
    Ok(Args { krate })
}
