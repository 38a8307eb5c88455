//! A real OpenSSH server for the tests: `/usr/sbin/sshd -D` on a free port of
//! 127.0.0.1, run as the current user, with a throwaway host key and client key
//! made by `ssh-keygen` in a temp dir (authorized in that dir only). The client
//! side is [`Sshd::rsh`], an `ssh` command that reads no user config, trusts
//! no agent and no known_hosts: what `elirepo publish --rsh` takes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{find_on_path, skip};

pub const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
    /// `user@127.0.0.1`.
    pub target: String,
}

fn keygen(path: &Path) {
    let o = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "elirepo-test", "-f"]).arg(path).output().unwrap();
    assert!(o.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&o.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Sshd {
    /// Starts it and waits until a command runs over it; None (after
    /// [`skip`]) if sshd, ssh, ssh-keygen or rsync is missing.
    pub fn start() -> Option<Sshd> {
        if !Path::new(SSHD).exists() {
            skip("sshd (openssh-server) is not installed");
            return None;
        }
        for tool in ["ssh", "ssh-keygen", "rsync", "flock"] {
            if find_on_path(tool).is_none() {
                skip(&format!("{tool} not installed"));
                return None;
            }
        }
        let dir = super::tempdir();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        keygen(&d.join("wrong_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let uid = Command::new("id").arg("-u").output().unwrap();
        let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().unwrap().stdout).trim().to_string();
        if root {
            // sshd run by root insists on its privilege separation directory,
            // which a container without an init system may not have.
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let config = format!(
            "ListenAddress 127.0.0.1\n\
             HostKey {d}/host_key\n\
             AuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\n\
             PidFile {d}/sshd.pid\n\
             UsePAM no\n\
             PermitRootLogin prohibit-password\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             UseDNS no\n\
             MaxStartups 100:30:200\n\
             MaxSessions 100\n\
             LogLevel VERBOSE\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let port = free_port();
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-p")
            .arg(port.to_string())
            .arg("-E")
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Sshd { child, dir, port, target: format!("{user}@127.0.0.1") };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let o = s.ssh("true");
                let hint = if s.log().contains("account is locked") {
                    "\n(sshd without PAM refuses a locked account, a password field starting with '!': \
                     give it a '*' instead, e.g. usermod -p '*' USER, or run the tests as another user)"
                } else {
                    ""
                };
                assert!(o.status.success(), "ssh to the test sshd failed: {}\nsshd log:\n{}{hint}", String::from_utf8_lossy(&o.stderr), s.log());
                return Some(s);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("sshd on port {port} did not start:\n{}", s.log());
    }

    /// The ssh command (for `--rsh`) with the authorized key.
    pub fn rsh(&self) -> String {
        self.rsh_with(&self.key())
    }

    /// The ssh command with another key.
    pub fn rsh_with(&self, key: &Path) -> String {
        format!("{} -p {}", Sshd::rsh_key(key), self.port)
    }

    /// The ssh command with the authorized key and no port (for ssh://HOST:PORT/PATH).
    pub fn rsh_without_port(&self) -> String {
        Sshd::rsh_key(&self.key())
    }

    fn rsh_key(key: &Path) -> String {
        format!(
            "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o IdentityAgent=none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            key.display()
        )
    }

    /// The authorized client key.
    pub fn key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A key the server does not accept.
    pub fn wrong_key(&self) -> PathBuf {
        self.dir.path().join("wrong_key")
    }

    /// Runs `command` on the server.
    pub fn ssh(&self, command: &str) -> std::process::Output {
        let rsh = self.rsh();
        let mut w = rsh.split_whitespace();
        Command::new(w.next().unwrap()).args(w).arg(&self.target).arg(command).output().unwrap()
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
