//! `screener dashboard` as the user runs it: over a store that `screener run` (three dates,
//! synthetic market) and `screener backtest` left behind, the built binary is started, and
//! headless Chromium, driven over WebDriver (Debian's `chromium-driver`), signs in through the
//! printed link, is refused the same link again, sorts and filters a table (checking the
//! order, the values and the URL), opens a symbol and checks its chart canvas is drawn and not
//! blank, and opens two backtests side by side. Server-side, every page and file without the
//! cookie is 401 and URLs that try to walk out of the store are refused. Screenshots are saved
//! in a temporary directory (the test prints where). Without Chromium or chromedriver the
//! browser part prints that it was skipped; the server-side checks still run.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const DATES: [&str; 3] = ["2025-06-11", "2025-06-12", "2025-06-13"];

/// A child process ended when the test ends, pass or fail.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screener(dir: &Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_screener"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "screener {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One request over a fresh connection: status, headers (lower-case names), body.
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    screener_test_support::client::request(addr, method, path, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The store: three daily runs and two backtests, made by the binary.
fn make_store(dir: &Path) -> String {
    for date in DATES {
        screener(
            dir,
            &[
                "run",
                "--date",
                date,
                "--symbols",
                "150",
                "--data-dir",
                "store",
            ],
        );
    }
    // Two backtests of a year of the synthetic market, the second under its own id (the id is
    // the start time, to the second) and rebalancing every 10 sessions.
    let backtest = |extra: &[&str]| {
        let mut args = vec![
            "backtest",
            "--source",
            "synthetic",
            "--symbols",
            "60",
            "--start",
            "2025-06-02",
            "--end",
            "2026-06-01",
            "--store",
            "store",
        ];
        args.extend_from_slice(extra);
        screener(dir, &args);
    };
    backtest(&[]);
    std::thread::sleep(Duration::from_millis(1100));
    backtest(&["--every", "10"]);
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("store/backtests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 2, "{ids:?}");
    ids.join(",")
}

/// Starts `screener dashboard` on a free port; answers the process, its address and the
/// sign-in path it printed.
fn start_dashboard(dir: &Path) -> (Running, SocketAddr, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_screener"))
        .args([
            "dashboard",
            "--data-dir",
            "store",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the dashboard printed its link")
            .unwrap();
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_string();
        }
    };
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    assert!(path.starts_with("/app/signin?token=v1."), "{url}");
    (running, addr.parse().unwrap(), path.to_string())
}

#[test]
fn the_dashboard_serves_what_run_and_backtest_left_to_a_signed_in_browser_only() {
    let dir = tempfile::tempdir().unwrap();
    let backtests = make_store(dir.path());
    let backtest_ids: Vec<&str> = backtests.split(',').collect();
    let (_server, addr, signin) = start_dashboard(dir.path());

    // Without a session: every page and file is 401 and says to ask the bot / restart.
    let symbol = first_passing_symbol(dir.path());
    let guarded = [
        "/app/".to_string(),
        "/app/?date=2025-06-12&screen=all&sort=-close".into(),
        "/app/history".into(),
        "/app/backtests".into(),
        format!("/app/symbol/{symbol}"),
        "/app/symbol?s=aapl".into(),
        "/app/files/results/2025-06-13/results.csv".into(),
        "/app/files/results/2025-06-13/manifest.json".into(),
        format!("/app/files/backtests/{}/summary.json", backtest_ids[0]),
        "/app/nonexistent".into(),
    ];
    for path in &guarded {
        let (status, headers, body) = http(addr, "GET", path, &[], b"");
        assert_eq!(status, 401, "{path}");
        assert!(
            String::from_utf8_lossy(&body).contains("new sign-in link"),
            "{path}"
        );
        let csp = header(&headers, "content-security-policy").unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
    }
    // A forged cookie is no better.
    let (status, _, _) = http(
        addr,
        "GET",
        "/app/",
        &[("Cookie", "screener_session=v1.0.9999999999.00")],
        b"",
    );
    assert_eq!(status, 401);
    // Only GET (and the sign-in POST).
    let (status, _, _) = http(addr, "POST", "/app/", &[], b"");
    assert_eq!(status, 405);

    let cookie = match Browser::start() {
        Some(browser) => browse(&browser, addr, &signin, &symbol, &backtest_ids),
        None => {
            println!(
                "dashboard browser checks skipped: chromium or chromedriver is not installed (scripts/test installs both as root)"
            );
            // Sign in over plain HTTP instead, and check the link is single-use.
            let token = signin.split_once("token=").unwrap().1;
            let body = format!("token={token}");
            let (status, headers, _) = http(
                addr,
                "POST",
                "/app/signin",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                body.as_bytes(),
            );
            assert_eq!(status, 303);
            let (again, _, _) = http(
                addr,
                "POST",
                "/app/signin",
                &[("Content-Type", "application/x-www-form-urlencoded")],
                body.as_bytes(),
            );
            assert_eq!(again, 401);
            let set = header(&headers, "set-cookie").unwrap();
            set.split(';')
                .next()
                .unwrap()
                .trim_start_matches("screener_session=")
                .to_string()
        }
    };

    // With the session: every page is there, and URLs that try to leave the store are refused.
    let with = format!("screener_session={cookie}");
    let auth = [("Cookie", with.as_str())];
    for path in &guarded[..guarded.len() - 1] {
        let (status, _, _) = http(addr, "GET", path, &auth, b"");
        assert!(status == 200 || status == 303, "{path}: {status}");
    }
    let (_, headers, body) = http(
        addr,
        "GET",
        "/app/files/results/2025-06-13/results.csv",
        &auth,
        b"",
    );
    assert_eq!(
        body,
        std::fs::read(dir.path().join("store/results/date=2025-06-13/results.csv")).unwrap()
    );
    assert!(
        header(&headers, "content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    for path in [
        "/app/symbol/..",
        "/app/symbol/..%2F..%2Fresults",
        "/app/symbol/%2E%2E",
        "/app/files/results/2025-06-13/..%2Fmanifest.json",
        "/app/files/results/2025-06-13/../latest.json",
        "/app/files/results/..%2F..%2Fetc/passwd",
        "/app/files/results/2025-06-13/%2E%2E%2F%2E%2E%2Flatest.json",
        "/app/files/results/2025-06-13/digest.json/..",
        "/app/files/backtests/..%2Fresults/summary.json",
        "/app/files/backtests/../../results/summary.json",
        "/app/?date=..%2F..%2Fetc",
        "/app/?screen=..%2F..%2Flatest",
        "/app/?date=2024-01-02",
        "/app/backtests?id=..%2Fresults",
        "/app/files/runs/x/y",
    ] {
        let (status, _, body) = http(addr, "GET", path, &auth, b"");
        assert!(
            matches!(status, 400 | 404),
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
}

fn first_passing_symbol(dir: &Path) -> String {
    let top =
        std::fs::read_to_string(dir.join("store/results/date=2025-06-13/top-deepest_drawdown.csv"))
            .unwrap();
    top.lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// WebDriver

struct Browser {
    _driver: Running,
    addr: SocketAddr,
    session: String,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Option<Browser> {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let driver = ["/usr/bin/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let driver = Running(child);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let answer = call(addr, "POST", "/session", Some(capabilities));
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        let shots =
            std::env::temp_dir().join(format!("screener-dashboard-shots-{}", std::process::id()));
        std::fs::create_dir_all(&shots).unwrap();
        println!("dashboard screenshots: {}", shots.display());
        Some(Browser {
            _driver: driver,
            addr,
            session,
            shots,
            _profile: profile,
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let answer = call(
            self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body,
        );
        if answer["value"].get("error").is_some() {
            panic!("WebDriver {method} {path}: {answer}");
        }
        answer["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_string()
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn find(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    fn text(&self) -> String {
        self.script("return document.body.innerText;")
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits until `script` returns true.
    fn wait_for(&self, script: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.script(script) != json!(true) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} at {}: {}",
                self.url(),
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let png = self.call("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let path = self.shots.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = call(
            self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (_, _, answer) = http(
        addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    serde_json::from_slice(&answer).unwrap_or(Value::Null)
}

/// The numbers of one table column, as the page shows them (`—` for a missing value).
fn column(browser: &Browser, name: &str) -> Vec<Option<f64>> {
    let script = format!(
        "const heads=[...document.querySelectorAll('#screen-table thead a')].map(a=>a.dataset.column);\
         const i=heads.indexOf('{name}');\
         return [...document.querySelectorAll('#screen-table tbody tr')].map(r=>r.children[i].innerText);"
    );
    browser
        .script(&script)
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap()
                .replace([',', '%', '+', 'x'], "")
                .parse::<f64>()
                .ok()
        })
        .collect()
}

/// The whole visit; answers the session cookie the browser got.
fn browse(
    browser: &Browser,
    addr: SocketAddr,
    signin: &str,
    symbol: &str,
    backtests: &[&str],
) -> String {
    let base = format!("http://{addr}");
    // Sign in through the printed link: the page posts itself and lands on Today.
    browser.go(&format!("{base}{signin}"));
    browser.wait_for(
        "return location.pathname === '/app/' && !!document.querySelector('#screen-table');",
        "Today after sign-in",
    );
    let text = browser.text();
    assert!(
        text.contains("SYNTHETIC"),
        "the synthetic label is on Today"
    );
    assert!(
        text.contains("Run health") && text.contains("deepest_drawdown"),
        "{text}"
    );
    browser.screenshot("today.png");
    let cookies = browser.call("GET", "/cookie", None);
    let session = cookies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "screener_session")
        .expect("the session cookie");
    assert_eq!(session["httpOnly"], json!(true));
    assert_eq!(session["secure"], json!(true));
    assert_eq!(session["sameSite"], json!("Strict"));
    let cookie = session["value"].as_str().unwrap().to_string();

    // The same link again is refused.
    browser.go(&format!("{base}{signin}"));
    browser.wait_for(
        "return document.body.innerText.includes('already used');",
        "the refusal of a used link",
    );

    // Sort the whole market by 1-day return, descending: click the header twice.
    browser.go(&format!(
        "{base}/app/?date=2025-06-13&screen=all&view=performance"
    ));
    browser.click("#screen-table thead a[data-column='ret_1d']");
    browser.wait_for(
        "return location.search.includes('sort=ret_1d');",
        "sorted ascending",
    );
    let ascending: Vec<f64> = column(browser, "ret_1d").into_iter().flatten().collect();
    assert!(
        ascending.len() > 10 && ascending.windows(2).all(|w| w[0] <= w[1]),
        "{ascending:?}"
    );
    browser.click("#screen-table thead a[data-column='ret_1d']");
    browser.wait_for(
        "return location.search.includes('sort=-ret_1d');",
        "sorted descending",
    );
    let descending: Vec<f64> = column(browser, "ret_1d").into_iter().flatten().collect();
    assert!(
        descending.windows(2).all(|w| w[0] >= w[1]),
        "{descending:?}"
    );
    let url = browser.url();
    assert!(
        url.contains("screen=all")
            && url.contains("view=performance")
            && url.contains("date=2025-06-13"),
        "{url}"
    );

    // Filter: 1-day return above 0; the sort stays, every row passes, and the URL says so.
    browser.script("const s=document.querySelector(\"#filter-form select[name='fm']\"); s.value='ret_1d'; return true;");
    browser.type_into("#filter-form input[name='fv']", "0");
    browser.click("#add-filter");
    browser.wait_for(
        "return location.search.includes('fm=ret_1d');",
        "the filter in the URL",
    );
    let filtered: Vec<Option<f64>> = column(browser, "ret_1d");
    assert!(
        !filtered.is_empty() && filtered.len() < ascending.len(),
        "{} of {}",
        filtered.len(),
        ascending.len()
    );
    assert!(
        filtered.iter().all(|v| v.is_some_and(|v| v > 0.0)),
        "{filtered:?}"
    );
    let url = browser.url();
    assert!(
        url.contains("fo=gt") && url.contains("fv=0") && url.contains("sort=-ret_1d"),
        "{url}"
    );
    browser.screenshot("today-filtered.png");

    // A symbol: its chart is drawn (lightweight-charts' canvases) and not blank.
    browser.go(&format!("{base}/app/symbol/{symbol}"));
    browser.wait_for("const c=document.querySelector('#price-chart'); return !!c && c.dataset.drawn === 'true' && c.querySelectorAll('canvas').length > 0;", "the price chart");
    std::thread::sleep(Duration::from_millis(500));
    let colours = browser.script(
        "let n=new Set(); for (const c of document.querySelectorAll('#price-chart canvas')) {\
           const d=c.getContext('2d').getImageData(0,0,c.width,c.height).data;\
           for (let i=0;i<d.length;i+=16) { if (d[i+3]>0) n.add(d[i]+','+d[i+1]+','+d[i+2]); } }\
         return n.size;",
    );
    assert!(
        colours.as_u64().unwrap() > 5,
        "the chart has {colours} colours: blank"
    );
    let text = browser.text();
    assert!(
        text.contains("Screens passed") && text.contains("RSI"),
        "{text}"
    );
    let shot = browser.screenshot("symbol.png");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 20_000,
        "a screenshot with content"
    );

    // History: the chart and the run log of the three runs.
    browser.go(&format!("{base}/app/history"));
    browser.wait_for("const c=document.querySelector('#history-chart'); return !!c && c.dataset.drawn === 'true';", "the history chart");
    assert_eq!(
        browser.script("return document.querySelectorAll('#run-log tbody tr').length;"),
        json!(3)
    );

    // Backtests: both side by side, each with its equity chart drawn.
    browser.go(&format!("{base}/app/backtests"));
    browser.wait_for(
        "return document.querySelectorAll('input[name=id]').length === 2;",
        "the backtest list",
    );
    browser.script(
        "document.querySelectorAll('input[name=id]').forEach(c => c.checked = true); return true;",
    );
    browser.click("#backtest-picker button");
    browser.wait_for("return document.querySelectorAll('section.backtest .chart[data-drawn=true]').length === 2;", "two equity charts");
    let url = browser.url();
    for id in backtests {
        assert!(url.contains(&format!("id={id}")), "{url}");
    }
    browser.screenshot("backtests.png");
    cookie
}
