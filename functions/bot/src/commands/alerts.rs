//! The alert commands: `/alerts` lists the screens a chat follows, `/alert add|remove` changes
//! them (the fan-out after each run is [`crate::alerts`]).

use std::fmt::Write;

use super::results::{results_unavailable, screen_names};
use crate::BotDeps;
use screener_telegram::api::escape;
use screener_telegram::subscriptions;

pub(super) async fn alerts(chat: i64, deps: &BotDeps) -> String {
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

pub(super) async fn alert(chat: i64, args: &[&str], deps: &BotDeps) -> String {
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
