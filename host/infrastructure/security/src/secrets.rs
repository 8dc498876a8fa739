use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_application::ports::{IssuedSecret, SecretGenerator, SecretKind};
use coffer_domain::account::TokenDigest;
use sha2::{Digest, Sha256};

/// 256-bit secrets from the operating system's CSPRNG, URL-safe base64 with a recognisable prefix
/// (`cft_` for tokens, `cfi_` for invitations, `cfl_` for shared links), stored as their SHA-256
/// digest.
///
/// A fast digest is right here: the secrets carry 256 bits of entropy, so there is nothing to
/// brute-force, and look-up by digest stays a single indexed query.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomSecrets;

impl SecretGenerator for RandomSecrets {
    fn generate(&self, kind: SecretKind) -> IssuedSecret {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        let prefix = match kind {
            SecretKind::AccessToken => "cft_",
            SecretKind::Invite => "cfi_",
            SecretKind::Link => "cfl_",
        };
        let plaintext = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
        IssuedSecret {
            digest: self.digest(&plaintext),
            plaintext,
        }
    }

    fn digest(&self, plaintext: &str) -> TokenDigest {
        TokenDigest::from_bytes(Sha256::digest(plaintext.as_bytes()).into())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn secrets_are_prefixed_long_and_distinct() {
        let secrets: HashSet<String> = (0..1000)
            .map(|_| RandomSecrets.generate(SecretKind::AccessToken).plaintext)
            .collect();
        assert_eq!(secrets.len(), 1000);
        for s in &secrets {
            assert!(s.starts_with("cft_"));
            assert_eq!(s.len(), 4 + 43, "32 bytes in unpadded base64");
            assert!(
                s[4..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
        }
        assert!(
            RandomSecrets
                .generate(SecretKind::Invite)
                .plaintext
                .starts_with("cfi_")
        );
    }

    #[test]
    fn digest_identifies_the_secret() {
        let issued = RandomSecrets.generate(SecretKind::AccessToken);
        assert_eq!(RandomSecrets.digest(&issued.plaintext), issued.digest);
        assert_ne!(RandomSecrets.digest("cft_other"), issued.digest);
    }
}
