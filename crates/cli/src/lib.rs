//! The `screener` command's library: the local task registry ([`steps`]), the local workflow
//! runner ([`runner`]) and the end-of-run summary ([`summary`]). The binary in `main.rs`
//! parses flags and calls these; the integration tests in `tests/` call them directly.

pub mod analytics_cmd;
pub mod backtest_cmd;
pub mod bot_cmd;
pub mod dashboard_cmd;
pub mod remote_cmd;
pub mod runner;
pub mod states_cmd;
pub mod steps;
pub mod summary;
pub mod sweep_cmd;

use std::collections::HashMap;
use std::process::ExitCode;

use screener_core::config::{Config, ConfigError};

/// The configuration: environment variables, overridden by the given `SCREENER_*` settings
/// (the CLI's flags), so flags and environment mean exactly the same thing.
pub fn config_with(overrides: &[(&str, Option<String>)]) -> Result<Config, ConfigError> {
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    for (name, value) in overrides {
        if let Some(value) = value {
            vars.insert(name.to_string(), value.clone());
        }
    }
    Config::from_vars(&vars)
}

/// A command failed on the content of what it read (a bad row, a missing column, an invalid
/// screens file), not on how it was called: the binary exits with 1 instead of 2.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DataError(#[from] pub anyhow::Error);

/// The exit code for a failed command: 1 for a [`DataError`] anywhere in its chain, 2 (usage:
/// flags, paths, configuration) otherwise.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    if error.chain().any(|cause| cause.is::<DataError>()) || error.is::<DataError>() {
        ExitCode::from(1)
    } else {
        ExitCode::from(2)
    }
}
