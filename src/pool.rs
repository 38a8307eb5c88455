//! Where a package lives in a Debian pool, and which names are safe to put there.
//!
//! `pool/<component>/<prefix>/<source>/<package>_<version without epoch>_<arch>.deb`,
//! with `<prefix>` the first letter of the source name, or `lib` and the next
//! letter for `lib*` sources, as Debian's archive lays it out. Names come from
//! control files of .debs elirepo did not make, so they are checked against
//! Debian policy's syntax before they become paths. No I/O here.

use std::path::PathBuf;

use crate::control::Paragraph;

/// A package's identity, read from its control paragraph and checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageId {
    /// `Package`.
    pub name: String,
    /// `Version`, with its epoch.
    pub version: String,
    /// `Architecture`.
    pub arch: String,
    /// Source package name (from `Source` without its version, else the package name).
    pub source: String,
}

/// Policy 5.6.1: lower-case letters, digits, `+ - .`; at least two characters, starting alphanumeric.
pub fn valid_package_name(s: &str) -> bool {
    s.len() >= 2
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

/// Policy 5.6.12: `[epoch:]upstream[-revision]` from alphanumerics and `. + ~ - :`.
pub fn valid_version(s: &str) -> bool {
    let rest = match s.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            rest
        }
        None => s,
    };
    !rest.is_empty()
        && rest.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~-:".contains(&b))
}

/// Architecture names: lower-case letters, digits and `-`.
pub fn valid_arch(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Suite, codename and component names: they become directory names.
pub fn valid_dist_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._~".contains(&b))
}

/// Why a control paragraph names no valid package: the field and what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// A required field is missing.
    #[error("control file has no {0} field")]
    Missing(&'static str),
    /// A field is not UTF-8.
    #[error("{field} field is not UTF-8")]
    NotUtf8 {
        /// The field.
        field: &'static str,
        /// Where the bytes stop being UTF-8.
        #[source]
        source: std::string::FromUtf8Error,
    },
    /// A field's value would not be a safe, valid name.
    #[error("{field} {value:?} is not a valid {}", what(field))]
    Invalid {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

/// What a field's value must be, for [`IdError::Invalid`].
fn what(field: &str) -> &'static str {
    match field {
        "Package" => "Debian package name",
        "Version" => "Debian version",
        "Architecture" => "architecture name",
        _ => "source package name",
    }
}

impl PackageId {
    /// Reads and checks the identity fields; `Err` says which field is wrong.
    pub fn from_control(c: &Paragraph) -> Result<PackageId, IdError> {
        let field = |field: &'static str, valid: fn(&str) -> bool| -> Result<String, IdError> {
            let v = c.get(field).ok_or(IdError::Missing(field))?;
            let value = String::from_utf8(v.to_vec())
                .map_err(|source| IdError::NotUtf8 { field, source })?;
            if !valid(&value) {
                return Err(IdError::Invalid { field, value });
            }
            Ok(value)
        };
        let name = field("Package", valid_package_name)?;
        let version = field("Version", valid_version)?;
        let arch = field("Architecture", valid_arch)?;
        let source = match c.get("Source") {
            Some(s) => {
                let s = String::from_utf8_lossy(s);
                let value = s.split_whitespace().next().unwrap_or("").to_string();
                if !valid_package_name(&value) {
                    return Err(IdError::Invalid {
                        field: "Source",
                        value,
                    });
                }
                value
            }
            None => name.clone(),
        };
        Ok(PackageId {
            name,
            version,
            arch,
            source,
        })
    }

    /// The version without its epoch, as it appears in file names.
    pub fn file_version(&self) -> &str {
        self.version
            .split_once(':')
            .map_or(&self.version, |(_, v)| v)
    }

    /// `<package>_<version without epoch>_<arch>.deb`.
    pub fn file_name(&self) -> String {
        format!("{}_{}_{}.deb", self.name, self.file_version(), self.arch)
    }

    /// `pool/<component>/<prefix>/<source>/<file name>`.
    pub fn pool_path(&self, component: &str) -> PathBuf {
        PathBuf::from("pool")
            .join(component)
            .join(pool_prefix(&self.source))
            .join(&self.source)
            .join(self.file_name())
    }
}

/// `lib` + next letter for `lib*` sources, else the first letter.
pub fn pool_prefix(source: &str) -> &str {
    if source.len() > 3 && source.starts_with("lib") {
        &source[..4]
    } else {
        &source[..source.len().min(1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Result<PackageId, IdError> {
        PackageId::from_control(&Paragraph::parse(text.as_bytes()))
    }

    #[test]
    fn pool_paths_follow_debian() {
        let p =
            id("Package: libfoo1\nVersion: 1:2.3-4\nArchitecture: amd64\nSource: libfoo (2.3-4)\n")
                .unwrap();
        assert_eq!(
            p.pool_path("main"),
            PathBuf::from("pool/main/libf/libfoo/libfoo1_2.3-4_amd64.deb")
        );
        let p =
            id("Package: xe-guest-utilities\nVersion: 5.6.0-578\nArchitecture: i386\n").unwrap();
        assert_eq!(
            p.pool_path("main"),
            PathBuf::from("pool/main/x/xe-guest-utilities/xe-guest-utilities_5.6.0-578_i386.deb")
        );
        assert_eq!(pool_prefix("lib"), "l");
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "Package: ../../etc\nVersion: 1\nArchitecture: all\n",
            "Package: a/b\nVersion: 1\nArchitecture: all\n",
            "Package: ok\nVersion: 1/../../x\nArchitecture: all\n",
            "Package: ok\nVersion: 1\nArchitecture: ../amd64\n",
            "Package: ok\nVersion: 1\nArchitecture: all\nSource: ../x\n",
            "Package: ok\nArchitecture: all\n",
            "Package: Upper\nVersion: 1\nArchitecture: all\n",
        ] {
            assert!(id(bad).is_err(), "{bad}");
        }
        assert!(valid_version("2.6.32+0.xs226"));
        assert!(valid_version("1:1.35.0-4+deb12u1+b1"));
        assert!(!valid_version("a1"));
        assert!(!valid_dist_name(".."));
    }

    #[test]
    fn an_identity_error_names_the_field_and_its_value() {
        assert_eq!(
            id("Package: ok\nVersion: 1/x\nArchitecture: all\n")
                .unwrap_err()
                .to_string(),
            "Version \"1/x\" is not a valid Debian version"
        );
        assert_eq!(
            id("Package: ok\nArchitecture: all\n")
                .unwrap_err()
                .to_string(),
            "control file has no Version field"
        );
        assert_eq!(
            id("Package: ok\nVersion: 1\nArchitecture: all\nSource: ../x (1)\n")
                .unwrap_err()
                .to_string(),
            "Source \"../x\" is not a valid source package name"
        );
        let e = PackageId::from_control(&Paragraph::parse(
            b"Package: ok\nVersion: 1\xff\nArchitecture: all\n",
        ));
        assert!(matches!(
            e,
            Err(IdError::NotUtf8 {
                field: "Version",
                ..
            })
        ));
    }
}
