//! What the `elirepo` binary shows people on stderr (binary only, not the library).
//!
//! This module owns the look of steps, warnings, errors, hints and progress bars;
//! it does not own data: `--json`, `packages` and `xe-commands` output goes to
//! stdout from the command modules ([`super::exit::out`]) and never passes here.
//!
//! * Levels: `-q` shows errors (and their hints) only; the default adds one line
//!   per step and warnings; `-v` adds details and the time since start.
//! * Lines: every line starts with `elirepo: `; errors read
//!   `elirepo: error: <path>: <what went wrong>`, each line of a multi-line
//!   error prefixed the same way, so `grep 'elirepo: error'` finds them all.
//! * Colour (the `error:`/`warning:`/`hint:` words only) when stderr is a
//!   terminal, `NO_COLOR` is unset or empty and `TERM` is not `dumb`.
//! * Progress bars only when stderr is a terminal, `TERM` is not `dumb` and
//!   `-q` is not given. One bar line, redrawn 10 times a second with a carriage
//!   return and spaces (no escape sequences, so `NO_COLOR` terminals and
//!   `script(1)` logs stay clean), at most one column narrower than the
//!   terminal (asked at each redraw, so a resize is followed; `COLUMNS` only
//!   when the terminal does not say), shown once the work has run for 300 ms
//!   and wiped before any other line is printed. Off a terminal nothing but
//!   whole lines is written.
//! * Ctrl-C ([`handle_interrupts`]): the bar's line is ended, one line says
//!   what is true of the repository (`interrupted; the repository is
//!   unchanged` until a build starts writing into it), and the exit status is
//!   130. Where a build is comes from its [`Listener`](elirepo::build::Listener)
//!   calls ([`Phase`]).
//!
//! This is a hand-written renderer rather than indicatif: elirepo shows at most
//! one bar at a time, its counters are already thread-safe atomics
//! ([`elirepo::progress`]), and the few dozen lines here keep the terminal rules
//! above in one place without a second terminal-detection and styling stack
//! (indicatif brings console, unicode-width and their own colour rules).

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use elirepo::build::Stage;
use elirepo::progress::{Counter, Progress};

/// How much to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `-q`: errors only.
    Quiet,
    /// Steps and warnings.
    Normal,
    /// `-v`: details and timings too.
    Verbose,
}

/// True when `NO_COLOR` asks for no colour (set and not empty, as no-color.org says).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn dumb_term() -> bool {
    std::env::var_os("TERM").is_some_and(|t| t == "dumb")
}

/// True when colour may be written to a stream that `is_terminal`.
pub fn color_for(is_terminal: bool) -> bool {
    is_terminal && !no_color() && !dumb_term()
}

/// The screen line the progress renderer owns.
struct Screen {
    counter: Option<Arc<Counter>>,
    /// Columns of the bar currently drawn (0: none).
    shown: usize,
    stop: bool,
}

impl Screen {
    fn wipe(&mut self, err: &mut impl Write) {
        if self.shown > 0 {
            let _ = write!(err, "\r{}\r", " ".repeat(self.shown));
            self.shown = 0;
        }
    }
}

type Shared = Arc<(Mutex<Screen>, Condvar)>;

/// Where a run is, for what Ctrl-C says about the repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Not in a build (or a build that has returned): nothing to say.
    Other = 0,
    /// A build that has not written into the repository yet: reading and
    /// checking inputs, waiting for the lock, writing indexes in memory,
    /// signing.
    Building,
    /// A build that is copying new files into the pool (staged, then renamed
    /// into place); the suite's indexes and Release are still the old ones.
    Pool,
    /// A build that is switching the suite to its new tree, then tidying up.
    Publishing,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            1 => Phase::Building,
            2 => Phase::Pool,
            3 => Phase::Publishing,
            _ => Phase::Other,
        }
    }

    /// The phase once the build announces `stage`. Never goes back, and means
    /// nothing outside a build.
    fn after(self, stage: Stage) -> Phase {
        let next = match stage {
            Stage::Publishing => Phase::Publishing,
            Stage::CopyingIntoPool => Phase::Pool,
            _ => self,
        };
        if self == Phase::Other || (next as u8) < (self as u8) {
            self
        } else {
            next
        }
    }

    /// The line Ctrl-C prints.
    pub fn interrupted(self) -> &'static str {
        match self {
            Phase::Other => "interrupted",
            Phase::Building => "interrupted; the repository is unchanged",
            Phase::Pool => "interrupted while copying new files into the pool; the suite's indexes and Release are unchanged (the next build uses or removes those files)",
            Phase::Publishing => "interrupted while publishing the suite; run the build again to complete it",
        }
    }
}

