//! The consumer, once: what XenServer's eliloader fetches, its limits, and what it can boot.
//!
//! eliloader builds two URLs from a VM's `install-repository`, `debian-release` and
//! `install-arch` (see [`urls`]), downloads them over http, ftp or file without checking
//! anything, and hands them to Xen's domain builder once. Everything elirepo knows about
//! that consumer lives here so that `build` (what it publishes), `netboot` (what it lays
//! out), `verify` (what it checks) and `xe` (what it tells the user to set) cannot drift:
//!
//! * the paths: `dists/<suite>/main/installer-<arch>/current/images/netboot/xen/{vmlinuz,initrd.gz}`,
//!   with `SHA256SUMS`/`MD5SUMS` beside `netboot/` in `images/`;
//! * the limits: a kernel over 32 MiB or an initrd over 128 MiB aborts the install;
//! * the rule that makes a kernel publishable for `installer-<arch>`: Xen must load it as a
//!   PV guest, and it must be that architecture's kernel.
//!
//! This module reads no file and writes none.

/// eliloader's default limit on the kernel: a larger download aborts the install.
pub const KERNEL_LIMIT: u64 = 32 << 20;
/// eliloader's default limit on the initrd: a larger download aborts the install.
pub const INITRD_LIMIT: u64 = 128 << 20;
/// The kernel's file name, fixed by eliloader.
pub const KERNEL_NAME: &str = "vmlinuz";
/// The initrd's file name, fixed by eliloader.
pub const INITRD_NAME: &str = "initrd.gz";
/// The component eliloader reads, whatever the repository's components are.
pub const COMPONENT: &str = "main";
/// The version directory eliloader reads: always `current`.
pub const CURRENT: &str = "current";

/// `main/installer-<arch>`, relative to the suite directory: the tree of one architecture.
pub fn installer_dir(arch: &str) -> String {
    format!("{COMPONENT}/installer-{arch}")
}

/// `main/installer-<arch>/current/images/`, relative to the suite directory: where
/// `SHA256SUMS` and `MD5SUMS` list `./netboot/xen/vmlinuz` and `./netboot/xen/initrd.gz`.
pub fn images_dir(arch: &str) -> String {
    format!("{}/{CURRENT}/images/", installer_dir(arch))
}

/// `main/installer-<arch>/current/images/netboot/xen/<name>`, relative to the suite
/// directory: the file eliloader fetches.
pub fn image_path(arch: &str, name: &str) -> String {
    format!("{}{}", images_dir(arch), in_images(name))
}

/// An image's path relative to `images/`: `netboot/xen/<name>`.
pub fn in_images(name: &str) -> String {
    format!("netboot/xen/{name}")
}

/// How `SHA256SUMS` and `MD5SUMS` name an image: `./netboot/xen/<name>`.
pub fn sums_entry(name: &str) -> String {
    format!("./{}", in_images(name))
}

/// The URLs eliloader fetches for `install-repository`, `debian-release` and `install-arch`,
/// built exactly as its `debianlike` code does: a `/` appended when missing (never
/// deduplicated), `dists/<release>/` appended unless the URL already holds `/dists/`
/// followed by something other than slashes.
pub fn urls(repository: &str, release: &str, arch: &str) -> (String, String) {
    let mut url = repository.to_string();
    if !url.ends_with('/') {
        url.push('/');
    }
    let has_dists = url
        .match_indices("/dists/")
        .any(|(i, m)| url[i + m.len()..].bytes().any(|b| b != b'/'));
    if !has_dists {
        url.push_str(&format!("dists/{release}/"));
    }
    (
        format!("{url}{}", image_path(arch, KERNEL_NAME)),
        format!("{url}{}", image_path(arch, INITRD_NAME)),
    )
}

/// The `install-arch` values eliloader's Debian installs take: it uses the value
/// as-is in the URL, and xapi's templates set `i386` (32-bit) or `amd64` (64-bit).
pub const ARCHITECTURES: [&str; 2] = ["i386", "amd64"];

/// Why eliloader cannot fetch from an `install-repository` URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositoryUrlProblem {
    /// `https://`: its fetcher rejects it ("Unknown source type").
    Https,
    /// `user:password@host`: it sends no credentials.
    Credentials,
    /// Neither `http://`, `ftp://` nor `nfs:`.
    Scheme,
}

