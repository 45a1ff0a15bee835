//! The example workflows shipped in the repository's `workflows/` folder, compiled in, so the
//! UI's "New from template" works from an installed binary with no source tree around it.

use serde::Serialize;
use ts_rs::TS;

/// One template: its file name, the summary from its header comment, and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Template {
    pub name: String,
    pub description: String,
    pub source: String,
}

const FILES: [(&str, &str); 7] = [
    (
        "github-auto-label.lua",
        include_str!("../../../workflows/github-auto-label.lua"),
    ),
    (
        "slack-auto-reply.lua",
        include_str!("../../../workflows/slack-auto-reply.lua"),
    ),
    (
        "linear-triage.lua",
        include_str!("../../../workflows/linear-triage.lua"),
    ),
    (
        "gmail-triage-ai.lua",
        include_str!("../../../workflows/gmail-triage-ai.lua"),
    ),
    (
        "calendar-reminder.lua",
        include_str!("../../../workflows/calendar-reminder.lua"),
    ),
    (
        "cross-service-tracker.lua",
        include_str!("../../../workflows/cross-service-tracker.lua"),
    ),
    (
        "scheduled-digest.lua",
        include_str!("../../../workflows/scheduled-digest.lua"),
    ),
];

/// Every template, in the order a new user meets the connectors.
pub fn templates() -> Vec<Template> {
    FILES
        .iter()
        .map(|(name, source)| Template {
            name: (*name).to_owned(),
            description: describe(source),
            source: (*source).to_owned(),
        })
        .collect()
}

/// The header comment's first paragraph after the file-name line, as one line of text.
fn describe(source: &str) -> String {
    let mut words = Vec::new();
    for line in source.lines().skip(1) {
        let Some(text) = line.strip_prefix("--") else {
            break;
        };
        let text = text.trim();
        if text.is_empty() {
            if words.is_empty() {
                continue;
            }
            break;
        }
        words.push(text);
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_a_summary_and_a_handler() {
        let all = templates();
        assert_eq!(all.len(), 7);
        for t in all {
            assert!(t.description.len() > 20, "{}: {:?}", t.name, t.description);
            assert!(
                t.source.contains("sekia.on(") || t.source.contains("sekia.schedule("),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn summary_is_the_first_paragraph() {
        let src = "-- x.lua\n--\n-- Does a\n-- thing.\n--\n-- Needs: y\nsekia.on()";
        assert_eq!(describe(src), "Does a thing.");
    }
}
