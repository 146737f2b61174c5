//! Checks that the attribute sits on a function it can turn into a coroutine, with an error
//! pointing at the offending token otherwise.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;

pub(crate) fn function(item: TokenStream) -> syn::Result<syn::ItemFn> {
    let f: syn::ItemFn = syn::parse2(item.clone()).map_err(|_| {
        let span = syn::parse2::<syn::Item>(item).map_or_else(|e| e.span(), |i| i.span());
        syn::Error::new(span, "#[cogen::coroutine] can only be applied to a function or method")
    })?;
    let sig = &f.sig;
    if let Some(t) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            t,
            "a #[cogen::coroutine] function must not be `async`: the attribute already makes \
             its body a coroutine; suspend with `yield_!(...)`",
        ));
    }
    if let Some(t) = &sig.constness {
        return Err(syn::Error::new_spanned(t, "a #[cogen::coroutine] function cannot be `const`"));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new_spanned(
            abi,
            "a #[cogen::coroutine] function cannot have an `extern` ABI",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            v,
            "a #[cogen::coroutine] function cannot be variadic",
        ));
    }
    Ok(f)
}
