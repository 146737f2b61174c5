//! Query strings, urlencoded forms and JSON bodies (feature `json`, on in tests through the
//! crate's dev-dependency on itself), over raw sockets.

use std::io::{self, Write};

use cogen::prelude::*;
use cogen_web::http::StatusCode;
use cogen_web::{Config, Error, Request, ResponseWriter};

mod util;

#[derive(serde::Deserialize, serde::Serialize)]
struct Note {
    text: String,
    n: u32,
}

#[coro]
fn app(req: Request, mut res: ResponseWriter) -> Result<(), Error> {
    match req.path() {
        "/query" => {
            let pairs = req.query_pairs();
            let page: u32 = req.query_parse("page")?.unwrap_or(1);
            let q = req.query_param("q").unwrap_or_default();
            yield_!(
                res.text(StatusCode::OK, format!("{} pairs, page {page}, q [{q}]", pairs.len()))
            )
        }
        "/form" => {
            let form = yield_!(req.form(1024))?;
            let line: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
            yield_!(res.text(StatusCode::OK, line.join(";")))
        }
        "/json" => {
            let mut note: Note = yield_!(req.json(1024))?;
            note.n += 1;
            yield_!(res.json(StatusCode::CREATED, &note))
        }
        _ => Err(Error::not_found("nothing here\n")),
    }
}

fn post(
    c: &mut std::net::TcpStream,
    path: &str,
    ty: &str,
    body: &str,
) -> io::Result<util::Response> {
    write!(
        c,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ty}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    util::read_response(c, false)
}

#[test]
fn queries_forms_and_json() -> io::Result<()> {
    let server = util::start(app, Config::default())?;
    let mut c = util::connect(&server)?;
    c.write_all(b"GET /query?page=3&q=caf%C3%A9+au+lait&x HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let r = util::read_response(&mut c, false)?;
    assert_eq!((r.0, r.2.as_slice()), (200, "3 pairs, page 3, q [café au lait]".as_bytes()));
    c.write_all(b"GET /query?page=x HTTP/1.1\r\nHost: x\r\n\r\n")?;
    assert_eq!(util::read_response(&mut c, false)?.0, 400, "an unparsable parameter");

    let ty = "application/x-www-form-urlencoded";
    let r = post(&mut c, "/form", ty, "name=J%C3%B6rg&msg=a+b%26c")?;
    assert_eq!((r.0, r.2.as_slice()), (200, "name=Jörg;msg=a b&c".as_bytes()));
    assert_eq!(post(&mut c, "/form", "text/plain", "a=1")?.0, 415);

    let r = post(&mut c, "/json", "application/json; charset=utf-8", r#"{"text":"hi","n":1}"#)?;
    assert_eq!(r.0, 201);
    assert_eq!(util::header(&r.1, "content-type"), Some("application/json"));
    assert_eq!(r.2, br#"{"text":"hi","n":2}"#);
    let r = post(&mut c, "/json", "application/json", r#"{"text":1}"#)?;
    assert_eq!(r.0, 400, "a body of the wrong shape");
    assert!(String::from_utf8_lossy(&r.2).starts_with("bad JSON"), "{:?}", r.2);
    assert_eq!(post(&mut c, "/json", "text/plain", "{}")?.0, 415);
    let big = format!(r#"{{"text":"{}","n":1}}"#, "x".repeat(2000));
    assert_eq!(post(&mut c, "/json", "application/json", &big)?.0, 413, "over the limit");
    Ok(())
}
