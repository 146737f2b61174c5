//! The `pg_web` example against a real PostgreSQL server, run as a child process on
//! `127.0.0.1:0` and driven by plain `std` TCP clients: rows inserted with parameters and
//! selected back, the statuses of refused and broken statements, a database session that goes
//! away; and, with no server needed, a database that refuses connections, hangs up or stays
//! silent, each answered with a clean status instead of a hang.
//!
//! The server is named by `COGEN_TEST_POSTGRES` (a `key=value` connection string, which the
//! tests extend with a schema and an application name of their own; `.ci/run` starts a
//! throwaway server with `.ci/postgres.sh` and sets it). Without it the tests that need a
//! server say that they were skipped, on the terminal, and pass, unless
//! `COGEN_REQUIRE_POSTGRES=1` (set by `.ci/run`), which makes them fail.
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

mod util;

use util::Example;

/// Bounds every read of a response, so a server that never answers fails the test instead of
/// hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The test server's connection string; `None`, said on the terminal, when there is none.
///
/// # Errors
///
/// When `COGEN_REQUIRE_POSTGRES=1` and there is no server: CI must not skip these tests.
fn postgres(test: &str) -> io::Result<Option<String>> {
    if let Ok(conninfo) = std::env::var("COGEN_TEST_POSTGRES")
        && !conninfo.trim().is_empty()
    {
        return Ok(Some(conninfo));
    }
    if std::env::var("COGEN_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        return Err(io::Error::other(
            "COGEN_REQUIRE_POSTGRES=1 but COGEN_TEST_POSTGRES is not set: no PostgreSQL server",
        ));
    }
    // Straight to the terminal: libtest hides what a passing test prints with `eprintln!`.
    writeln!(
        io::stderr(),
        "SKIPPED pg_web::{test}: no PostgreSQL server; set COGEN_TEST_POSTGRES=\"host=127.0.0.1 \
         port=.. user=.. dbname=..\" (`bash .ci/postgres.sh start DIR` starts one and prints it)"
    )?;
    Ok(None)
}

/// Connects to `conninfo` and runs `work` with the client on the shared tokio runtime, within
/// [`IO_TIMEOUT`].
fn with_client<T, F, Fut>(conninfo: &str, work: F) -> io::Result<T>
where
    F: FnOnce(tokio_postgres::Client) -> Fut,
    Fut: Future<Output = Result<T, tokio_postgres::Error>>,
{
    let runtime = cogen::compat::tokio::handle()?;
    let run = async {
        let (client, connection) = tokio_postgres::connect(conninfo, NoTls).await?;
        let connection = tokio::spawn(connection);
        let value = work(client).await; // the client is dropped with `work`'s future
        let _ = connection.await;
        value
    };
    runtime
        .block_on(async { tokio::time::timeout(IO_TIMEOUT, run).await })
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the database did not answer"))?
        .map_err(io::Error::other)
}

/// Runs `statement` on a connection of its own and gives the first column of its one row.
fn scalar(conninfo: &str, statement: &str) -> io::Result<i64> {
    with_client(
        conninfo,
        |client| async move { client.query_one(statement, &[]).await?.try_get(0) },
    )
}

/// Runs `statements` (several, `;`-separated) on a connection of their own.
fn batch(conninfo: &str, statements: &str) -> io::Result<()> {
    with_client(conninfo, |client| async move { client.batch_execute(statements).await })
}

/// A schema of its own for one test (dropped with everything in it on drop), and the
/// connection string that puts `pg_web` into it under an `application_name` of the same name.
struct Schema {
    admin: String,
    name: String,
}

impl Schema {
    fn new(admin: &str) -> io::Result<Schema> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name =
            format!("cogen_pg_web_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        batch(admin, &format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"))?;
        Ok(Schema { admin: admin.to_owned(), name })
    }

    fn conninfo(&self) -> String {
        format!("{} application_name={n} options=-csearch_path={n}", self.admin, n = self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = batch(&self.admin, &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

/// One request on a fresh connection (`form` is sent as an urlencoded POST body): the status
/// and the body.
fn request(
    addr: std::net::SocketAddr,
    path: &str,
    form: Option<&str>,
) -> io::Result<(u16, String)> {
    let mut c = TcpStream::connect(addr)?;
    c.set_read_timeout(Some(IO_TIMEOUT))?;
    match form {
        Some(body) => write!(
            c,
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?,
        None => write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?,
    }
    let mut got = Vec::new();
    c.read_to_end(&mut got)?;
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("not a response: {text:?}"))
        })?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned();
    Ok((status, body))
}

#[test]
fn rows_inserted_with_parameters_are_selected_back() -> io::Result<()> {
    let Some(admin) = postgres("rows_inserted_with_parameters_are_selected_back")? else {
        return Ok(());
    };
    let schema = Schema::new(&admin)?;
    let web = Example::start(env!("CARGO_BIN_EXE_pg_web"), &["--db", &schema.conninfo()])?;
    assert_eq!(request(web.addr, "/items", None)?, (200, String::new()), "a new, empty table");
    assert_eq!(request(web.addr, "/items", Some("name=apple&qty=3"))?, (201, "1\n".into()));
    // Parameters, not text pasted into SQL: a quote is data.
    assert_eq!(request(web.addr, "/items", Some("name=it%27s&qty=5"))?, (201, "2\n".into()));
    assert_eq!(request(web.addr, "/items", None)?, (200, "1 apple 3\n2 it's 5\n".into()));
    assert_eq!(request(web.addr, "/items/2", None)?, (200, "2 it's 5\n".into()));
    assert_eq!(request(web.addr, "/items/3", None)?.0, 404);
    assert_eq!(scalar(&admin, &format!("SELECT sum(qty)::int8 FROM {}.items", schema.name))?, 8);
    Ok(())
}

#[test]
fn refused_and_broken_statements_get_clean_statuses() -> io::Result<()> {
    let Some(admin) = postgres("refused_and_broken_statements_get_clean_statuses")? else {
        return Ok(());
    };
    let schema = Schema::new(&admin)?;
    let web = Example::start(env!("CARGO_BIN_EXE_pg_web"), &["--db", &schema.conninfo()])?;
    assert_eq!(request(web.addr, "/items", Some("name=pear&qty=1"))?.0, 201);
    // Refused by the database: a unique name, a check, a column's length.
    assert_eq!(request(web.addr, "/items", Some("name=pear&qty=2"))?.0, 409);
    let (status, body) = request(web.addr, "/items", Some("name=plum&qty=-1"))?;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("check constraint"), "{body}");
    let long = "x".repeat(41);
    assert_eq!(request(web.addr, "/items", Some(&format!("name={long}&qty=1")))?.0, 400);
    // Refused by the handler before any SQL.
    assert_eq!(request(web.addr, "/items", Some("name=fig&qty=many"))?.0, 400);
    // A syntax error: a plain 500 that shows no SQL, and the connection stays usable.
    let (status, body) = request(web.addr, "/typo", None)?;
    assert_eq!(status, 500);
    assert!(!body.contains("SELEC"), "{body}");
    assert_eq!(request(web.addr, "/items", None)?, (200, "1 pear 1\n".into()));
    Ok(())
}

