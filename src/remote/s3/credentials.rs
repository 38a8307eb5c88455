//! Credentials, region and endpoint the way the AWS tools read them:
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, else the
//! profile (`AWS_PROFILE`, default `default`) of `~/.aws/credentials`
//! (`AWS_SHARED_CREDENTIALS_FILE`); region from `--region`, `AWS_REGION`,
//! `AWS_DEFAULT_REGION`, the profile in `~/.aws/config` (`AWS_CONFIG_FILE`),
//! else `us-east-1`; endpoint from `--endpoint`, `AWS_ENDPOINT_URL_S3`,
//! `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, else AWS.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::sigv4::Credentials;
use crate::remote::PublishError;

/// An INI file: section → key → value.
fn ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            out.entry(section.clone()).or_default().insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    out
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn aws_file(var: &str, name: &str) -> Option<String> {
    let path = env(var).map(PathBuf::from).or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join(name)))?;
    std::fs::read_to_string(path).ok()
}

/// What an S3 publish connects with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The keys.
    pub credentials: Credentials,
    /// The region.
    pub region: String,
    /// The endpoint, if not AWS's.
    pub endpoint: Option<String>,
}

/// Resolves the settings; `endpoint`, `region`: the flags.
pub fn resolve(endpoint: Option<&str>, region: Option<&str>) -> Result<Settings, PublishError> {
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let config = aws_file("AWS_CONFIG_FILE", "config").map(|t| ini(&t)).unwrap_or_default();
    let section = if profile == "default" { "default".to_string() } else { format!("profile {profile}") };
    let pconf = config.get(&section).cloned().unwrap_or_default();
    let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(a), Some(s)) => Credentials { access_key: a, secret_key: s, session_token: env("AWS_SESSION_TOKEN") },
        _ => {
            let creds = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials").map(|t| ini(&t)).unwrap_or_default();
            let p = creds.get(&profile).or_else(|| pconf.get("aws_access_key_id").map(|_| &pconf));
            match p.and_then(|p| Some((p.get("aws_access_key_id")?, p.get("aws_secret_access_key")?, p.get("aws_session_token")))) {
                Some((a, s, t)) => Credentials { access_key: a.clone(), secret_key: s.clone(), session_token: t.cloned() },
                None => {
                    return Err(PublishError::Usage(format!(
                        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or profile {profile:?} in ~/.aws/credentials (AWS_PROFILE)"
                    )))
                }
            }
        }
    };
    let region = region
        .map(str::to_string)
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| pconf.get("region").cloned())
        .unwrap_or_else(|| "us-east-1".into());
    let endpoint = endpoint
        .map(str::to_string)
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or_else(|| pconf.get("endpoint_url").cloned());
    Ok(Settings { credentials, region, endpoint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections() {
        let i = ini("[default]\naws_access_key_id = A\n# c\n[profile ci]\nregion=eu-west-3\n");
        assert_eq!(i["default"]["aws_access_key_id"], "A");
        assert_eq!(i["profile ci"]["region"], "eu-west-3");
    }
}
