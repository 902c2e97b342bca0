//! RFC 3161 trusted timestamps: a time-stamping authority (TSA) signs the SHA-256 of a manifest
//! with the time it saw it. The response is stored beside the manifest (`snapshots/N.tsr`, the
//! DER `TimeStampResp`, which `openssl ts -verify` also reads). `snapshot verify --tsa-cert`
//! checks each token: its signature, by the given certificate or one it issued; that its
//! message imprint is the manifest's SHA-256; and reports the attested time.
//!
//! The CMS/ASN.1 work is `cryptographic-message-syntax` (with `bcder` and `x509-certificate`),
//! which parses `TimeStampResp`, `SignedData` and `TSTInfo` and verifies CMS signer signatures
//! with ring; the RustCrypto `x509-tsp` + `cms` crates parse the same structures but leave the
//! signature check (per key type) to the caller.

use crate::error::Error;
use bcder::Mode;
use bcder::decode::Constructed;
use cryptographic_message_syntax::SignedData;
use cryptographic_message_syntax::asn1::rfc3161::{OID_CONTENT_TYPE_TST_INFO, PkiStatus, TimeStampResp, TstInfo};
use cryptographic_message_syntax::asn1::rfc5652::{self, OID_ID_SIGNED_DATA};
use x509_certificate::CapturedX509Certificate;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attested {
    /// The time the TSA attests (RFC 3339, UTC).
    pub time: String,
    /// Whether the signature was checked against a trusted certificate (`--tsa-cert`).
    pub trusted: bool,
}

/// Builds a `TimeStampReq` for a SHA-256 digest, asking for the TSA's certificate in the token.
fn request_der(digest: &[u8; 32], nonce: &[u8; 8]) -> Vec<u8> {
    // SEQUENCE { version 1, MessageImprint { sha256, digest }, nonce, certReq TRUE }
    let mut imprint = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
        0x20,
    ];
    imprint.extend_from_slice(digest);
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend_from_slice(&imprint);
    body.extend_from_slice(&[0x02, 0x08]);
    body.extend_from_slice(nonce);
    body.extend_from_slice(&[0x01, 0x01, 0xff]);
    let mut out = vec![0x30, body.len() as u8];
    out.extend_from_slice(&body);
    out
}

/// Asks the TSA at `url` for a token over `digest`; returns the response, checked to be a
/// granted token over that digest with the nonce sent.
pub fn request(url: &str, digest: &[u8; 32]) -> Result<Vec<u8>, Error> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| Error::Usage(format!("no randomness for the TSA nonce: {e}")))?;
    // A positive INTEGER, minimally encoded.
    nonce[0] = (nonce[0] & 0x7f) | 0x40;
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .http_status_as_error(false)
            .build(),
    );
    let fail = |why: String| Error::Usage(format!("the time-stamping authority {url} {why}"));
    let mut resp = agent
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .send(&request_der(digest, &nonce)[..])
        .map_err(|e| fail(format!("cannot be reached: {e}")))?;
    let status = resp.status();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .map_err(|e| fail(format!("sent an unreadable answer: {e}")))?;
    if !status.is_success() {
        return Err(fail(format!(
            "answered HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)]).trim()
        )));
    }
    let (tst, _) = parse(&body).map_err(|e| fail(format!("sent no usable token: {e}")))?;
    if tst.message_imprint.hashed_message.to_bytes()[..] != digest[..] {
        return Err(fail("sent a token over another hash than the manifest's".into()));
    }
    if tst.nonce.as_ref().map(|n| n.as_slice()) != Some(&nonce[..]) {
        return Err(fail("sent a token that does not answer this request (nonce differs)".into()));
    }
    Ok(body)
}

/// Parses a `TimeStampResp`: its `TSTInfo` and `SignedData`.
fn parse(resp: &[u8]) -> Result<(TstInfo, SignedData), String> {
    let r = Constructed::decode(resp, Mode::Ber, TimeStampResp::take_from)
        .map_err(|e| format!("not a time-stamp response ({e})"))?;
    if !matches!(r.status.status, PkiStatus::Granted | PkiStatus::GrantedWithMods) {
        return Err(format!("the request was refused ({:?})", r.status.status));
    }
    let token = r.time_stamp_token.ok_or("the response holds no token")?;
    if token.content_type != OID_ID_SIGNED_DATA {
        return Err("the token is not CMS SignedData".into());
    }
    let raw =
        token.content.clone().decode(rfc5652::SignedData::take_from).map_err(|e| format!("bad SignedData ({e})"))?;
    if raw.content_info.content_type != OID_CONTENT_TYPE_TST_INFO {
        return Err("the token does not hold a TSTInfo".into());
    }
    let sd = SignedData::try_from(&raw).map_err(|e| format!("bad SignedData ({e})"))?;
    let content = sd.signed_content().ok_or("the token holds no TSTInfo")?;
    let tst = Constructed::decode(content, Mode::Der, TstInfo::take_from).map_err(|e| format!("bad TSTInfo ({e})"))?;
    Ok((tst, sd))
}

