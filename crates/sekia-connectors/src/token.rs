//! A token that does not change: a personal access token from a config file or
//! the environment (`GITHUB_TOKEN`), as sekia's standalone agents take it.

use async_trait::async_trait;
use sekia_accounts::{AccountError, Secret, TokenSource};

/// A [`TokenSource`] that always hands out the same token.
#[derive(Clone, Debug)]
pub struct StaticToken(Secret);

impl StaticToken {
    pub fn new(token: Secret) -> Self {
        Self(token)
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn access_token(&self) -> Result<Secret, AccountError> {
        if self.0.is_empty() {
            return Err(AccountError::NotSignedIn {
                account: "static token (empty)".into(),
            });
        }
        Ok(self.0.clone())
    }
}
