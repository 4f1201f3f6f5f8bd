//! The [`Notifier`] port on Telegram's Bot API: the bot token is read through the [`Secrets`]
//! port on first use (not at init, so building it does no I/O) and kept once read; messages go
//! out through [`TelegramApi::send_all`] at Telegram's pace ([`SendLimits`]).

use std::sync::Arc;

use async_trait::async_trait;
use screener_core::ports::{Delivery, Notification, Notifier, NotifierError, Secrets};
use tokio::sync::OnceCell;

use crate::api::{SendLimits, SendMessage, TelegramApi};

pub struct TelegramNotifier {
    api_url: String,
    secrets: Arc<dyn Secrets>,
    /// The secret holding the bot token (`/screener/telegram/bot_token`).
    token_name: String,
    limits: SendLimits,
    api: OnceCell<TelegramApi>,
}

impl TelegramNotifier {
    /// The Bot API at `api_url`, with the bot token from `secrets` under `token_name`, sending
    /// at Telegram's published limits.
    pub fn new(api_url: &str, secrets: Arc<dyn Secrets>, token_name: &str) -> Self {
        TelegramNotifier {
            api_url: api_url.to_string(),
            secrets,
            token_name: token_name.to_string(),
            limits: SendLimits::default(),
            api: OnceCell::new(),
        }
    }

    /// Other limits than Telegram's (tests scale them down).
    pub fn with_limits(mut self, limits: SendLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The client, once the bot token can be read (a failure is tried again next time).
    async fn api(&self) -> Result<&TelegramApi, NotifierError> {
        self.api
            .get_or_try_init(|| async {
                let token = self.secrets.get(&self.token_name).await?;
                Ok(TelegramApi::new(&self.api_url, token))
            })
            .await
    }
}

#[async_trait]
impl Notifier for TelegramNotifier {
    async fn ready(&self) -> Result<(), NotifierError> {
        self.api().await.map(|_| ())
    }

    async fn send(
        &self,
        messages: Vec<Notification>,
    ) -> Result<Vec<(i64, Delivery)>, NotifierError> {
        let api = self.api().await?;
        let messages = messages
            .into_iter()
            .map(|m| SendMessage::html(m.chat, m.html).in_thread(m.thread))
            .collect();
        Ok(api.send_all(messages, &self.limits).await)
    }
}
