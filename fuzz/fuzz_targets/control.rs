//! `elirepo::control::Paragraph::parse` and `write`: parse(write(x)) keeps the known fields.
//! See `fuzz/checks.rs` for what is checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::control(data);
});
