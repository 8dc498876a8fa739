//! A scanner (and sharing policy) that misbehaves as its configuration says, so the tests can
//! check that the host contains it: `"loop"`, `"memory"`, `"trap"`, `"big-output"`,
//! `"read-file"`, `"env"`, `"network"`, `"log-flood"`, `"stdout"`, `"forge-log"` (log lines
//! that try to start lines of their own), `"big-log"` (one line larger than any output limit);
//! anything else behaves.

wit_bindgen::generate!({ path: "../../wit/v0.1.0", world: "hostile" });

use coffer::plugin::content::UploadContent;
use coffer::plugin::host::{Level, config, log};
use coffer::plugin::types::Decision;
use exports::coffer::plugin::sharing_policy::{LinkRequest, RoleChange, ShareRequest};
use exports::coffer::plugin::upload_scanner::{UploadInfo, Verdict};

fn misbehave() -> Option<String> {
    let mode = config();
    let mode = mode.trim().trim_matches('"');
    match mode {
        "loop" => {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "trap" => panic!("hostile plugin traps on purpose"),
        "big-output" => Some("x".repeat(10 << 20)),
        "read-file" => Some(match std::fs::read("/etc/passwd") {
            Ok(bytes) => format!("read {} bytes of /etc/passwd", bytes.len()),
            Err(err) => format!("denied: {err}"),
        }),
        "env" => Some(format!("env: {:?}", std::env::vars().collect::<Vec<_>>())),
        "network" => Some(match std::net::TcpStream::connect("127.0.0.1:5432") {
            Ok(_) => "connected".into(),
            Err(err) => format!("denied: {err}"),
        }),
        "log-flood" => {
            for i in 0..20_000 {
                log(
                    Level::Info,
                    &"flood ".repeat(100),
                    &[("i".into(), i.to_string())],
                );
            }
            None
        }
        "forge-log" => {
            log(
                Level::Info,
                "scanned\n2026-01-01T00:00:00Z  INFO coffer: admin@example.org logged in\r",
                &[("user\nforged".into(), "value\r\u{1b}[2J".into())],
            );
            println!("printed\rforged");
            Some("found\nFORGED line".into())
        }
        "big-log" => {
            log(Level::Info, &"big ".repeat(10_000), &[]);
            None
        }
        "stdout" => {
            println!("hello from the guest's stdout");
            eprintln!("and from its stderr");
            None
        }
        _ => None,
    }
}

struct Hostile;

impl exports::coffer::plugin::upload_scanner::Guest for Hostile {
    fn scan(_upload: UploadInfo, _content: &UploadContent) -> Verdict {
        match misbehave() {
            Some(finding) => Verdict::Infected(finding),
            None => Verdict::Clean,
        }
    }
}

impl exports::coffer::plugin::sharing_policy::Guest for Hostile {
    fn check_share(_request: ShareRequest) -> Decision {
        misbehave().map_or(Decision::Allow, Decision::Deny)
    }
    fn check_role_change(_request: RoleChange) -> Decision {
        misbehave().map_or(Decision::Allow, Decision::Deny)
    }
    fn check_link(_request: LinkRequest) -> Decision {
        misbehave().map_or(Decision::Allow, Decision::Deny)
    }
}

export!(Hostile);
