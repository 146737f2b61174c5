//! Rewrites a coroutine body at the token level, so `yield_!` is found at any depth, including
//! inside other macros' arguments (`format!("{}", yield_!(child()))`).
//!
//! - `yield_!(x)`, also path-qualified (`cogen::yield_!(x)`), becomes an await on the yield
//!   helper applied to `x`, spanned at the `yield_` so type errors point there.
//! - `.await` is rejected: in a coroutine, only `yield_!` may suspend.
//! - Nested function items and `async` blocks are copied verbatim: they are not part of this
//!   coroutine's body (a nested `#[coro] fn` is rewritten by its own attribute).

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};

/// The name of the yield helper the expansion defines in each coroutine body that yields.
pub(crate) const HELPER: &str = "__cogen_yield";

/// Rewrites a body; `used` tells whether it contained a `yield_!`.
pub(crate) struct Rewriter {
    pub(crate) used: bool,
}

impl Rewriter {
    pub(crate) fn rewrite(&mut self, tokens: TokenStream) -> syn::Result<TokenStream> {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let mut out: Vec<TokenTree> = Vec::with_capacity(tts.len());
        let mut i = 0;
        while i < tts.len() {
            match &tts[i] {
                TokenTree::Ident(ident)
                    if ident == "yield_"
                        && is_punct(tts.get(i + 1), '!')
                        && matches!(tts.get(i + 2), Some(TokenTree::Group(_))) =>
                {
                    let Some(TokenTree::Group(args)) = tts.get(i + 2) else { unreachable!() };
                    check_argument(args)?;
                    strip_path_prefix(&mut out);
                    let inner = self.rewrite(args.stream())?;
                    out.extend(yield_expr(ident, inner));
                    self.used = true;
                    i += 3;
                }
                TokenTree::Ident(ident)
                    if ident == "fn" && matches!(tts.get(i + 1), Some(TokenTree::Ident(_))) =>
                {
                    // A nested function item: copy it through its body (or its `;`).
                    while let Some(tt) = tts.get(i) {
                        out.push(tt.clone());
                        i += 1;
                        match tt {
                            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => break,
                            TokenTree::Punct(p) if p.as_char() == ';' => break,
                            _ => {}
                        }
                    }
                }
                TokenTree::Ident(ident) if ident == "async" => {
                    // `async { .. }` or `async move { .. }`: a future of its own, not this body.
                    let j = if matches!(tts.get(i + 1), Some(TokenTree::Ident(m)) if m == "move") {
                        i + 2
                    } else {
                        i + 1
                    };
                    let is_block = matches!(
                        tts.get(j),
                        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace
                    );
                    let end = if is_block { j + 1 } else { i + 1 };
                    out.extend(tts[i..end].iter().cloned());
                    i = end;
                }
                TokenTree::Punct(p) if p.as_char() == '.' => {
                    if let Some(TokenTree::Ident(next)) = tts.get(i + 1)
                        && next == "await"
                    {
                        return Err(syn::Error::new(
                            next.span(),
                            "`.await` cannot suspend a cogen coroutine; use `yield_!(...)` on an \
                             operation or a coroutine instead",
                        ));
                    }
                    out.push(tts[i].clone());
                    i += 1;
                }
                TokenTree::Group(g) => {
                    let mut ng = Group::new(g.delimiter(), self.rewrite(g.stream())?);
                    ng.set_span(g.span());
                    out.push(TokenTree::Group(ng));
                    i += 1;
                }
                other => {
                    out.push(other.clone());
                    i += 1;
                }
            }
        }
        Ok(out.into_iter().collect())
    }
}

fn is_punct(tt: Option<&TokenTree>, c: char) -> bool {
    matches!(tt, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

/// `yield_!` takes exactly one expression.
fn check_argument(args: &Group) -> syn::Result<()> {
    const MESSAGE: &str = "`yield_!` takes one expression: an operation or a coroutine call, \
                           like `yield_!(Sleep::new(d))` or `yield_!(child())`";
    if args.stream().is_empty() {
        return Err(syn::Error::new(args.span(), MESSAGE));
    }
    syn::parse2::<syn::Expr>(args.stream())
        .map(drop)
        .map_err(|e| syn::Error::new(e.span(), MESSAGE))
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

/// `(__cogen_yield(inner)).await`, spanned at the `yield_` so errors point there.
fn yield_expr(at: &Ident, inner: TokenStream) -> TokenStream {
    let span: Span = at.span();
    let helper = Ident::new(HELPER, span);
    let call = quote_spanned! {span=> #helper(#inner) };
    let mut paren = Group::new(Delimiter::Parenthesis, call);
    paren.set_span(span);
    let mut dot = Punct::new('.', Spacing::Alone);
    dot.set_span(span);
    let await_kw = Ident::new("await", span);
    quote!(#paren #dot #await_kw)
}
