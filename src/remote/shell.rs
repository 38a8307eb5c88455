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
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What the host needs, checked once before anything is changed.
const TOOLS_CHECK: &str = "{ command -v rsync && command -v flock && command -v find; } >/dev/null || { echo 'rsync, flock and find are needed on the host' >&2; exit 3; }";

/// A local directory or an ssh host.
pub struct Shell {
    /// `None`: local; else the ssh command (multiplexed) and `[user@]host`.
    ssh: Option<(Vec<String>, String)>,
    /// The destination directory (on the host for ssh).
    path: String,
    lock: Option<(Child, ChildStdin)>,
    /// The ssh master connection every command and rsync goes through.
    master: Option<Master>,
    /// The state file as the last listing read it (`Some(None)`: there is none).
    state: Option<Option<Vec<u8>>>,
    /// Files and bytes rsync transferred (its `--stats`).
    transferred: std::cell::Cell<(u64, u64)>,
}

/// An OpenSSH master connection (`ssh -M -S SOCKET`): one handshake per
/// publish instead of one per command. Its remote command ends when its stdin
/// closes, so it goes with elirepo, even killed.
struct Master {
    child: Child,
    stdin: Option<ChildStdin>,
    _dir: tempfile::TempDir,
}

impl Drop for Master {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // The remote `cat` ends, then the master; a host that stopped answering
        // is not waited for.
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Shell {
    /// A local directory.
    pub fn local(path: &Path) -> Result<Shell, PublishError> {
        let p = path
            .to_str()
            .ok_or_else(|| PublishError::Usage(format!("{}: not a UTF-8 path", path.display())))?;
        std::fs::create_dir_all(path).map_err(|e| {
            PublishError::Destination(format!(
                "{}: cannot create the destination: {e}",
                path.display()
            ))
        })?;
        let abs = std::fs::canonicalize(path)
            .map_err(|e| PublishError::Destination(format!("{p}: {e}")))?;
        Ok(Shell {
            ssh: None,
            path: abs.to_string_lossy().into_owned(),
            lock: None,
            master: None,
            state: None,
            transferred: std::cell::Cell::new((0, 0)),
        })
    }

    /// `target:path` over ssh; `rsh` replaces the `ssh` command (split on spaces).
    /// Connects once (an OpenSSH master connection, unless `rsh` is not `ssh`)
    /// and checks the host has `rsync` and `flock`, before anything is changed.
    pub fn ssh(
        target: &str,
        port: Option<u16>,
        path: &str,
        rsh: Option<&str>,
    ) -> Result<Shell, PublishError> {
        let mut cmd: Vec<String> = rsh
            .unwrap_or("ssh")
            .split_whitespace()
            .map(str::to_string)
            .collect();
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
        let mut sh = Shell {
            ssh: Some((cmd.clone(), target.to_string())),
            path: path.to_string(),
            lock: None,
            master: None,
            state: None,
            transferred: std::cell::Cell::new((0, 0)),
        };
        if Path::new(&cmd[0]).file_name().is_some_and(|n| n == "ssh") {
            let master = sh.connect(&cmd, target)?;
            let sock = master._dir.path().join("mux");
            cmd.extend([
                "-S".into(),
                sock.to_string_lossy().into_owned(),
                "-o".into(),
                "ControlMaster=no".into(),
            ]);
            sh.ssh = Some((cmd, target.to_string()));
            sh.master = Some(master);
        } else {
            // The tools are there: one round trip.
            sh.run(TOOLS_CHECK, None)?;
        }
        Ok(sh)
    }

    /// Starts the master connection and waits until it is logged in.
    fn connect(&self, cmd: &[String], target: &str) -> Result<Master, PublishError> {
        // Short: a socket path has a length limit (108 bytes).
        let dir = tempfile::Builder::new()
            .prefix("elirepo-ssh-")
            .tempdir_in("/tmp")
            .map_err(|e| {
                self.fail(
                    "cannot make a directory for the ssh control socket",
                    &e.to_string(),
                )
            })?;
        let err_path = dir.path().join("master.err");
        let err = std::fs::File::create(&err_path)
            .map_err(|e| self.fail("cannot create a file", &e.to_string()))?;
        let mut c = Command::new(&cmd[0]);
        c.args(&cmd[1..])
            .arg("-M")
            .arg("-S")
            .arg(dir.path().join("mux"))
            .args(["-o", "ControlPersist=no"])
            .arg(target)
            .arg("--")
            .arg(format!(
                "sh -c {}",
                quote(&format!(
                    "{TOOLS_CHECK} && echo elirepo-ready && exec cat >/dev/null"
                ))
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err);
        let mut child = c
            .spawn()
            .map_err(|e| self.fail(&format!("cannot run {}", cmd[0]), &e.to_string()))?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
        if line.trim() == "elirepo-ready" {
            return Ok(Master {
                child,
                stdin,
                _dir: dir,
            });
        }
        drop(stdin);
        let status = child
            .wait()
            .map_err(|e| self.fail("waiting for ssh", &e.to_string()))?;
        let text = std::fs::read_to_string(&err_path).unwrap_or_default();
        let note = if text.contains("Permission denied") || text.contains("verification failed") {
            "; elirepo runs ssh with BatchMode=yes: keys or an agent and a known host key, no prompts"
        } else {
            ""
        };
        Err(self.fail(
            "cannot connect over ssh",
            &format!("{} ({status}{note})", text.trim()),
        ))
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
                c.args(&cmd[1..])
                    .arg(target)
                    .arg("--")
                    .arg(format!("sh -c {}", quote(script)));
                c
            }
        }
    }

