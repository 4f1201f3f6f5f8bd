//! Who may see the dashboard: single-use sign-in links and the session cookie they buy.
//!
//! * A **sign-in token** (`v1.<chat>.<expires>.<nonce>.<mac>`) is made by the bot's
//!   `/dashboard` (or printed by `screener dashboard`): HMAC-SHA256 with the dashboard's key over
//!   the chat id, the expiry and a random nonce. It is used once: the first sign-in records the
//!   nonce with the store's conditional write ([`Store::put_if`] if absent), so a replayed or
//!   forwarded link fails.
//! * A **session** (`v1.<chat>.<expires>.<mac>`, 12 hours) is an HMAC-signed cookie, sent
//!   `HttpOnly; Secure; SameSite=Strict`; every request verifies the MAC and the expiry, and
//!   the caller then checks the chat against the allow-list again (a chat taken off the list
//!   loses access at once).
//!
//! Tokens and sessions are signed for different purposes (a domain string in the MAC), so one
//! can never stand for the other.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use screener_core::ports::{SecretString, Store, StoreError, WriteCondition};
use sha2::Sha256;

/// How long a sign-in link is good for.
pub const SIGNIN_TTL: Duration = Duration::minutes(10);
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::hours(12);
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "screener_session";
/// Where a used sign-in token's nonce is recorded.
pub const USED_SIGNINS_PREFIX: &str = "dashboard/used-signins/";

const NONCE_BYTES: usize = 16;

/// Why a token or cookie was refused. Shown to people as a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the link or session is malformed")]
    Malformed,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the link or session has expired")]
    Expired,
    #[error("this sign-in link was already used")]
    AlreadyUsed,
    #[error("this chat is not allowed to use the dashboard")]
    NotAllowed,
    #[error("could not check the sign-in link: {0}")]
    Unavailable(String),
}

/// A signed-in chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub chat: i64,
    pub expires: DateTime<Utc>,
}

/// The dashboard's signing key.
#[derive(Clone)]
pub struct SigningKey(SecretString);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    pub fn new(secret: SecretString) -> Self {
        SigningKey(secret)
    }

    /// A fresh random key (the local `screener dashboard` makes one per process).
    pub fn random() -> Self {
        SigningKey(SecretString::new(random_hex(32)))
    }

    fn mac(&self, purpose: &str, fields: &[&str]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(purpose.as_bytes());
        for field in fields {
            mac.update(b"\n");
            mac.update(field.as_bytes());
        }
        mac
    }

    fn sign(&self, purpose: &str, fields: &[&str]) -> String {
        hex::encode(self.mac(purpose, fields).finalize().into_bytes())
    }

    fn verify(&self, purpose: &str, fields: &[&str], signature: &str) -> Result<(), AuthError> {
        let bytes = hex::decode(signature).map_err(|_| AuthError::Malformed)?;
        self.mac(purpose, fields)
            .verify_slice(&bytes)
            .map_err(|_| AuthError::BadSignature)
    }

    /// A single-use sign-in token for `chat`, good until `now + SIGNIN_TTL`.
    pub fn signin_token(&self, chat: i64, now: DateTime<Utc>) -> String {
        let expires = (now + SIGNIN_TTL).timestamp().to_string();
        let chat = chat.to_string();
        let nonce = random_hex(NONCE_BYTES);
        let mac = self.sign("signin", &[&chat, &expires, &nonce]);
        format!("v1.{chat}.{expires}.{nonce}.{mac}")
    }

    /// The chat and nonce of a genuine, unexpired sign-in token (not yet checked for reuse).
    pub fn check_signin_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(i64, String), AuthError> {
        let parts: Vec<&str> = token.split('.').collect();
        let ["v1", chat, expires, nonce, mac] = parts[..] else {
            return Err(AuthError::Malformed);
        };
        if nonce.len() != NONCE_BYTES * 2 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::Malformed);
        }
        let (chat_id, expires_at) = parse_subject(chat, expires)?;
        self.verify("signin", &[chat, expires, nonce], mac)?;
        if now >= expires_at {
            return Err(AuthError::Expired);
        }
        Ok((chat_id, nonce.to_ascii_lowercase()))
    }

    /// A session cookie value for `chat`, 12 hours from `now`.
    pub fn session_value(&self, chat: i64, now: DateTime<Utc>) -> String {
        let expires = (now + SESSION_TTL).timestamp().to_string();
        let chat = chat.to_string();
        let mac = self.sign("session", &[&chat, &expires]);
        format!("v1.{chat}.{expires}.{mac}")
    }

    /// The session a cookie value stands for, if it is genuine and unexpired.
    pub fn check_session(&self, value: &str, now: DateTime<Utc>) -> Result<Session, AuthError> {
        let parts: Vec<&str> = value.split('.').collect();
        let ["v1", chat, expires, mac] = parts[..] else {
            return Err(AuthError::Malformed);
        };
        let (chat_id, expires_at) = parse_subject(chat, expires)?;
        self.verify("session", &[chat, expires], mac)?;
        if now >= expires_at {
            return Err(AuthError::Expired);
        }
        Ok(Session {
            chat: chat_id,
            expires: expires_at,
        })
    }
}

