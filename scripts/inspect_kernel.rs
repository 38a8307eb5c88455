//! Inspect kernels (and optionally an initrd) with the library, without the CLI.
//!
//! `cargo run --release --example inspect_kernel -- [--json] [--quick] VMLINUZ... [--initrd FILE [RELEASE]]`
//!
//! Exit status: 0 when every kernel is PV-capable, 1 otherwise, 2 on errors.

use std::path::Path;
use std::process::ExitCode;

use elirepo::{initrd, xen};

fn main() -> ExitCode {
    let mut json = false;
    let mut opts = xen::InspectOptions::default();
    let mut args = std::env::args().skip(1).peekable();
    let mut status = 0u8;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--quick" => opts.verify_payload = false,
            "--initrd" => {
                let Some(file) = args.next() else {
                    eprintln!("--initrd needs a file");
                    return ExitCode::from(2);
                };
                let release = args.next_if(|a| !a.starts_with("--"));
                match initrd::inspect_initrd_file(Path::new(&file), release.as_deref()) {
                    Ok(r) if json => println!("{}", serde_json::to_string_pretty(&r).unwrap()),
                    Ok(r) => print!("{r}"),
                    Err(e) => {
                        eprintln!("inspect_kernel: {e}");
                        status = 2;
                    }
                }
            }
            path => match xen::inspect_kernel_file_with(Path::new(path), &opts) {
                Ok(r) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&r).unwrap());
                    } else {
                        print!("{r}");
                    }
                    if !r.verdict.is_pv_capable() {
                        status = status.max(1);
                    }
                }
                Err(e) => {
                    eprintln!("inspect_kernel: {e}");
                    status = 2;
                }
            },
        }
    }
    ExitCode::from(status)
}
