//! What a running build tells its front end: steps, warnings and progress.
//!
//! The library never prints. The front end (`src/cli/ui.rs`) implements
//! [`Listener`]; tests and library users who want silence pass [`Silent`].

use crate::progress::Progress;

/// Where a build stands, for a front end that must say what an interruption
/// would leave behind. Announced in this order; a build that has nothing to
/// copy or to switch skips the stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// New files are being copied into the pool: clients still see the old
    /// suite, whose indexes name none of them.
    CopyingIntoPool,
    /// The suite is being switched to its new tree, then tidied up.
    Publishing,
}

/// Receives what a build is doing, for the front end to show.
pub trait Listener {
    /// The build enters `stage`. The default ignores it.
    fn stage(&mut self, stage: Stage) {
        let _ = stage;
    }
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