fn gen_time(tst: &TstInfo) -> String {
    let t: chrono::DateTime<chrono::Utc> = tst.gen_time.clone().into();
    jiff::Timestamp::from_second(t.timestamp())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| tst.gen_time.to_string())
}

/// The attested time, without checking who signed (for `snapshot list`).
pub fn attested_time(resp: &[u8], digest: &[u8; 32]) -> Result<String, String> {
    let (tst, _) = parse(resp)?;
    if tst.message_imprint.hashed_message.to_bytes()[..] != digest[..] {
        return Err("the token is over another hash than the manifest's".into());
    }
    Ok(gen_time(&tst))
}

/// Reads the certificates of a `--tsa-cert` file (PEM, one or more).
pub fn load_certs(path: &std::path::Path) -> Result<Vec<CapturedX509Certificate>, Error> {
    let text = std::fs::read(path).map_err(|e| Error::io("read the TSA certificate", path, e))?;
    let certs = CapturedX509Certificate::from_pem_multiple(&text)
        .or_else(|_| CapturedX509Certificate::from_der(text.clone()).map(|c| vec![c]))
        .map_err(|e| Error::Usage(format!("{}: not a PEM or DER certificate ({e})", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Usage(format!(
            "{}: holds no certificate (expected PEM `BEGIN CERTIFICATE`)",
            path.display()
        )));
    }
    Ok(certs)
}

/// Checks a stored token against the manifest's digest and, when given, trusted certificates:
/// every signer's signature must verify with a trusted certificate or one a trusted certificate
/// issued (found in the token).
pub fn check(resp: &[u8], digest: &[u8; 32], trusted: Option<&[CapturedX509Certificate]>) -> Result<Attested, String> {
    let (tst, sd) = parse(resp)?;
    if tst.message_imprint.hashed_message.to_bytes()[..] != digest[..] {
        return Err("the token is over another hash than the manifest's (the manifest or the token was changed)".into());
    }
    let mut signers = 0;
    for signer in sd.signers() {
        signers += 1;
        signer
            .verify_message_digest_with_signed_data(&sd)
            .map_err(|e| format!("the signed attributes do not match the TSTInfo ({e})"))?;
        let Some(trusted) = trusted else {
            signer
                .verify_signature_with_signed_data(&sd)
                .map_err(|e| format!("the signature does not verify ({e})"))?;
            continue;
        };
        let content = signer.signed_content_with_signed_data(&sd);
        // The signer's certificate: a trusted one, or one from the token a trusted one issued.
        let direct = signer.signature_verifier(trusted.iter());
        let verifier = match direct {
            Ok(v) => v,
            Err(_) => {
                let cert = sd
                    .certificates()
                    .find(|c| signer.signature_verifier(std::iter::once(*c)).is_ok())
                    .ok_or("the token was not signed by the given TSA certificate")?;
                if !trusted.iter().any(|t| cert.verify_signed_by_certificate(t).is_ok()) {
                    return Err("the token was not signed by the given TSA certificate or one it issued".into());
                }
                signer.signature_verifier(std::iter::once(cert)).map_err(|e| e.to_string())?
            }
        };
        verifier.verify(&content, signer.signature()).map_err(|_| {
            "the signature does not verify: the token was changed or signed by someone else".to_string()
        })?;
    }
    if signers == 0 {
        return Err("the token has no signer".into());
    }
    Ok(Attested { time: gen_time(&tst), trusted: trusted.is_some() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_request_is_der() {
        let der = super::request_der(&[7u8; 32], &[0x40, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(der.len(), 2 + 0x43);
        assert_eq!(der[1] as usize, der.len() - 2);
        assert!(super::parse(&der).is_err());
    }
}
