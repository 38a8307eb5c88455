//! Why a build failed: [`BuildError`], one variant per kind of failure, each
//! naming the file it concerns and keeping its cause as a source. Every failure
//! but [`BuildError::AfterSwitch`] published nothing.

use std::path::PathBuf;

use crate::deb::DebError;
use crate::netboot;
use crate::publish::PublishError;
use crate::sign::SignError;

/// Why a build failed (and, but for [`BuildError::AfterSwitch`], published nothing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A `--deb` input cannot be used.
    #[error("{}: cannot use as --deb input: {source}", path.display())]
    Input {
        /// The input.
        path: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: std::io::Error,
    },
    /// A `--deb` input is neither a regular file nor a directory.
    #[error("{}: not a regular file or directory", path.display())]
    NotFileOrDir {
        /// The input.
        path: PathBuf,
    },
    /// A directory of .debs cannot be walked.
    #[error("{}: cannot walk: {source}", path.display())]
    Walk {
        /// Where the walk failed.
        path: PathBuf,
        /// Why.
        #[source]
        source: walkdir::Error,
    },
    /// The inputs hold no package: an empty suite would be published.
    #[error("{}: no package to publish (no .deb in {}); publishing would empty suite {suite}", list_paths(inputs), if inputs.len() == 1 { "it" } else { "any of them" })]
    NoPackages {
        /// The `--deb` inputs as given (none when none was given).
        inputs: Vec<PathBuf>,
        /// The suite.
        suite: String,
    },
    /// The build would remove more than half of the suite's packages at once.
    #[error("this build would remove {} of the {before} packages of suite {suite}: {}", removed.len(), removed.join(", "))]
    TooManyRemovals {
        /// The packages that would go, as `name version arch`.
        removed: Vec<String>,
        /// How many packages the suite holds now.
        before: usize,
        /// The suite.
        suite: String,
    },
    /// Some .debs cannot be read (all are listed).
    #[error("{}", list_errors(.0))]
    Debs(Vec<DebError>),
    /// Two inputs claim the same package, version and architecture with different bytes.
    #[error("{} and {}: both are {package} but their contents differ; give only one (or bump the version)", first.display(), second.display())]
    Duplicate {
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
        /// `name version arch`.
        package: String,
    },
    /// A pool file is already published with other content.
    #[error("{}: already published with different content than {}; Debian archives never change a published file: bump the version", pool.display(), input.display())]
    PoolConflict {
        /// The published file.
        pool: PathBuf,
        /// The input.
        input: PathBuf,
    },
    /// An index cannot be compressed (the encoders work in memory: this is
    /// the allocator failing). The message is the cause's, as it always was.
    #[error("{source}")]
    Compress {
        /// The compressed index, as it would be published.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: std::io::Error,
    },
    /// The stanzas of the inputs cannot be kept in a temporary file, or read back.
    #[error("cannot keep the Packages stanzas in a temporary file: {0}")]
    Stanzas(#[source] std::io::Error),
    /// An index cannot be written to its temporary file, or read back.
    #[error("{}: cannot make this index: {source}", path.display())]
    Index {
        /// The index, as it would be published.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file of elirepo's own state cannot be written.
    #[error("{}: {source}", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Publishing failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The netboot kernel or initrd cannot be published.
    #[error(transparent)]
    Netboot(#[from] netboot::NetbootError),
    /// `--boot-test`: the netboot pair did not boot under Xen (or could not be tested).
    #[error(transparent)]
    BootTest(#[from] crate::boot::NotBooted),
    /// The new suite is published (its Release is the one on disk), but what follows
    /// the switch failed: removing old generations, writing elirepo's state,
    /// collecting the pool. The message is the cause's.
    #[error("{source}")]
    AfterSwitch {
        /// The suite.
        suite: String,
        /// What failed.
        #[source]
        source: Box<BuildError>,
    },
}

impl BuildError {
    /// True when the new suite was published before the build failed
    /// ([`BuildError::AfterSwitch`]); otherwise nothing was.
    pub fn published(&self) -> bool {
        matches!(self, BuildError::AfterSwitch { .. })
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no --deb input".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_errors(errors: &[DebError]) -> String {
    let mut s = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            s.push_str("\nelirepo: error: ");
        }
        s.push_str(&e.to_string());
    }
    if errors.len() > 1 {
        s.push_str(&format!(
            "\nelirepo: error: {} .deb files cannot be published",
            errors.len()
        ));
    }
    s
}