#[test]
fn a_database_session_that_goes_away_gives_503_or_a_new_session_never_a_hang() -> io::Result<()> {
    let test = "a_database_session_that_goes_away_gives_503_or_a_new_session_never_a_hang";
    let Some(admin) = postgres(test)? else {
        return Ok(());
    };
    let schema = Schema::new(&admin)?;
    let web = Example::start(env!("CARGO_BIN_EXE_pg_web"), &["--db", &schema.conninfo()])?;
    assert_eq!(request(web.addr, "/items", Some("name=kiwi&qty=4"))?.0, 201);
    let sessions = format!("FROM pg_stat_activity WHERE application_name = '{}'", schema.name);
    let ended = scalar(
        &admin,
        &format!("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) {sessions}"),
    )?;
    assert_eq!(ended, 1, "pg_web's one session was ended");
    // The next request finds the connection closed and makes a new one (200), or meets the
    // dying session (503, and the next one reconnects): a complete answer either way.
    let mut answers = Vec::new();
    for _ in 0..5 {
        let (status, body) = request(web.addr, "/items", None)?;
        answers.push(status);
        if status == 200 {
            assert_eq!(body, "1 kiwi 4\n");
            break;
        }
        assert_eq!(status, 503, "{body}");
    }
    assert_eq!(answers.last(), Some(&200), "answers after the session ended: {answers:?}");
    assert!(answers.len() <= 2, "one 503 at most, then a new session: {answers:?}");
    assert_eq!(scalar(&admin, &format!("SELECT count(*) {sessions}"))?, 1, "one new session");
    Ok(())
}

/// A connection string for a "server" on `port` that is no PostgreSQL server.
fn fake_db(port: u16) -> String {
    format!("host=127.0.0.1 port={port} user=nobody dbname=nothing connect_timeout=60")
}

#[test]
fn a_database_that_refuses_connections_gives_503() -> io::Result<()> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // closed again at once
    let web = Example::start(env!("CARGO_BIN_EXE_pg_web"), &["--db", &fake_db(port)])?;
    let (status, body) = request(web.addr, "/items", None)?;
    assert_eq!((status, body.as_str()), (503, "database unavailable\n"));
    Ok(())
}

#[test]
fn a_database_that_hangs_up_gives_503() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    // Takes the client's first bytes (its startup message), then closes: the server went away.
    let server = std::thread::spawn(move || -> io::Result<()> {
        let (mut c, _) = listener.accept()?;
        c.set_read_timeout(Some(IO_TIMEOUT))?;
        let _ = c.read(&mut [0; 512])?;
        Ok(())
    });
    let web = Example::start(env!("CARGO_BIN_EXE_pg_web"), &["--db", &fake_db(port)])?;
    let (status, body) = request(web.addr, "/items", None)?;
    assert_eq!((status, body.as_str()), (503, "database unavailable\n"));
    server.join().map_err(|_| io::Error::other("the fake server panicked"))??;
    Ok(())
}

#[test]
fn a_silent_database_gives_504_after_the_timeout_not_a_hang() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    // Accepts and never answers, until the test has its response.
    let server = std::thread::spawn(move || -> io::Result<()> {
        let (_c, _) = listener.accept()?;
        let _ = finished.recv_timeout(IO_TIMEOUT);
        Ok(())
    });
    let args = ["--db", &fake_db(port), "--db-timeout", "1"];
    let web = Example::start(env!("CARGO_BIN_EXE_pg_web"), &args)?;
    let start = Instant::now();
    let (status, body) = request(web.addr, "/items", None)?;
    assert_eq!((status, body.as_str()), (504, "the database did not answer\n"));
    assert!(start.elapsed() >= Duration::from_secs(1), "answered before the timeout");
    let _ = done.send(());
    server.join().map_err(|_| io::Error::other("the fake server panicked"))??;
    Ok(())
}
