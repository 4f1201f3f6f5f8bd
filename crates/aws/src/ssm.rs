//! [`Secrets`] from SSM Parameter Store: the AWS twin of [`screener_core::local::EnvSecrets`].
//!
//! Each parameter is read once per adapter, so once per warm Lambda container: the adapter is
//! built at init and lives as long as the container. A parameter that was missing is not
//! remembered, so creating it takes effect on the next read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ssm::Client;
use screener_core::ports::{SecretString, Secrets, SecretsError};
use tokio::sync::OnceCell;

use crate::sdk_error;

/// SSM parameters (SecureString or String), decrypted, cached per name.
pub struct SsmSecrets {
    client: Client,
    /// One cell per name: concurrent first reads of a name make one call, and reads of
    /// different names don't wait for each other.
    cache: Mutex<HashMap<String, Arc<OnceCell<SecretString>>>>,
}

impl std::fmt::Debug for SsmSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsmSecrets").finish_non_exhaustive()
    }
}

impl SsmSecrets {
    pub fn new(client: Client) -> Self {
        SsmSecrets {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// An adapter with its own client from `config`. No network I/O.
    pub fn from_config(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    async fn fetch(&self, name: &str) -> Result<SecretString, SecretsError> {
        let output = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|err| {
                let not_found = err
                    .as_service_error()
                    .is_some_and(|e| e.is_parameter_not_found());
                if not_found {
                    SecretsError::Missing {
                        name: name.to_string(),
                        hint: format!(
                            "create it with aws ssm put-parameter --name {name} --type SecureString --value ..."
                        ),
                    }
                } else {
                    SecretsError::Unavailable {
                        name: name.to_string(),
                        message: sdk_error::describe("GetParameter", &err),
                    }
                }
            })?;
        match output.parameter.and_then(|p| p.value) {
            Some(value) if !value.is_empty() => Ok(SecretString::new(value)),
            _ => Err(SecretsError::Missing {
                name: name.to_string(),
                hint: format!(
                    "it exists but is empty; set it with aws ssm put-parameter --name {name} --type SecureString --overwrite --value ..."
                ),
            }),
        }
    }
}

#[async_trait]
impl Secrets for SsmSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        let cell = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| self.fetch(name)).await.cloned()
    }
}
