//! The commands, each answering with HTML text (everything from data escaped). A failure to
//! read results becomes a friendly sentence and an error log line, never an exception text.

use std::fmt::Write;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use screener_core::Symbol;
use screener_core::calendar::{last_trading_day_on_or_before, trading_days_between};
use screener_core::catalogue;
use screener_core::workflow::keys;

use crate::BotDeps;
use crate::brokerage::{BrokerageError, profit_check};
use crate::config::ParamNames;
use crate::rerun::{RerunError, RerunOutcome};
use crate::results::{ResultsError, ResultsIndex};
use crate::subscriptions;
use crate::telegram::escape;

/// How long `/download` and `/report` links stay valid.
pub const LINK_VALIDITY: Duration = Duration::from_secs(3600);

const DEFAULT_ROWS: usize = 10;
/// `/monitor` averages this many positions.
const MONITOR_TOP: usize = 5;

/// A command message: `/name@bot arg arg`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Lower case, without `/` or `@bot`.
    pub name: String,
    pub args: Vec<String>,
}

impl Command {
    /// The command in `text`, or `None` when it is not one, or is addressed to another bot.
    pub fn parse(text: &str, bot_username: Option<&str>) -> Option<Command> {
        let mut words = text.split_whitespace();
        let first = words.next()?.strip_prefix('/')?;
        let (name, target) = match first.split_once('@') {
            Some((name, target)) => (name, Some(target)),
            None => (first, None),
        };
        if let (Some(target), Some(me)) = (target, bot_username)
            && !target.eq_ignore_ascii_case(me)
        {
            return None;
        }
        if name.is_empty() {
            return None;
        }
        Some(Command {
            name: name.to_ascii_lowercase(),
            args: words.map(str::to_string).collect(),
        })
    }
}

pub fn help_text() -> String {
    [
        "<b>Stock screener bot</b>",
        "",
        "/screen [name] [n] — top candidates of a screen (default: deepest drawdown)",
        "/screens — every screen and how many symbols pass it",
        "/symbol SYM — all metrics of one symbol, its rank, the screens it passes",
        "/drawdown [n] — the deepest falls from the 180-day high",
        "/status — the last run: when, how long, counts, failures, data source",
        "/download — links to the results CSV, Parquet and report (valid 1 hour)",
        "/report — the HTML report of the last run",
        "/portfolio — open positions",
        "/account — account equity, cash and buying power",
        "/monitor — profit check: average return of the top 5 positions vs the target",
        "/alerts — the screens you get alerts for",
        "/alert add &lt;screen&gt; — tell me when symbols enter or leave a screen",
        "/alert remove &lt;screen&gt; — stop those alerts",
        "/rerun [YYYY-MM-DD] — run the workflow again (admins)",
        "/help — this list",
    ]
    .join("\n")
}

pub fn not_allowed(chat: i64) -> String {
    format!(
        "Sorry, this bot answers only the chats on its allow-list.\nThis chat's id is <code>{chat}</code>: ask the bot's operator to add it."
    )
}

pub fn no_allow_list(chat: i64, why: &str, params: &ParamNames) -> String {
    format!(
        "This bot answers nobody yet: {}.\n\nTo let this chat in, put its id <code>{chat}</code> in the SSM parameter <code>{}</code> (comma-separated chat ids; locally the environment variable <code>TELEGRAM_ALLOWED_CHAT_IDS</code>). Admins who may /rerun go in <code>{}</code> (<code>TELEGRAM_ADMIN_CHAT_IDS</code>).",
        escape(why),
        escape(&params.allowed_chats),
        escape(&params.admin_chats),
    )
}

