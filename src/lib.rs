//! elirepo: publish a signed apt repository and a XenServer eliloader netboot tree.
//!
//! XenServer's eliloader installs a paravirtualized Debian guest by downloading
//! `<repo>/dists/<suite>/main/installer-<arch>/current/images/netboot/xen/{vmlinuz,initrd.gz}`.
//! elirepo takes .deb files and the kernel/initrd of a FAI nfsroot, lays out the pool and
//! that netboot tree, writes the indexes apt-ftparchive would write, signs them, checks
//! that the kernel boots as a Xen PV guest, and publishes atomically.
//!
//! The library holds all the logic; `src/main.rs` is a thin clap front end. Each module
//! owns one concept and opens with a doc comment saying what it owns:
//!
//! * [`hash`]: one-pass MD5/SHA1/SHA256/SHA512 of a stream.
//! * [`control`]: deb822 paragraphs kept byte for byte, written back in apt's order.
//! * [`deb`]: reading .deb archives (ar container, control and data members).
//! * [`xen`]: will Xen boot this kernel as a PV guest (bzImage/ELF, Xen notes, verdict).
//! * [`initrd`]: what an initrd is made of and which kernel's modules it carries.
//!
//! Library errors are typed per module (`thiserror`) and name the file they concern.

#![forbid(unsafe_code)]

pub mod initrd;
pub mod xen;
