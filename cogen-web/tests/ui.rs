//! cogen-web's UI tests: a handler of the wrong shape gets one error that says what to write
//! (`tests/ui/*.rs`, with the expected message in the `.stderr` beside each).
//!
//! After a compiler upgrade, refresh the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p cogen-web --test ui` and read every one before committing.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