/// Runs `command` for an allowed `chat`.
pub async fn run(command: &Command, chat: i64, admin: bool, deps: &BotDeps) -> String {
    let args: Vec<&str> = command.args.iter().map(String::as_str).collect();
    match command.name.as_str() {
        "start" => format!(
            "Hello! I answer questions about the daily stock screen.\n\n{}",
            help_text()
        ),
        "help" => help_text(),
        "screen" => with_results(deps, |index| screen(index, &args, deps)).await,
        "screens" => with_results(deps, |index| screens(index, deps)).await,
        "symbol" => with_results(deps, |index| symbol(index, &args, deps)).await,
        "drawdown" => with_results(deps, |index| drawdown(index, &args, deps)).await,
        "status" => with_results(deps, |index| status(index, deps)).await,
        "download" => download(deps).await,
        "report" => report(deps).await,
        "portfolio" => portfolio(deps).await,
        "account" => account(deps).await,
        "monitor" => monitor(deps).await,
        "alerts" => alerts(chat, deps).await,
        "alert" => alert(chat, &args, deps).await,
        "rerun" => rerun(admin, &args, deps).await,
        _ => format!("I don't know that command.\n\n{}", help_text()),
    }
}

/// The friendly sentence for a results failure (the failure itself goes to the log).
fn results_unavailable(error: &ResultsError) -> String {
    match error {
        ResultsError::NoResults => {
            "No results yet: the screener has not published a run. Try again after the next scheduled run (or ask an admin to /rerun).".into()
        }
        ResultsError::Unavailable(_) | ResultsError::Corrupt(_) => {
            tracing::error!(error = %error, "could not read the published results");
            "Sorry, I can't read the results right now. Please try again in a few minutes.".into()
        }
    }
}

async fn with_results(deps: &BotDeps, answer: impl FnOnce(&ResultsIndex) -> String) -> String {
    match deps.results().await {
        Ok(index) => answer(&index),
        Err(e) => results_unavailable(&e),
    }
}

/// Warning lines for synthetic data and stale results, before the answer.
fn preamble(index: &ResultsIndex, deps: &BotDeps) -> String {
    let mut out = String::new();
    if index.manifest.source.synthetic {
        out.push_str("⚠️ <i>Synthetic demo data, not real prices.</i>\n");
    }
    if let Some(warning) = staleness(index.manifest.date, Utc::now().date_naive(), deps) {
        out.push_str(&warning);
        out.push('\n');
    }
    out
}

/// A warning when the results are older than the daily schedule implies.
pub fn staleness(date: NaiveDate, today: NaiveDate, deps: &BotDeps) -> Option<String> {
    let expected = last_trading_day_on_or_before(today - chrono::Duration::days(1));
    let behind = trading_days_between(date, expected);
    (behind >= deps.settings.stale_after_sessions.max(1)).then(|| {
        let days = (today - date).num_days();
        format!(
            "⚠️ <b>Results are {days} day{} old</b> (from {date}; {behind} session{} missed). The daily run may be failing: see /status.",
            if days == 1 { "" } else { "s" },
            if behind == 1 { "" } else { "s" },
        )
    })
}

fn parse_count(arg: &str, deps: &BotDeps) -> Result<usize, String> {
    match arg.parse::<usize>() {
        Ok(n) if (1..=deps.settings.max_rows).contains(&n) => Ok(n),
        _ => Err(format!(
            "“{}” is not a row count: give a number from 1 to {}.",
            escape(arg),
            deps.settings.max_rows
        )),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{:+.1}%", v * 100.0))
}

/// Whole amounts with thousands separators (money, share counts).
fn thousands(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), catalogue::thousands)
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.decimals$}"))
}

/// The candidate table shared by `/screen` and `/drawdown`.
fn table(index: &ResultsIndex, rows: &[usize], numbered_from: usize) -> String {
    let t = &index.table;
    let mut out = String::from("<pre>");
    let _ = write!(
        out,
        "\n{:>3} {:<7} {:>8} {:>7} {:>5} {:>7}",
        "#", "SYMBOL", "CLOSE", "DD180", "RSI", "RET21"
    );
    for (i, &row) in rows.iter().enumerate() {
        let _ = write!(
            out,
            "\n{:>3} {:<7} {:>8} {:>7} {:>5} {:>7}",
            numbered_from + i,
            escape(&t.symbols[row]),
            catalogue::show("close", t.get(row, "close")),
            catalogue::show("drawdown_180d", t.get(row, "drawdown_180d")),
            catalogue::show("rsi_14", t.get(row, "rsi_14")),
            catalogue::show("ret_21d", t.get(row, "ret_21d")),
        );
    }
    out.push_str("\n</pre>");
    out
}