    /// Runs `script` at the destination with `stdin`; returns its stdout.
    fn run(&self, script: &str, stdin: Option<&[u8]>) -> Result<Vec<u8>, PublishError> {
        self.run_at("", script, stdin)
    }

    /// [`Shell::run`], passing the fault point `point` (unless empty) once the
    /// script runs and before its stdin is written.
    fn run_at(
        &self,
        point: &str,
        script: &str,
        stdin: Option<&[u8]>,
    ) -> Result<Vec<u8>, PublishError> {
        let mut c = self.command(script);
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| {
            self.fail(
                &format!("cannot run {}", c.get_program().to_string_lossy()),
                &e.to_string(),
            )
        })?;
        if !point.is_empty() {
            crate::publish::fault_point(point);
        }
        if let Some(data) = stdin {
            let mut i = child.stdin.take().expect("piped");
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = i.write_all(&data);
            });
        }
        let out = child
            .wait_with_output()
            .map_err(|e| self.fail("waiting", &e.to_string()))?;
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
    fn rsync(
        &self,
        src: &Path,
        files: Option<&[String]>,
        dest: &str,
        extra: &[String],
    ) -> Result<(), PublishError> {
        let mut c = Command::new("rsync");
        c.args([
            "-rlt",
            "--perms",
            "--chmod=D0755,F0644",
            "--safe-links",
            "--stats",
            "--no-human-readable",
        ]);
        c.args(extra);
        if files.is_some() {
            c.args(["--files-from=-", "--from0"]);
        }
        let target = format!("{}/{}", self.path.trim_end_matches('/'), dest);
        match &self.ssh {
            Some((cmd, t)) => {
                c.arg("-e")
                    .arg(cmd.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "));
                c.arg(format!("{}/", src.display()))
                    .arg(format!("{t}:{target}"));
            }
            None => {
                c.arg(format!("{}/", src.display())).arg(target);
            }
        }
        c.stdin(if files.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .map_err(|e| self.fail("cannot run rsync", &e.to_string()))?;
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
        let out = child
            .wait_with_output()
            .map_err(|e| self.fail("rsync", &e.to_string()))?;
        if !out.status.success() {
            return Err(self.fail("rsync failed", &String::from_utf8_lossy(&out.stderr)));
        }
        let (files, bytes) = rsync_stats(&String::from_utf8_lossy(&out.stdout));
        let (f, b) = self.transferred.get();
        self.transferred.set((f + files, b + bytes));
        Ok(())
    }
}

impl Executor for Shell {
    fn renames(&self) -> bool {
        true
    }

    fn transferred(&self) -> Option<(u64, u64)> {
        Some(self.transferred.get())
    }

    fn lock(&mut self, no_wait: bool, log: &mut dyn Listener) -> Result<(), PublishError> {
        let script = format!(
            "{cd0} && mkdir -p .elirepo-publish && exec flock {n} .elirepo-publish/lock sh -c 'echo locked; exec cat >/dev/null'",
            cd0 = format!("mkdir -p {p} && cd {p}", p = quote(&self.path)),
            n = if no_wait { "-n" } else { "" }
        );
        let mut c = self.command(&script);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .map_err(|e| self.fail("cannot start the lock", &e.to_string()))?;
        let stdin = child.stdin.take().expect("piped");
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        if !no_wait {
            log.step(&format!("{}: taking the publish lock", self.where_()));
        }
        let _ = out.read_line(&mut line);
        if line.trim() == "locked" {
            // The lock holder runs until its stdin closes: every process this
            // publish starts from now on (rsync, its ssh, the scripts) inherits
            // that pipe, so a publish killed with SIGKILL keeps the lock until
            // the last of them has exited; the next publish never meets a
            // killed one's rsync or half-run script still writing.
            inherit(&stdin).map_err(|e| self.fail("cannot keep the lock", &e.to_string()))?;
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
        // The state file comes along (one round trip): its size on a line, its bytes, then the files.
        let script = format!(
            "cd {} 2>/dev/null || {{ echo -1; exit 0; }}; if [ -f {st} ]; then wc -c < {st}; cat {st}; else echo -1; fi; \
             find . -path ./.elirepo-publish -prune -o ! -type d -printf '%y\\0%s\\0%T@\\0%P\\0%l\\0'",
            quote(&self.path),
            st = super::state::FILE
        );
        let out = self.run(&script, None)?;
        let nl = out.iter().position(|&b| b == b'\n').unwrap_or(out.len());
        let n: i64 = String::from_utf8_lossy(&out[..nl])
            .trim()
            .parse()
            .unwrap_or(-1);
        let rest = out.get(nl + 1..).unwrap_or_default();
        let (state, rest) = match usize::try_from(n) {
            Ok(n) if n <= rest.len() => (Some(rest[..n].to_vec()), &rest[n..]),
            _ => (None, rest),
        };
        self.state = Some(state);
        let mut l = Listing::default();
        let fields: Vec<&[u8]> = rest.split(|&b| b == 0).collect();
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
        if let Some(state) = self.state.take() {
            return Ok(state.filter(|s| !s.is_empty()));
        }
        let out = self.run(
            &format!(
                "{} ; cat {} 2>/dev/null || true",
                self.cd(),
                super::state::FILE
            ),
            None,
        )?;
        Ok((!out.is_empty()).then_some(out))
    }

    fn send(
        &mut self,
        snap: &Snapshot,
        files: &[String],
        _cfg: &PublishConfig,
    ) -> Result<(), PublishError> {
        // Every file's source is under the repository: rsync from the root with a list.
        let repo = common_root(snap, files);
        // Resolved paths (dists/<suite>/... through links) are sent as files. The plan
        // chose these files because they are not in place: rsync's quick check (size
        // and mtime in whole seconds) must not skip one (--ignore-times; its delta
        // transfer still sends little of a file that is nearly there).
        self.rsync(
            &repo,
            Some(files),
            "",
            &["--copy-links".to_string(), "--ignore-times".to_string()],
        )
    }

    fn generation(&mut self, repo: &Path, op: &GenerationOp) -> Result<(), PublishError> {
        let gens = format!("dists/.generations/{}", op.suite);
        let tmp = format!("{gens}/.tmp-{}", op.id);
        let final_ = format!("{gens}/{}", op.id);
        let mut script = self.cd();
        if op.send {
            // Unchanged files are hard-linked from the previous generation, if their
            // bytes are equal: --checksum, as size and mtime say nothing of two
            // builds within one second (every Release.gpg has the same size).
            let mut extra = vec!["--checksum".to_string()];
            if let Some(prev) = &op.link_dest {
                extra.push(format!("--link-dest=../{prev}"));
            }
            if op.repair {
                // There but incomplete (somebody deleted from it): completed in
                // place, each file written to a temporary name and renamed.
                self.rsync(&repo.join(&op.source), None, &final_, &extra)?;
            } else {
                // A killed publish's temporary directory goes first.
                self.run(
                    &format!(
                        "{} && mkdir -p {g} && rm -rf {g}/.tmp-*",
                        self.cd(),
                        g = quote(&gens)
                    ),
                    None,
                )?;
                self.rsync(&repo.join(&op.source), None, &tmp, &extra)?;
                script.push_str(&format!(" && mv -T {} {}", quote(&tmp), quote(&final_)));
            }
        }
        // The switch: one rename of a new link over the old one.
        let link = format!("dists/{}", op.suite);
        let new = format!("dists/.{}.switch", op.suite);
        script.push_str(&format!(
            " && rm -f {new} && ln -s {target} {new} && mv -T {new} {link}",
            new = quote(&new),
            target = quote(&format!(".generations/{}/{}", op.suite, op.id)),
            link = quote(&link)
        ));
        self.run(&script, None)?;
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
        // All or nothing: the bytes replace the state only if all of them came
        // (a publish killed while sending them closes the pipe early, and `cat`
        // would take the part as the whole: an empty or cut state forgets every
        // file published before, which then stays for ever).
        self.run_at(
            "remote-state-sending",
            &format!(
                "{cd} && mkdir -p {dir} && t={dir}/state.json.tmp && \
                 {{ cat > $t && [ $(wc -c < $t) -eq {n} ] && mv -f $t {file}; }} || \
                 {{ rm -f $t; echo 'the state file arrived incomplete; not replaced' >&2; exit 2; }}",
                cd = self.cd(),
                dir = super::state::DIR,
                n = bytes.len(),
                file = super::state::FILE
            ),
            Some(bytes),
        )?;
        Ok(())
    }
}

/// Lets every child started from now on inherit `fd` (it is opened close-on-exec).
fn inherit(fd: &ChildStdin) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
    Ok(())
}

/// Regular files transferred and bytes sent, from rsync's `--stats --no-human-readable`.
fn rsync_stats(out: &str) -> (u64, u64) {
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().split(' ').next()?.replace(',', "").parse().ok())
            .unwrap_or(0)
    };
    (
        field("Number of regular files transferred:"),
        field("Total bytes sent:"),
    )
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
    fn stats() {
        let out = "Number of files: 3 (reg: 2, dir: 1)\nNumber of regular files transferred: 2\n\
                   Total transferred file size: 1,000 bytes\nTotal bytes sent: 1,125\n";
        assert_eq!(rsync_stats(out), (2, 1125));
        assert_eq!(rsync_stats("garbage"), (0, 0));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a/b_c.deb"), "a/b_c.deb");
        assert_eq!(quote("it's here"), "'it'\\''s here'");
        assert_eq!(quote(""), "''");
    }
}
