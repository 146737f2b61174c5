//! The expansion: the function keeps its signature but returns a `Coroutine` wrapping its body
//! as an `async move` block, with every `yield_!(x)` rewritten to an await on `x` (see
//! `rewrite`).
//!
//! Like an `async fn`, the coroutine owns its arguments until it finishes: a `_guard` or `_`
//! argument is dropped when the coroutine ends, not when it is built.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::args::Args;
use crate::rewrite::{HELPER, Rewriter};
use crate::validate::Function;

pub(crate) fn coroutine(args: &Args, f: Function) -> syn::Result<TokenStream> {
    let krate = &args.krate;
    let Function { attrs, vis, mut sig, body } = f;
    let output = match &sig.output {
        syn::ReturnType::Default => quote!(()),
        syn::ReturnType::Type(_, ty) => quote!(#ty),
    };
    sig.output = syn::parse_quote! {
        -> #krate::__private::Coroutine<impl #krate::__private::Future<Output = #output>>
    };
    let Some(block) = body else {
        // A trait method declaration: only the signature changes.
        return Ok(quote! { #(#attrs)* #vis #sig; });
    };
    let holds = hold_arguments(&mut sig);
    let mut rewriter = Rewriter { used: false };
    // The statements are spliced after the argument bindings: wrapping the whole block would
    // trip `unused_braces` on a one-expression body.
    let stmts = &block.stmts;
    let body = rewriter.rewrite(quote!(#(#stmts)*))?;
    let helper = rewriter.used.then(|| {
        let helper = Ident::new(HELPER, Span::call_site());
        quote! {
            #[inline(always)]
            fn #helper<Y: #krate::__private::IntoYield>(y: Y)
                -> impl #krate::__private::Future<Output = Y::Output>
            {
                #krate::__private::IntoYield::into_yield(y)
            }
        }
    });
    let name = sig.ident.to_string();
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #helper
            #krate::__private::coroutine(#name, async move {
                #(#holds)*
                #body
            })
        }
    })
}

/// What to emit beside a compile error: the item as a coroutine constructor whose body only
/// panics, so that neither its body (its `yield_!`s) nor its callers add errors of their own.
/// An item that is not a function is emitted unchanged.
pub(crate) fn stand_in(args: Option<Args>, item: TokenStream) -> TokenStream {
    let Ok(mut f) = crate::validate::parse(item.clone()) else { return item };
    f.sig.asyncness = None;
    f.sig.constness = None;
    f.sig.abi = None;
    f.sig.variadic = None;
    if f.body.is_some() {
        f.body = Some(syn::parse_quote!({ ::core::unimplemented!() }));
    }
    f.attrs.push(syn::parse_quote!(#[allow(unused)]));
    coroutine(&args.unwrap_or_default(), f).unwrap_or(item)
}

/// Makes the coroutine own every argument the body may not mention, as an `async fn` does:
/// an argument bound by a pattern other than a name is renamed and destructured inside the
/// body, and a `_name` or `_` argument is held by the body.
fn hold_arguments(sig: &mut syn::Signature) -> Vec<TokenStream> {
    let mut holds = Vec::new();
    for (i, arg) in sig.inputs.iter_mut().enumerate() {
        let syn::FnArg::Typed(arg) = arg else { continue };
        match &*arg.pat {
            syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                let ident = &p.ident;
                if ident.to_string().starts_with('_') {
                    holds.push(quote!(let _ = &#ident;));
                }
            }
            _ => {
                let renamed = Ident::new(&format!("__arg{i}"), Span::mixed_site());
                let pat = std::mem::replace(&mut *arg.pat, syn::parse_quote!(#renamed));
                holds.push(match pat {
                    syn::Pat::Wild(_) => quote!(let _ = &#renamed;),
                    pat => quote!(let #pat = #renamed;),
                });
            }
        }
    }
    holds
}