fn screen(index: &ResultsIndex, args: &[&str], deps: &BotDeps) -> String {
    let mut name = deps.settings.default_screen.as_str();
    let mut n = DEFAULT_ROWS;
    for arg in args {
        if arg.chars().all(|c| c.is_ascii_digit()) {
            match parse_count(arg, deps) {
                Ok(count) => n = count,
                Err(e) => return e,
            }
        } else {
            name = arg;
        }
    }
    let screen = match index.screen(name).or_else(|| {
        // The default may not exist under a custom screens file: fall back to the first.
        (args.is_empty() || name == deps.settings.default_screen)
            .then(|| index.screens.first())
            .flatten()
    }) {
        Some(s) => s,
        None => {
            return format!(
                "There is no screen “{}”. The screens are: {}.",
                escape(name),
                screen_names(index)
            );
        }
    };
    let mut out = preamble(index, deps);
    let _ = writeln!(
        out,
        "<b>{}</b>: {} passing · {}\n<i>{}</i>",
        escape(&screen.name),
        screen.members.len(),
        index.manifest.date,
        escape(&screen.description)
    );
    if screen.members.is_empty() {
        out.push_str("No symbol passes this screen today.");
        return out;
    }
    let shown = &screen.members[..n.min(screen.members.len())];
    out.push_str(&table(index, shown, 1));
    if shown.len() < screen.members.len() {
        let _ = write!(
            out,
            "\nShowing {} of {}: /screen {} {} for more.",
            shown.len(),
            screen.members.len(),
            escape(&screen.name),
            (n * 2).min(deps.settings.max_rows)
        );
    }
    out
}

