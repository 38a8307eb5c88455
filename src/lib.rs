//! elirepo: publish a signed apt repository and a XenServer eliloader netboot tree.
//!
//! XenServer's eliloader installs a paravirtualized Debian guest by downloading
//! `<repo>/dists/<suite>/main/installer-<arch>/current/images/netboot/xen/{vmlinuz,initrd.gz}`.
//! elirepo takes .deb files and the kernel/initrd of a FAI nfsroot, lays out the pool and
//! that netboot tree, writes the indexes apt-ftparchive would write, signs them, checks
//! that the kernel boots as a Xen PV guest, and publishes atomically.
//!
//! The library holds all the logic; the binary (`src/main.rs`, `src/cli/`) is a thin clap
//! front end. Each module owns one concept and opens with a doc comment saying what it owns:
//!
//! * [`hash`]: one-pass MD5/SHA1/SHA256/SHA512 of a stream.
//! * [`progress`]: byte counters long work advances, for a front end's progress bar.
//! * [`compress`]: one format enum, deterministic encoders, streaming decoders and their bounds.
//! * [`cache`]: per-file results keyed by inode, size, mtime and ctime, never stale.
//! * [`control`]: deb822 paragraphs kept byte for byte, written back in apt's order.
//! * [`deb`]: reading .deb archives (ar container, control and data members).
//! * [`index`]: Packages stanzas in apt-ftparchive's byte format; override files.
//! * [`release`]: suite and component Release files, dates, SOURCE_DATE_EPOCH.
//! * [`scan`]: finding .deb files in a tree in apt-ftparchive's order.
//! * [`nfsroot`]: kernels and initrds of a FAI nfsroot, links resolved inside it.
//! * [`pool`]: pool paths and the name checks that keep them inside the pool.
//! * [`sign`]: gpg signatures (InRelease, Release.gpg) and the public key.
//! * [`publish`]: the lock, the staging area and the ordered atomic switch.
//! * [`remote`]: `elirepo publish`: the built repository sent to S3, ssh or a path, never half-visible.
//! * [`config`]: `elirepo.toml` and the flags that override it.
//! * [`build`]: `elirepo build`, the whole job in order.
//! * [`ftparchive`]: `elirepo packages`, the apt-ftparchive drop-in.
//! * [`eliloader`]: the consumer, once: its URLs and paths, its limits, what it can boot.
//! * [`netboot`]: the eliloader tree: the pair to publish, its checks, its layout.
//! * [`verify`]: `elirepo verify`, the repository as eliloader and apt see it.
//! * [`xe`]: the `xe` commands of the XenServer recipe.
//! * [`xen`]: will Xen boot this kernel as a PV guest (bzImage/ELF, Xen notes, verdict).
//! * [`initrd`]: what an initrd is made of and which kernel's modules it carries.
//! * [`boot`]: boot the netboot pair as a PV guest of a real Xen in QEMU, and the verdict.
//!
//! Library errors are typed per module (`thiserror`) and name the file they concern.

#![forbid(unsafe_code)]

pub mod boot;
pub mod build;
pub mod cache;
pub mod compress;
pub mod config;
pub mod control;
pub mod deb;
pub mod eliloader;
pub mod ftparchive;
pub mod hash;
pub mod index;
pub mod initrd;
pub mod netboot;
pub mod nfsroot;
pub mod pool;
pub mod progress;
pub mod publish;
pub mod remote;
pub mod release;
pub mod scan;
pub mod sign;
pub mod verify;
pub mod xe;
pub mod xen;
