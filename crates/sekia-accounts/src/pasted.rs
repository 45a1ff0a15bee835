//! The shape of pasted tokens, checked before anything is sent to the service, so a token
//! pasted into the wrong field is caught with a message naming the field.

use crate::provider::PastedToken;

/// Checks `value` for the field `field` (`token` or `app_token`) of a pasted `kind`.
/// The message never quotes the value.
pub fn check_format(kind: PastedToken, field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("is empty".into());
    }
    if value.trim() != value || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or line breaks; paste the token alone".into());
    }
    let (prefixes, what): (&[&str], &str) = match (kind, field) {
        (PastedToken::GithubPat, _) => (
            &["github_pat_", "ghp_", "gho_"],
            "a GitHub personal access token (github_pat_… or ghp_…)",
        ),
        (PastedToken::LinearApiKey, _) => (&["lin_api_"], "a Linear personal API key (lin_api_…)"),
        (PastedToken::SlackBotAndAppToken, "app_token") => {
            (&["xapp-"], "a Slack app-level token (xapp-…)")
        }
        (PastedToken::SlackBotAndAppToken, _) => (&["xoxb-"], "a Slack bot token (xoxb-…)"),
    };
    if prefixes.iter().any(|p| value.starts_with(p)) {
        Ok(())
    } else {
        Err(format!("is not {what}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(check_format(PastedToken::GithubPat, "token", "github_pat_abc").is_ok());
        assert!(check_format(PastedToken::GithubPat, "token", "ghp_abc").is_ok());
        let e = check_format(PastedToken::GithubPat, "token", "xoxb-secret1").unwrap_err();
        assert!(e.contains("GitHub") && !e.contains("secret1"), "{e}");
        assert!(check_format(PastedToken::LinearApiKey, "token", "lin_api_x").is_ok());
        assert!(check_format(PastedToken::SlackBotAndAppToken, "token", "xoxb-1").is_ok());
        assert!(check_format(PastedToken::SlackBotAndAppToken, "app_token", "xoxb-1").is_err());
        assert!(check_format(PastedToken::SlackBotAndAppToken, "app_token", "xapp-1").is_ok());
        assert!(check_format(PastedToken::GithubPat, "token", "ghp_a b").is_err());
        assert!(check_format(PastedToken::GithubPat, "token", " ").is_err());
    }
}
