//! Mail over real SMTP: with `mail.smtp_url` set, the welcome mail is delivered to an SMTP
//! server (aiosmtpd, a standard Python SMTP server, started here on 127.0.0.1 and storing
//! what it receives in a Maildir). Needs `python3 -m aiosmtpd` (`pip install aiosmtpd`);
//! CI installs it. Without it the test says so and passes, so a bare `cargo test` works.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::TestApp;
use serde_json::json;

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn welcome_mail_is_delivered_over_smtp() {
    let available =
        Command::new("python3").args(["-c", "import aiosmtpd"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !available {
        eprintln!("python3 with aiosmtpd not found: SMTP delivery test skipped (CI installs it)");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let maildir = tempfile::tempdir().unwrap();
    let _server = Server(
        Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd"),
    );
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let app = TestApp::spawn_with(
        json!({"mail": {"smtp_url": format!("smtp://127.0.0.1:{port}"), "from": "Backline <hello@backline.test>"}}),
    )
    .await;
    app.register("smtp-fan@example.org").await;
    for _ in 0..400 {
        let new = maildir.path().join("box").join("new");
        if let Ok(entries) = std::fs::read_dir(&new) {
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if text.contains("smtp-fan@example.org") {
                    assert!(text.contains("Subject: Welcome to Backline"), "{text}");
                    assert!(text.contains("hello@backline.test"));
                    assert!(!app.mail_dir().exists(), "nothing went to the dev sink");
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no mail arrived at the SMTP server");
}
