//! The store in an S3 bucket (AWS, or any server speaking S3: SeaweedFS, MinIO, Ceph).
//! Endpoint, region and credentials come the standard AWS way (environment, `~/.aws/config` and
//! `~/.aws/credentials`, `AWS_PROFILE`), through the AWS SDK, which is the crate with Object
//! Lock. The SDK is async; a current-thread runtime drives it for this blocking CLI.
//!
//! Safety without a lock: contents are named by their SHA-256 and sent with that checksum, so
//! the server refuses a content that does not match its name; large files go in multipart
//! uploads completed only when the streamed hash matches; manifests are created with
//! `If-None-Match: *`, so of two writers of one snapshot number the second is refused and
//! retries with the next. A killed run leaves contents no manifest names (and, at worst, an
//! incomplete multipart upload the server never shows as an object).

use super::{Backend, Held, Key, Lock, Retain, is_sha256, manifest_id, manifest_name};
use crate::error::Error;
use crate::project::RetentionMode;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ObjectLockEnabled, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode,
};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Multipart part size: memory per upload is one part.
const PART: usize = 8 << 20;

pub(crate) struct S3 {
    rt: tokio::runtime::Runtime,
    client: Client,
    bucket: String,
    /// `prefix/` or empty.
    prefix: String,
    endpoint: String,
    /// Names of stored contents, listed once on first use, then kept up to date by this run.
    objects: Mutex<Option<HashSet<String>>>,
}