/// Terminal output on stderr; see the module documentation.
pub struct Ui {
    level: Level,
    color: bool,
    start: Instant,
    shared: Option<Shared>,
    renderer: Option<JoinHandle<()>>,
    phase: Arc<AtomicU8>,
}

impl Ui {
    /// Output at `level`, colour and bars decided from stderr and the environment.
    pub fn new(level: Level) -> Ui {
        let tty = io::stderr().is_terminal();
        let bars = tty && !dumb_term() && level > Level::Quiet;
        Ui {
            level,
            color: color_for(tty),
            start: Instant::now(),
            shared: bars.then(|| {
                Arc::new((
                    Mutex::new(Screen {
                        counter: None,
                        shown: 0,
                        stop: false,
                    }),
                    Condvar::new(),
                ))
            }),
            renderer: None,
            phase: Arc::new(AtomicU8::new(Phase::Other as u8)),
        }
    }

    /// Tells what Ctrl-C is to say from now on ([`Phase`]).
    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::SeqCst);
    }

    /// The level asked for.
    pub fn level(&self) -> Level {
        self.level
    }

    fn paint(&self, word: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{word}\x1b[0m")
        } else {
            word.to_string()
        }
    }

    /// Writes whole lines, wiping the bar first.
    fn lines(&self, text: &str) {
        // The screen before stderr, in the renderer's order.
        let guard = self.shared.as_ref().map(|s| s.0.lock());
        let err = io::stderr();
        let mut err = err.lock();
        if let Some(Ok(mut screen)) = guard {
            screen.wipe(&mut err);
            let _ = err.write_all(text.as_bytes());
        } else {
            let _ = err.write_all(text.as_bytes());
        }
        let _ = err.flush();
    }

    fn timing(&self) -> String {
        if self.level >= Level::Verbose {
            format!(" [{:.2}s]", self.start.elapsed().as_secs_f64())
        } else {
            String::new()
        }
    }

    /// A step (default and `-v`).
    pub fn step(&self, message: &str) {
        if self.level >= Level::Normal {
            self.lines(&format!("elirepo: {message}{}\n", self.timing()));
        }
    }

    /// A detail (`-v` only).
    pub fn detail(&self, message: &str) {
        if self.level >= Level::Verbose {
            self.lines(&format!("elirepo: {message}\n"));
        }
    }

    /// A warning (default and `-v`).
    pub fn warning(&self, message: &str) {
        if self.level >= Level::Normal {
            let w = self.paint("warning:", "1;33");
            let text: String = message
                .lines()
                .map(|l| format!("elirepo: {w} {l}\n"))
                .collect();
            self.lines(&text);
        }
    }

    /// An error, always shown: every line reads `elirepo: error: ...`.
    pub fn error(&self, error: impl Display) {
        let e = self.paint("error:", "1;31");
        let text: String = error
            .to_string()
            .lines()
            .map(|l| {
                let l = l.strip_prefix("elirepo: error: ").unwrap_or(l);
                format!("elirepo: {e} {l}\n")
            })
            .collect();
        self.lines(&text);
    }

    /// What to do about the error just shown.
    pub fn hint(&self, message: &str) {
        let h = self.paint("hint:", "1;36");
        self.lines(&format!("elirepo: {h} {message}\n"));
    }

    /// Starts a bar for `task` over `total` bytes when bars are on.
    pub fn start_progress(&mut self, task: &str, total: u64) -> Progress {
        let Some(shared) = self.shared.clone() else {
            return Progress::none();
        };
        let p = Progress::new(task, total);
        if let Ok(mut screen) = shared.0.lock() {
            screen.counter = p.counter();
        }
        if self.renderer.is_none() {
            self.renderer = Some(std::thread::spawn(move || render_loop(shared)));
        }
        p
    }

    /// Stops the renderer and wipes its line. Call before exiting.
    pub fn finish(&mut self) {
        if let Some(shared) = &self.shared {
            if let Ok(mut screen) = shared.0.lock() {
                screen.stop = true;
            }
            shared.1.notify_all();
        }
        if let Some(t) = self.renderer.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.finish();
    }
}

impl elirepo::build::Listener for Ui {
    fn stage(&mut self, stage: Stage) {
        let now = Phase::from_u8(self.phase.load(Ordering::SeqCst));
        self.set_phase(now.after(stage));
    }
    fn step(&mut self, message: &str) {
        Ui::step(self, message);
    }
    fn warn(&mut self, message: &str) {
        self.warning(message);
    }
    fn progress(&mut self, task: &str, total: u64) -> Progress {
        self.start_progress(task, total)
    }
}

