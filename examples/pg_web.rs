//! A small inventory service on PostgreSQL: cogen-web handlers query the database with
//! `tokio-postgres`, whose futures run on the shared tokio runtime through `OnTokio` while the
//! scheduler goes on serving other requests.
//!
//! - `POST /items` (form fields `name`, `qty`) inserts a row with parameters: 201 and its id;
//!   409 for a name already there, 400 for a value the table refuses (negative `qty`, a name
//!   over 40 characters) or a `qty` that is not an integer.
//! - `GET /items` lists the rows, one `id name qty` line each; `GET /items/:id` shows one (404
//!   if there is none).
//! - `GET /typo` runs a statement with a syntax error, to show what a bug in the SQL gives: a
//!   plain 500; the connection to the database stays usable.
//! - A database that cannot be reached, or that goes away, gives 503; one that does not answer
//!   within `--db-timeout` seconds (default 5) gives 504. The connection is made on first use
//!   and made again after it broke, so the service recovers when the database is back.
//!
//! The table `items` is created if missing, in the schema the connection string selects.
//!
//! Run, with a throwaway server (`bash .ci/postgres.sh start DIR` starts one and prints its
//! connection string; `bash .ci/postgres.sh stop DIR` stops it):
//! `cargo run -p cogen-examples --bin pg_web -- --addr 127.0.0.1:8082 --db "host=127.0.0.1 port=5432 user=cogen dbname=postgres"`
//! (or set `DATABASE_URL`; a `postgresql://` URL works too).
//!
//! Poke: `curl -i -d 'name=apple&qty=3' http://127.0.0.1:8082/items`, then
//! `curl -i http://127.0.0.1:8082/items`.
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cogen::compat::tokio::OnTokio;
use cogen::prelude::*;
use cogen_web::{Error as WebError, Logged, Request, ResponseWriter, Router, Server};
use http::StatusCode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// The largest form body `POST /items` reads.
const FORM_LIMIT: usize = 4 * 1024;

/// Made on each new connection: `IF NOT EXISTS`, so it costs one round trip and no change.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS items (
    id serial PRIMARY KEY,
    name varchar(40) NOT NULL UNIQUE,
    qty integer NOT NULL CHECK (qty >= 0)
)";

/// The database, shared by the handlers as router state: one connection, made on first use
/// and again after it broke. Only this scheduler's thread touches the cell; the `Client`
/// itself is `Send + Sync` and goes to the tokio runtime inside each query's future.
struct Db {
    conninfo: String,
    timeout: Duration,
    client: RefCell<Option<Arc<Client>>>,
}

impl Db {
    /// The status a failed statement is answered with. A broken connection is forgotten, so
    /// the next request connects again.
    fn failed(&self, e: &tokio_postgres::Error) -> WebError {
        let code = e.code().map(SqlState::code);
        match code {
            Some("23505") => {
                return WebError::status(StatusCode::CONFLICT, "an item of that name exists\n");
            }
            // 22: data exceptions (a name too long); 23: integrity (the qty check).
            Some(c) if c.starts_with("22") || c.starts_with("23") => {
                let message = e.as_db_error().map_or("", |db| db.message());
                return WebError::bad_request(format!("refused: {message}\n"));
            }
            // 08: connection exceptions; 57: operator intervention (a shutdown, a terminated
            // session). Any other: a bug in the statement, a plain 500 (the log has it).
            Some(c) if !(c.starts_with("08") || c.starts_with("57")) => {
                return WebError::Handler(format!("database: {}", describe(e)));
            }
            Some(_) => {}
            // No SQLSTATE: the connection closed or failed, or a value did not convert.
            None => {
                let io = std::error::Error::source(e).is_some_and(|s| s.is::<io::Error>());
                if !(e.is_closed() || io) {
                    return WebError::Handler(format!("database: {}", describe(e)));
                }
            }
        }
        eprintln!("pg_web: database connection lost: {}", describe(e));
        self.client.borrow_mut().take();
        WebError::status(StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
    }

    /// The answer when a database step did not finish: 504 for its timeout, 500 otherwise
    /// (the tokio task panicked, or the runtime stopped).
    fn unfinished(&self, e: cogen::Error) -> WebError {
        match e {
            cogen::Error::Timeout => {
                WebError::status(StatusCode::GATEWAY_TIMEOUT, "the database did not answer\n")
            }
            other => WebError::from(other),
        }
    }
}

/// What the log says about `e`: the server's own message where there is one (the driver's
/// `Display` says only "db error" then).
fn describe(e: &tokio_postgres::Error) -> String {
    e.as_db_error().map_or_else(|| e.to_string(), ToString::to_string)
}

/// Opens a connection and makes sure the table exists. The connection's I/O runs as a task of
/// its own on the tokio runtime, until the client is dropped or the server goes away.
async fn open(conninfo: String) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(&conninfo, NoTls).await?;
    // Inside a runtime task the runtime is running: `handle` cannot fail here, and if it did
    // the connection would be dropped and the next statement fail with "connection closed".
    if let Ok(runtime) = cogen::compat::tokio::handle() {
        runtime.spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("pg_web: database connection ended: {}", describe(&e));
            }
        });
    }
    client.batch_execute(CREATE_TABLE).await?;
    Ok(client)
}

