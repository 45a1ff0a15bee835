//! Skills: `<skills_dir>/<dir>/SKILL.md` with YAML front matter, and an optional
//! `handler.lua` loaded as workflow `skill:<name>`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One parsed skill.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Skill {
    /// Front-matter `name`, or the directory name when absent.
    pub name: String,
    /// Front-matter `description`.
    pub description: String,
    /// Front-matter `triggers` (informational).
    pub triggers: Vec<String>,
    /// Front-matter `version`.
    pub version: String,
    /// The body after the front matter, trimmed.
    pub instructions: String,
    /// `handler.lua` next to `SKILL.md`, if present.
    pub handler: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FrontMatter {
    name: String,
    description: String,
    triggers: Vec<String>,
    version: Option<serde_yaml::Value>,
}

/// A SKILL.md that cannot be parsed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SkillError {
    /// The SKILL.md.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// Parses the text of a SKILL.md (sekia's rules: front matter between a leading
/// `---` and a closing `\n---`, else the whole text is the instructions).
pub fn parse_skill(text: &str) -> Result<Skill, String> {
    let content = text.trim();
    if let Some(rest) = content.strip_prefix("---")
        && let Some(end) = rest.find("\n---")
    {
        let yaml = &rest[..end];
        let body = rest[end + 4..].trim();
        let fm: FrontMatter = if yaml.trim().is_empty() {
            FrontMatter::default()
        } else {
            serde_yaml::from_str(yaml).map_err(|e| format!("invalid front matter: {e}"))?
        };
        let version = match fm.version {
            None | Some(serde_yaml::Value::Null) => String::new(),
            Some(serde_yaml::Value::String(s)) => s,
            Some(serde_yaml::Value::Number(n)) => n.to_string(),
            Some(other) => format!("{other:?}"),
        };
        return Ok(Skill {
            name: fm.name,
            description: fm.description,
            triggers: fm.triggers,
            version,
            instructions: body.to_owned(),
            handler: None,
        });
    }
    Ok(Skill {
        instructions: content.to_owned(),
        ..Skill::default()
    })
}

/// Loads every direct subdirectory of `dir` that has a SKILL.md, sorted by name.
/// A broken skill is reported and skipped; the others still load (sekia dropped
/// all of them). A missing directory is no skills.
pub fn load_skills(dir: &Path) -> (Vec<Skill>, Vec<SkillError>) {
    let mut skills = Vec::new();
    let mut errors = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (skills, errors);
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join("SKILL.md").is_file())
        .collect();
    dirs.sort();
    for d in dirs {
        let md = d.join("SKILL.md");
        let parsed = std::fs::read_to_string(&md)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_skill(&t));
        match parsed {
            Ok(mut skill) => {
                if skill.name.is_empty() {
                    skill.name = d
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                }
                let handler = d.join("handler.lua");
                skill.handler = handler.is_file().then_some(handler);
                skills.push(skill);
            }
            Err(message) => errors.push(SkillError { path: md, message }),
        }
    }
    (skills, errors)
}

/// The index put into AI system prompts (sekia's exact format), "" without skills.
pub fn skills_index(skills: &[Skill]) -> String {
    if skills.is_empty() {
        return String::new();
    }
    let mut out = String::from("## Available Skills\n");
    for s in skills {
        out.push_str(&format!("- **{}**: {}", s.name, s.description));
        if !s.triggers.is_empty() {
            out.push_str(&format!(" (triggers: {})", s.triggers.join(", ")));
        }
        out.push('\n');
    }
    out
}

/// `sekia.skill(name)`: the instructions of a skill, "" if unknown.
pub fn full_instructions(skills: &[Skill], name: &str) -> String {
    skills
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.instructions.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_front_matter() {
        let s = parse_skill(
            "---\nname: pr-review\ndescription: Reviews PRs\ntriggers: [github.pr.opened, review]\nversion: 1.0\n---\n\nDo the review.\n",
        )
        .unwrap();
        assert_eq!(s.name, "pr-review");
        assert_eq!(s.description, "Reviews PRs");
        assert_eq!(s.triggers, vec!["github.pr.opened", "review"]);
        assert_eq!(s.version, "1.0");
        assert_eq!(s.instructions, "Do the review.");
    }

    #[test]
    fn no_front_matter() {
        let s = parse_skill("  just text \n").unwrap();
        assert_eq!(s.name, "");
        assert_eq!(s.instructions, "just text");
        assert!(parse_skill("---\nname: [unclosed\n---\nx").is_err());
    }

    #[test]
    fn dir_scan_index_and_instructions() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir(&a).unwrap();
        std::fs::write(
            a.join("SKILL.md"),
            "---\nname: alpha\ndescription: first\ntriggers: [x, y]\n---\nbody a",
        )
        .unwrap();
        std::fs::write(a.join("handler.lua"), "").unwrap();
        let b = dir.path().join("b");
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("SKILL.md"), "---\ndescription: second\n---\nbody b").unwrap();
        let bad = dir.path().join("c");
        std::fs::create_dir(&bad).unwrap();
        std::fs::write(bad.join("SKILL.md"), "---\nname: [x\n---\n").unwrap();
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        let (skills, errors) = load_skills(dir.path());
        assert_eq!(skills.len(), 2);
        assert_eq!(errors.len(), 1);
        assert!(skills[0].handler.is_some());
        assert_eq!(skills[1].name, "b");
        assert_eq!(
            skills_index(&skills),
            "## Available Skills\n- **alpha**: first (triggers: x, y)\n- **b**: second\n"
        );
        assert_eq!(full_instructions(&skills, "alpha"), "body a");
        assert_eq!(full_instructions(&skills, "nope"), "");
        assert_eq!(skills_index(&[]), "");
        assert!(load_skills(&dir.path().join("missing")).0.is_empty());
    }
}
