//! The `coffer` binary, run as an operator would: zero-configuration start, migrations, account
//! and plugin administration, configuration errors. Database-backed commands run on SQLite and PostgreSQL.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use coffer_sql::Backend;
use coffer_sql::testing::TestDatabase;

fn coffer(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coffer"));
    command
        .current_dir(dir)
        .env_remove("COFFER_CONFIG")
        .env("COFFER_ACCOUNTS__PASSWORD_HASHING__MEMORY_KIB", "64")
        .env("COFFER_ACCOUNTS__PASSWORD_HASHING__ITERATIONS", "1");
    command
}

fn run(command: &mut Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("coffer starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $test() { super::$test(coffer_sql::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $test() { super::$test(coffer_sql::Backend::Postgres).await } )*
        }
    };
}

on_both_backends!(
    operator_manages_accounts_from_the_command_line,
    operator_manages_plugins_from_the_command_line
);

async fn operator_manages_accounts_from_the_command_line(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let cmd = |args: &[&str]| {
        let mut c = coffer(dir.path());
        c.env("COFFER_DATABASE__URL", db.url()).args(args);
        c
    };

    let migrated = stdout(&run(&mut cmd(&["migrate"]), ""));
    assert!(migrated.contains("up to date"), "{migrated}");

    let created = stdout(&run(
        &mut cmd(&[
            "admin",
            "create-user",
            "--email",
            "Root@Example.org",
            "--admin",
            "--password-stdin",
        ]),
        "first password\n",
    ));
    assert!(
        created.contains("created root@example.org") && created.contains("administrator"),
        "{created}"
    );
    stdout(&run(
        &mut cmd(&[
            "admin",
            "create-user",
            "--email",
            "bob@example.org",
            "--password-stdin",
        ]),
        "bobs password\n",
    ));

    let duplicate = run(
        &mut cmd(&[
            "admin",
            "create-user",
            "--email",
            "BOB@example.org",
            "--password-stdin",
        ]),
        "bobs password\n",
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let too_short = run(
        &mut cmd(&[
            "admin",
            "create-user",
            "--email",
            "c@example.org",
            "--password-stdin",
        ]),
        "short\n",
    );
    assert!(!too_short.status.success());
    assert!(String::from_utf8_lossy(&too_short.stderr).contains("password"));

    let listed = stdout(&run(&mut cmd(&["admin", "list-users"]), ""));
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(
        rows[0].contains("bob@example.org") && rows[0].contains(" no "),
        "{listed}"
    );
    assert!(
        rows[1].contains("root@example.org") && rows[1].contains(" yes "),
        "{listed}"
    );

    let reset = stdout(&run(
        &mut cmd(&[
            "admin",
            "reset-password",
            "--email",
            "bob@example.org",
            "--password-stdin",
        ]),
        "a new password\n",
    ));
    assert!(reset.contains("reset"), "{reset}");
    let gc = stdout(&run(&mut cmd(&["admin", "gc"]), ""));
    assert!(
        gc.contains(
            "done: 0 trashed items, 0 revisions, 0 blocks deleted; 0 journal entries pruned"
        ),
        "{gc}"
    );
    let unknown = run(
        &mut cmd(&[
            "admin",
            "reset-password",
            "--email",
            "nobody@example.org",
            "--password-stdin",
        ]),
        "a new password\n",
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));
}

#[test]
fn serves_with_zero_configuration_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = coffer(dir.path())
        // Only the port differs from a bare `coffer`: tests must not collide on 8080.
        .env("COFFER_SERVER__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("Coffer is listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let banner: Vec<String> = lines.by_ref().take(3).map(Result::unwrap).collect();
    assert!(
        banner.iter().any(|l| l.contains("No account exists yet")),
        "{banner:?}"
    );

    let address = url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        dir.path().join("coffer-data/coffer.db").exists(),
        "embedded database created"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful exit, got {status:?}");
}

#[test]
fn prints_the_openapi_document_and_the_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let openapi = stdout(&run(coffer(dir.path()).arg("openapi"), ""));
    let document: serde_json::Value = serde_json::from_str(&openapi).unwrap();
    assert_eq!(document["openapi"], "3.1.0");

    let config = stdout(&run(
        coffer(dir.path()).arg("config").env(
            "COFFER_DATABASE__URL",
            "postgres://coffer:hunter2@db.internal/coffer",
        ),
        "",
    ));
    assert!(
        config.contains("postgres://coffer:***@db.internal/coffer"),
        "{config}"
    );
    assert!(!config.contains("hunter2"));
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("coffer.toml"), "[server]\nport = 80\n").unwrap();
    let output = run(coffer(dir.path()).arg("config"), "");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid configuration") && stderr.contains("port"),
        "{stderr}"
    );

    let unreachable = run(
        coffer(dir.path())
            .arg("migrate")
            .env("COFFER_CONFIG", dir.path().join("none.toml"))
            .env("COFFER_DATABASE__URL", "mysql://localhost/coffer"),
        "",
    );
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("unsupported database URL"));
}

