//! Request helpers over the raw head and body: query strings and urlencoded forms (with
//! `form_urlencoded`), and JSON bodies (feature `json`, with `serde_json`).

use http::StatusCode;
use http::header::CONTENT_TYPE;

use crate::error::Error;
use crate::request::Request;

/// The decoded `name=value` pairs of a query string or form body, in order.
pub(crate) fn pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// True if the request's `content-type` is `mime` (parameters such as `charset` ignored).
pub(crate) fn has_content_type(req: &Request, mime: &str) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(mime))
}

/// A 415 answer naming the type the handler expected.
pub(crate) fn unsupported(expected: &str) -> Error {
    Error::status(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("expected {expected}\n"))
}

impl Request {
    /// The query string's `name=value` pairs, percent- and `+`-decoded, in order (empty
    /// without a query).
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter};
    ///
    /// #[coro]
    /// fn search(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     let words: Vec<String> =
    ///         req.query_pairs().into_iter().filter(|(k, _)| k == "q").map(|(_, v)| v).collect();
    ///     yield_!(res.text(http::StatusCode::OK, words.join(" ")))
    /// }
    /// # let _ = search;
    /// ```
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query().map(|q| pairs(q.as_bytes())).unwrap_or_default()
    }

    /// The first value of the query parameter `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query()?;
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into())
    }

    /// The query parameter `name` parsed as a `T`: `Ok(None)` when absent.
    ///
    /// # Errors
    ///
    /// `Error::Status` 400 if the value does not parse.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter};
    ///
    /// #[coro]
    /// fn page(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     let n: u32 = req.query_parse("page")?.unwrap_or(1);
    ///     yield_!(res.text(http::StatusCode::OK, format!("page {n}")))
    /// }
    /// # let _ = page;
    /// ```
    pub fn query_parse<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Error> {
        match self.query_param(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| Error::bad_request(format!("bad query parameter {name}\n"))),
        }
    }

    /// Reads an `application/x-www-form-urlencoded` body of at most `limit` bytes into its
    /// decoded `name=value` pairs.
    ///
    /// # Errors
    ///
    /// `Error::Status` 415 for another `content-type`; as
    /// [`read_to_end`](Request::read_to_end) otherwise (413 over `limit`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter};
    ///
    /// #[coro]
    /// fn post(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     let form = yield_!(req.form(64 * 1024))?;
    ///     let name = form.iter().find(|(k, _)| k == "name").map_or("?", |(_, v)| v.as_str());
    ///     yield_!(res.text(http::StatusCode::OK, format!("hello {name}")))
    /// }
    /// # let _ = post;
    /// ```
    #[cogen::coroutine]
    pub fn form(&self, limit: usize) -> Result<Vec<(String, String)>, Error> {
        if !has_content_type(self, "application/x-www-form-urlencoded") {
            return Err(unsupported("application/x-www-form-urlencoded"));
        }
        let body = yield_!(self.read_to_end(limit))?;
        Ok(pairs(&body))
    }

    /// Reads an `application/json` body of at most `limit` bytes into a `T` (feature `json`).
    ///
    /// # Errors
    ///
    /// `Error::Status` 415 for another `content-type`, 400 (with serde's message) for a body
    /// that is not a `T`; as [`read_to_end`](Request::read_to_end) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use cogen::prelude::*;
    /// use cogen_web::{Error, Request, ResponseWriter};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Note { text: String }
    ///
    /// #[coro]
    /// fn add(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    ///     let note: Note = yield_!(req.json(64 * 1024))?;
    ///     yield_!(res.json(http::StatusCode::CREATED, &note.text))
    /// }
    /// # let _ = add;
    /// ```
    #[cfg(feature = "json")]
    #[cogen::coroutine]
    pub fn json<T: serde::de::DeserializeOwned>(&self, limit: usize) -> Result<T, Error> {
        if !has_content_type(self, "application/json") {
            return Err(unsupported("application/json"));
        }
        let body = yield_!(self.read_to_end(limit))?;
        serde_json::from_slice(&body).map_err(|e| Error::bad_request(format!("bad JSON: {e}\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded() {
        let got = pairs(b"a=1&b=x+y&c=%C3%A9&d&a=2");
        let want = [("a", "1"), ("b", "x y"), ("c", "é"), ("d", ""), ("a", "2")];
        let want: Vec<_> = want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(got, want);
    }
}
