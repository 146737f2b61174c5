//! Parsing of the attribute's arguments: `#[cogen::coroutine]` or
//! `#[cogen::coroutine(crate = path)]`.

use proc_macro2::TokenStream;
use syn::parse::Parser;

/// The parsed arguments.
#[derive(Clone)]
pub(crate) struct Args {
    /// The path of the `cogen` facade crate (default `::cogen`).
    pub(crate) krate: syn::Path,
}

pub(crate) fn parse(attr: TokenStream) -> syn::Result<Args> {
    let mut krate: Option<syn::Path> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            if krate.is_some() {
                return Err(meta.error("`crate` is given twice"));
            }
            let path = meta.value()?.parse().map_err(|e: syn::Error| {
                syn::Error::new(
                    e.span(),
                    "`crate = ...` expects the path of the cogen crate, like `crate = ::cogen`",
                )
            })?;
            krate = Some(path);
            Ok(())
        } else {
            Err(meta.error(
                "unknown argument to #[cogen::coroutine]; the only argument is `crate = path`",
            ))
        }
    });
    parser.parse2(attr)?;
    Ok(krate.map_or_else(Args::default, |krate| Args { krate }))
}

impl Default for Args {
    fn default() -> Self {
        Args { krate: syn::parse_quote!(::cogen) }
    }
}
