//! The router: routes by method and path pattern (literal segments, `:name` parameters, a
//! `*name` wildcard tail), with 404 for an unknown path, 405 and `Allow` for a known path
//! asked with another method, nested routers, and shared state handlers reach through the
//! request.

use std::any::Any;
use std::fmt;
use std::rc::Rc;

use cogen::Coroutine;
use http::{Method, StatusCode};

use crate::error::Error;
use crate::handler::{BoxFuture, Handler, boxed};
use crate::request::Request;
use crate::response::ResponseWriter;

type Dyn = Rc<dyn Fn(Request, ResponseWriter) -> Coroutine<BoxFuture>>;

/// Shared values a router hands to its handlers ([`Request::state`]), innermost router first.
pub(crate) type States = Vec<Rc<dyn Any>>;

/// One segment of a route pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    /// Matches this text exactly.
    Lit(String),
    /// `:name`: matches any one segment.
    Param(String),
    /// `*name`: matches the rest of the path (zero or more segments); the last segment only.
    Tail(String),
}

/// A parsed route pattern.
#[derive(Clone, Debug)]
struct Pattern {
    text: String,
    segs: Vec<Seg>,
    /// A pattern of literal segments only also matches the paths below it (`/a` matches
    /// `/a/x`), as the prefix router did; one with parameters matches exactly (or up to its
    /// wildcard tail).
    prefix: bool,
}

/// The path parameters a match captured, name and value, in pattern order.
type Params = Vec<(String, String)>;

/// How well a route matched: more segments, then more literal ones, then an exact match win.
type Score = (usize, usize, bool);

impl Pattern {
    fn parse(text: &str) -> Pattern {
        let segs: Vec<Seg> = text
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if let Some(name) = s.strip_prefix(':') {
                    Seg::Param(name.to_owned())
                } else if let Some(name) = s.strip_prefix('*') {
                    Seg::Tail(name.to_owned())
                } else {
                    Seg::Lit(s.to_owned())
                }
            })
            .collect();
        let prefix = segs.iter().all(|s| matches!(s, Seg::Lit(_)));
        let text = format!("/{}", text.trim_matches('/'));
        Pattern { text, segs, prefix }
    }

    /// Matches `path`: the score and the captured parameters.
    fn matches(&self, path: &str) -> Option<(Score, Params)> {
        let mut parts = segments(path);
        let mut params = Vec::new();
        let mut literals = 0;
        for (i, seg) in self.segs.iter().enumerate() {
            match seg {
                Seg::Tail(name) => {
                    let rest = parts.next().map_or("", |(start, _)| &path[start..]);
                    params.push((name.clone(), rest.trim_end_matches('/').to_owned()));
                    return Some(((i, literals, false), params));
                }
                Seg::Lit(text) => {
                    let (_, part) = parts.next()?;
                    if part != text {
                        return None;
                    }
                    literals += 1;
                }
                Seg::Param(name) => {
                    let (_, part) = parts.next()?;
                    params.push((name.clone(), part.to_owned()));
                }
            }
        }
        let exact = parts.next().is_none();
        (exact || self.prefix).then_some(((self.segs.len(), literals, exact), params))
    }
}

/// The non-empty segments of `path`, each with its byte offset.
fn segments(path: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    path.split('/')
        .map(move |s| {
            let start = offset;
            offset += s.len() + 1;
            (start, s)
        })
        .filter(|(_, s)| !s.is_empty())
}

#[derive(Clone)]
struct Route {
    method: Option<Method>,
    pattern: Pattern,
    handler: Dyn,
    /// The state of the nested routers this route came from, innermost first.
    states: States,
}

impl Route {
    fn allows(&self, method: &Method) -> bool {
        match &self.method {
            None => true,
            Some(m) => m == method || (*m == Method::GET && *method == Method::HEAD),
        }
    }
}

