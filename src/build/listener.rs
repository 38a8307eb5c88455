//! What a running build tells its front end: steps, warnings and progress.
//!
//! The library never prints. The front end (`src/cli/ui.rs`) implements
//! [`Listener`]; tests and library users who want silence pass [`Silent`].

use crate::progress::Progress;

/// Receives what a build is doing, for the front end to show.
pub trait Listener {
    /// A step of the build.
    fn step(&mut self, message: &str);
    /// Something the user should know.
    fn warn(&mut self, message: &str);
    /// Long work begins: `task` goes through `total` bytes (hashing, copying,
    /// decompressing), counted on the returned handle from any thread; the work
    /// ends when every clone of it is dropped (see [`crate::progress`]). The
    /// default counts nothing.
    fn progress(&mut self, task: &str, total: u64) -> Progress {
        let _ = (task, total);
        Progress::none()
    }
}

/// A listener that drops everything.
pub struct Silent;
impl Listener for Silent {
    fn step(&mut self, _: &str) {}
    fn warn(&mut self, _: &str) {}
}
