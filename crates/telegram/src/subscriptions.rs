//! Alert subscriptions: which chat wants to hear about which screens, one JSON document in the
//! store (`bot/subscriptions.json`). Every change is a read-modify-write with a conditional put
//! (`IfAbsent` for the first, `IfVersion` after), retried on a conflict, so two concurrent
//! changes can't lose one.

use std::collections::{BTreeMap, BTreeSet};

use screener_core::ports::{Store, StoreError, WriteCondition};
use serde::{Deserialize, Serialize};

pub const SUBSCRIPTIONS_KEY: &str = "bot/subscriptions.json";

/// Attempts at a conditional write before giving up.
const MAX_ATTEMPTS: u32 = 20;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscriptions {
    /// Chat id -> screen names.
    #[serde(default)]
    pub chats: BTreeMap<i64, BTreeSet<String>>,
}

impl Subscriptions {
    pub fn screens_of(&self, chat: i64) -> Vec<String> {
        self.chats
            .get(&chat)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{key} is unreadable: {message}")]
    Corrupt { key: String, message: String },
    #[error("{key} kept changing under us ({attempts} attempts)")]
    Contended { key: String, attempts: u32 },
}

/// The current subscriptions (none when nothing was ever stored).
pub async fn load(store: &dyn Store) -> Result<Subscriptions, SubscriptionError> {
    Ok(load_versioned(store).await?.0)
}

async fn load_versioned(
    store: &dyn Store,
) -> Result<(Subscriptions, Option<String>), SubscriptionError> {
    match store.get_versioned(SUBSCRIPTIONS_KEY).await {
        Ok((bytes, version)) => {
            let subs = serde_json::from_slice(&bytes).map_err(|e| SubscriptionError::Corrupt {
                key: SUBSCRIPTIONS_KEY.into(),
                message: e.to_string(),
            })?;
            Ok((subs, Some(version)))
        }
        Err(StoreError::NotFound { .. }) => Ok((Subscriptions::default(), None)),
        Err(e) => Err(e.into()),
    }
}

/// Applies `change` to the stored subscriptions with a conditional write, re-reading and
/// re-applying on a conflict. `change` answers whether it changed anything (no write if not).
/// Returns the subscriptions as written.
pub async fn update(
    store: &dyn Store,
    mut change: impl FnMut(&mut Subscriptions) -> bool,
) -> Result<Subscriptions, SubscriptionError> {
    for attempt in 1..=MAX_ATTEMPTS {
        let (mut subs, version) = load_versioned(store).await?;
        if !change(&mut subs) {
            return Ok(subs);
        }
        subs.chats.retain(|_, screens| !screens.is_empty());
        let body = serde_json::to_vec_pretty(&subs).expect("subscriptions serialize");
        let condition = match version {
            Some(v) => WriteCondition::IfVersion(v),
            None => WriteCondition::IfAbsent,
        };
        match store
            .put_if(SUBSCRIPTIONS_KEY, body, "application/json", condition)
            .await
        {
            Ok(()) => return Ok(subs),
            Err(StoreError::PreconditionFailed { .. }) => {
                tracing::debug!(attempt, "subscriptions changed concurrently; retrying");
                // A little spread so that racing writers don't retry in lockstep.
                let spread = u64::from(attempt) * 3 + (std::process::id() as u64 % 7);
                tokio::time::sleep(std::time::Duration::from_millis(spread)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(SubscriptionError::Contended {
        key: SUBSCRIPTIONS_KEY.into(),
        attempts: MAX_ATTEMPTS,
    })
}

/// Subscribes `chat` to `screen`; answers whether it was new.
pub async fn add(store: &dyn Store, chat: i64, screen: &str) -> Result<bool, SubscriptionError> {
    let mut added = false;
    update(store, |subs| {
        added = subs
            .chats
            .entry(chat)
            .or_default()
            .insert(screen.to_string());
        added
    })
    .await?;
    Ok(added)
}

/// Unsubscribes `chat` from `screen`; answers whether it was subscribed.
pub async fn remove(store: &dyn Store, chat: i64, screen: &str) -> Result<bool, SubscriptionError> {
    let mut removed = false;
    update(store, |subs| {
        removed = subs
            .chats
            .get_mut(&chat)
            .is_some_and(|screens| screens.remove(screen));
        removed
    })
    .await?;
    Ok(removed)
}

/// Drops every subscription of `chats` (chats that blocked the bot).
pub async fn drop_chats(store: &dyn Store, chats: &[i64]) -> Result<(), SubscriptionError> {
    update(store, |subs| {
        let before = subs.chats.len();
        subs.chats.retain(|chat, _| !chats.contains(chat));
        subs.chats.len() != before
    })
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use screener_core::local::DirStore;
    use std::sync::Arc;

    #[tokio::test]
    async fn add_and_remove_are_reported_and_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        assert!(add(&store, 1, "a").await.unwrap());
        assert!(!add(&store, 1, "a").await.unwrap());
        assert!(add(&store, 1, "b").await.unwrap());
        assert_eq!(load(&store).await.unwrap().screens_of(1), vec!["a", "b"]);
        assert!(remove(&store, 1, "a").await.unwrap());
        assert!(!remove(&store, 1, "a").await.unwrap());
        assert!(!remove(&store, 2, "a").await.unwrap());
        assert_eq!(load(&store).await.unwrap().screens_of(1), vec!["b"]);
    }

    #[tokio::test]
    async fn concurrent_changes_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<DirStore> = Arc::new(DirStore::new(dir.path()));
        let mut tasks = Vec::new();
        for chat in 0..16i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                add(store.as_ref(), chat, "deepest_drawdown").await.unwrap();
                add(store.as_ref(), chat, "golden_cross_trend")
                    .await
                    .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let subs = load(store.as_ref()).await.unwrap();
        assert_eq!(subs.chats.len(), 16);
        assert!(subs.chats.values().all(|s| s.len() == 2));
    }

    #[tokio::test]
    async fn dropping_a_chat_removes_all_its_screens() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        add(&store, 1, "a").await.unwrap();
        add(&store, 2, "a").await.unwrap();
        drop_chats(&store, &[1]).await.unwrap();
        let subs = load(&store).await.unwrap();
        assert_eq!(subs.chats.keys().copied().collect::<Vec<_>>(), vec![2]);
    }
}
