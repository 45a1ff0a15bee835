//! GitHub JSON (webhook deliveries and REST items) to sekia events: the event
//! types and payload fields of sekia-github (`internal/github/events.go`,
//! `poll_events.go`), so sekia workflows run unchanged.
//!
//! Missing fields take Go's zero values (`""`, `0`, `false`), as go-github's
//! getters give them. Two of sekia's bugs are fixed: `pusher` is read from
//! `pusher.name` (GitHub sends no `login` there, so sekia always sent `""`),
//! and polled comments carry `issue_number` (taken from `issue_url`).

use sekia_protocol::Payload;
use serde_json::{Value, json};

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

fn int_at(v: &Value, path: &[&str]) -> i64 {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return 0,
        }
    }
    cur.as_i64().unwrap_or(0)
}

fn bool_at(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn labels(item: &Value) -> Value {
    let names: Vec<Value> = item
        .get("labels")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .map(|l| Value::String(str_at(l, &["name"]).to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Value::Array(names)
}

fn object(v: Value) -> Payload {
    match v {
        Value::Object(m) => m,
        _ => Payload::new(),
    }
}

/// The `(owner, repo)` of a delivery.
fn repo_of(delivery: &Value) -> (&str, &str) {
    (
        str_at(delivery, &["repository", "owner", "login"]),
        str_at(delivery, &["repository", "name"]),
    )
}

fn issue_fields(owner: &str, repo: &str, issue: &Value) -> Payload {
    object(json!({
        "owner": owner,
        "repo": repo,
        "number": int_at(issue, &["number"]),
        "title": str_at(issue, &["title"]),
        "body": str_at(issue, &["body"]),
        "author": str_at(issue, &["user", "login"]),
        "url": str_at(issue, &["html_url"]),
        "labels": labels(issue),
    }))
}

fn pr_fields(owner: &str, repo: &str, pr: &Value) -> Payload {
    let mut p = object(json!({
        "owner": owner,
        "repo": repo,
        "number": int_at(pr, &["number"]),
        "title": str_at(pr, &["title"]),
        "body": str_at(pr, &["body"]),
        "author": str_at(pr, &["user", "login"]),
        "head_branch": str_at(pr, &["head", "ref"]),
        "base_branch": str_at(pr, &["base", "ref"]),
        "url": str_at(pr, &["html_url"]),
    }));
    if bool_at(pr, "merged") {
        p.insert(
            "merge_commit".into(),
            str_at(pr, &["merge_commit_sha"]).into(),
        );
    }
    p
}

/// A webhook delivery (`X-GitHub-Event` + body) as `(type, payload)`, or `None`
/// for events and actions sekia does not map (they are acknowledged and ignored).
pub fn map_webhook(event: &str, delivery: &Value) -> Option<(String, Payload)> {
    let action = str_at(delivery, &["action"]);
    let (owner, repo) = repo_of(delivery);
    match event {
        "issues" => {
            if !matches!(
                action,
                "opened" | "closed" | "reopened" | "labeled" | "assigned"
            ) {
                return None;
            }
            let issue = delivery.get("issue")?;
            let mut p = issue_fields(owner, repo, issue);
            if action == "labeled" && delivery.get("label").is_some_and(|l| !l.is_null()) {
                p.insert("label".into(), str_at(delivery, &["label", "name"]).into());
            }
            if action == "assigned" && delivery.get("assignee").is_some_and(|a| !a.is_null()) {
                p.insert(
                    "assignee".into(),
                    str_at(delivery, &["assignee", "login"]).into(),
                );
            }
            Some((format!("github.issue.{action}"), p))
        }
        "pull_request" => {
            let pr = delivery.get("pull_request")?;
            let event_type = match action {
                "opened" => "github.pr.opened",
                "closed" if bool_at(pr, "merged") => "github.pr.merged",
                "closed" => "github.pr.closed",
                "review_requested" => "github.pr.review_requested",
                _ => return None,
            };
            let mut p = pr_fields(owner, repo, pr);
            if action == "review_requested"
                && delivery
                    .get("requested_reviewer")
                    .is_some_and(|r| !r.is_null())
            {
                p.insert(
                    "reviewer".into(),
                    str_at(delivery, &["requested_reviewer", "login"]).into(),
                );
            }
            Some((event_type.into(), p))
        }
        "push" => {
            let commits = delivery
                .get("commits")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let pusher = match str_at(delivery, &["pusher", "login"]) {
                "" => str_at(delivery, &["pusher", "name"]),
                login => login,
            };
            let mut p = object(json!({
                "owner": owner,
                "repo": repo,
                "ref": str_at(delivery, &["ref"]),
                "before": str_at(delivery, &["before"]),
                "after": str_at(delivery, &["after"]),
                "commits_count": commits,
                "pusher": pusher,
            }));
            if delivery.get("head_commit").is_some_and(|h| !h.is_null()) {
                p.insert(
                    "head_commit_message".into(),
                    str_at(delivery, &["head_commit", "message"]).into(),
                );
            }
            Some(("github.push".into(), p))
        }
        "issue_comment" => {
            if action != "created" {
                return None;
            }
            let comment = delivery.get("comment")?;
            let p = object(json!({
                "owner": owner,
                "repo": repo,
                "issue_number": int_at(delivery, &["issue", "number"]),
                "comment_id": int_at(comment, &["id"]).to_string(),
                "body": str_at(comment, &["body"]),
                "author": str_at(comment, &["user", "login"]),
                "url": str_at(comment, &["html_url"]),
            }));
            Some(("github.comment.created".into(), p))
        }
        _ => None,
    }
}

/// A polled issue: `github.issue.opened` if created after `since`, else
/// `.closed` if closed, else `.updated`.
pub fn polled_issue(
    owner: &str,
    repo: &str,
    issue: &Value,
    created_after_since: bool,
) -> (String, Payload) {
    let event_type = if created_after_since {
        "github.issue.opened"
    } else if str_at(issue, &["state"]) == "closed" {
        "github.issue.closed"
    } else {
        "github.issue.updated"
    };
    let mut p = issue_fields(owner, repo, issue);
    p.insert("polled".into(), true.into());
    (event_type.into(), p)
}

/// A polled pull request: opened / merged / closed / updated, like [`polled_issue`].
pub fn polled_pr(
    owner: &str,
    repo: &str,
    pr: &Value,
    created_after_since: bool,
) -> (String, Payload) {
    let merged = bool_at(pr, "merged") || pr.get("merged_at").is_some_and(|m| !m.is_null());
    let event_type = if created_after_since {
        "github.pr.opened"
    } else if merged {
        "github.pr.merged"
    } else if str_at(pr, &["state"]) == "closed" {
        "github.pr.closed"
    } else {
        "github.pr.updated"
    };
    let mut p = pr_fields(owner, repo, pr);
    // The list endpoint has no `merged` flag, only `merged_at`.
    if merged && !p.contains_key("merge_commit") {
        p.insert(
            "merge_commit".into(),
            str_at(pr, &["merge_commit_sha"]).into(),
        );
    }
    p.insert("polled".into(), true.into());
    (event_type.into(), p)
}

/// A polled issue comment: always `github.comment.created`, as in sekia.
pub fn polled_comment(owner: &str, repo: &str, comment: &Value) -> (String, Payload) {
    let issue_number = str_at(comment, &["issue_url"])
        .rsplit('/')
        .next()
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(0);
    let p = object(json!({
        "owner": owner,
        "repo": repo,
        "issue_number": issue_number,
        "comment_id": int_at(comment, &["id"]).to_string(),
        "body": str_at(comment, &["body"]),
        "author": str_at(comment, &["user", "login"]),
        "url": str_at(comment, &["html_url"]),
        "polled": true,
    }));
    ("github.comment.created".into(), p)
}

/// An issue found by label polling: `github.issue.matched`.
pub fn label_matched_issue(owner: &str, repo: &str, issue: &Value) -> (String, Payload) {
    let mut p = issue_fields(owner, repo, issue);
    p.insert("state".into(), str_at(issue, &["state"]).into());
    p.insert("polled".into(), true.into());
    ("github.issue.matched".into(), p)
}

/// A pull request found by PR-match polling: `github.pr.matched`.
pub fn pr_matched(owner: &str, repo: &str, pr: &Value) -> (String, Payload) {
    let p = object(json!({
        "owner": owner,
        "repo": repo,
        "number": int_at(pr, &["number"]),
        "title": str_at(pr, &["title"]),
        "body": str_at(pr, &["body"]),
        "author": str_at(pr, &["user", "login"]),
        "state": str_at(pr, &["state"]),
        "head_branch": str_at(pr, &["head", "ref"]),
        "base_branch": str_at(pr, &["base", "ref"]),
        "url": str_at(pr, &["html_url"]),
        "draft": bool_at(pr, "draft"),
        "labels": labels(pr),
        "polled": true,
    }));
    ("github.pr.matched".into(), p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Value {
        json!({"name": "hello", "owner": {"login": "octo"}})
    }

    #[test]
    fn issues_actions() {
        let d = json!({
            "action": "labeled",
            "issue": {"number": 7, "title": "T", "body": null, "user": {"login": "al"},
                      "html_url": "https://github.com/octo/hello/issues/7",
                      "labels": [{"name": "bug"}, {"name": "p1"}]},
            "label": {"name": "p1"},
            "repository": repo(),
        });
        let (t, p) = map_webhook("issues", &d).unwrap();
        assert_eq!(t, "github.issue.labeled");
        assert_eq!(
            Value::Object(p),
            json!({"owner": "octo", "repo": "hello", "number": 7, "title": "T", "body": "",
                   "author": "al", "url": "https://github.com/octo/hello/issues/7",
                   "labels": ["bug", "p1"], "label": "p1"})
        );
        let mut d2 = d.clone();
        d2["action"] = "edited".into();
        assert!(map_webhook("issues", &d2).is_none());
        let mut d3 = d.clone();
        d3["action"] = "assigned".into();
        d3["assignee"] = json!({"login": "bo"});
        let (t, p) = map_webhook("issues", &d3).unwrap();
        assert_eq!(t, "github.issue.assigned");
        assert_eq!(p["assignee"], "bo");
        assert!(!p.contains_key("label"));
    }

    #[test]
    fn pull_requests() {
        let pr = json!({"number": 3, "title": "P", "body": "b", "user": {"login": "al"},
                        "head": {"ref": "feat"}, "base": {"ref": "main"},
                        "html_url": "u", "merged": true, "merge_commit_sha": "abc"});
        let d = json!({"action": "closed", "pull_request": pr, "repository": repo()});
        let (t, p) = map_webhook("pull_request", &d).unwrap();
        assert_eq!(t, "github.pr.merged");
        assert_eq!(p["merge_commit"], "abc");
        assert_eq!(p["head_branch"], "feat");
        let mut d2 = d.clone();
        d2["pull_request"]["merged"] = false.into();
        let (t, p) = map_webhook("pull_request", &d2).unwrap();
        assert_eq!(t, "github.pr.closed");
        assert!(!p.contains_key("merge_commit"));
        let mut d3 = d2.clone();
        d3["action"] = "review_requested".into();
        d3["requested_reviewer"] = json!({"login": "rev"});
        let (t, p) = map_webhook("pull_request", &d3).unwrap();
        assert_eq!(t, "github.pr.review_requested");
        assert_eq!(p["reviewer"], "rev");
        d3["action"] = "synchronize".into();
        assert!(map_webhook("pull_request", &d3).is_none());
    }

    #[test]
    fn push_and_comment_and_others() {
        let d = json!({"ref": "refs/heads/main", "before": "a", "after": "b",
                       "commits": [{}, {}], "pusher": {"name": "al", "email": "e"},
                       "head_commit": {"message": "msg"}, "repository": repo()});
        let (t, p) = map_webhook("push", &d).unwrap();
        assert_eq!(t, "github.push");
        assert_eq!(p["commits_count"], 2);
        assert_eq!(p["pusher"], "al");
        assert_eq!(p["head_commit_message"], "msg");
        let c = json!({"action": "created", "issue": {"number": 9},
                       "comment": {"id": 123456789012_i64, "body": "hi", "user": {"login": "x"}, "html_url": "cu"},
                       "repository": repo()});
        let (t, p) = map_webhook("issue_comment", &c).unwrap();
        assert_eq!(t, "github.comment.created");
        assert_eq!(p["comment_id"], "123456789012");
        assert_eq!(p["issue_number"], 9);
        assert!(map_webhook("ping", &json!({"zen": "x"})).is_none());
        assert!(map_webhook("star", &json!({"action": "created"})).is_none());
    }
}