/// Ctrl-C (SIGINT) for the rest of the run: a thread waits for it, then ends
/// the bar's line, prints what [`Phase`] says and exits with status 130. If
/// the handler cannot be installed, Ctrl-C keeps its default (the process
/// dies).
pub fn handle_interrupts(ui: &Ui) {
    let shared = ui.shared.clone();
    let phase = ui.phase.clone();
    let Ok(mut signals) = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT]) else {
        return;
    };
    std::thread::spawn(move || {
        if signals.forever().next().is_none() {
            return;
        }
        // The screen, then stderr, as every other writer takes them; both are
        // held until the exit, so nothing is drawn after this line.
        let screen = shared
            .as_ref()
            .map(|s| s.0.lock().unwrap_or_else(|e| e.into_inner()));
        let err = io::stderr();
        let mut err = err.lock();
        let text = interrupt_text(
            screen.as_ref().map_or(0, |s| s.shown),
            Phase::from_u8(phase.load(Ordering::SeqCst)),
        );
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
        std::process::exit(130);
    });
}

/// What Ctrl-C writes: a newline that ends the bar's line when `shown`
/// columns of a bar are drawn, then the phase's line.
fn interrupt_text(shown: usize, phase: Phase) -> String {
    let end = if shown > 0 { "\n" } else { "" };
    format!("{end}elirepo: {}\n", phase.interrupted())
}

/// How long work runs before its bar is drawn.
const SHOW_AFTER: Duration = Duration::from_millis(300);
/// Time between redraws.
const TICK: Duration = Duration::from_millis(100);

fn render_loop(shared: Shared) {
    let (lock, wake) = &*shared;
    let Ok(mut screen) = lock.lock() else { return };
    loop {
        screen = match wake.wait_timeout(screen, TICK) {
            Ok((s, _)) => s,
            Err(_) => return,
        };
        let err = io::stderr();
        let mut err = err.lock();
        if screen.stop {
            screen.wipe(&mut err);
            let _ = err.flush();
            return;
        }
        let Some(c) = screen.counter.as_ref() else {
            continue;
        };
        if c.finished() {
            screen.counter = None;
            screen.wipe(&mut err);
            let _ = err.flush();
            continue;
        }
        let elapsed = c.started().elapsed();
        if elapsed < SHOW_AFTER {
            continue;
        }
        let line = bar_line(c, elapsed, width());
        let n = line.chars().count();
        let pad = screen.shown.saturating_sub(n);
        let _ = write!(err, "\r{line}{}", " ".repeat(pad));
        let _ = err.flush();
        screen.shown = n.max(screen.shown);
    }
}

/// Columns available for the bar on stderr's terminal.
fn width() -> usize {
    let terminal = terminal_size::terminal_size_of(io::stderr()).map(|(w, _)| w.0 as usize);
    bar_width(terminal, std::env::var("COLUMNS").ok().as_deref())
}

/// One column less than the terminal's width (`terminal`, as the terminal
/// says), else than `COLUMNS` (shells do not export it, so it is only a
/// fallback), else 79; a width under 20 is not believed.
fn bar_width(terminal: Option<usize>, columns: Option<&str>) -> usize {
    terminal
        .filter(|&c| c > 0)
        .or_else(|| columns.and_then(|c| c.trim().parse::<usize>().ok()))
        .filter(|&c| c >= 20)
        .map_or(79, |c| c - 1)
}

/// `1 package`, `2 packages`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1.5 MiB`, `512 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `40.1/77.0 MiB`: both in the unit of the total.
fn human_pair(done: u64, total: u64) -> String {
    let t = human_bytes(total);
    let (_, unit) = t.rsplit_once(' ').unwrap_or(("", "B"));
    let scale = match unit {
        "KiB" => 1u64 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return format!("{done}/{t}"),
    };
    format!("{:.1}/{t}", done as f64 / scale as f64)
}

/// Shortens `s` to `n` characters by cutting its middle: `decompressing vm...56-amd64`.
fn cut_middle(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n {
        return s.to_string();
    }
    if n <= 3 {
        return s.chars().take(n).collect();
    }
    let head = (n - 3) / 2;
    let tail = n - 3 - head;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(len - tail).collect();
    format!("{start}...{end}")
}