const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

async fn operator_manages_plugins_from_the_command_line(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let cmd = |args: &[&str]| {
        let mut c = coffer(dir.path());
        c.env("COFFER_DATABASE__URL", db.url()).args(args);
        c
    };
    let plugins = |args: &[&str]| {
        let mut all = vec!["admin", "plugins"];
        all.extend_from_slice(args);
        run(&mut cmd(&all), "")
    };
    std::fs::write(
        dir.path().join("plugin.json"),
        r#"{"name": "scanner", "version": "1.2.0", "description": "EICAR", "hooks": ["upload-scanner"],
            "config_schema": {"type": "object", "properties": {"signatures": {"type": "array"}}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("scanner.wasm"),
        coffer_plugins::testing::plugin_wasm("eicar-scanner"),
    )
    .unwrap();
    std::fs::write(dir.path().join("eicar.txt"), EICAR).unwrap();
    std::fs::write(dir.path().join("clean.txt"), b"hello").unwrap();

    let installed = stdout(&plugins(&[
        "install",
        "--manifest",
        "plugin.json",
        "--component",
        "scanner.wasm",
        "--enable",
    ]));
    assert!(installed.contains("installed scanner@1.2.0"), "{installed}");
    assert!(installed.contains("enabled"), "{installed}");
    let listed = stdout(&plugins(&["list"]));
    assert!(
        listed.lines().any(|l| l.contains("scanner")
            && l.contains("1.2.0")
            && l.contains("enabled")
            && l.contains("upload-scanner")),
        "{listed}"
    );

    let infected = stdout(&plugins(&["dry-run", "scanner", "--scan", "eicar.txt"]));
    assert!(
        infected.contains("decision: infected: EICAR-Test-File"),
        "{infected}"
    );
    let clean = stdout(&plugins(&["dry-run", "scanner", "--scan", "clean.txt"]));
    assert!(clean.contains("decision: clean"), "{clean}");

    // Configuration is checked against the schema; a bad one changes nothing.
    let refused = plugins(&["configure", "scanner", "--json", r#"{"signatures": 3}"#]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("config"),
        "{refused:?}"
    );
    let signatures = r#"{"signatures": [{"name": "Demo.Threat", "hex": "68656c6c6f"}]}"#;
    let configured = stdout(&plugins(&["configure", "scanner", "--json", signatures]));
    assert!(configured.contains("Demo.Threat"), "{configured}");
    let found = stdout(&plugins(&["dry-run", "scanner", "--scan", "clean.txt"]));
    assert!(found.contains("decision: infected: Demo.Threat"), "{found}");

    let set = stdout(&plugins(&[
        "set",
        "scanner",
        "--time-ms",
        "500",
        "--memory-mib",
        "32",
        "--on-failure",
        "allow",
    ]));
    assert!(
        set.contains("32 MiB memory, 500 ms per call") && set.contains("on failure: allow"),
        "{set}"
    );
    let bad_limit = plugins(&["set", "scanner", "--memory-mib", "100000"]);
    assert!(!bad_limit.status.success(), "{bad_limit:?}");

    let disabled = stdout(&plugins(&["disable", "scanner"]));
    assert!(disabled.contains("scanner@1.2.0 disabled"), "{disabled}");
    let shown = stdout(&plugins(&["show", "scanner"]));
    assert!(
        shown.contains("state:      disabled") && shown.contains("Demo.Threat"),
        "{shown}"
    );

    // Every action is audited as the operator's.
    let audit = stdout(&plugins(&["audit", "--plugin", "scanner"]));
    for action in [
        "installed",
        "enabled",
        "dry_run",
        "configured",
        "settings_changed",
        "disabled",
    ] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains(action) && l.contains("actor=operator")),
            "{action} missing from\n{audit}"
        );
    }

    let uninstalled = stdout(&plugins(&["uninstall", "scanner"]));
    assert!(
        uninstalled.contains("uninstalled scanner@1.2.0"),
        "{uninstalled}"
    );
    let missing = plugins(&["show", "scanner"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("plugin"),
        "{missing:?}"
    );
}