impl S3 {
    pub fn new(bucket: &str, prefix: &str) -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Usage(format!("cannot start the S3 client: {e}")))?;
        let config = rt.block_on(aws_config::defaults(aws_config::BehaviorVersion::latest()).load());
        let endpoint = config.endpoint_url().map(String::from);
        let mut b = aws_sdk_s3::config::Builder::from(&config);
        if config.region().is_none() {
            // Signing needs a region; S3-compatible servers accept any, AWS redirects.
            b = b.region(aws_sdk_s3::config::Region::new("us-east-1"));
        }
        if endpoint.is_some() {
            // Servers at a custom endpoint (SeaweedFS, MinIO) rarely have per-bucket host names.
            b = b.force_path_style(true);
        }
        let client = Client::from_conf(b.build());
        Ok(S3 {
            rt,
            client,
            bucket: bucket.to_string(),
            prefix: if prefix.is_empty() { String::new() } else { format!("{prefix}/") },
            endpoint: endpoint.unwrap_or_else(|| "AWS S3".into()),
            objects: Mutex::new(None),
        })
    }

    fn key(&self, key: Key<'_>) -> String {
        match key {
            Key::Object(sha) => format!("{}objects/{}/{sha}", self.prefix, sha.get(..2).unwrap_or("__")),
            Key::Manifest(id) => format!("{}snapshots/{}.json", self.prefix, manifest_name(id)),
            Key::Token(id) => format!("{}snapshots/{}.tsr", self.prefix, manifest_name(id)),
        }
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// A clear message for a failed request: which object, what the server or network said, and
    /// what to check.
    fn error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
        &self,
        op: &str,
        key: &str,
        e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> Error {
        let target = self.url(key);
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().map(String::from);
        let detail = DisplayErrorContext(&e).to_string();
        let msg = match (&e, code.as_deref(), status) {
            (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _, _) => format!(
                "cannot reach the S3 endpoint ({}) to {op} {target}: {detail}; check AWS_ENDPOINT_URL, the network, and that the server is running",
                self.endpoint
            ),
            (_, Some("NoSuchBucket"), _) => format!(
                "the bucket `{}` does not exist at {}; create it (with Object Lock for retention, docs/snapshots.md) or fix [snapshot] store",
                self.bucket, self.endpoint
            ),
            (
                _,
                Some(
                    "InvalidAccessKeyId"
                    | "SignatureDoesNotMatch"
                    | "AccessDenied"
                    | "InvalidToken"
                    | "ExpiredToken"
                    | "InvalidSecurity",
                ),
                _,
            )
            | (_, None, Some(401 | 403)) => format!(
                "the S3 server refused to {op} {target} ({}): check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and their permissions",
                code.as_deref().unwrap_or("403 Forbidden")
            ),
            _ if detail.contains("credentials") || detail.contains("identity") => format!(
                "no usable AWS credentials to {op} {target}: {detail}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
            ),
            _ => format!("cannot {op} {target}: {detail}"),
        };
        Error::Usage(msg)
    }

    fn is_not_found<E: ProvideErrorMetadata>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
        e.raw_response().is_some_and(|r| r.status().as_u16() == 404) && !matches!(e.code(), Some("NoSuchBucket"))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let r = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| self.error("list", prefix, e))?;
                out.extend(r.contents().iter().filter_map(|o| o.key().map(String::from)));
                match r.next_continuation_token() {
                    Some(t) if r.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => break,
                }
            }
            Ok(out)
        })
    }

    /// Multipart uploads begun under the store's objects and never completed nor aborted:
    /// (key, upload id, start time in seconds since the epoch).
    fn uploads(&self) -> Result<Vec<(String, String, Option<i64>)>, Error> {
        let prefix = format!("{}objects/", self.prefix);
        self.rt.block_on(async {
            let mut out = Vec::new();
            let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
            loop {
                let r = self
                    .client
                    .list_multipart_uploads()
                    .bucket(&self.bucket)
                    .prefix(&prefix)
                    .set_key_marker(key_marker.take())
                    .set_upload_id_marker(id_marker.take())
                    .send()
                    .await
                    .map_err(|e| self.error("list the unfinished uploads under", &prefix, e))?;
                for u in r.uploads() {
                    if let (Some(k), Some(id)) = (u.key(), u.upload_id()) {
                        out.push((k.to_string(), id.to_string(), u.initiated().map(|t| t.secs())));
                    }
                }
                key_marker = r.next_key_marker().map(String::from);
                id_marker = r.next_upload_id_marker().map(String::from);
                if r.is_truncated() != Some(true) || key_marker.is_none() {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn known(&self) -> Result<std::sync::MutexGuard<'_, Option<HashSet<String>>>, Error> {
        let mut g = self.objects.lock().map_err(|_| Error::Usage("the S3 object list is poisoned".into()))?;
        if g.is_none() {
            let names = self.list(&format!("{}objects/", self.prefix))?;
            *g = Some(names.into_iter().filter_map(|k| k.rsplit('/').next().map(String::from)).collect());
        }
        Ok(g)
    }

    fn remember(&self, sha: &str) {
        if let Ok(mut g) = self.objects.lock()
            && let Some(set) = g.as_mut()
        {
            set.insert(sha.to_string());
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.rt.block_on(async {
            match self.client.get_object().bucket(&self.bucket).key(key).send().await {
                Ok(r) => {
                    let bytes = r
                        .body
                        .collect()
                        .await
                        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", self.url(key))))?;
                    Ok(Some(bytes.into_bytes().to_vec()))
                }
                Err(e) if matches!(e.code(), Some("NoSuchKey")) || Self::is_not_found(&e) => Ok(None),
                Err(e) => Err(self.error("read", key, e)),
            }
        })
    }

    /// Creates an object only if the name is free (`If-None-Match: *`); `Ok(false)` if taken.
    fn create(&self, key: &str, bytes: &[u8], retain: Option<&Retain>) -> Result<bool, Error> {
        self.rt.block_on(async {
            let mut req = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .if_none_match("*")
                .checksum_sha256(base64(&Sha256::digest(bytes)))
                .body(ByteStream::from(bytes.to_vec()));
            if let Some(r) = retain {
                req = req.object_lock_mode(lock_mode(r.mode)).object_lock_retain_until_date(date(r.until));
            }
            match req.send().await {
                Ok(_) => Ok(true),
                Err(e)
                    if matches!(e.code(), Some("PreconditionFailed" | "ConditionalRequestConflict"))
                        || e.raw_response().is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) =>
                {
                    Ok(false)
                }
                Err(e) => Err(self.error("write", key, e)),
            }
        })
    }

    fn put(&self, key: &str, bytes: Vec<u8>, sha: &[u8], retain: Option<&Retain>) -> Result<(), Error> {
        self.rt.block_on(async {
            let mut req = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                // The server refuses the write if the content does not match this checksum.
                .checksum_sha256(base64(sha))
                .body(ByteStream::from(bytes));
            if let Some(r) = retain {
                req = req.object_lock_mode(lock_mode(r.mode)).object_lock_retain_until_date(date(r.until));
            }
            req.send().await.map_err(|e| self.error("upload", key, e))?;
            Ok(())
        })
    }

    /// Streams a large file in parts, hashing as it goes; completes the upload (making the
    /// object visible) only under the name its content hashes to.
    fn put_multipart(
        &self,
        path: &Path,
        mut f: std::fs::File,
        first: Vec<u8>,
        retain: Option<&Retain>,
    ) -> Result<(String, u64, bool), Error> {
        // The name is the content's hash, known only at the end: hash first, then upload.
        let mut h = Sha256::new();
        h.update(&first);
        let mut size = first.len() as u64;
        // The upload reads the file again from the start: the first part is not kept meanwhile.
        drop(first);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = read_full(&mut f, &mut buf).map_err(|e| Error::io("read", path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            size += n as u64;
        }
        let sha = crate::text::hex(&h.finalize());
        if self.has_object(&sha)? {
            return Ok((sha, size, false));
        }
        let key = self.key(Key::Object(&sha));
        let mut f = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
        let upload = self.rt.block_on(async {
            let mut req = self.client.create_multipart_upload().bucket(&self.bucket).key(&key);
            if let Some(r) = retain {
                req = req.object_lock_mode(lock_mode(r.mode)).object_lock_retain_until_date(date(r.until));
            }
            req.send().await.map_err(|e| self.error("start an upload of", &key, e))
        })?;
        let Some(upload_id) = upload.upload_id().map(String::from) else {
            return Err(Error::Usage(format!("the S3 server started no upload for {}", self.url(&key))));
        };
        let result = (|| -> Result<(), Error> {
            let mut parts = Vec::new();
            let mut h = Sha256::new();
            let mut n_part = 1;
            loop {
                let mut chunk = vec![0u8; PART];
                let n = read_full(&mut f, &mut chunk).map_err(|e| Error::io("read", path, e))?;
                if n == 0 {
                    break;
                }
                chunk.truncate(n);
                h.update(&chunk);
                let etag = self.rt.block_on(async {
                    self.client
                        .upload_part()
                        .bucket(&self.bucket)
                        .key(&key)
                        .upload_id(&upload_id)
                        .part_number(n_part)
                        .body(ByteStream::from(chunk))
                        .send()
                        .await
                        .map_err(|e| self.error("upload a part of", &key, e))
                })?;
                parts.push(
                    CompletedPart::builder().part_number(n_part).set_e_tag(etag.e_tag().map(String::from)).build(),
                );
                n_part += 1;
            }
            if crate::text::hex(&h.finalize()) != sha {
                return Err(Error::Package {
                    path: path.to_path_buf(),
                    message: "the file changed while the snapshot was being taken; run it again".into(),
                });
            }
            self.rt.block_on(async {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&key)
                    .upload_id(&upload_id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .send()
                    .await
                    .map_err(|e| self.error("complete the upload of", &key, e))
            })?;
            Ok(())
        })();
        if result.is_err() {
            // Best effort: an upload left behind is invisible and the server expires it.
            let _ = self.rt.block_on(
                self.client.abort_multipart_upload().bucket(&self.bucket).key(&key).upload_id(&upload_id).send(),
            );
        }
        result?;
        self.remember(&sha);
        Ok((sha, size, true))
    }
}

impl Backend for S3 {
    fn exists(&self) -> Result<bool, Error> {
        self.rt.block_on(async {
            match self.client.head_bucket().bucket(&self.bucket).send().await {
                Ok(_) => Ok(true),
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Err(Error::Usage(format!(
                    "the bucket `{}` does not exist at {}; create it (with Object Lock for retention, docs/snapshots.md) or fix [snapshot] store",
                    self.bucket, self.endpoint
                ))),
                Err(e) => Err(self.error("open the bucket", "", e)),
            }
        })
    }

    fn read_lock(&self) -> Result<Option<Lock>, Error> {
        // A bucket needs no reader's lock (manifests are created once, conditionally); `Some`
        // says the store is there to be read.
        Ok(Some(Lock(None)))
    }

    fn lock(&self, _exclusive: bool) -> Result<Lock, Error> {
        Ok(Lock(None))
    }

    fn prepare_write(&self, retain: Option<&Retain>) -> Result<(), Error> {
        self.exists()?;
        // Uploads a killed run left unfinished cost storage until aborted. One started more than a
        // day ago is no concurrent writer's; best effort, `snapshot verify` reports what remains.
        let day_ago = jiff::Timestamp::now().as_second() - 24 * 3600;
        for (key, id, started) in self.uploads().unwrap_or_default() {
            if started.is_some_and(|t| t < day_ago) {
                let _ = self.rt.block_on(
                    self.client.abort_multipart_upload().bucket(&self.bucket).key(&key).upload_id(&id).send(),
                );
            }
        }
        if retain.is_some() && self.lock_enabled()? != Some(true) {
            return Err(Error::Usage(format!(
                "[snapshot] retention is set but the bucket `{}` has no Object Lock, so the server would not enforce it; create a bucket with Object Lock enabled (docs/snapshots.md)",
                self.bucket
            )));
        }
        Ok(())
    }

    fn has_object(&self, sha: &str) -> Result<bool, Error> {
        Ok(self.known()?.as_ref().is_some_and(|s| s.contains(sha)))
    }

    fn put_object(&self, sha: &str, bytes: &[u8], retain: Option<&Retain>) -> Result<(), Error> {
        let digest = Sha256::digest(bytes);
        self.put(&self.key(Key::Object(sha)), bytes.to_vec(), &digest, retain)?;
        self.remember(sha);
        Ok(())
    }

    fn put_file(&self, path: &Path, _buf: &mut [u8], retain: Option<&Retain>) -> Result<(String, u64, bool), Error> {
        let mut f = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
        // The first part, in a buffer of the file's size (one byte more, to see it end): a
        // buffer of a whole part for every small file cost a zeroed 8 MiB allocation each.
        let len = f.metadata().map_err(|e| Error::io("read", path, e))?.len();
        let mut first = Vec::with_capacity((len as usize).min(PART) + 1);
        let n = (&mut f).take(PART as u64).read_to_end(&mut first).map_err(|e| Error::io("read", path, e))?;
        if n == PART {
            return self.put_multipart(path, f, first, retain);
        }
        let digest = Sha256::digest(&first);
        let sha = crate::text::hex(&digest);
        if self.has_object(&sha)? {
            return Ok((sha, n as u64, false));
        }
        self.put(&self.key(Key::Object(&sha)), first, &digest, retain)?;
        self.remember(&sha);
        Ok((sha, n as u64, true))
    }

    fn keep_until(&self, key: Key<'_>, retain: &Retain) -> Result<(), Error> {
        let k = self.key(key);
        if let Some(h) = self.held(key)?
            && h.until.is_some_and(|u| u >= retain.until)
            && h.mode.is_some_and(|m| m >= retain.mode)
        {
            return Ok(());
        }
        self.rt.block_on(async {
            self.client
                .put_object_retention()
                .bucket(&self.bucket)
                .key(&k)
                .retention(
                    ObjectLockRetention::builder()
                        .mode(match retain.mode {
                            RetentionMode::Compliance => ObjectLockRetentionMode::Compliance,
                            RetentionMode::Governance => ObjectLockRetentionMode::Governance,
                        })
                        .retain_until_date(date(retain.until))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.error("extend the retention of", &k, e))?;
            Ok(())
        })
    }

    fn get_object(&self, sha: &str, out: &mut dyn Write, _buf: &mut [u8]) -> Result<(), Error> {
        let key = self.key(Key::Object(sha));
        self.rt.block_on(async {
            let r = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| self.error("read", &key, e))?;
            let mut body = r.body;
            while let Some(chunk) =
                body.try_next().await.map_err(|e| Error::Usage(format!("cannot read {}: {e}", self.url(&key))))?
            {
                out.write_all(&chunk).map_err(|e| Error::Usage(format!("cannot write {}: {e}", self.url(&key))))?;
            }
            Ok(())
        })
    }

    fn object_names(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .list(&format!("{}objects/", self.prefix))?
            .into_iter()
            .filter_map(|k| k.rsplit('/').next().map(String::from))
            .filter(|n| is_sha256(n))
            .collect())
    }

    fn manifest_ids(&self) -> Result<Vec<u64>, Error> {
        Ok(self
            .list(&format!("{}snapshots/", self.prefix))?
            .iter()
            .filter_map(|k| manifest_id(k.rsplit('/').next()?))
            .collect())
    }

    fn get_manifest(&self, id: u64) -> Result<Vec<u8>, Error> {
        let key = self.key(Key::Manifest(id));
        self.get(&key)?.ok_or_else(|| Error::Usage(format!("{}: no such snapshot manifest", self.url(&key))))
    }

    fn create_manifest(&self, id: u64, bytes: &[u8], retain: Option<&Retain>) -> Result<bool, Error> {
        self.create(&self.key(Key::Manifest(id)), bytes, retain)
    }

    fn put_token(&self, id: u64, bytes: &[u8], retain: Option<&Retain>) -> Result<(), Error> {
        let key = self.key(Key::Token(id));
        if !self.create(&key, bytes, retain)? {
            return Err(Error::Usage(format!("{} exists already; it is never replaced", self.url(&key))));
        }
        Ok(())
    }

    fn get_token(&self, id: u64) -> Result<Option<Vec<u8>>, Error> {
        self.get(&self.key(Key::Token(id)))
    }

    fn held(&self, key: Key<'_>) -> Result<Option<Held>, Error> {
        let k = self.key(key);
        self.rt.block_on(async {
            match self.client.head_object().bucket(&self.bucket).key(&k).send().await {
                Ok(r) => Ok(Some(Held {
                    mode: r.object_lock_mode().map(|m| match m {
                        ObjectLockMode::Compliance => RetentionMode::Compliance,
                        _ => RetentionMode::Governance,
                    }),
                    until: r.object_lock_retain_until_date().and_then(|d| jiff::Timestamp::from_second(d.secs()).ok()),
                })),
                Err(e) if Self::is_not_found(&e) => Ok(None),
                Err(e) => Err(self.error("read the retention of", &k, e)),
            }
        })
    }

    fn lock_enabled(&self) -> Result<Option<bool>, Error> {
        self.rt.block_on(async {
            match self.client.get_object_lock_configuration().bucket(&self.bucket).send().await {
                Ok(r) => Ok(Some(
                    r.object_lock_configuration().and_then(|c| c.object_lock_enabled())
                        == Some(&ObjectLockEnabled::Enabled),
                )),
                Err(e)
                    if matches!(e.code(), Some("ObjectLockConfigurationNotFoundError")) || Self::is_not_found(&e) =>
                {
                    Ok(Some(false))
                }
                Err(e) => Err(self.error("read the Object Lock configuration of", "", e)),
            }
        })
    }

    fn leftovers(&self) -> usize {
        self.uploads().map(|u| u.len()).unwrap_or(0)
    }

    fn locate(&self, key: Key<'_>) -> PathBuf {
        PathBuf::from(self.url(&self.key(key)))
    }
}

fn lock_mode(m: RetentionMode) -> ObjectLockMode {
    match m {
        RetentionMode::Compliance => ObjectLockMode::Compliance,
        RetentionMode::Governance => ObjectLockMode::Governance,
    }
}

fn date(t: jiff::Timestamp) -> DateTime {
    DateTime::from_secs(t.as_second())
}

fn read_full(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
