//! Every error the derives report, as the compiler shows it to a user:
//! a wrong attribute, a second primary key, an unsupported field type, a
//! `references` target that does not exist, a `SqlEnum` variant with data,
//! a `FromRow` attribute unknown or misplaced.
//! Each case is a file in tests/ui with the expected output beside it
//! (`TRYBUILD=overwrite cargo test -p dualdb-derive --test derive_errors` regenerates them
//! after a deliberate change of a message).

#[test]
fn derive_errors_are_clear() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
