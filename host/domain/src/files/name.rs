use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::DomainError;

/// The name of a file or folder within its parent: what the user typed, case preserved.
///
/// Valid names are non-empty, at most 255 bytes of UTF-8, not `.` or `..`, and contain no `/`,
/// NUL or other control character. Two names with the same [`NodeName::key`] (equal after NFC
/// normalisation and lower-casing) cannot coexist in one folder.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NodeName(String);

impl NodeName {
    /// Longest name in bytes (as on common file systems).
    pub const MAX_BYTES: usize = 255;

    /// Parses a name. The name is stored in NFC, so one name has one spelling.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let name: String = raw.nfc().collect();
        let invalid = |reason: &str| DomainError::invalid("name", reason);
        if name.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if name == "." || name == ".." {
            return Err(invalid("must not be '.' or '..'"));
        }
        if name.contains('/') {
            return Err(invalid("must not contain '/'"));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid("must not contain control characters"));
        }
        if name.len() > Self::MAX_BYTES {
            return Err(invalid("must be at most 255 bytes"));
        }
        Ok(Self(name))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form under which names collide: NFC, lower-cased.
    pub fn key(&self) -> String {
        name_key(&self.0)
    }

    /// The `n`th alternative for an automatic rename: `report (1).pdf`, `photos (2)`,
    /// `.bashrc (1)`. The number goes before the last extension of a file, at the end of a
    /// folder's name.
    pub fn numbered(&self, n: u32, is_folder: bool) -> Result<Self, DomainError> {
        let (stem, extension) = match self.0.rfind('.') {
            Some(dot) if dot > 0 && !is_folder => self.0.split_at(dot),
            _ => (self.0.as_str(), ""),
        };
        let suffix = format!(" ({n})");
        // Keep within the byte limit by shortening the stem on a character boundary.
        let mut stem_end = stem
            .len()
            .min(Self::MAX_BYTES - suffix.len() - extension.len());
        while !stem.is_char_boundary(stem_end) {
            stem_end -= 1;
        }
        Self::parse(&format!("{}{suffix}{extension}", &stem[..stem_end]))
    }
}

/// The comparison form of any text against names (NFC, lower-cased): what name uniqueness and
/// name search compare.
pub fn name_key(text: &str) -> String {
    text.nfc()
        .collect::<String>()
        .to_lowercase()
        .nfc()
        .collect()
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeName({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_no_file_system_accepts() {
        for bad in ["", ".", "..", "a/b", "nul\0byte", "tab\there", "bell\u{7}"] {
            let err = NodeName::parse(bad).unwrap_err();
            assert!(
                matches!(err, DomainError::Invalid { field: "name", .. }),
                "{bad:?}"
            );
        }
        assert!(NodeName::parse(&"a".repeat(255)).is_ok());
        assert!(NodeName::parse(&"a".repeat(256)).is_err());
        assert!(NodeName::parse(&"é".repeat(128)).is_err(), "256 bytes");
    }

    #[test]
    fn accepts_ordinary_and_odd_but_legal_names() {
        for ok in [
            "a",
            "...",
            ".bashrc",
            "Ünïcödé ✓",
            " leading space",
            "x.tar.gz",
            "中文",
        ] {
            assert_eq!(NodeName::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn case_and_normalisation_variants_share_a_key() {
        let composed = NodeName::parse("Caf\u{e9}.txt").unwrap();
        let decomposed = NodeName::parse("CAFE\u{301}.TXT").unwrap();
        assert_eq!(composed.key(), decomposed.key());
        assert_eq!(
            decomposed.as_str(),
            "CAF\u{c9}.TXT",
            "stored in NFC, case preserved"
        );
        assert_ne!(composed.key(), NodeName::parse("cafe.txt").unwrap().key());
    }

    #[test]
    fn numbered_names_keep_the_extension() {
        let n = |name: &str, i, folder| NodeName::parse(name).unwrap().numbered(i, folder).unwrap();
        assert_eq!(n("report.pdf", 1, false).as_str(), "report (1).pdf");
        assert_eq!(n("archive.tar.gz", 2, false).as_str(), "archive.tar (2).gz");
        assert_eq!(n("README", 1, false).as_str(), "README (1)");
        assert_eq!(n(".bashrc", 1, false).as_str(), ".bashrc (1)");
        assert_eq!(
            n("v1.2", 3, true).as_str(),
            "v1.2 (3)",
            "folders have no extension"
        );
        let long = n(&format!("{}.txt", "é".repeat(125)), 12, false);
        assert!(long.as_str().len() <= NodeName::MAX_BYTES && long.as_str().ends_with(" (12).txt"));
    }
}