/// One bar line, at most `width` characters, e.g.
/// `reading 3 .deb files [########........]  52% 40.1/77.0 MiB 210.3 MiB/s`.
/// When it does not fit, the rate goes first, then the bar narrows, then the
/// middle of the task is cut.
fn bar_line(c: &Counter, elapsed: Duration, width: usize) -> String {
    let done = c.done();
    let total = c.total();
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = format!(" {}/s", human_bytes((done as f64 / secs) as u64));
    let task = c.task();
    if total == 0 {
        let tail = format!(" {}{rate}", human_bytes(done));
        let room = width.saturating_sub(tail.chars().count());
        return format!("{}{tail}", cut_middle(task, room));
    }
    let done = done.min(total);
    let pct = done * 100 / total;
    let sizes = format!(" {pct:>3}% {}", human_pair(done, total));
    let fits = |bar: usize, rate: &str| {
        task.chars().count() + 3 + bar + sizes.chars().count() + rate.chars().count() <= width
    };
    let (bar, rate) = if fits(20, &rate) {
        (20, rate.as_str())
    } else if fits(20, "") {
        (20, "")
    } else {
        let bar = (10..20).rev().find(|&b| fits(b, "")).unwrap_or(10);
        (bar, "")
    };
    let room = width.saturating_sub(3 + bar + sizes.chars().count() + rate.chars().count());
    let fill = ((done as f64 / total as f64 * bar as f64) as usize).min(bar);
    let line = format!(
        "{} [{}{}]{sizes}{rate}",
        cut_middle(task, room),
        "#".repeat(fill),
        ".".repeat(bar - fill)
    );
    line.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(77 << 20), "77.0 MiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }

    #[test]
    fn a_bar_fits_its_width_and_says_how_far() {
        let p = Progress::new("reading 450 .deb files", 200 << 20);
        p.add(100 << 20);
        let c = p.counter().unwrap();
        let line = bar_line(&c, Duration::from_secs(2), 79);
        assert_eq!(
            line,
            "reading 450 .deb files [##########..........]  50% 100.0/200.0 MiB 50.0 MiB/s"
        );
        let narrow = bar_line(&c, Duration::from_secs(2), 40);
        assert!(narrow.chars().count() <= 40, "{narrow}");
        assert!(narrow.contains(" 50% 100.0/200.0 MiB"), "{narrow}");
        let long = Progress::new("decompressing vmlinuz-6.1.0-56-amd64-with-a-long-name", 100);
        long.add(250);
        let line = bar_line(&long.counter().unwrap(), Duration::from_secs(1), 79);
        assert!(line.chars().count() <= 79, "{line}");
        assert!(
            line.starts_with("decompressing vm") && line.contains("...") && line.contains("100%"),
            "{line}"
        );
        let unknown = Progress::new("t", 0);
        unknown.add(2048);
        let line = bar_line(&unknown.counter().unwrap(), Duration::from_secs(1), 79);
        assert_eq!(line, "t 2.0 KiB 2.0 KiB/s");
    }

    #[test]
    fn the_terminal_says_how_wide_the_bar_is() {
        assert_eq!(bar_width(Some(40), None), 39);
        assert_eq!(bar_width(Some(40), Some("120")), 39);
        assert_eq!(bar_width(None, Some("120")), 119);
        assert_eq!(bar_width(Some(0), Some("60")), 59);
        assert_eq!(bar_width(None, None), 79);
        assert_eq!(bar_width(Some(10), None), 79);
    }

    #[test]
    fn ctrl_c_says_what_is_true_of_the_repository() {
        let build = Phase::Building;
        let pool = build.after(Stage::CopyingIntoPool);
        assert_eq!(pool, Phase::Pool);
        let publishing = pool.after(Stage::Publishing);
        assert_eq!(publishing, Phase::Publishing);
        assert_eq!(publishing.after(Stage::CopyingIntoPool), Phase::Publishing);
        // Outside a build the library's stages mean nothing.
        assert_eq!(Phase::Other.after(Stage::Publishing), Phase::Other);
        assert_eq!(
            interrupt_text(0, build),
            "elirepo: interrupted; the repository is unchanged\n"
        );
        assert_eq!(interrupt_text(42, Phase::Other), "\nelirepo: interrupted\n");
        assert!(interrupt_text(0, pool).contains("Release are unchanged"));
    }

    #[test]
    fn middles_are_cut_to_fit() {
        assert_eq!(cut_middle("abcdefghij", 10), "abcdefghij");
        assert_eq!(cut_middle("abcdefghij", 7), "ab...ij");
        assert_eq!(human_pair(3 << 19, 2 << 20), "1.5/2.0 MiB");
        assert_eq!(human_pair(5, 100), "5/100 B");
    }
}
