//! `elirepo::xen::inspect_kernel` on an in-memory file.
//! See `fuzz/checks.rs` for what is checked.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::kernel(data);
});
