//! The commands, each answering with HTML text (everything from data escaped). A failure to
//! read results becomes a friendly sentence and an error log line, never an exception text.
//!
//! [`COMMANDS`] is the one list of commands: [`run`] dispatches through it and [`help_text`]
//! is written from it, so a command cannot answer without being in /help, nor be in /help
//! without answering. The handlers live by group: `results` (the published run),
//! `brokerage` (positions and account), `alerts` (alert subscriptions), `admin` (re-runs),
//! `dashboard` (sign-in links to the web dashboard), `backtest` (the backtest workflow);
//! `format` shows numbers, money, durations and links.

mod admin;
mod alerts;
pub mod backtest;
mod brokerage;
mod dashboard;
mod format;
mod results;

use std::fmt::Write;
use std::future::Future;
use std::pin::Pin;

use crate::BotDeps;
use crate::results::ResultsIndex;
use screener_core::config::ParamNames;
use screener_telegram::api::escape;

pub use results::{LINK_VALIDITY, staleness};

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

/// Which part of the bot a command belongs to. Admin commands answer admins only, and /help
/// says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    General,
    Results,
    Brokerage,
    Alerts,
    Admin,
}

/// One line of /help: the arguments (plain text) and what the command does with them.
#[derive(Debug)]
pub struct Usage {
    pub args: &'static str,
    pub help: &'static str,
}

const fn usage(args: &'static str, help: &'static str) -> Usage {
    Usage { args, help }
}

/// What a handler gets: the command's arguments, the chat, and the bot's dependencies.
pub struct Request<'a> {
    /// The name it was called by (the command's name or an alias), lower case.
    pub name: &'a str,
    pub args: Vec<&'a str>,
    pub chat: i64,
    /// The public address the webhook was called on, behind API Gateway.
    pub origin: Option<&'a str>,
    pub deps: &'a BotDeps,
}

/// A handler's answer, still to be awaited.
pub type Answer<'a> = Pin<Box<dyn Future<Output = String> + Send + 'a>>;

