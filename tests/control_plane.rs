//! The control plane of a running engine (`arb demo` as a child process, over its real
//! control socket and metrics port) serves everyone at once: a client that sends one
//! byte every 500 ms, one that sends an oversized request and one that floods the socket
//! never delay `arb ctl status` or `/health` past 100 ms; many clients at once are all
//! answered; the socket, the journal directory and its files are the operator's alone;
//! and an operator's kill switch is no fault: the run still exits 0.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The promise to an operator: answered this fast whatever other clients do.
const PROMPT: Duration = Duration::from_millis(100);

/// `arb demo` in a child process, with its stderr collected.
struct Engine {
    child: Child,
    dir: PathBuf,
    config: PathBuf,
    socket: PathBuf,
    metrics: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Engine {
    fn start() -> Engine {
        let dir = std::env::temp_dir().join(format!("arb-control-plane-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The demo's configuration: its threads park when idle, so the engine leaves the
        // CPU to the clients of this test on a small machine.
        let default =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")).unwrap();
        assert_eq!(default.matches(r#"idle = "park""#).count(), 2, "the demo config's layout changed");
        let config = dir.with_extension("toml");
        std::fs::write(&config, default).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_arb"))
            .args(["demo", "--plain", "--paper", "--no-tui", "--duration", "60", "--metrics", "127.0.0.1:0"])
            .arg("--config")
            .arg(&config)
            .arg("--journal")
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("arb demo starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let metrics = loop {
            let text = stderr.lock().unwrap().clone();
            let addr = text
                .lines()
                .find_map(|l| l.strip_prefix("metrics: http://"))
                .and_then(|l| l.split('/').next())
                .map(|a| a.parse::<SocketAddr>().unwrap());
            if let (Some(addr), true) = (addr, text.contains("control: arb ctl")) {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("arb demo exited ({status}) before serving:\n{text}");
            }
            assert!(Instant::now() < deadline, "arb demo not serving within 30 s:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        };
        let socket = dir.join("arb.sock");
        Engine { child, dir, config, socket, metrics, stderr }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// `arb ctl REQUEST` as an operator types it.
    fn ctl(&self, request: &str) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_arb"))
            .args(["ctl", "--socket"])
            .arg(&self.socket)
            .args(request.split(' '))
            .output()
            .unwrap()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.config);
    }
}

/// One HTTP/1.0 GET; the whole answer.
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Sends `bytes` one at a time, `every` apart, then reads the answer.
fn trickle<S: Read + Write + Send + 'static>(
    mut s: S,
    bytes: &'static [u8],
    every: Duration,
) -> JoinHandle<String> {
    std::thread::spawn(move || {
        for b in bytes {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(every);
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
}

/// Sends `bytes` at once (the server may stop reading), then reads the answer.
fn oversized<S: Read + Write + Send + 'static>(mut s: S, bytes: Vec<u8>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let _ = s.write_all(&bytes);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_control_plane_serves_everyone_at_once() {
    let engine = Engine::start();
    let unix = || UnixStream::connect(&engine.socket).expect("the control socket accepts");
    let tcp = || TcpStream::connect(engine.metrics).expect("the metrics port accepts");

    // 1. Hostile and slow clients on both servers.
    let rss_before = engine.rss_kib();
    let slow_ctl = trickle(unix(), b"status\n", Duration::from_millis(500));
    let slow_http = trickle(tcp(), b"GET /health HTTP/1.1\r\n\r\n", Duration::from_millis(500));
    let long_line = oversized(unix(), vec![b'x'; 64 * 1024]);
    let mut big_head = b"GET /health HTTP/1.1\r\nX-Filler: ".to_vec();
    big_head.extend(std::iter::repeat_n(b'a', 16 * 1024));
    big_head.extend_from_slice(b"\r\n\r\n");
    let long_head = oversized(tcp(), big_head);
    // A line without end: the old server buffered all of it.
    let mut flood_socket = unix();
    let flood = std::thread::spawn(move || {
        let chunk = vec![b'y'; 1 << 20];
        let mut sent = 0usize;
        while sent < 256 << 20 && flood_socket.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    std::thread::sleep(Duration::from_millis(100));

    // 2. Meanwhile, for longer than the slow clients are given, the operator's status
    //    and the health probe answer at once, every time.
    let until = Instant::now() + Duration::from_millis(2_600);
    let mut asked = 0;
    while Instant::now() < until {
        let t = Instant::now();
        let status = arb::ctl::request(&engine.socket, "status").expect("status answers");
        let took = t.elapsed();
        assert_eq!(status["ok"], true, "{status}");
        assert!(took < PROMPT, "arb ctl status took {took:?} beside slow and hostile clients");
        let t = Instant::now();
        let health = http_get(engine.metrics, "/health");
        let took = t.elapsed();
        assert!(health.starts_with("HTTP/1.1 "), "{health}");
        assert!(health.contains(r#""uptime_s""#), "{health}");
        assert!(took < PROMPT, "/health took {took:?} beside slow and hostile clients");
        asked += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(asked >= 10, "only {asked} rounds of requests in 2.6 s");

    // 3. Each hostile client got its answer and lost its connection.
    let answer = slow_ctl.join().unwrap();
    assert!(answer.contains(r#""ok":false"#) && answer.contains("no complete request line"), "{answer}");
    let answer = slow_http.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let answer = long_line.join().unwrap();
    assert!(answer.contains(r#""ok":false"#) && answer.contains("longer than 4096 bytes"), "{answer}");
    let answer = long_head.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    let sent = flood.join().unwrap();
    assert!(sent < 256 << 20, "the engine read a 256 MiB line to its end");
    let grown = engine.rss_kib().saturating_sub(rss_before);
    assert!(grown < 16 * 1024, "the engine grew by {grown} KiB while clients sent {sent} bytes");

    // 4. Many clients at once are all answered.
    let clients = 40;
    let start = Arc::new(Barrier::new(clients));
    let (socket, metrics) = (engine.socket.clone(), engine.metrics);
    let answers: Vec<_> = (0..clients)
        .map(|_| {
            let (start, socket) = (start.clone(), socket.clone());
            std::thread::spawn(move || {
                start.wait();
                let status = arb::ctl::request(&socket, "status").expect("status answers");
                (status, http_get(metrics, "/health"), http_get(metrics, "/metrics"))
            })
        })
        .collect();
    for a in answers {
        let (status, health, metrics) = a.join().unwrap();
        assert_eq!(status["ok"], true, "{status}");
        assert!(health.contains(r#""uptime_s""#), "{health}");
        assert!(metrics.starts_with("HTTP/1.1 200 ") && metrics.contains("\narb_"), "{metrics}");
    }

    // 5. The operator's alone: the socket 0600, the journal directory the engine made
    //    0700, every file in it 0600.
    let socket_meta = std::fs::metadata(&engine.socket).unwrap();
    assert!(socket_meta.file_type().is_socket());
    assert_eq!(mode(&engine.socket), 0o600, "control socket");
    assert_eq!(mode(&engine.dir), 0o700, "journal directory");
    for file in ["dispatch.journal", "state.journal", "instruments.json", "arb.lock"] {
        assert_eq!(mode(&engine.dir.join(file)), 0o600, "{file}");
    }

    // 6. The operator throws the kill switch and stops the engine: a halt asked for,
    //    so the run exits 0 and its report says why trading halted.
    let kill = engine.ctl("kill");
    assert!(kill.status.success(), "{}", String::from_utf8_lossy(&kill.stderr));
    let stop = engine.ctl("stop");
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));
    let mut engine = engine;
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = engine.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit within 20 s of arb ctl stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut report = String::new();
    engine.child.stdout.take().unwrap().read_to_string(&mut report).unwrap();
    let stderr = engine.stderr.lock().unwrap().clone();
    assert!(status.success(), "an operator's kill switch is no failure ({status}):\n{stderr}");
    assert!(report.contains("TRADING HALTED: kill switch (operator)"), "{report}");
    assert!(!engine.socket.exists(), "the control socket is removed at exit");
}
