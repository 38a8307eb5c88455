//! Local paths and ssh hosts: the real `rsync` (over the real `ssh`, so the
//! user's agent, keys and `~/.ssh/config` apply) sends the files of each pass,
//! each one written to a temporary name and renamed into place; small `sh`
//! scripts (run locally, or on the host through ssh) list the destination,
//! switch a generation link with `mv -T` (one rename), delete, and hold the
//! lock with `flock` on `.elirepo-publish/lock` for as long as elirepo runs
//! (the lock dies with the connection, so a killed publish leaves none).
//!
//! The host needs `sh`, `rsync`, GNU `find`, `mv -T` and `flock` (util-linux).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use super::plan::{GenerationOp, Listing, Snapshot};
use super::{Executor, Listener, PublishConfig, PublishError};

/// Quotes `s` for a POSIX shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A local directory or an ssh host.
pub struct Shell {
    /// `None`: local.
    ssh: Option<(Vec<String>, String)>,
    /// The destination directory (on the host for ssh).
    path: String,
    lock: Option<(Child, ChildStdin)>,
}

impl Shell {
    /// A local directory.
    pub fn local(path: &Path) -> Result<Shell, PublishError> {
        let p = path.to_str().ok_or_else(|| PublishError::Usage(format!("{}: not a UTF-8 path", path.display())))?;
        std::fs::create_dir_all(path)
            .map_err(|e| PublishError::Destination(format!("{}: cannot create the destination: {e}", path.display())))?;
        let abs = std::fs::canonicalize(path).map_err(|e| PublishError::Destination(format!("{p}: {e}")))?;
        Ok(Shell { ssh: None, path: abs.to_string_lossy().into_owned(), lock: None })
    }

    /// `target:path` over ssh; `rsh` replaces the `ssh` command (split on spaces).
    pub fn ssh(target: &str, port: Option<u16>, path: &str, rsh: Option<&str>) -> Result<Shell, PublishError> {
        let mut cmd: Vec<String> = rsh.unwrap_or("ssh").split_whitespace().map(str::to_string).collect();
        if cmd.is_empty() {
            return Err(PublishError::Usage("--rsh is empty".into()));
        }
        if let Some(p) = port {
            cmd.push("-p".into());
            cmd.push(p.to_string());
        }
        // Never ask for a password or a host key on a terminal: fail instead.
        cmd.push("-o".into());
        cmd.push("BatchMode=yes".into());
        let sh = Shell { ssh: Some((cmd, target.to_string())), path: path.to_string(), lock: None };
        // Reachable, and the tools are there: one round trip, before anything is changed.
        let out = sh.run("command -v rsync >/dev/null && command -v flock >/dev/null || { echo 'rsync and flock are needed on the host' >&2; exit 3; }", None)?;
        let _ = out;
        Ok(sh)
    }

    fn where_(&self) -> String {
        match &self.ssh {
            Some((_, t)) => format!("{t}:{}", self.path),
            None => self.path.clone(),
        }
    }