/// How a command answers.
pub enum Handler {
    /// From the latest results; when they can't be read, the answer says so instead.
    Results(fn(&ResultsIndex, &Request<'_>) -> String),
    /// Any other way.
    Other(for<'a> fn(&'a Request<'a>) -> Answer<'a>),
}

/// One command: its name (and other names), its group, its /help lines and its handler.
pub struct Spec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub group: Group,
    /// One /help line each; a command with sub-commands has one per sub-command.
    pub usage: &'static [Usage],
    pub handler: Handler,
}

/// Every command, in /help order.
pub static COMMANDS: &[Spec] = &[
    Spec {
        name: "screen",
        aliases: &[],
        group: Group::Results,
        usage: &[usage(
            "[name] [n]",
            "top candidates of a screen (default: deepest drawdown)",
        )],
        handler: Handler::Results(|index, r| results::screen(index, &r.args, r.deps)),
    },
    Spec {
        name: "screens",
        aliases: &[],
        group: Group::Results,
        usage: &[usage("", "every screen and how many symbols pass it")],
        handler: Handler::Results(|index, r| results::screens(index, r.deps)),
    },
    Spec {
        name: "symbol",
        aliases: &[],
        group: Group::Results,
        usage: &[usage(
            "SYM",
            "all metrics of one symbol, its rank, the screens it passes",
        )],
        handler: Handler::Results(|index, r| results::symbol(index, &r.args, r.deps)),
    },
    Spec {
        name: "drawdown",
        aliases: &[],
        group: Group::Results,
        usage: &[usage("[n]", "the deepest falls from the 180-day high")],
        handler: Handler::Results(|index, r| results::drawdown(index, &r.args, r.deps)),
    },
    Spec {
        name: "status",
        aliases: &[],
        group: Group::Results,
        usage: &[usage(
            "",
            "the last run: when, how long, counts, failures, data source",
        )],
        handler: Handler::Other(|r| Box::pin(status(r))),
    },
    Spec {
        name: "download",
        aliases: &[],
        group: Group::Results,
        usage: &[usage(
            "",
            "links to the results CSV, Parquet and report (valid 1 hour)",
        )],
        handler: Handler::Other(|r| Box::pin(results::download(r.deps))),
    },
    Spec {
        name: "report",
        aliases: &[],
        group: Group::Results,
        usage: &[usage("", "the HTML report of the last run")],
        handler: Handler::Other(|r| Box::pin(results::report(r.deps))),
    },
    Spec {
        name: "dashboard",
        aliases: &[],
        group: Group::Results,
        usage: &[usage(
            "",
            "a sign-in link to the web dashboard (works once, 10 minutes)",
        )],
        handler: Handler::Other(|r| Box::pin(dashboard::dashboard(r.chat, r.origin, r.deps))),
    },
    Spec {
        name: "backtest",
        aliases: &[],
        group: Group::Results,
        usage: &[usage(
            "SCREEN [years] [end]",
            "backtest a screen over the uploaded history (default 5 years to today); the results come here when it ends",
        )],
        handler: Handler::Other(|r| Box::pin(backtest::backtest(r.chat, &r.args, r.deps))),
    },
    Spec {
        name: "portfolio",
        aliases: &[],
        group: Group::Brokerage,
        usage: &[usage("", "open positions")],
        handler: Handler::Other(|r| Box::pin(brokerage::portfolio(r.deps))),
    },
    Spec {
        name: "account",
        aliases: &[],
        group: Group::Brokerage,
        usage: &[usage("", "account equity, cash and buying power")],
        handler: Handler::Other(|r| Box::pin(brokerage::account(r.deps))),
    },
    Spec {
        name: "monitor",
        aliases: &[],
        group: Group::Brokerage,
        usage: &[usage(
            "",
            "profit check: average return of the top 5 positions vs the target",
        )],
        handler: Handler::Other(|r| Box::pin(brokerage::monitor(r.deps))),
    },
    Spec {
        name: "alerts",
        aliases: &[],
        group: Group::Alerts,
        usage: &[usage("", "the screens you get alerts for")],
        handler: Handler::Other(|r| Box::pin(alerts::alerts(r.chat, r.deps))),
    },
    Spec {
        name: "alert",
        aliases: &[],
        group: Group::Alerts,
        usage: &[
            usage(
                "add <screen>",
                "tell me when symbols enter or leave a screen",
            ),
            usage("remove <screen>", "stop those alerts"),
        ],
        handler: Handler::Other(|r| Box::pin(alerts::alert(r.chat, &r.args, r.deps))),
    },
    Spec {
        name: "rerun",
        aliases: &[],
        group: Group::Admin,
        usage: &[usage("[YYYY-MM-DD]", "run the workflow again")],
        handler: Handler::Other(|r| Box::pin(admin::rerun(&r.args, r.deps))),
    },
    Spec {
        name: "help",
        aliases: &["start"],
        group: Group::General,
        usage: &[usage("", "this list")],
        handler: Handler::Other(|r| Box::pin(std::future::ready(help(r)))),
    },
];

/// `/status`: the last run, and the chat's backtest if it has one.
async fn status(r: &Request<'_>) -> String {
    let mut text = match r.deps.results().await {
        Ok(index) => results::status(&index, r.deps),
        Err(e) => results::results_unavailable(&e),
    };
    if let Some(line) = backtest::status_line(r.chat, r.deps).await {
        text.push_str("\n\n");
        text.push_str(&line);
    }
    text
}

/// The command called `name` (lower case), by its name or an alias.
pub fn find(name: &str) -> Option<&'static Spec> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// `/help`, and `/start` with a hello first.
fn help(r: &Request) -> String {
    if r.name == "start" {
        format!(
            "Hello! I answer questions about the daily stock screen.\n\n{}",
            help_text()
        )
    } else {
        help_text()
    }
}

/// Every command's /help lines, in table order.
pub fn help_text() -> String {
    let mut out = String::from("<b>Stock screener bot</b>\n");
    for spec in COMMANDS {
        for usage in spec.usage {
            let _ = write!(out, "\n/{}", spec.name);
            if !usage.args.is_empty() {
                let _ = write!(out, " {}", escape(usage.args));
            }
            let _ = write!(out, " — {}", escape(usage.help));
            if spec.group == Group::Admin {
                out.push_str(" (admins)");
            }
        }
    }
    out
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

/// Runs `command` for an allowed `chat`; `admin` says whether the chat may run admin commands.
pub async fn run(
    command: &Command,
    chat: i64,
    admin: bool,
    origin: Option<&str>,
    deps: &BotDeps,
) -> String {
    let Some(spec) = find(&command.name) else {
        return format!("I don't know that command.\n\n{}", help_text());
    };
    if spec.group == Group::Admin && !admin {
        return format!(
            "Only admins may /{}. The operator lists them in the admin chat ids parameter.",
            spec.name
        );
    }
    let request = Request {
        name: &command.name,
        args: command.args.iter().map(String::as_str).collect(),
        chat,
        origin,
        deps,
    };
    match spec.handler {
        Handler::Results(answer) => match deps.results().await {
            Ok(index) => answer(&index, &request),
            Err(e) => results::results_unavailable(&e),
        },
        Handler::Other(answer) => answer(&request).await,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use screener_core::config::BotSettings;
    use screener_core::local::{
        DirStore, EnvSecrets, FakeBrokerage, MemoryNotifier, RerunNotConfigured,
    };

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

    /// Every name a command answers to.
    fn names(spec: &'static Spec) -> impl Iterator<Item = &'static str> {
        std::iter::once(spec.name).chain(spec.aliases.iter().copied())
    }

    #[test]
    fn every_command_is_found_by_each_of_its_names_and_no_name_is_taken_twice() {
        for spec in COMMANDS {
            for name in names(spec) {
                assert_eq!(
                    name,
                    name.to_ascii_lowercase(),
                    "parsed names are lower case"
                );
                let found = find(name).unwrap_or_else(|| panic!("/{name} is not found"));
                assert!(std::ptr::eq(found, spec), "/{name} names two commands");
            }
        }
        assert!(find("frobnicate").is_none());
    }

    #[test]
    fn every_command_is_in_help_and_help_lists_only_commands() {
        let help = help_text();
        for spec in COMMANDS {
            assert!(!spec.usage.is_empty(), "/{} has no help line", spec.name);
            let lines = help
                .lines()
                .filter(|l| l.split_whitespace().next() == Some(&format!("/{}", spec.name)))
                .count();
            assert_eq!(lines, spec.usage.len(), "/{} in help:\n{help}", spec.name);
        }
        for line in help.lines().filter(|l| l.starts_with('/')) {
            let name = line[1..].split_whitespace().next().unwrap_or_default();
            assert!(
                find(name).is_some(),
                "help lists /{name}, which does not answer"
            );
        }
    }

    #[test]
    fn admin_commands_say_so_in_help() {
        let help = help_text();
        for line in help.lines().filter(|l| l.starts_with('/')) {
            let name = line[1..].split_whitespace().next().unwrap_or_default();
            let admin = find(name).is_some_and(|s| s.group == Group::Admin);
            assert_eq!(line.ends_with(" (admins)"), admin, "{line}");
        }
    }

    #[tokio::test]
    async fn every_command_is_dispatched_to_its_handler() {
        let dir = tempfile::tempdir().unwrap();
        let deps = BotDeps::new(
            Arc::new(DirStore::new(dir.path())),
            Arc::new(EnvSecrets::new(BTreeMap::new())),
            Arc::new(MemoryNotifier::default()),
            Arc::new(FakeBrokerage::demo()),
            Arc::new(RerunNotConfigured("not here".into())),
            BotSettings::default(),
        );
        let ask = |name: &str, admin: bool| {
            let command = Command {
                name: name.to_owned(),
                args: Vec::new(),
            };
            let deps = &deps;
            async move { run(&command, 1, admin, None, deps).await }
        };
        let unknown = ask("frobnicate", true).await;
        assert!(
            unknown.starts_with("I don't know that command."),
            "{unknown}"
        );
        for spec in COMMANDS {
            for name in names(spec) {
                let answer = ask(name, true).await;
                assert_ne!(answer, unknown, "/{name} is not dispatched");
                if spec.group == Group::Admin {
                    let refused = ask(name, false).await;
                    assert!(refused.starts_with("Only admins may"), "/{name}: {refused}");
                }
            }
        }
        assert!(ask("start", false).await.starts_with("Hello!"));
    }
}
