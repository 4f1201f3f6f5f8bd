//! Headless Chromium (Debian's `chromium` package) for the pages we render: the DOM after the
//! page's scripts ran, and screenshots. Tests that need it call [`Chromium::find`] and say they
//! skipped the browser half when it is `None` ([`SKIPPED`] says how to install it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where Debian and Ubuntu put the browser.
const CANDIDATES: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/// What a test prints when the browser is absent.
pub const SKIPPED: &str =
    "no chromium at /usr/bin/chromium (apt-get install chromium; ./scripts/test does it as root)";

/// The browser binary, if installed.
pub fn binary() -> Option<PathBuf> {
    CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists())
}

/// One browser binary with a throwaway profile directory per call, so calls never share
/// state (cookies, caches) and never touch the user's own profile.
pub struct Chromium {
    binary: PathBuf,
    profiles: tempfile::TempDir,
    calls: AtomicUsize,
}

impl Chromium {
    pub fn find() -> Option<Chromium> {
        Some(Chromium {
            binary: binary()?,
            profiles: tempfile::tempdir().expect("a temporary directory for browser profiles"),
            calls: AtomicUsize::new(0),
        })
    }

    /// A headless command with no network beyond the page, no GPU and a fresh profile.
    pub fn command(&self) -> Command {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let mut command = Command::new(&self.binary);
        command.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ]);
        command.arg(format!(
            "--user-data-dir={}",
            self.profiles.path().join(call.to_string()).display()
        ));
        command
    }

    /// Runs the browser with `args` on the local page `page`; panics, naming `what`, if it
    /// fails. Returns what it printed.
    fn run_on(&self, page: &Path, what: &str, args: &[String]) -> Vec<u8> {
        let output = self
            .command()
            .args(args)
            .arg(file_url(page))
            .output()
            .expect("start chromium");
        assert!(
            output.status.success(),
            "chromium {what} {}: {}",
            page.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// The DOM of the local page `page` after its scripts ran (`--dump-dom`).
    pub fn dump_dom(&self, page: &Path) -> String {
        let dom = self.run_on(page, "--dump-dom", &["--dump-dom".to_string()]);
        String::from_utf8_lossy(&dom).into_owned()
    }

    /// A PNG of the local page `page` in a `width` x `height` window, written to `png` and
    /// returned.
    pub fn screenshot(&self, page: &Path, png: &Path, (width, height): (u32, u32)) -> Vec<u8> {
        let args = [
            format!("--window-size={width},{height}"),
            format!("--screenshot={}", png.display()),
        ];
        self.run_on(page, "--screenshot", &args);
        let bytes = std::fs::read(png).expect("chromium wrote the screenshot");
        assert_eq!(
            &bytes[..8],
            b"\x89PNG\r\n\x1a\n",
            "{} is a PNG",
            png.display()
        );
        bytes
    }
}

fn file_url(page: &Path) -> String {
    format!("file://{}", page.display())
}
