//! `elirepo::index::Overrides::parse`, then a Packages stanza using it.
//! See `fuzz/checks.rs` for what is checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::overrides(data);
});
