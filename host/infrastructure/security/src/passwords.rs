use argon2::password_hash::{
    PasswordHasher as _, PasswordVerifier as _, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use coffer_application::InfrastructureError;
use coffer_application::ports::PasswordHasher;
use coffer_domain::account::{Password, PasswordHash};

/// Cost parameters of argon2id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP's recommendation for argon2id: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// argon2id, run on the blocking thread pool so hashing never stalls the async workers.
#[derive(Clone)]
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
    decoy: String,
}

impl Argon2Hasher {
    /// A hasher with the given cost; fails if the parameters are out of argon2's range.
    pub fn new(params: Argon2Params) -> Result<Self, InfrastructureError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| InfrastructureError::msg(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        // A hash of a random password, verified against when the account does not exist.
        let decoy = hash_with(&argon2, SaltString::generate(&mut OsRng).as_ref())?;
        Ok(Self { argon2, decoy })
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &str) -> Result<String, InfrastructureError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| InfrastructureError::msg(format!("argon2 hashing: {e}")))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, InfrastructureError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(InfrastructureError::new)
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfrastructureError> {
        let argon2 = self.argon2.clone();
        let password = password.clone();
        let phc = blocking(move || hash_with(&argon2, password.expose())).await??;
        Ok(PasswordHash::from_phc(phc))
    }

    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, InfrastructureError> {
        let argon2 = self.argon2.clone();
        let password = password.clone();
        let (phc, real) = match hash {
            Some(h) => (h.as_str().to_owned(), true),
            None => (self.decoy.clone(), false),
        };
        blocking(move || {
            let parsed = argon2::PasswordHash::new(&phc)
                .map_err(|e| InfrastructureError::msg(format!("stored password hash: {e}")))?;
            let matches = argon2
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok();
            Ok(matches && real)
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Hasher {
        Argon2Hasher::new(Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_are_salted_argon2id_and_verify() {
        let hasher = cheap();
        let password = Password::parse("correct horse").unwrap();
        let a = hasher.hash(&password).await.unwrap();
        let b = hasher.hash(&password).await.unwrap();
        assert!(a.as_str().starts_with("$argon2id$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(hasher.verify(&password, Some(&a)).await.unwrap());
        let wrong = Password::candidate("battery staple");
        assert!(!hasher.verify(&wrong, Some(&a)).await.unwrap());
    }

    #[tokio::test]
    async fn no_hash_never_verifies() {
        let hasher = cheap();
        let password = Password::parse("correct horse").unwrap();
        assert!(!hasher.verify(&password, None).await.unwrap());
    }

    #[tokio::test]
    async fn a_hash_made_with_other_costs_still_verifies() {
        let password = Password::parse("correct horse").unwrap();
        let old = cheap().hash(&password).await.unwrap();
        let stronger = Argon2Hasher::new(Argon2Params {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap();
        assert!(stronger.verify(&password, Some(&old)).await.unwrap());
    }

    #[test]
    fn rejects_impossible_parameters() {
        let zero = Argon2Params {
            memory_kib: 0,
            iterations: 0,
            parallelism: 0,
        };
        assert!(Argon2Hasher::new(zero).is_err());
    }
}
