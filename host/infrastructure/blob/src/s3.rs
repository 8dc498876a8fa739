//! Blocks as objects in an S3-compatible bucket (AWS S3, Garage, MinIO, ...).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use coffer_application::ports::{BlobStore, ByteStream, ContentError, HashedBlock};
use coffer_application::{FailureKind, InfrastructureError};
use coffer_domain::files::BlockHash;

/// Most keys one DeleteObjects request may name.
const DELETE_BATCH: usize = 1000;

/// How to reach the bucket.
#[derive(Clone)]
pub struct S3Settings {
    /// Endpoint URL (e.g. `http://127.0.0.1:3900` for Garage); `None` for AWS itself.
    pub endpoint: Option<String>,
    /// Region (`garage` for Garage, e.g. `eu-west-1` for AWS).
    pub region: String,
    /// Bucket holding the blocks.
    pub bucket: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never printed).
    pub secret_access_key: String,
    /// Address the bucket in the path (`endpoint/bucket/key`) rather than as a subdomain; Garage
    /// and MinIO usually need this.
    pub force_path_style: bool,
    /// Prefix of every key (e.g. `coffer/`), so that the bucket can be shared.
    pub key_prefix: String,
    /// Deadlines of every request.
    pub timeouts: S3Timeouts,
}

/// Deadlines of the requests to the bucket: a stalled or unreachable store fails requests in
/// bounded time (as `Unavailable`) instead of holding them for as long as it stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Timeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// One attempt of a request, until its answer's headers; also the longest wait for the next
    /// chunk of a body being read.
    pub attempt: Duration,
    /// A whole request, retries included (until its answer's headers).
    pub operation: Duration,
}

impl Default for S3Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            attempt: Duration::from_secs(20),
            operation: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("force_path_style", &self.force_path_style)
            .field("key_prefix", &self.key_prefix)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// [`BlobStore`] keeping each block as one object, keyed `<key_prefix>blocks/<hex[0..2]>/<hex>`.
///
/// Uploads send the block's SHA-256 (which is its name) as the object checksum, so the server
/// rejects a corrupted upload. Reads stream the object's body; nothing is buffered whole.
#[derive(Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    key_prefix: String,
    /// Longest wait for the next chunk of a body being read.
    body_stall: Duration,
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("bucket", &self.bucket)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// A store on the bucket of `settings`. Makes no request: see [`check`](Self::check).
    pub fn connect(settings: S3Settings) -> Result<Self, InfrastructureError> {
        if settings.bucket.is_empty() {
            return Err(InfrastructureError::msg("the S3 bucket name is empty"));
        }
        if settings.region.is_empty() {
            return Err(InfrastructureError::msg("the S3 region is empty"));
        }
        if let Some(endpoint) = &settings.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(InfrastructureError::msg(format!(
                "the S3 endpoint {endpoint:?} must start with http:// or https://"
            )));
        }
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let credentials = Credentials::new(
            settings.access_key_id,
            settings.secret_access_key,
            None,
            None,
            "coffer-settings",
        );
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http_client)
            .region(Region::new(settings.region))
            .credentials_provider(credentials)
            .force_path_style(settings.force_path_style)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.timeouts.connect)
                    .operation_attempt_timeout(settings.timeouts.attempt)
                    .operation_timeout(settings.timeouts.operation)
                    .build(),
            )
            // Streaming trailer checksums fail against Garage over plain http; bodies are in
            // memory and carry the block's SHA-256 anyway.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = settings.endpoint {
            config = config.endpoint_url(endpoint);
        }
        Ok(Self {
            client: Client::from_conf(config.build()),
            bucket: settings.bucket,
            key_prefix: settings.key_prefix,
            body_stall: settings.timeouts.attempt,
        })
    }

    /// Succeeds when the bucket is reachable with these credentials (for readiness probes).
    pub async fn check(&self) -> Result<(), InfrastructureError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|err| sdk_error("HeadBucket", &self.bucket, err))?;
        Ok(())
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix of every key.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// The object key of a block.
    pub fn key(&self, hash: &BlockHash) -> String {
        block_key(&self.key_prefix, hash)
    }

    /// Deletes every object whose key starts with `prefix` (within the whole bucket, not only
    /// under this store's key prefix). For tests' cleanup and administration.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), InfrastructureError> {
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|err| sdk_error("ListObjectsV2", prefix, err))?;
            let keys: Vec<String> = page
                .contents()
                .iter()
                .filter_map(|object| object.key().map(str::to_owned))
                .collect();
            self.delete_keys(keys).await?;
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(()),
            }
        }
    }

    async fn delete_keys(&self, keys: Vec<String>) -> Result<(), InfrastructureError> {
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(InfrastructureError::new)?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(InfrastructureError::new)?;
            let output = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|err| sdk_error("DeleteObjects", &batch[0], err))?;
            if let Some(failed) = output.errors().first() {
                return Err(InfrastructureError::msg(format!(
                    "S3 DeleteObjects failed for {} of {} keys, e.g. {}: {} {}",
                    output.errors().len(),
                    batch.len(),
                    failed.key().unwrap_or("?"),
                    failed.code().unwrap_or("?"),
                    failed.message().unwrap_or(""),
                )));
            }
        }
        Ok(())
    }
}

