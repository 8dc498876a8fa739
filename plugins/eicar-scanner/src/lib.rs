//! An upload scanner that finds the EICAR anti-virus test signature, and byte signatures the
//! administrator configures, anywhere in a file of any size: it reads the content in chunks
//! through the host, keeping only a signature's length of overlap between chunks.
//!
//! Configuration: `{"signatures": [{"name": "Demo.Threat", "hex": "deadbeef"}]}` (optional).

use serde::Deserialize;

use coffer_plugin_sdk::log;
use coffer_plugin_sdk::scanner::{Scanner, UploadContent, UploadInfo, Verdict};

/// The EICAR test file's signature.
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/// Bytes asked of the host per read.
const CHUNK: u32 = 256 * 1024;

#[derive(Deserialize, Default)]
struct Config {
    #[serde(default)]
    signatures: Vec<Signature>,
}

#[derive(Deserialize)]
struct Signature {
    name: String,
    hex: String,
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim();
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

fn signatures() -> Vec<(String, Vec<u8>)> {
    let config: Config = coffer_plugin_sdk::config();
    let mut all = vec![("EICAR-Test-File".to_owned(), EICAR.to_vec())];
    for signature in config.signatures {
        match decode_hex(&signature.hex) {
            Some(bytes) => all.push((signature.name, bytes)),
            None => log::warn(
                "signature ignored: not an even number of hex digits",
                &[("name", &signature.name)],
            ),
        }
    }
    all
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

struct EicarScanner;

impl Scanner for EicarScanner {
    fn scan(upload: UploadInfo, content: &UploadContent) -> Verdict {
        let signatures = signatures();
        let overlap = signatures.iter().map(|(_, s)| s.len()).max().unwrap_or(1) - 1;
        let size = content.size();
        let mut window: Vec<u8> = Vec::with_capacity(CHUNK as usize + overlap);
        let mut offset = 0u64;
        while offset < size {
            let chunk = content.read(offset, CHUNK);
            if chunk.is_empty() {
                break;
            }
            offset += chunk.len() as u64;
            window.extend_from_slice(&chunk);
            if let Some((name, _)) = signatures.iter().find(|(_, s)| find(&window, s)) {
                log::info("signature found", &[("path", &upload.path), ("name", name)]);
                return Verdict::Infected(name.clone());
            }
            let keep = overlap.min(window.len());
            window.drain(..window.len() - keep);
        }
        Verdict::Clean
    }
}

coffer_plugin_sdk::export_scanner!(EicarScanner);