    fn command(&self, script: &str) -> Command {
        match &self.ssh {
            None => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(script);
                c
            }
            Some((cmd, target)) => {
                let mut c = Command::new(&cmd[0]);
                c.args(&cmd[1..]).arg(target).arg("--").arg(format!("sh -c {}", quote(script)));
                c
            }
        }
    }

    /// Runs `script` at the destination with `stdin`; returns its stdout.
    fn run(&self, script: &str, stdin: Option<&[u8]>) -> Result<Vec<u8>, PublishError> {
        let mut c = self.command(script);
        c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| self.fail(&format!("cannot run {}", c.get_program().to_string_lossy()), &e.to_string()))?;
        if let Some(data) = stdin {
            let mut i = child.stdin.take().expect("piped");
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = i.write_all(&data);
            });
        }
        let out = child.wait_with_output().map_err(|e| self.fail("waiting", &e.to_string()))?;
        if !out.status.success() {
            return Err(self.fail("a command failed", &String::from_utf8_lossy(&out.stderr)));
        }
        Ok(out.stdout)
    }

    fn fail(&self, what: &str, detail: &str) -> PublishError {
        PublishError::Destination(format!("{}: {what}: {}", self.where_(), detail.trim()))
    }

    fn cd(&self) -> String {
        format!("cd {} || exit 2", quote(&self.path))
    }

    /// rsync `files` (relative to `src`) to `dest` (relative to the destination).
    fn rsync(&self, src: &Path, files: Option<&[String]>, dest: &str, extra: &[String]) -> Result<(), PublishError> {
        let mut c = Command::new("rsync");
        c.args(["-rlt", "--perms", "--chmod=D0755,F0644", "--safe-links"]);
        c.args(extra);
        if files.is_some() {
            c.args(["--files-from=-", "--from0"]);
        }
        let target = format!("{}/{}", self.path.trim_end_matches('/'), dest);
        match &self.ssh {
            Some((cmd, t)) => {
                c.arg("-e").arg(cmd.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "));
                c.arg(format!("{}/", src.display())).arg(format!("{t}:{target}"));
            }
            None => {
                c.arg(format!("{}/", src.display())).arg(target);
            }
        }
        c.stdin(if files.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| self.fail("cannot run rsync", &e.to_string()))?;
        if let Some(files) = files {
            let mut list = Vec::new();
            for f in files {
                list.extend_from_slice(f.as_bytes());
                list.push(0);
            }
            let mut i = child.stdin.take().expect("piped");
            std::thread::spawn(move || {
                let _ = i.write_all(&list);
            });
        }
        let out = child.wait_with_output().map_err(|e| self.fail("rsync", &e.to_string()))?;
        if !out.status.success() {
            return Err(self.fail("rsync failed", &String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }
}

impl Executor for Shell {
    fn renames(&self) -> bool {
        true
    }

    fn lock(&mut self, no_wait: bool, log: &mut dyn Listener) -> Result<(), PublishError> {
        let script = format!(
            "{cd0} && mkdir -p .elirepo-publish && exec flock {n} .elirepo-publish/lock sh -c 'echo locked; exec cat >/dev/null'",
            cd0 = format!("mkdir -p {p} && cd {p}", p = quote(&self.path)),
            n = if no_wait { "-n" } else { "" }
        );
        let mut c = self.command(&script);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| self.fail("cannot start the lock", &e.to_string()))?;
        let stdin = child.stdin.take().expect("piped");
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        if !no_wait {
            log.step(&format!("{}: taking the publish lock", self.where_()));
        }
        let _ = out.read_line(&mut line);
        if line.trim() == "locked" {
            self.lock = Some((child, stdin));
            return Ok(());
        }
        drop(stdin);
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = child.wait().ok().and_then(|s| s.code());
        if no_wait && status == Some(1) {
            return Err(PublishError::Locked(format!(
                "{}: another elirepo publish holds .elirepo-publish/lock; retry later or drop --no-wait to wait for it",
                self.where_()
            )));
        }
        Err(self.fail("cannot take the publish lock", &err))
    }

    fn unlock(&mut self) -> Result<(), PublishError> {
        if let Some((mut child, stdin)) = self.lock.take() {
            drop(stdin);
            let _ = child.wait();
        }
        Ok(())
    }

    fn listing(&mut self) -> Result<Listing, PublishError> {
        let script = format!(
            "cd {} 2>/dev/null || exit 0; find . -path ./.elirepo-publish -prune -o ! -type d -printf '%y\\0%s\\0%T@\\0%P\\0%l\\0'",
            quote(&self.path)
        );
        let out = self.run(&script, None)?;
        let mut l = Listing::default();
        let fields: Vec<&[u8]> = out.split(|&b| b == 0).collect();
        for rec in fields.chunks(5) {
            if rec.len() < 5 {
                break;
            }
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let path = s(rec[3]);
            match rec[0] {
                b"l" => {
                    l.links.insert(path, s(rec[4]));
                }
                b"f" => {
                    let size = s(rec[1]).parse().unwrap_or(u64::MAX);
                    let mtime = s(rec[2]).split('.').next().unwrap_or("").to_string();
                    l.files.insert(path, (size, mtime));
                }
                _ => {}
            }
        }
        Ok(l)
    }

    fn read_state(&mut self) -> Result<Option<Vec<u8>>, PublishError> {
        let out = self.run(&format!("{} ; cat {} 2>/dev/null || true", self.cd(), super::state::FILE), None)?;
        Ok((!out.is_empty()).then_some(out))
    }

    fn send(&mut self, snap: &Snapshot, files: &[String], _cfg: &PublishConfig) -> Result<(), PublishError> {
        // Every file's source is under the repository: rsync from the root with a list.
        let repo = common_root(snap, files);
        // Resolved paths (dists/<suite>/... through links) are sent as files: -L only for those.
        self.rsync(&repo, Some(files), "", &["--copy-links".to_string()])
    }

    fn generation(&mut self, repo: &Path, op: &GenerationOp) -> Result<(), PublishError> {
        let gens = format!("dists/.generations/{}", op.suite);
        let tmp = format!("{gens}/.tmp-{}", op.id);
        if op.send {
            self.run(&format!("{} && mkdir -p {g} && rm -rf {g}/.tmp-*", self.cd(), g = quote(&gens)), None)?;
            let mut extra = Vec::new();
            if let Some(prev) = &op.link_dest {
                extra.push(format!("--link-dest=../{prev}"));
            }
            self.rsync(&repo.join(&op.source), None, &tmp, &extra)?;
            self.run(
                &format!("{} && if [ -d {final_} ]; then rm -rf {tmp}; else mv -T {tmp} {final_}; fi", self.cd(), tmp = quote(&tmp), final_ = quote(&format!("{gens}/{}", op.id))),
                None,
            )?;
        }
        // The switch: one rename of a new link over the old one.
        let link = format!("dists/{}", op.suite);
        let new = format!("dists/.{}.switch", op.suite);
        self.run(
            &format!(
                "{} && rm -f {new} && ln -s {target} {new} && mv -T {new} {link}",
                self.cd(),
                new = quote(&new),
                target = quote(&format!(".generations/{}/{}", op.suite, op.id)),
                link = quote(&link)
            ),
            None,
        )?;
        Ok(())
    }

    fn delete(&mut self, files: &[String], dirs: &[String]) -> Result<(), PublishError> {
        let mut list = Vec::new();
        for f in files {
            list.extend_from_slice(f.as_bytes());
            list.push(0);
        }
        let rmdirs: Vec<String> = dirs.iter().map(|d| quote(d)).collect();
        let script = format!(
            "{} && xargs -0 -r rm -f -- && {} (find pool -mindepth 1 -depth -type d -empty -delete 2>/dev/null; true)",
            self.cd(),
            if rmdirs.is_empty() { String::new() } else { format!("rm -rf -- {} &&", rmdirs.join(" ")) }
        );
        self.run(&script, Some(&list))?;
        Ok(())
    }

    fn write_state(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        self.run(
            &format!(
                "{} && mkdir -p .elirepo-publish && cat > .elirepo-publish/state.json.tmp && mv -f .elirepo-publish/state.json.tmp {}",
                self.cd(),
                super::state::FILE
            ),
            Some(bytes),
        )?;
        Ok(())
    }
}

/// The repository root the snapshot's paths are relative to.
fn common_root(snap: &Snapshot, files: &[String]) -> PathBuf {
    let f = &files[0];
    let abs = &snap.files[f].abs;
    let mut root = abs.clone();
    for _ in f.split('/') {
        root.pop();
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("a/b_c.deb"), "a/b_c.deb");
        assert_eq!(quote("it's here"), "'it'\\''s here'");
        assert_eq!(quote(""), "''");
    }
}