/// Runs `statement` with the shared client (connecting first if there is none) on the tokio
/// runtime, within the database timeout, and maps its failures to statuses.
#[coro]
fn on_db<T, S, Fut>(db: &Db, statement: S) -> Result<T, WebError>
where
    S: FnOnce(Arc<Client>) -> Fut,
    Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    T: Send + 'static,
{
    // Cloned out of the cell: no borrow is held across a yield. Two requests that find no
    // client both connect; the later one's connection is kept, the other closes after its
    // statement (its `Arc` is the last).
    let cached = db.client.borrow().clone().filter(|c| !c.is_closed());
    let client = match cached {
        Some(client) => client,
        None => {
            let opened = yield_!(OnTokio::new(open(db.conninfo.clone())).timeout(db.timeout));
            let client = Arc::new(opened.map_err(|e| db.unfinished(e))?.map_err(|e| {
                eprintln!("pg_web: cannot connect to the database: {}", describe(&e));
                WebError::status(StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
            })?);
            *db.client.borrow_mut() = Some(Arc::clone(&client));
            client
        }
    };
    let done = yield_!(OnTokio::new(statement(client)).timeout(db.timeout));
    done.map_err(|e| db.unfinished(e))?.map_err(|e| db.failed(&e))
}

/// The value of form field `name`, or a 400.
fn field<'a>(form: &'a [(String, String)], name: &str) -> Result<&'a str, WebError> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| WebError::bad_request(format!("missing form field {name}\n")))
}

#[coro]
fn add_item(req: Request, mut res: ResponseWriter) -> Result<(), WebError> {
    let db = req.state::<Db>()?;
    let form = yield_!(req.form(FORM_LIMIT))?;
    let name = field(&form, "name")?.to_owned();
    let qty: i32 = field(&form, "qty")?
        .parse()
        .map_err(|_| WebError::bad_request("qty must be an integer\n"))?;
    let id: i32 = yield_!(on_db(db, move |client| async move {
        let sql = "INSERT INTO items (name, qty) VALUES ($1, $2) RETURNING id";
        client.query_one(sql, &[&name, &qty]).await?.try_get(0)
    }))?;
    yield_!(res.text(StatusCode::CREATED, format!("{id}\n")))
}

#[coro]
fn list_items(req: Request, mut res: ResponseWriter) -> Result<(), WebError> {
    let db = req.state::<Db>()?;
    let lines = yield_!(on_db(db, |client| async move {
        let rows = client.query("SELECT id, name, qty FROM items ORDER BY id", &[]).await?;
        let mut out = String::new();
        for row in rows {
            let (id, name, qty): (i32, String, i32) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            out.push_str(&format!("{id} {name} {qty}\n"));
        }
        Ok(out)
    }))?;
    yield_!(res.text(StatusCode::OK, lines))
}

#[coro]
fn get_item(req: Request, mut res: ResponseWriter) -> Result<(), WebError> {
    let db = req.state::<Db>()?;
    let id: i32 = req
        .param("id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| WebError::bad_request("the id is an integer\n"))?;
    let row = yield_!(on_db(db, move |client| async move {
        let row = client.query_opt("SELECT name, qty FROM items WHERE id = $1", &[&id]).await?;
        row.map(|r| Ok::<_, tokio_postgres::Error>((r.try_get::<_, String>(0)?, r.try_get(1)?)))
            .transpose()
    }))?;
    let (name, qty): (String, i32) = row.ok_or_else(|| WebError::not_found("no such item\n"))?;
    yield_!(res.text(StatusCode::OK, format!("{id} {name} {qty}\n")))
}

#[coro]
fn typo(req: Request, mut res: ResponseWriter) -> Result<(), WebError> {
    let db = req.state::<Db>()?;
    let n: i64 = yield_!(on_db(db, |client| async move {
        client.query_one("SELEC count(*) FROM items", &[]).await?.try_get(0)
    }))?;
    yield_!(res.text(StatusCode::OK, format!("{n}\n")))
}

fn usage(problem: &str) -> io::Error {
    io::Error::other(format!(
        "{problem}; usage: pg_web [--addr HOST:PORT] [--db CONNINFO] [--db-timeout SECS] \
         (CONNINFO: `host=.. port=.. user=.. dbname=..` or a postgresql:// URL; the \
         default is $DATABASE_URL)"
    ))
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8082).into();
    let mut conninfo = std::env::var("DATABASE_URL").ok();
    let mut timeout = Duration::from_secs(5);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--addr" => {
                let v = value()?;
                addr = v.parse().map_err(|e| usage(&format!("bad --addr {v}: {e}")))?;
            }
            "--db" => conninfo = Some(value()?),
            "--db-timeout" => {
                let v = value()?;
                let secs: f64 =
                    v.parse().map_err(|e| usage(&format!("bad --db-timeout {v}: {e}")))?;
                timeout = Duration::try_from_secs_f64(secs)
                    .map_err(|e| usage(&format!("bad --db-timeout {v}: {e}")))?;
            }
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let conninfo = conninfo.ok_or_else(|| usage("no database given"))?;
    // Checked at start: a malformed string is a usage error, not a 503 on every request.
    conninfo
        .parse::<tokio_postgres::Config>()
        .map_err(|e| usage(&format!("bad connection string: {e}")))?;
    let db = Db { conninfo, timeout, client: RefCell::new(None) };
    let routes = Router::new()
        .post("/items", add_item)
        .get("/items", list_items)
        .get("/items/:id", get_item)
        .get("/typo", typo)
        .state(db);
    let server = Server::bind(addr, Logged::new(routes, |line| eprintln!("{line}")))?;
    println!("pg_web listening on http://{}", server.local_addr()?);
    let mut sched = Scheduler::new();
    sched.add(server.serve());
    sched.run().map_err(io::Error::other)
}