fn screen_names(index: &ResultsIndex) -> String {
    index
        .screens
        .iter()
        .map(|s| escape(&s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn screens(index: &ResultsIndex, deps: &BotDeps) -> String {
    let mut out = preamble(index, deps);
    let _ = writeln!(
        out,
        "<b>Screens on {}</b> ({} symbols screened)",
        index.manifest.date,
        index.table.len()
    );
    for s in &index.screens {
        let _ = write!(
            out,
            "\n<b>{}</b>: {} passing\n<i>{}</i>\n/screen {}\n",
            escape(&s.name),
            s.members.len(),
            escape(&s.description),
            escape(&s.name)
        );
    }
    out
}

fn symbol(index: &ResultsIndex, args: &[&str], deps: &BotDeps) -> String {
    let Some(raw) = args.first() else {
        return "Which symbol? For example: /symbol AAPL".into();
    };
    let wanted = raw.to_ascii_uppercase();
    let symbol = match Symbol::parse(&wanted) {
        Ok(s) => s,
        Err(e) => {
            return format!(
                "“{}” is not a ticker symbol: {}.",
                escape(raw),
                escape(e.reason)
            );
        }
    };
    let Some(&row) = index.by_symbol.get(symbol.as_str()) else {
        let m = &index.manifest;
        let why = if let Some(r) = m.rejections.iter().find(|r| r.symbol == symbol) {
            format!("it was rejected by validation: {}", escape(&r.reason))
        } else if m.no_data.contains(&symbol) {
            "the data source had no bars for it".to_string()
        } else if m
            .failed_batches
            .iter()
            .any(|b| b.symbols.iter().any(|s| s == symbol.as_str()))
        {
            "it was in a batch that failed to fetch".to_string()
        } else {
            "it is not in the universe that was screened".to_string()
        };
        return format!(
            "{} is not in the {} results ({} symbols screened): {why}.",
            escape(symbol.as_str()),
            m.date,
            index.table.len()
        );
    };
    let t = &index.table;
    let mut out = preamble(index, deps);
    let _ = writeln!(
        out,
        "<b>{}</b> · {}",
        escape(symbol.as_str()),
        escape(&t.dates[row])
    );
    let passes: Vec<String> = index
        .screens
        .iter()
        .filter_map(|s| {
            let rank = s.members.iter().position(|&r| r == row)?;
            Some(format!(
                "{} (#{} of {})",
                escape(&s.name),
                rank + 1,
                s.members.len()
            ))
        })
        .collect();
    if passes.is_empty() {
        out.push_str("Passes no screen.\n");
    } else {
        let _ = writeln!(out, "Passes: {}", passes.join(", "));
    }
    if let Some(rank) = index.by_drawdown.iter().position(|&r| r == row) {
        let _ = writeln!(
            out,
            "Drawdown rank: {} of {} (1 = deepest)",
            rank + 1,
            index.by_drawdown.len()
        );
    }
    out.push_str("<pre>");
    let width = t
        .metrics
        .iter()
        .chain(&t.text_columns)
        .map(String::len)
        .max()
        .unwrap_or(0);
    for (m, name) in t.metrics.iter().enumerate() {
        let v = t.value(row, m);
        let _ = write!(
            out,
            "\n{:<width$} {:>14}",
            escape(name),
            catalogue::show(name, (!v.is_nan()).then_some(v))
        );
    }
    for (name, value) in t.texts_of(row) {
        let _ = write!(out, "\n{:<width$} {:>14}", escape(name), escape(value));
    }
    out.push_str("\n</pre>");
    out
}

fn drawdown(index: &ResultsIndex, args: &[&str], deps: &BotDeps) -> String {
    let n = match args.first() {
        Some(arg) => match parse_count(arg, deps) {
            Ok(n) => n,
            Err(e) => return e,
        },
        None => DEFAULT_ROWS,
    };
    let mut out = preamble(index, deps);
    let _ = writeln!(
        out,
        "<b>Deepest drawdowns from the 180-day high</b> · {}",
        index.manifest.date
    );
    if index.by_drawdown.is_empty() {
        out.push_str("No symbol has a drawdown value in this run.");
        return out;
    }
    let shown = &index.by_drawdown[..n.min(index.by_drawdown.len())];
    out.push_str(&table(index, shown, 1));
    out
}

fn status(index: &ResultsIndex, deps: &BotDeps) -> String {
    let m = &index.manifest;
    let c = &m.counts;
    let mut out = String::new();
    if let Some(notice) = &m.notice {
        let _ = writeln!(out, "⚠️ <i>{}</i>", escape(notice));
    }
    if let Some(warning) = staleness(m.date, Utc::now().date_naive(), deps) {
        let _ = writeln!(out, "{warning}");
    }
    let _ = writeln!(out, "<b>Last run: {}</b>", m.date);
    let _ = writeln!(out, "Run id: <code>{}</code>", escape(&m.run_id));
    let ago = Utc::now() - index.pointer.published_at;
    let _ = writeln!(
        out,
        "Published: {} UTC ({} ago)",
        index.pointer.published_at.format("%Y-%m-%d %H:%M"),
        human_duration(ago.num_seconds())
    );
    let took = (m.finished_at - m.started_at).num_milliseconds() as f64 / 1000.0;
    let steps: Vec<String> = m
        .durations_ms
        .iter()
        .map(|(step, ms)| format!("{} {:.1}s", escape(step), *ms as f64 / 1000.0))
        .collect();
    let _ = writeln!(out, "Duration: {took:.1} s ({})", steps.join(", "));
    let _ = writeln!(
        out,
        "Symbols: {} requested, {} screened, {} rejected, {} without data, {} in failed batches",
        c.requested, c.screened, c.rejected, c.no_data, c.failed
    );
    if m.failed_batches.is_empty() {
        out.push_str("Failed batches: none\n");
    } else {
        let _ = writeln!(out, "Failed batches: {}", m.failed_batches.len());
        for b in &m.failed_batches {
            let _ = writeln!(
                out,
                "• batch {} ({} symbols): {}",
                b.index,
                b.symbols.len(),
                escape(&b.error)
            );
        }
    }
    let _ = writeln!(
        out,
        "Source: {}{}; adjustment: {}",
        escape(&m.source.description),
        m.source
            .feed
            .as_ref()
            .map(|f| format!("; feed: {}", escape(f)))
            .unwrap_or_default(),
        escape(&m.source.adjustment)
    );
    if let Some(w) = &m.worst_drawdown {
        let _ = writeln!(
            out,
            "Worst drawdown: {} {}",
            escape(&w.symbol),
            catalogue::show("drawdown_180d", Some(w.drawdown_180d))
        );
    }
    out
}

fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// A link for people: an `<a>` for a URL, a `<code>` path for a local file.
fn link(label: &str, target: &str) -> String {
    if target.starts_with("https://") || target.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", escape(target), escape(label))
    } else {
        format!("{}: <code>{}</code>", escape(label), escape(target))
    }
}

async fn download(deps: &BotDeps) -> String {
    let index = match deps.results().await {
        Ok(index) => index,
        Err(e) => return results_unavailable(&e),
    };
    let date = index.manifest.date;
    let mut out = format!("<b>Downloads for {date}</b> (links valid 1 hour)\n");
    for file in ["results.csv", "results.parquet", "report.html"] {
        if !index.manifest.files.iter().any(|f| f == file) {
            continue;
        }
        let key = keys::results_file(date, file);
        match deps.store.download_link(&key, LINK_VALIDITY).await {
            Ok(target) => {
                let _ = writeln!(out, "• {}", link(file, &target));
            }
            Err(e) => {
                tracing::error!(error = %e, key, "no download link");
                let _ = writeln!(out, "• {file}: not available right now");
            }
        }
    }
    out
}

async fn report(deps: &BotDeps) -> String {
    let index = match deps.results().await {
        Ok(index) => index,
        Err(e) => return results_unavailable(&e),
    };
    let date = index.manifest.date;
    if !index.manifest.files.iter().any(|f| f == "report.html") {
        return format!(
            "The {date} run has no HTML report (it was published before reports existed). Try /download."
        );
    }
    let key = keys::results_file(date, "report.html");
    match deps.store.download_link(&key, LINK_VALIDITY).await {
        Ok(target) => format!(
            "<b>Report for {date}</b>: tables of every screen, a chart per top candidate, and the run's health.\n{}\n(valid 1 hour)",
            link("report.html", &target)
        ),
        Err(e) => {
            tracing::error!(error = %e, key, "no report link");
            "Sorry, I can't make a link to the report right now. Please try again in a few minutes."
                .into()
        }
    }
}

fn brokerage_unavailable(e: &BrokerageError) -> String {
    match e {
        BrokerageError::NotConfigured(how) => {
            format!("No brokerage account is connected: {}.", escape(how))
        }
        BrokerageError::Unauthorized => {
            tracing::error!(error = %e, "brokerage refused the credentials");
            "The brokerage refused the bot's credentials; the operator needs to check them.".into()
        }
        BrokerageError::Unavailable(_) => {
            tracing::error!(error = %e, "brokerage unavailable");
            "Sorry, I can't reach the brokerage right now. Please try again in a few minutes."
                .into()
        }
    }
}

fn money(v: f64) -> String {
    let cents = format!("{:.2}", v.abs());
    let (whole, frac) = cents.split_once('.').unwrap_or((&cents, "00"));
    let whole = thousands(whole.parse::<f64>().ok());
    format!("{}${whole}.{frac}", if v < 0.0 { "-" } else { "" })
}

async fn portfolio(deps: &BotDeps) -> String {
    let mut positions = match deps.brokerage.positions().await {
        Ok(p) => p,
        Err(e) => return brokerage_unavailable(&e),
    };
    if positions.is_empty() {
        return "No open positions.".into();
    }
    positions.sort_by(|a, b| b.market_value.total_cmp(&a.market_value));
    let mut out = format!("<b>Positions</b> ({})\n<pre>", positions.len());
    let _ = write!(
        out,
        "\n{:<7} {:>8} {:>9} {:>11} {:>7}",
        "SYMBOL", "QTY", "PRICE", "VALUE", "P/L"
    );
    for p in &positions {
        let _ = write!(
            out,
            "\n{:<7} {:>8} {:>9.2} {:>11} {:>7}",
            escape(&p.symbol),
            num(Some(p.qty), if p.qty.fract() == 0.0 { 0 } else { 3 }),
            p.current_price,
            money(p.market_value),
            pct(Some(p.unrealized_plpc)),
        );
    }
    let value: f64 = positions.iter().map(|p| p.market_value).sum();
    let pl: f64 = positions.iter().map(|p| p.unrealized_pl).sum();
    let _ = write!(
        out,
        "\n</pre>Total {}, unrealised P/L {}",
        money(value),
        money(pl)
    );
    out
}

async fn account(deps: &BotDeps) -> String {
    let a = match deps.brokerage.account().await {
        Ok(a) => a,
        Err(e) => return brokerage_unavailable(&e),
    };
    let day = a.equity - a.last_equity;
    let day_pct = if a.last_equity != 0.0 {
        day / a.last_equity
    } else {
        0.0
    };
    format!(
        "<b>Account</b> ({} · {})\nEquity: {}\nToday: {} ({})\nCash: {}\nBuying power: {}\nStatus: {}",
        escape(&a.mode),
        escape(&a.currency),
        money(a.equity),
        money(day),
        pct(Some(day_pct)),
        money(a.cash),
        money(a.buying_power),
        escape(&a.status)
    )
}

async fn monitor(deps: &BotDeps) -> String {
    let positions = match deps.brokerage.positions().await {
        Ok(p) => p,
        Err(e) => return brokerage_unavailable(&e),
    };
    let target = deps.settings.profit_target_pct;
    let Some(check) = profit_check(&positions, MONITOR_TOP, target) else {
        return "No open positions to check.".into();
    };
    let mut out = format!(
        "<b>Profit check</b>: average unrealised return of the top {} positions\n<pre>",
        check.considered.len()
    );
    for p in &check.considered {
        let _ = write!(
            out,
            "\n{:<7} {:>8}",
            escape(&p.symbol),
            pct(Some(p.unrealized_plpc))
        );
    }
    let _ = write!(
        out,
        "\n</pre>Average {:+.1}% vs target {:+.1}%: {}",
        check.average_return_pct,
        check.target_pct,
        if check.reached {
            "✅ <b>target reached</b>"
        } else {
            "not reached yet"
        }
    );
    out
}

async fn alerts(chat: i64, deps: &BotDeps) -> String {
    let subs = match subscriptions::load(deps.store.as_ref()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "could not read subscriptions");
            return "Sorry, I can't read your alerts right now. Please try again in a few minutes."
                .into();
        }
    };
    let mine = subs.screens_of(chat);
    let mut out = if mine.is_empty() {
        "You get no alerts yet.\n".to_string()
    } else {
        format!(
            "After each run I tell you which symbols entered or left: {}\n",
            mine.iter()
                .map(|s| escape(s))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if let Ok(index) = deps.results().await {
        let _ = write!(out, "\nScreens: {}", screen_names(&index));
    }
    out.push_str("\n/alert add &lt;screen&gt; · /alert remove &lt;screen&gt;");
    out
}

async fn alert(chat: i64, args: &[&str], deps: &BotDeps) -> String {
    let usage = "Usage: /alert add &lt;screen&gt; or /alert remove &lt;screen&gt; (see /screens)";
    let (Some(action), Some(screen)) = (args.first(), args.get(1)) else {
        return usage.into();
    };
    let store = deps.store.as_ref();
    let result = match action.to_ascii_lowercase().as_str() {
        "add" => {
            match deps.results().await {
                Ok(index) if index.screen(screen).is_none() => {
                    return format!(
                        "There is no screen “{}”. The screens are: {}.",
                        escape(screen),
                        screen_names(&index)
                    );
                }
                Ok(_) => {}
                Err(e) => return results_unavailable(&e),
            }
            subscriptions::add(store, chat, screen).await.map(|new| {
                if new {
                    format!(
                        "OK: after each run I'll tell you which symbols entered or left <b>{}</b>.",
                        escape(screen)
                    )
                } else {
                    format!("You already get alerts for <b>{}</b>.", escape(screen))
                }
            })
        }
        "remove" | "rm" | "del" => {
            subscriptions::remove(store, chat, screen)
                .await
                .map(|removed| {
                    if removed {
                        format!("OK: no more alerts for <b>{}</b>.", escape(screen))
                    } else {
                        format!("You had no alerts for <b>{}</b>.", escape(screen))
                    }
                })
        }
        _ => return usage.into(),
    };
    result.unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not change subscriptions");
        "Sorry, I couldn't save that change. Please try again.".into()
    })
}