/// Routes requests by method and path pattern.
///
/// A pattern is a list of segments: literal text, `:name` (any one segment, read with
/// [`Request::param`]), or a final `*name` (the rest of the path, possibly empty). A pattern
/// of literal segments only also matches below itself (`/a` matches `/a` and `/a/x`, not
/// `/ab`; `/` matches everything). When several routes match, the one with more segments
/// wins, then the one with more literal segments, then an exact match; ties go to the route
/// added first. `GET` routes also answer `HEAD`. A path no route matches gets 404; a path
/// that matches only routes of other methods gets 405 with an `Allow` header.
///
/// [`nest`](Router::nest) mounts a router under a prefix; [`state`](Router::state) shares a
/// value with every handler of the router (and of the routers nested in it), read with
/// [`Request::state`] — no `Rc` to clone into each handler.
///
/// # Examples
///
/// ```
/// use cogen::prelude::*;
/// use cogen_web::{Error, Request, ResponseWriter, Router};
///
/// struct Greeting(&'static str);
///
/// #[coro]
/// fn item(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
///     let greeting = req.state::<Greeting>()?.0;
///     let id = req.param("id").unwrap_or_default();
///     yield_!(res.send(http::Response::new(format!("{greeting}, item {id}"))))
/// }
///
/// let api = Router::new().get("/items/:id", item).delete("/items/:id", item);
/// let router = Router::new().nest("/api", api).state(Greeting("hello"));
/// # let _ = router;
/// ```
#[derive(Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
    state: States,
}

impl Router {
    /// An empty router (everything 404).
    pub fn new() -> Self {
        Router::default()
    }

    /// Routes `method` (any method when `None`) on `pattern` to `handler`.
    pub fn route(mut self, method: Option<Method>, pattern: &str, handler: impl Handler) -> Self {
        let h: Dyn = Rc::new(move |req, res| boxed(&handler, req, res));
        let pattern = Pattern::parse(pattern);
        self.routes.push(Route { method, pattern, handler: h, states: Vec::new() });
        self
    }

    /// Routes `GET` (and `HEAD`) on `pattern`.
    pub fn get(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(Some(Method::GET), pattern, handler)
    }

    /// Routes `POST` on `pattern`.
    pub fn post(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(Some(Method::POST), pattern, handler)
    }

    /// Routes `PUT` on `pattern`.
    pub fn put(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(Some(Method::PUT), pattern, handler)
    }

    /// Routes `DELETE` on `pattern`.
    pub fn delete(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(Some(Method::DELETE), pattern, handler)
    }

    /// Routes `PATCH` on `pattern`.
    pub fn patch(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(Some(Method::PATCH), pattern, handler)
    }

    /// Routes `HEAD` on `pattern` (ahead of a `GET` route of the same pattern, if added first).
    pub fn head(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(Some(Method::HEAD), pattern, handler)
    }

    /// Routes `OPTIONS` on `pattern`.
    pub fn options(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(Some(Method::OPTIONS), pattern, handler)
    }

    /// Routes every method on `pattern`.
    pub fn any(self, pattern: &str, handler: impl Handler) -> Self {
        self.route(None, pattern, handler)
    }

    /// Mounts `router`'s routes under `prefix` (`nest("/api", r)` serves `r`'s `/items/:id`
    /// at `/api/items/:id`). The nested router's state is seen before this one's.
    pub fn nest(mut self, prefix: &str, router: Router) -> Self {
        let prefix = prefix.trim_matches('/');
        for mut route in router.routes {
            let text = format!("/{prefix}/{}", route.pattern.text.trim_start_matches('/'));
            route.pattern = Pattern::parse(&text);
            route.states.extend(router.state.iter().cloned());
            self.routes.push(route);
        }
        self
    }

