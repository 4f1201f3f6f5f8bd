//! The `screener` command's library: the local task registry ([`steps`]), the local workflow
//! runner ([`runner`]) and the end-of-run summary ([`summary`]). The binary in `main.rs`
//! parses flags and calls these; the integration tests in `tests/` call them directly.

pub mod bot_cmd;
pub mod remote_cmd;
pub mod runner;
pub mod states_cmd;
pub mod steps;
pub mod summary;

use std::collections::HashMap;

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
