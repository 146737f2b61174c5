//! The macro's compile errors (one case per misuse, each pointing at the offending token),
//! and the shapes it must accept. Run with `TRYBUILD=overwrite` to refresh the `.stderr`
//! files after a compiler upgrade, and read them before committing.

#[test]
fn misuse_is_a_clear_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
    t.pass("tests/compile_pass/*.rs");
}