async fn rerun(admin: bool, args: &[&str], deps: &BotDeps) -> String {
    if !admin {
        return "Only admins may /rerun. The operator lists them in the admin chat ids parameter."
            .into();
    }
    let date = match args.first() {
        None => None,
        Some(text) => match text.parse::<NaiveDate>() {
            Ok(d) if d <= Utc::now().date_naive() => Some(d),
            Ok(d) => return format!("{d} is in the future: give a past trading day."),
            Err(_) => {
                return format!(
                    "“{}” is not a date: use YYYY-MM-DD, e.g. /rerun 2025-06-13.",
                    escape(text)
                );
            }
        },
    };
    let what = date.map_or_else(|| "the last session".to_string(), |d| d.to_string());
    match deps.rerun.rerun(date).await {
        Ok(RerunOutcome::Started { name, detail }) => format!(
            "Started a run for {what}: <code>{}</code>\n{}\nI'll publish when it's done (see /status).",
            escape(&name),
            escape(&detail)
        ),
        Ok(RerunOutcome::AlreadyRunning { name, status }) => format!(
            "A run for {what} was already requested today: <code>{}</code> is {}. Not starting another.",
            escape(&name),
            escape(&status)
        ),
        Err(RerunError::NotConfigured(how)) => {
            format!("Re-runs are not configured here: {}.", escape(&how))
        }
        Err(e) => {
            tracing::error!(error = %e, "re-run failed to start");
            "Sorry, the re-run could not be started. Please try again later.".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_parsed_with_their_arguments_and_bot_suffix() {
        let c = Command::parse("/Screen@MyBot deepest_drawdown 5", Some("mybot")).unwrap();
        assert_eq!(c.name, "screen");
        assert_eq!(c.args, vec!["deepest_drawdown", "5"]);
        assert_eq!(Command::parse("/start@OtherBot", Some("mybot")), None);
        assert_eq!(Command::parse("hello", None), None);
        assert_eq!(Command::parse("/", None), None);
        assert_eq!(Command::parse("  /help  ", None).unwrap().name, "help");
    }

    #[test]
    fn numbers_are_shown_for_people() {
        assert_eq!(thousands(Some(3160791.9)), "3,160,792");
        assert_eq!(thousands(Some(-1000.0)), "-1,000");
        assert_eq!(money(1234567.891), "$1,234,567.89");
        assert_eq!(money(-5.5), "-$5.50");
        assert_eq!(catalogue::show("drawdown_180d", Some(-0.768)), "-76.8%");
        assert_eq!(catalogue::show("rel_volume", Some(0.334)), "0.33x");
        assert_eq!(catalogue::show("close", None), "—");
    }
}
