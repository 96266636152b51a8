//! Honest exits: every failure of the `arb` binary ends with a non-zero status and its
//! cause on stderr. Credentials `arb keys check` marks FAIL; a control socket `arb ctl`
//! may not open (told apart from no engine at all); a journal that cannot be written
//! (a real EFBIG from a file-size limit) halting the engine; a capture that cannot be
//! written.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ARB: &str = env!("CARGO_BIN_EXE_arb");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("arb-exit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_file(&p);
    p
}

/// `arb ARGS` with files limited to `blocks` blocks (ulimit -f, 512 or 1024 bytes each)
/// and SIGXFSZ ignored, so that a write past the limit fails with EFBIG.
fn arb_with_file_limit(blocks: u32, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(r#"trap '' XFSZ; ulimit -f {blocks} && exec "$0" "$@""#))
        .arg(ARB)
        .args(args)
        .output()
        .expect("sh runs")
}

#[test]
fn keys_check_fails_when_it_prints_fail() {
    let check = |env: &[(&str, &str)]| {
        Command::new(ARB)
            .args(["keys", "check"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let none = check(&[]);
    assert!(none.status.success(), "{}", text(&none.stderr));
    for env in [
        &[("GATEIO_API_KEY", "k")][..],
        &[("MEXC_API_KEY_ENCRYPTED", "t"), ("MEXC_API_SECRET_ENCRYPTED", "t")][..],
        &[("ENCRYPTION_KEY", "not-a-key"), ("GATEIO_API_KEY", "k"), ("GATEIO_API_SECRET_ENCRYPTED", "t")][..],
    ] {
        let out = check(env);
        assert!(text(&out.stdout).contains("FAIL"), "{env:?}: {}", text(&out.stdout));
        assert!(!out.status.success(), "{env:?}: FAIL printed, exit {}", out.status);
        assert!(text(&out.stderr).contains("unusable credentials"), "{env:?}: {}", text(&out.stderr));
    }
}

#[test]
fn ctl_tells_a_closed_socket_from_no_engine() {
    let dir = temp("ctl");
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("arb.sock");
    let ctl = |wrap: &[&str], socket: &Path| {
        let mut c = match wrap.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg("--").arg(ARB);
                c
            }
            None => Command::new(ARB),
        };
        c.args(["ctl", "--socket"]).arg(socket).arg("status").output().unwrap()
    };

    // No socket at all: no engine.
    let out = ctl(&[], &socket);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no engine is listening on"), "{}", text(&out.stderr));

    // A socket this user may not open: chmod 000. Root passes file modes, so as root the
    // client runs without the capabilities that let it (setpriv, util-linux).
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o000)).unwrap();
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    let wrap: &[&str] =
        if root { &["setpriv", "--bounding-set=-dac_override,-dac_read_search"] } else { &[] };
    if root && Command::new("setpriv").arg("--version").stdout(Stdio::null()).status().is_err() {
        eprintln!("skipped the permission case: running as root without setpriv");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let out = ctl(wrap, &socket);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("permission denied on {}", socket.display())), "{stderr}");
    assert!(stderr.contains("the socket belongs to") && stderr.contains("as that user"), "{stderr}");
    assert!(!stderr.contains("no engine"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_journal_write_failure_halts_with_its_cause_and_fails_the_run() {
    let dir = temp("journal");
    let journal = dir.to_str().unwrap();
    let demo = ["demo", "--plain", "--paper", "--no-tui", "--journal", journal];
    // A first run writes the instrument table and journals past one block.
    let first = Command::new(ARB).args(demo).args(["--duration", "2"]).output().unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let state = std::fs::metadata(dir.join("state.journal")).unwrap().len();
    assert!(state > 1024, "state.journal has {state} bytes after the first run");

    // The second may not grow any file past one block: its first journal write fails.
    let out = arb_with_file_limit(1, &[&demo[..], &["--duration", "4"]].concat());
    let stderr = text(&out.stderr);
    let cause = "journal write failed: File too large (os error 27)";
    let alert = stderr
        .lines()
        .find(|l| l.contains(r#""event":"JournalFailed""#))
        .unwrap_or_else(|| panic!("no JournalFailed alert:\n{stderr}"));
    assert!(alert.contains(&format!(r#""cause":"{cause}""#)), "{alert}");
    assert!(text(&out.stdout).contains(&format!("TRADING HALTED: {cause}")), "{}", text(&out.stdout));
    assert!(!out.status.success(), "a halted engine exited {}:\n{stderr}", out.status);
    let last = stderr.lines().last().unwrap_or("");
    assert_eq!(last, format!("error: trading was halted: {cause}"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_capture_write_failure_fails_the_recording() {
    let config = temp("record.toml");
    let capture = temp("record.jsonl");
    let mut sim = Command::new(ARB)
        .args(["sim", "--plain", "--duration", "30", "--write-config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut endpoints = String::new();
    // Kept open while the simulator runs: it prints its export lines after this one.
    let mut sim_out = BufReader::new(sim.stdout.take().unwrap());
    sim_out.read_line(&mut endpoints).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !config.exists() {
        assert!(Instant::now() < deadline, "no configuration from arb sim: {endpoints}");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));

    // 16 blocks hold the instrument table beside the capture, not a capture of seconds.
    let args = ["record", "--config", config.to_str().unwrap(), "--out", capture.to_str().unwrap()];
    let out = arb_with_file_limit(16, &[&args[..], &["--duration", "8"]].concat());
    let _ = sim.kill();
    let _ = sim.wait();
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a capture that could not be written exited {}:\n{stderr}", out.status);
    assert!(stderr.contains("recording stopped after") && stderr.contains("os error 27"), "{stderr}");
    let _ = std::fs::remove_file(&config);
    let _ = std::fs::remove_file(&capture);
    let _ = std::fs::remove_file(format!("{}.instruments.json", capture.display()));
}
