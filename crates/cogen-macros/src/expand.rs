//! The expansion: the function keeps its signature but returns a `Coroutine` wrapping its body
//! as an `async move` block, with every `yield_!(x)` rewritten to an await on
//! `IntoYield::into_yield(x)`.

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};

use crate::args::Args;

pub(crate) fn coroutine(args: &Args, f: syn::ItemFn) -> TokenStream {
    let krate = &args.krate;
    let syn::ItemFn { attrs, vis, mut sig, block } = f;
    let output = match &sig.output {
        syn::ReturnType::Default => quote!(()),
        syn::ReturnType::Type(_, ty) => quote!(#ty),
    };
    sig.output = syn::parse_quote! {
        -> #krate::__private::Coroutine<impl #krate::__private::Future<Output = #output>>
    };
    let name = sig.ident.to_string();
    let body = match rewrite(quote!(#block), krate) {
        Ok(body) => body,
        Err(e) => return e.to_compile_error(),
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #krate::__private::coroutine(#name, async move #body)
        }
    }
}

/// Rewrites `yield_!(x)` (also `cogen::yield_!(x)`) into an await on `x`, at any depth,
/// including inside other macros' arguments. Rejects `.await`: in a coroutine, only `yield_!`
/// may suspend.
fn rewrite(tokens: TokenStream, krate: &syn::Path) -> syn::Result<TokenStream> {
    let mut out: Vec<TokenTree> = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    while let Some(tt) = iter.next() {
        match tt {
            TokenTree::Ident(ident) if ident == "yield_" => {
                let is_bang =
                    matches!(iter.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                if !is_bang {
                    out.push(TokenTree::Ident(ident));
                    continue;
                }
                let bang = iter.next();
                match iter.next() {
                    Some(TokenTree::Group(args)) => {
                        strip_path_prefix(&mut out);
                        let inner = rewrite(args.stream(), krate)?;
                        out.extend(yield_expr(&ident, inner, krate));
                    }
                    other => {
                        return Err(syn::Error::new(
                            other.map_or(ident.span(), |t| t.span()),
                            "expected `yield_!(expression)`",
                        ));
                    }
                }
                drop(bang);
            }
            TokenTree::Punct(p) if p.as_char() == '.' => {
                if let Some(TokenTree::Ident(next)) = iter.peek()
                    && next == "await"
                {
                    return Err(syn::Error::new(
                        next.span(),
                        "`.await` cannot suspend a cogen coroutine; use `yield_!(...)` on an \
                         operation or a coroutine instead",
                    ));
                }
                out.push(TokenTree::Punct(p));
            }
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), rewrite(g.stream(), krate)?);
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
            }
            other => out.push(other),
        }
    }
    Ok(out.into_iter().collect())
}

/// Removes a path prefix (`cogen::`, `::cogen::`, `$crate::`) already emitted before `yield_`.
fn strip_path_prefix(out: &mut Vec<TokenTree>) {
    loop {
        let n = out.len();
        let ends_with_colons = n >= 2
            && matches!(&out[n - 1], TokenTree::Punct(p) if p.as_char() == ':')
            && matches!(&out[n - 2], TokenTree::Punct(p) if p.as_char() == ':' && p.spacing() == Spacing::Joint);
        if !ends_with_colons {
            return;
        }
        out.truncate(n - 2);
        if let Some(TokenTree::Ident(_)) = out.last() {
            out.pop();
        }
    }
}

/// `(IntoYield::into_yield(inner)).await`, spanned at the `yield_` so errors point there.
fn yield_expr(at: &Ident, inner: TokenStream, krate: &syn::Path) -> TokenStream {
    let span: Span = at.span();
    let call = quote_spanned! {span=>
        #krate::__private::IntoYield::into_yield(#inner)
    };
    let mut paren = Group::new(Delimiter::Parenthesis, call);
    paren.set_span(span);
    let mut dot = Punct::new('.', Spacing::Alone);
    dot.set_span(span);
    let await_kw = Ident::new("await", span);
    quote!(#paren #dot #await_kw)
}
