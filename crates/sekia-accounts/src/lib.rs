//! sekia's accounts: OAuth sign-in on a loopback redirect (RFC 8252), tokens in the OS keychain
//! or an age-encrypted file, and access tokens refreshed before they expire. See README.md.

mod error;
mod file_store;
pub mod flow;
pub mod identity;
mod keyring_store;
mod pasted;
mod pkce;
pub mod provider;
mod refresh;
mod revoke;
mod secret;
mod store;
mod token_endpoint;
mod token_file;

pub use error::AccountError;
pub use file_store::FileStore;
pub use flow::{CancelHandle, FlowOptions, SignIn};
pub use identity::AuthScheme;
pub use keyring_store::KeyringStore;
pub use pasted::check_format;
pub use provider::{PastedToken, Provider, ProviderOverrides};
pub use refresh::{Account, AccountState, RefreshPolicy, TokenSource};
pub use revoke::{Revocation, revoke};
pub use secret::{AccountId, Secret, TokenSet};
pub use store::{StoreChoice, StoreKind, TokenStore, choose_store, file_store, keyring_store};
pub use token_file::TokenFile;