    /// Shares `value` with the handlers of this router (and of the routers nested in it),
    /// read with [`Request::state::<T>()`](Request::state). One value per type; a later value
    /// of the same type is found first.
    pub fn state<T: 'static>(mut self, value: T) -> Self {
        self.state.insert(0, Rc::new(value));
        self
    }

    /// The best route for `method` on `path`, or the methods the path allows.
    fn find(&self, method: &Method, path: &str) -> Result<(&Route, Params), Allow> {
        let mut best: Option<(Score, &Route, Params)> = None;
        let mut allow = Allow::default();
        for route in &self.routes {
            let Some((score, params)) = route.pattern.matches(path) else { continue };
            if !route.allows(method) {
                allow.add(route.method.as_ref());
                continue;
            }
            if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best = Some((score, route, params));
            }
        }
        best.map(|(_, r, p)| (r, p)).ok_or(allow)
    }
}

/// The methods of the routes whose pattern matched a path (none: no route matched).
#[derive(Default)]
struct Allow(Vec<Method>);

impl Allow {
    fn add(&mut self, method: Option<&Method>) {
        let Some(m) = method else { return };
        if *m == Method::GET && !self.0.contains(&Method::HEAD) {
            self.0.push(Method::HEAD);
        }
        if !self.0.contains(m) {
            self.0.push(m.clone());
        }
    }

    fn header(&self) -> String {
        let mut names: Vec<&str> = self.0.iter().map(Method::as_str).collect();
        names.sort_unstable();
        names.join(", ")
    }
}

impl Handler for Router {
    type Future = BoxFuture;
    fn call(&self, mut req: Request, res: ResponseWriter) -> Coroutine<BoxFuture> {
        match self.find(req.method(), req.path()) {
            Ok((route, params)) => {
                let mut states = route.states.clone();
                states.extend(self.state.iter().cloned());
                req.set_route(params, states);
                (route.handler)(req, res)
            }
            Err(allow) if allow.0.is_empty() => boxed(&not_found, req, res),
            Err(allow) => {
                let allow = allow.header();
                let h = move |req, res| method_not_allowed(allow.clone(), req, res);
                boxed(&h, req, res)
            }
        }
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for r in &self.routes {
            l.entry(&(&r.method, &r.pattern.text));
        }
        l.finish()
    }
}

#[cogen::coroutine]
fn not_found(_req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    yield_!(res.text(StatusCode::NOT_FOUND, "404 Not Found\n"))
}

#[cogen::coroutine]
fn method_not_allowed(allow: String, _req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    let response = http::Response::builder()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .header(http::header::ALLOW, allow)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body("405 Method Not Allowed\n")
        .map_err(|e| Error::Handler(e.to_string()))?;
    yield_!(res.send(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
        Pattern::parse(pattern).matches(path).map(|(_, p)| p)
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn literal_patterns_match_as_prefixes() {
        assert_eq!(m("/a", "/a"), Some(vec![]));
        assert_eq!(m("/a", "/a/x/y"), Some(vec![]));
        assert_eq!(m("/a", "/ab"), None);
        assert_eq!(m("/", "/anything"), Some(vec![]));
    }

    #[test]
    fn parameters_and_tails() {
        assert_eq!(m("/items/:id", "/items/42"), Some(kv(&[("id", "42")])));
        assert_eq!(m("/items/:id", "/items/42/"), Some(kv(&[("id", "42")])));
        assert_eq!(m("/items/:id", "/items/42/x"), None, "a parameter pattern is exact");
        assert_eq!(m("/items/:id", "/items"), None);
        assert_eq!(m("/f/*path", "/f/a/b.txt"), Some(kv(&[("path", "a/b.txt")])));
        assert_eq!(m("/f/*path", "/f"), Some(kv(&[("path", "")])));
        assert_eq!(m("/u/:u/f/*rest", "/u/7/f/x/y"), Some(kv(&[("u", "7"), ("rest", "x/y")])));
    }

    #[test]
    fn scores_prefer_specific_routes() {
        let s = |p: &str, path: &str| Pattern::parse(p).matches(path).map(|(s, _)| s);
        assert!(s("/items/new", "/items/new") > s("/items/:id", "/items/new"));
        assert!(s("/items/:id", "/items/5") > s("/items", "/items/5"));
        assert!(s("/a/b", "/a/b/c") > s("/a", "/a/b/c"));
    }
}
