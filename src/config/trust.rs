//! The `[trust]` table: human decisions signed with the user's SSH key through git's own
//! signing format, and checked on every machine (docs/security.md, Signed decisions).
//!
//! ```toml
//! [trust]
//! sign = true     # sign each human decision commit with git's user.signingkey (gpg.format = ssh)
//! verify = true   # act on no human decision unless a key in .orkestra/allowed_signers signed it
//! ```

use serde::Deserialize;

/// Where the keys allowed to sign decisions are listed, in the format of ssh-keygen's
/// ALLOWED SIGNERS (one `<email> <key type> <key>` per line), committed with the repository.
pub const ALLOWED_SIGNERS: &str = ".orkestra/allowed_signers";

/// The validated `[trust]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSettings {
    #[serde(default)]
    pub sign: bool,
    #[serde(default)]
    pub verify: bool,
}
