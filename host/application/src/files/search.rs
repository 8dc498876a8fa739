//! Search by name.

use coffer_domain::files::{NodeId, NodePath, name_key};

use super::locate::Located;
use super::{Entry, Files, Target};
use crate::{AppError, Principal};

/// One page of search results.
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// Matches in name order, with their paths.
    pub entries: Vec<Entry>,
    /// Where the next page starts (name key and id of the last candidate looked at), if more
    /// may follow.
    pub next_after: Option<(String, NodeId)>,
}

/// Longest search text, in characters (a name's longest is 255 bytes).
const MAX_QUERY_CHARS: usize = 255;

impl Files {
    /// Files and folders whose name contains `query` (ignoring case and Unicode normalisation),
    /// optionally only below the folder `under`, in name order, `limit` at a time. Trashed
    /// items, and anything in a trashed folder, are not found.
    pub async fn search(
        &self,
        caller: &Principal,
        query: &str,
        under: Option<&str>,
        limit: u32,
        after: Option<(String, NodeId)>,
    ) -> Result<SearchPage, AppError> {
        let fragment = name_key(query.trim());
        if fragment.is_empty() || fragment.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::Invalid {
                field: "query",
                reason: format!("must be 1 to {MAX_QUERY_CHARS} characters"),
            });
        }
        let limit = limit.clamp(1, super::content::MAX_PAGE);
        let (mut tx, access) = self.read_access(caller.user_id).await?;
        let under: Option<NodePath> = match under {
            None => None,
            Some(folder) => match self
                .locate(tx.as_mut(), &access, &Target::parse(folder)?)
                .await?
            {
                Located::Root => None,
                Located::Entry(entry) if entry.node.is_folder() => Some(entry.path),
                Located::Entry(_) => {
                    return Err(AppError::NotAllowed("search within a folder, not a file"));
                }
            },
        };

        // A merge of each reachable namespace's matches, in (name key, id) order. A batch that
        // came back full sets a horizon: beyond its last match, that namespace may have more.
        let namespaces = access.namespaces();
        let mut entries = Vec::new();
        let mut cursor = after;
        loop {
            let position = cursor.clone();
            let mut candidates = Vec::new();
            let mut horizon: Option<(String, NodeId)> = None;
            for namespace in &namespaces {
                let batch = tx
                    .nodes()
                    .search(
                        *namespace,
                        &fragment,
                        position.as_ref().map(|(key, id)| (key.as_str(), *id)),
                        limit,
                    )
                    .await?;
                if batch.len() == limit as usize {
                    let last = batch.last().map(|n| (n.name.key(), n.id));
                    horizon = horizon.min(last.clone()).or(last);
                }
                candidates.extend(batch);
            }
            let mut candidates: Vec<_> = candidates
                .into_iter()
                .map(|node| ((node.name.key(), node.id), node))
                .collect();
            candidates.sort_by(|a, b| a.0.cmp(&b.0));
            for (position, node) in candidates {
                if horizon.as_ref().is_some_and(|h| &position > h) {
                    break;
                }
                cursor = Some(position);
                let Some(path) = self.view_path_of(tx.as_mut(), &access, &node).await? else {
                    continue;
                };
                let below = under
                    .as_ref()
                    .is_none_or(|folder| folder.contains(&path) && !path.contains(folder));
                if below {
                    entries.push(Entry { node, path });
                    if entries.len() == limit as usize {
                        return Ok(SearchPage {
                            entries,
                            next_after: cursor,
                        });
                    }
                }
            }
            if horizon.is_none() {
                return Ok(SearchPage {
                    entries,
                    next_after: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::account::SignupPolicy;

    use crate::AppError;
    use crate::testing::TestEnv;

    #[tokio::test]
    async fn finds_names_by_substring_ignoring_case_and_normalisation() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let me = env.principal("a@example.org").await;
        env.member("b@example.org").await;
        let other = env.principal("b@example.org").await;
        for path in [
            "/Reports/Q1 Report.pdf",
            "/Reports/old/report-2019.txt",
            "/CAFÉ report",
            "/notes.txt",
        ] {
            env.upload(&me, path, path.as_bytes()).await;
        }
        env.upload(&other, "/report of someone else", b"x").await;
        env.upload(&me, "/Trash me/report.bin", b"t").await;
        env.files.delete(&me, "/Trash me").await.unwrap();

        let page = env
            .files
            .search(&me, "REPORT", None, 100, None)
            .await
            .unwrap();
        let paths: Vec<String> = page.entries.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "/CAFÉ report",
                "/Reports/Q1 Report.pdf",
                "/Reports/old/report-2019.txt",
                "/Reports"
            ],
            "name order: café, q1, report-2019, reports"
        );
        assert!(
            !paths
                .iter()
                .any(|p| p.contains("someone") || p.contains("Trash"))
        );

        let decomposed = env
            .files
            .search(&me, "cafe\u{301}", None, 10, None)
            .await
            .unwrap();
        assert_eq!(decomposed.entries[0].path.to_string(), "/CAFÉ report");

        let below = env
            .files
            .search(&me, "report", Some("/reports"), 10, None)
            .await
            .unwrap();
        let below: Vec<String> = below.entries.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(below.len(), 2, "{below:?}");
        assert!(below.iter().all(|p| p.starts_with("/Reports/")));

        let err = env
            .files
            .search(&me, "  ", None, 10, None)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Invalid { field: "query", .. }));
        let wildcard = env.files.search(&me, "%", None, 10, None).await.unwrap();
        assert!(
            wildcard.entries.is_empty(),
            "wildcards are plain characters"
        );
    }

    #[tokio::test]
    async fn pages_through_many_matches() {
        let env = TestEnv::new(SignupPolicy::Open);
        env.member("a@example.org").await;
        let me = env.principal("a@example.org").await;
        for i in 0..7 {
            env.upload(&me, &format!("/match-{i}.txt"), b"m").await;
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = env
                .files
                .search(&me, "match", None, 3, after)
                .await
                .unwrap();
            seen.extend(page.entries.iter().map(|e| e.node.name.to_string()));
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(
            seen,
            (0..7).map(|i| format!("match-{i}.txt")).collect::<Vec<_>>()
        );
    }
}
