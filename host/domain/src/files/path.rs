use std::fmt;

use super::NodeName;
use crate::DomainError;

/// A path from the root of a user's tree: `/`, `/Documents`, `/Documents/report.pdf`.
///
/// Parsing checks every component as a [`NodeName`]; a trailing `/` is tolerated, empty
/// components (`//`) are not.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct NodePath(Vec<NodeName>);

impl NodePath {
    /// The root.
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// Parses an absolute path.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let Some(rest) = raw.strip_prefix('/') else {
            return Err(DomainError::invalid("path", "must start with '/'"));
        };
        if rest.is_empty() {
            return Ok(Self::root());
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        rest.split('/')
            .map(|component| {
                if component.is_empty() {
                    return Err(DomainError::invalid("path", "must not contain '//'"));
                }
                NodeName::parse(component).map_err(|err| match err {
                    DomainError::Invalid { reason, .. } => {
                        DomainError::invalid("path", format!("component {component:?}: {reason}"))
                    }
                    other => other,
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Builds a path from names, root first.
    pub fn from_names(names: Vec<NodeName>) -> Self {
        Self(names)
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The names from the root down.
    pub fn components(&self) -> &[NodeName] {
        &self.0
    }

    /// The last component, unless this is the root.
    pub fn name(&self) -> Option<&NodeName> {
        self.0.last()
    }

    /// The parent path, unless this is the root.
    pub fn parent(&self) -> Option<NodePath> {
        (!self.is_root()).then(|| Self(self.0[..self.0.len() - 1].to_vec()))
    }

    /// This path with `name` appended.
    pub fn join(&self, name: NodeName) -> NodePath {
        let mut names = self.0.clone();
        names.push(name);
        Self(names)
    }

    /// This path followed by every component of `rest` (a path relative to this one).
    pub fn concat(&self, rest: &NodePath) -> NodePath {
        let mut names = self.0.clone();
        names.extend(rest.0.iter().cloned());
        Self(names)
    }

    /// `other` relative to this path, if it is this path or lies below it.
    pub fn strip(&self, other: &NodePath) -> Option<NodePath> {
        self.contains(other)
            .then(|| Self(other.0[self.0.len()..].to_vec()))
    }

    /// Whether `other` is this path or lies below it (compared by name keys).
    pub fn contains(&self, other: &NodePath) -> bool {
        self.0.len() <= other.0.len()
            && self.0.iter().zip(&other.0).all(|(a, b)| a.key() == b.key())
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for name in &self.0 {
            write!(f, "/{name}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodePath({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_paths() {
        assert!(NodePath::parse("/").unwrap().is_root());
        let path = NodePath::parse("/Documents/report.pdf/").unwrap();
        assert_eq!(path.to_string(), "/Documents/report.pdf");
        assert_eq!(path.name().unwrap().as_str(), "report.pdf");
        assert_eq!(path.parent().unwrap().to_string(), "/Documents");
        assert_eq!(NodePath::root().to_string(), "/");
        assert!(NodePath::root().parent().is_none());
    }

    #[test]
    fn paths_concatenate_and_strip_prefixes_by_name_key() {
        let mount = NodePath::parse("/Team/Shared").unwrap();
        let inner = NodePath::parse("/Docs/a.txt").unwrap();
        let full = mount.concat(&inner);
        assert_eq!(full.to_string(), "/Team/Shared/Docs/a.txt");
        let other_case = NodePath::parse("/team/SHARED/Docs/a.txt").unwrap();
        assert_eq!(mount.strip(&other_case).unwrap().to_string(), "/Docs/a.txt");
        assert!(mount.strip(&mount).unwrap().is_root());
        assert!(mount.strip(&NodePath::parse("/Team").unwrap()).is_none());
        assert_eq!(NodePath::root().concat(&inner), inner);
    }

    #[test]
    fn rejects_malformed_paths_with_the_reason() {
        for bad in [
            "",
            "relative/path",
            "//",
            "/a//b",
            "/a/../b",
            "/a/./b",
            "/nul\0",
        ] {
            let err = NodePath::parse(bad).unwrap_err();
            assert!(
                matches!(err, DomainError::Invalid { field: "path", .. }),
                "{bad:?}"
            );
        }
        let err = NodePath::parse("/ok/..").unwrap_err().to_string();
        assert!(err.contains("\"..\""), "{err}");
    }

    #[test]
    fn containment_ignores_case() {
        let docs = NodePath::parse("/Docs").unwrap();
        assert!(docs.contains(&NodePath::parse("/docs/a/b").unwrap()));
        assert!(docs.contains(&docs));
        assert!(!docs.contains(&NodePath::parse("/Docs2").unwrap()));
        assert!(NodePath::root().contains(&docs));
        assert!(!docs.contains(&NodePath::root()));
    }
}