/// Whether eliloader can fetch the repository at `url` (`install-repository`):
/// it must start with `http://`, `ftp://` or `nfs:` (an NFS export is mounted,
/// then read as files), never `https://`, and hold no credentials.
pub fn check_repository_url(url: &str) -> Result<(), RepositoryUrlProblem> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https:") {
        return Err(RepositoryUrlProblem::Https);
    }
    let rest = ["http://", "ftp://"]
        .iter()
        .find_map(|s| lower.strip_prefix(s));
    match rest {
        Some(rest) => {
            let authority = rest.split('/').next().unwrap_or_default();
            if authority.contains('@') {
                Err(RepositoryUrlProblem::Credentials)
            } else {
                Ok(())
            }
        }
        None if lower.starts_with("nfs:") => Ok(()),
        None => Err(RepositoryUrlProblem::Scheme),
    }
}

/// What eliloader's rule needs to know of a kernel. [`crate::xen::KernelReport`]
/// answers it; this module depends on no reader, so that the readers can use its limits.
pub trait KernelFacts {
    /// `Ok` when Xen's PV domain builder loads the kernel, else the name of the verdict
    /// (e.g. `PVH-only`).
    fn pv_verdict(&self) -> Result<(), &'static str>;
    /// The `install-arch` the kernel belongs to (`amd64`, `i386`), `None` if not x86.
    fn install_arch(&self) -> Option<&'static str>;
}

/// Why a kernel cannot be published in the `installer-<arch>` tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelProblem {
    /// Xen would not load it as a PV guest (no Xen support, or PVH only): the verdict.
    NotPv(&'static str),
    /// A kernel of another x86 architecture.
    OtherArch(&'static str),
    /// Not an x86 kernel at all.
    NotX86,
}

/// Why `kernel` does not suit `installer-<arch>`, or `None` if eliloader can boot it.
pub fn kernel_problem(kernel: &impl KernelFacts, arch: &str) -> Option<KernelProblem> {
    if let Err(verdict) = kernel.pv_verdict() {
        return Some(KernelProblem::NotPv(verdict));
    }
    match kernel.install_arch() {
        Some(a) if a == arch => None,
        Some(a) => Some(KernelProblem::OtherArch(a)),
        None => Some(KernelProblem::NotX86),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eliloader_urls_follow_its_rules() {
        let (k, i) = urls("http://myrepo.example.com/debian-custom", "lenny", "i386");
        assert_eq!(k, "http://myrepo.example.com/debian-custom/dists/lenny/main/installer-i386/current/images/netboot/xen/vmlinuz");
        assert!(i.ends_with("/current/images/netboot/xen/initrd.gz"));
        // A URL that already names a suite is used as is.
        let (k, _) = urls("http://h/debian/dists/lenny", "ignored", "amd64");
        assert_eq!(
            k,
            "http://h/debian/dists/lenny/main/installer-amd64/current/images/netboot/xen/vmlinuz"
        );
        // `/dists/` followed only by slashes does not count.
        let (k, _) = urls("http://h/debian/dists/", "lenny", "i386");
        assert!(
            k.starts_with("http://h/debian/dists/dists/lenny/main/"),
            "{k}"
        );
        // A trailing double slash stays doubled.
        let (k, _) = urls("http://h/debian//", "lenny", "i386");
        assert!(k.starts_with("http://h/debian//dists/lenny/"), "{k}");
    }

    #[test]
    fn paths_agree_with_urls() {
        let (k, i) = urls("http://h/r", "s", "amd64");
        assert_eq!(
            k,
            format!("http://h/r/dists/s/{}", image_path("amd64", KERNEL_NAME))
        );
        assert_eq!(
            i,
            format!("http://h/r/dists/s/{}", image_path("amd64", INITRD_NAME))
        );
        assert_eq!(images_dir("i386"), "main/installer-i386/current/images/");
        assert_eq!(
            format!(
                "{}{}",
                images_dir("i386"),
                sums_entry(KERNEL_NAME).trim_start_matches("./")
            ),
            image_path("i386", KERNEL_NAME)
        );
    }

    #[test]
    fn repository_urls_eliloader_can_fetch() {
        use RepositoryUrlProblem::*;
        for ok in [
            "http://h/debian",
            "HTTP://h/debian",
            "ftp://h/debian",
            "nfs:h:/srv/debian",
            "http://h/a@b",
        ] {
            assert_eq!(check_repository_url(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_repository_url("https://h/debian"), Err(Https));
        assert_eq!(
            check_repository_url("http://u:p@h/debian"),
            Err(Credentials)
        );
        assert_eq!(check_repository_url("ftp://u@h/debian"), Err(Credentials));
        assert_eq!(check_repository_url("file:///srv/debian"), Err(Scheme));
        assert_eq!(check_repository_url("h/debian"), Err(Scheme));
    }

    #[test]
    fn limits_are_eliloaders() {
        assert_eq!(KERNEL_LIMIT, 33_554_432);
        assert_eq!(INITRD_LIMIT, 134_217_728);
    }
}
