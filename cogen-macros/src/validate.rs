//! Checks that the attribute sits on a function it can turn into a coroutine, with an error
//! pointing at the offending token otherwise.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;

/// A function the attribute accepts: a free function or method with a body, or a trait method
/// declaration without one.
pub(crate) struct Function {
    pub(crate) attrs: Vec<syn::Attribute>,
    pub(crate) vis: syn::Visibility,
    pub(crate) sig: syn::Signature,
    /// `None` for a trait method declaration (`fn f(&self) -> T;`).
    pub(crate) body: Option<syn::Block>,
}

pub(crate) fn function(item: TokenStream) -> syn::Result<Function> {
    let f = parse(item)?;
    let sig = &f.sig;
    if let Some(t) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            t,
            "a #[cogen::coroutine] function must not be `async`: the attribute already makes \
             its body a coroutine; remove `async` and suspend with `yield_!(...)`",
        ));
    }
    if let Some(t) = &sig.constness {
        return Err(syn::Error::new_spanned(
            t,
            "a #[cogen::coroutine] function cannot be `const`: it builds a coroutine at run time",
        ));
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

/// Parses a function or trait method, without judging it.
pub(crate) fn parse(item: TokenStream) -> syn::Result<Function> {
    if let Ok(f) = syn::parse2::<syn::ItemFn>(item.clone()) {
        let syn::ItemFn { attrs, vis, sig, block } = f;
        return Ok(Function { attrs, vis, sig, body: Some(*block) });
    }
    if let Ok(f) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
        let syn::TraitItemFn { attrs, sig, default, .. } = f;
        return Ok(Function { attrs, vis: syn::Visibility::Inherited, sig, body: default });
    }
    let span = match syn::parse2::<syn::Item>(item) {
        Ok(syn::Item::Fn(f)) => f.sig.fn_token.span(),
        Ok(item) => item_keyword_span(&item),
        Err(e) => e.span(),
    };
    Err(syn::Error::new(
        span,
        "#[cogen::coroutine] can only be applied to a function or method (`fn name(...) { ... }`)",
    ))
}

/// The span of the keyword that says what the item is (`struct`, `impl`, ...), else the item.
fn item_keyword_span(item: &syn::Item) -> proc_macro2::Span {
    match item {
        syn::Item::Struct(i) => i.struct_token.span(),
        syn::Item::Enum(i) => i.enum_token.span(),
        syn::Item::Union(i) => i.union_token.span(),
        syn::Item::Impl(i) => i.impl_token.span(),
        syn::Item::Trait(i) => i.trait_token.span(),
        syn::Item::Mod(i) => i.mod_token.span(),
        syn::Item::Const(i) => i.const_token.span(),
        syn::Item::Static(i) => i.static_token.span(),
        syn::Item::Type(i) => i.type_token.span(),
        syn::Item::Use(i) => i.use_token.span(),
        other => other.span(),
    }
}