fn block_key(prefix: &str, hash: &BlockHash) -> String {
    let hex = hash.to_hex();
    format!("{prefix}blocks/{}/{hex}", &hex[0..2])
}

/// A failed request. Unreachable, timed out, cut off, or failing on the server's side (5xx, e.g.
/// `SlowDown`) is [`FailureKind::Unavailable`]; refusals (4xx) are not.
fn sdk_error<E: std::error::Error + 'static>(
    operation: &str,
    key: &str,
    err: SdkError<E, HttpResponse>,
) -> InfrastructureError {
    let server_side = err
        .raw_response()
        .is_some_and(|response| response.status().is_server_error());
    let kind = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            FailureKind::Unavailable
        }
        _ if server_side => FailureKind::Unavailable,
        _ => FailureKind::Other,
    };
    InfrastructureError::msg(format!(
        "S3 {operation} {key} failed: {}",
        DisplayErrorContext(err)
    ))
    .with_kind(kind)
}

/// The chunks as one buffer (no copy when there is only one).
fn join(chunks: Vec<Bytes>, len: usize) -> Bytes {
    if chunks.len() == 1 {
        return chunks.into_iter().next().unwrap_or_default();
    }
    let mut joined = BytesMut::with_capacity(len);
    for chunk in chunks {
        joined.extend_from_slice(&chunk);
    }
    joined.freeze()
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn check(&self) -> Result<(), InfrastructureError> {
        S3BlobStore::check(self).await
    }

    async fn put(&self, block: HashedBlock) -> Result<(), InfrastructureError> {
        let key = self.key(&block.hash);
        if self.contains(&block.hash).await? {
            return Ok(());
        }
        let body = join(block.chunks, block.len as usize);
        if body.len() != block.len as usize {
            return Err(InfrastructureError::msg(format!(
                "block {} claims {} bytes but has {}",
                block.hash,
                block.len,
                body.len()
            )));
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_length(i64::from(block.len))
            .checksum_sha256(BASE64.encode(block.hash.as_bytes()))
            .body(SdkByteStream::from(body))
            .send()
            .await
            .map_err(|err| sdk_error("PutObject", &key, err))?;
        Ok(())
    }

    async fn read(
        &self,
        hash: &BlockHash,
        offset: u64,
        len: u64,
    ) -> Result<ByteStream, InfrastructureError> {
        let key = self.key(hash);
        if len == 0 {
            // An empty range cannot be expressed as a Range header.
            return match self.size(&key).await? {
                None => Err(InfrastructureError::msg(format!(
                    "block {hash} is not stored"
                ))),
                Some(size) if offset <= size => Ok(Box::pin(futures_util::stream::empty())),
                Some(size) => Err(InfrastructureError::msg(format!(
                    "range {offset}+0 is outside block {hash} ({size} bytes)"
                ))),
            };
        }
        let Some(last) = offset.checked_add(len - 1) else {
            return Err(InfrastructureError::msg(format!(
                "range {offset}+{len} is outside block {hash}"
            )));
        };
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .range(format!("bytes={offset}-{last}"))
            .send()
            .await
            .map_err(|err| {
                if err
                    .as_service_error()
                    .is_some_and(|service| service.is_no_such_key())
                {
                    InfrastructureError::msg(format!("block {hash} is not stored"))
                } else {
                    sdk_error("GetObject", &key, err)
                }
            })?;
        let returned = output.content_length().unwrap_or(-1);
        if u64::try_from(returned).ok() != Some(len) {
            return Err(InfrastructureError::msg(format!(
                "S3 GetObject {key} returned {returned} bytes for range {offset}+{len}"
            )));
        }
        let stall = self.body_stall;
        let stream =
            futures_util::stream::unfold(Some((output.body, key)), move |state| async move {
                let (mut body, key) = state?;
                let failure = match tokio::time::timeout(stall, body.next()).await {
                    Ok(None) => return None,
                    Ok(Some(Ok(chunk))) => return Some((Ok(chunk), Some((body, key)))),
                    Ok(Some(Err(err))) => format!(
                        "S3 GetObject {key} failed while reading the body: {}",
                        DisplayErrorContext(err)
                    ),
                    Err(_) => format!("S3 GetObject {key} stalled: no data for {stall:?}"),
                };
                let err = InfrastructureError::unavailable(failure);
                Some((Err(ContentError::Storage(err)), None))
            });
        Ok(Box::pin(stream))
    }

    async fn contains(&self, hash: &BlockHash) -> Result<bool, InfrastructureError> {
        Ok(self.size(&self.key(hash)).await?.is_some())
    }

    async fn delete(&self, hashes: &[BlockHash]) -> Result<(), InfrastructureError> {
        self.delete_keys(hashes.iter().map(|hash| self.key(hash)).collect())
            .await
    }
}

impl S3BlobStore {
    /// The size of an object, or `None` if there is no such object.
    async fn size(&self, key: &str) -> Result<Option<u64>, InfrastructureError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(
                output
                    .content_length()
                    .and_then(|len| u64::try_from(len).ok())
                    .unwrap_or(0),
            )),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|service| service.is_not_found()) =>
            {
                Ok(None)
            }
            Err(err) => Err(sdk_error("HeadObject", key, err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> S3Settings {
        S3Settings {
            endpoint: Some("http://127.0.0.1:3900".into()),
            region: "garage".into(),
            bucket: "coffer".into(),
            access_key_id: "GK123".into(),
            secret_access_key: "very-secret".into(),
            force_path_style: true,
            key_prefix: "prod/".into(),
            timeouts: S3Timeouts::default(),
        }
    }

    #[test]
    fn keys_are_prefixed_and_sharded() {
        let hash = BlockHash::of(b"abc");
        assert_eq!(
            block_key("prod/", &hash),
            "prod/blocks/ba/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(block_key("", &hash).starts_with("blocks/ba/"));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let printed = format!("{:?}", settings());
        assert!(printed.contains("GK123"));
        assert!(!printed.contains("very-secret"));
    }

    #[test]
    fn settings_are_validated() {
        let empty_bucket = S3Settings {
            bucket: String::new(),
            ..settings()
        };
        assert!(S3BlobStore::connect(empty_bucket).is_err());
        let bad_endpoint = S3Settings {
            endpoint: Some("127.0.0.1:3900".into()),
            ..settings()
        };
        assert!(S3BlobStore::connect(bad_endpoint).is_err());
        let store = S3BlobStore::connect(settings()).expect("valid settings");
        assert_eq!(store.bucket(), "coffer");
        assert_eq!(
            store.key(&BlockHash::of(b"abc")),
            block_key("prod/", &BlockHash::of(b"abc"))
        );
    }

    #[test]
    fn chunks_are_joined_in_order() {
        let joined = join(
            vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cde")],
            5,
        );
        assert_eq!(&joined[..], b"abcde");
        assert_eq!(&join(vec![Bytes::from_static(b"x")], 1)[..], b"x");
        assert!(join(Vec::new(), 0).is_empty());
    }
}
