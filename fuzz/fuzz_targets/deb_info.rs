//! `elirepo::deb::read_info_from` on arbitrary bytes, with and without the total length.
//! See `fuzz/checks.rs` for what is checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::deb_info(data);
});
