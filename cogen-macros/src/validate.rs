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
    if let Some(body) = &f.body {
        no_yield_in_closures(body)?;
    }
    Ok(f)
}

/// Rejects a `yield_!` inside a closure of the body with a message that says why; rustc's own
/// error there speaks of `await` and `async`, which the user never wrote. Nested functions and
/// `async` blocks are their own bodies and are not searched.
fn no_yield_in_closures(body: &syn::Block) -> syn::Result<()> {
    use syn::visit::{self, Visit};

    struct Finder {
        closures: usize,
        found: Option<proc_macro2::Span>,
    }

    impl<'a> Visit<'a> for Finder {
        fn visit_expr_closure(&mut self, c: &'a syn::ExprClosure) {
            self.closures += 1;
            visit::visit_expr_closure(self, c);
            self.closures -= 1;
        }
        fn visit_item_fn(&mut self, _: &'a syn::ItemFn) {}
        fn visit_expr_async(&mut self, _: &'a syn::ExprAsync) {}
        fn visit_macro(&mut self, m: &'a syn::Macro) {
            let is_yield = m.path.segments.last().is_some_and(|s| s.ident == "yield_");
            if is_yield && self.closures > 0 && self.found.is_none() {
                self.found = Some(m.path.span());
            }
        }
    }

    let mut finder = Finder { closures: 0, found: None };
    finder.visit_block(body);
    match finder.found {
        None => Ok(()),
        Some(span) => Err(syn::Error::new(
            span,
            "`yield_!` cannot be used inside a closure: a closure is a function of its own, not \
             part of the coroutine, so it cannot suspend it; yield in the coroutine's body (a \
             `for` loop instead of `.map(|x| ..)`), or make the closure's work a #[coro] fn and \
             `yield_!` its call",
        )),
    }
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
