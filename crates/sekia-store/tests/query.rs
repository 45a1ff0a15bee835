//! Listing and searching: filters, full-text search, cursor pages that stay
//! put while new events arrive.

mod common;

use sekia_store::{EventQuery, StoreError};
use serde_json::json;

async fn seeded() -> (tempfile::TempDir, sekia_store::Store, sekia_bus::LocalBus) {
    let dir = tempfile::tempdir().unwrap();
    let (store, bus) = common::open_default(dir.path()).await;
    for i in 0..30i64 {
        let (ty, source, text) = match i % 3 {
            0 => ("github.issue.opened", "github", "app crash on start"),
            1 => ("github.pr.merged", "github", "merged cleanly"),
            _ => ("slack.message", "slack", "lunch crash course?"),
        };
        common::publish(
            &bus,
            &format!("evt_{i}"),
            ty,
            source,
            1000 + i,
            json!({"text": text, "n": i}),
        )
        .await;
    }
    common::written(&store, 30).await;
    common::indexed(&store).await;
    (dir, store, bus)
}

fn ids(page: &sekia_store::Page<sekia_store::StoredEvent>) -> Vec<String> {
    page.items.iter().map(|e| e.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_combine() {
    let (_dir, store, _bus) = seeded().await;
    // By id through the id index (everything is indexed here) and the tail.
    assert_eq!(
        store.get_event("evt_3").await.unwrap().unwrap().timestamp,
        1003
    );
    assert!(store.get_event("evt_nope").await.unwrap().is_none());
    let all = store.list_events(EventQuery::default()).await.unwrap();
    assert_eq!(all.items.len(), 30);
    assert_eq!(all.items[0].id, "evt_29", "newest first");
    assert!(all.next_cursor.is_none());

    let q = |f: fn(&mut EventQuery)| {
        let mut q = EventQuery::default();
        f(&mut q);
        q
    };
    let slack = store
        .list_events(q(|q| q.source = Some("slack".into())))
        .await
        .unwrap();
    assert_eq!(slack.items.len(), 10);
    assert!(slack.items.iter().all(|e| e.source == "slack"));

    let issues = store
        .list_events(q(|q| q.event_type = Some("github.issue.*".into())))
        .await
        .unwrap();
    assert_eq!(issues.items.len(), 10);
    let github = store
        .list_events(q(|q| q.event_type = Some("github.*".into())))
        .await
        .unwrap();
    assert_eq!(github.items.len(), 20);

    let range = store
        .list_events(q(|q| {
            q.since = Some(1010);
            q.until = Some(1013);
        }))
        .await
        .unwrap();
    assert_eq!(ids(&range), ["evt_12", "evt_11", "evt_10"]);

    let crash = store
        .list_events(q(|q| q.q = Some("crash".into())))
        .await
        .unwrap();
    assert_eq!(crash.items.len(), 20);
    let crash_gh = store
        .list_events(q(|q| {
            q.q = Some("CRASH".into());
            q.source = Some("github".into());
        }))
        .await
        .unwrap();
    assert_eq!(crash_gh.items.len(), 10);
    assert!(
        crash_gh
            .items
            .iter()
            .all(|e| e.event_type == "github.issue.opened")
    );
    // Full-text over type and source too, and prefixes.
    let by_type = store
        .list_events(q(|q| q.q = Some("merged*".into())))
        .await
        .unwrap();
    assert_eq!(by_type.items.len(), 10);
    let none = store
        .list_events(q(|q| q.q = Some("crash merged".into())))
        .await
        .unwrap();
    assert!(none.items.is_empty());

    assert!(matches!(
        store.list_events(q(|q| q.q = Some("...".into()))).await,
        Err(StoreError::BadQuery(_))
    ));
    assert!(matches!(
        store.list_events(q(|q| q.limit = 5000)).await,
        Err(StoreError::BadQuery(_))
    ));
    assert!(matches!(
        store
            .list_events(q(|q| q.cursor = Some("nope".into())))
            .await,
        Err(StoreError::BadCursor(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_pages_are_stable_under_inserts() {
    let (_dir, store, bus) = seeded().await;
    for search in [None, Some("crash".to_owned())] {
        // The rows that exist (and are indexed) when paging starts, in order.
        common::indexed(&store).await;
        let want = ids(&store
            .list_events(EventQuery {
                limit: 1000,
                q: search.clone(),
                ..Default::default()
            })
            .await
            .unwrap());
        assert!(want.len() >= 20);
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut extra = 0;
        loop {
            let page = store
                .list_events(EventQuery {
                    limit: 7,
                    cursor: cursor.clone(),
                    q: search.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            seen.extend(ids(&page));
            // New events arrive between pages; they must not shift the pages.
            extra += 1;
            common::publish(
                &bus,
                &format!("evt_new_{}_{extra}", search.is_some()),
                "github.issue.opened",
                "github",
                5000,
                json!({"text": "crash"}),
            )
            .await;
            store.sync().await.unwrap();
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(
            seen, want,
            "{search:?}: every row once, in order, none of the new ones"
        );
    }
}