fn parse_subject(chat: &str, expires: &str) -> Result<(i64, DateTime<Utc>), AuthError> {
    let chat_id: i64 = chat.parse().map_err(|_| AuthError::Malformed)?;
    let expires_at = expires
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or(AuthError::Malformed)?;
    Ok((chat_id, expires_at))
}

/// Records a sign-in token's nonce as used; the second use of the same token is refused.
pub async fn consume_signin(store: &dyn Store, nonce: &str, chat: i64) -> Result<(), AuthError> {
    let key = format!("{USED_SIGNINS_PREFIX}{nonce}.json");
    let body = serde_json::json!({"chat": chat, "used_at": Utc::now()}).to_string();
    match store
        .put_if(
            &key,
            body.into_bytes(),
            "application/json",
            WriteCondition::IfAbsent,
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::PreconditionFailed { .. }) => Err(AuthError::AlreadyUsed),
        Err(e) => Err(AuthError::Unavailable(e.to_string())),
    }
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie(value: &str) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/app; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        SESSION_TTL.num_seconds()
    )
}

/// The session cookie's value in a `Cookie` header, if any.
pub fn cookie_value<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Chat ids from a comma-separated allow-list (blanks and junk ignored).
pub fn parse_allow_list(text: &str) -> Vec<i64> {
    text.split([',', ' ', '\n'])
        .filter_map(|id| id.trim().parse().ok())
        .collect()
}

/// `bytes` random bytes from the operating system, as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system has a random source");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use screener_core::local::DirStore;

    fn key() -> SigningKey {
        SigningKey::new(SecretString::new("test-key"))
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap()
    }

    #[test]
    fn a_signin_token_is_good_for_ten_minutes_for_its_chat() {
        let token = key().signin_token(42, now());
        let (chat, nonce) = key().check_signin_token(&token, now()).unwrap();
        assert_eq!(chat, 42);
        assert_eq!(nonce.len(), 32);
        let late = now() + SIGNIN_TTL;
        assert_eq!(
            key().check_signin_token(&token, late),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn a_token_with_another_chat_or_key_is_refused() {
        let token = key().signin_token(42, now());
        let forged = token.replacen("v1.42.", "v1.43.", 1);
        assert_eq!(
            key().check_signin_token(&forged, now()),
            Err(AuthError::BadSignature)
        );
        let other = SigningKey::new(SecretString::new("other"));
        assert_eq!(
            other.check_signin_token(&token, now()),
            Err(AuthError::BadSignature)
        );
        for junk in [
            "",
            "v1",
            "v1.1.2.3.4.5",
            "v2.42.1.00.aa",
            "v1.x.1.00112233445566778899aabbccddeeff.aa",
        ] {
            assert!(key().check_signin_token(junk, now()).is_err(), "{junk}");
        }
    }

    #[test]
    fn a_session_is_not_a_signin_token_and_lasts_twelve_hours() {
        let session = key().session_value(7, now());
        let checked = key().check_session(&session, now()).unwrap();
        assert_eq!(checked.chat, 7);
        assert_eq!(checked.expires, now() + SESSION_TTL);
        assert_eq!(
            key().check_session(&session, now() + SESSION_TTL),
            Err(AuthError::Expired)
        );
        let token = key().signin_token(7, now());
        assert!(key().check_session(&token, now()).is_err());
        let tampered = session.replacen("v1.7.", "v1.8.", 1);
        assert_eq!(
            key().check_session(&tampered, now()),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn the_session_cookie_is_httponly_secure_and_strict() {
        let cookie = session_cookie("v");
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Max-Age=43200"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert_eq!(
            cookie_value("a=1; screener_session=xyz", SESSION_COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie_value("a=1", SESSION_COOKIE), None);
    }

    #[tokio::test]
    async fn a_signin_token_is_used_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let token = key().signin_token(42, now());
        let (chat, nonce) = key().check_signin_token(&token, now()).unwrap();
        consume_signin(&store, &nonce, chat).await.unwrap();
        assert_eq!(
            consume_signin(&store, &nonce, chat).await,
            Err(AuthError::AlreadyUsed)
        );
    }

    #[test]
    fn the_allow_list_is_read_from_commas() {
        assert_eq!(parse_allow_list("1, 2,x,,-3"), vec![1, 2, -3]);
    }
}
