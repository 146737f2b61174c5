//! The macro's UI tests: every misuse is one clear compile error pointing at the offending
//! token (`tests/ui/*.rs`, with the expected message in the `.stderr` beside each), and the
//! shapes it must accept compile and run (`tests/ui/pass/*.rs`).
//!
//! After a compiler upgrade, refresh the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p cogen --test ui` and read every one before committing.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
