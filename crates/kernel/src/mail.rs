//! Outgoing email. Mail is always sent from a job (`mail.send`), never inside a request, so
//! a slow or failing server only delays delivery and retries with backoff.
//!
//! With `mail.smtp_url` set, [`SmtpMailer`] talks to a real SMTP server (lettre). Without it
//! — the embedded default — [`FileMailer`] writes each message as an `.eml` file under
//! `data_dir/mail/` and logs its path: a development sink you can open in any mail client.

use std::path::PathBuf;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::jobs::JobKind;

/// The job that sends one [`OutgoingMail`].
pub const SEND_MAIL: JobKind<OutgoingMail> = JobKind::new("mail.send");

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    /// The plain-text part (always present: every client can show it).
    pub text: String,
    /// An HTML alternative of the same content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<MailAttachment>,
}

/// A file sent with a mail (a ticket PDF, a calendar entry). Kept base64-encoded so the job
/// payload stays JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailAttachment {
    pub filename: String,
    pub content_type: String,
    pub base64: String,
}

impl MailAttachment {
    pub fn new(filename: &str, content_type: &str, bytes: &[u8]) -> MailAttachment {
        use base64::Engine;
        MailAttachment {
            filename: filename.to_string(),
            content_type: content_type.to_string(),
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> anyhow::Result<()>;
}

fn build(from: &str, mail: &OutgoingMail) -> anyhow::Result<Message> {
    let from: Mailbox = from.parse().map_err(|e| anyhow::anyhow!("mail.from: {e}"))?;
    let to: Mailbox = mail.to.parse().map_err(|e| anyhow::anyhow!("recipient {}: {e}", mail.to))?;
    let builder = Message::builder().from(from).to(to).subject(&mail.subject);
    if mail.html.is_none() && mail.attachments.is_empty() {
        return Ok(builder.header(ContentType::TEXT_PLAIN).body(mail.text.clone())?);
    }
    use lettre::message::{Attachment, MultiPart, SinglePart};
    let text = SinglePart::plain(mail.text.clone());
    let body = match &mail.html {
        Some(html) => MultiPart::alternative().singlepart(text).singlepart(SinglePart::html(html.clone())),
        None => MultiPart::mixed().singlepart(text),
    };
    let mut message = if mail.attachments.is_empty() { body } else { MultiPart::mixed().multipart(body) };
    for a in &mail.attachments {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&a.base64)
            .map_err(|e| anyhow::anyhow!("attachment {}: {e}", a.filename))?;
        let content_type = ContentType::parse(&a.content_type).map_err(|e| anyhow::anyhow!("attachment {}: {e}", a.filename))?;
        message = message.singlepart(Attachment::new(a.filename.clone()).body(bytes, content_type));
    }
    Ok(builder.multipart(message)?)
}

/// Delivers through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: String,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<SmtpMailer> {
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.timeout(Some(std::time::Duration::from_secs(20))).build();
        Ok(SmtpMailer { transport, from: from.to_string() })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> anyhow::Result<()> {
        let message = build(&self.from, mail)?;
        self.transport.send(message).await?;
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent over SMTP");
        Ok(())
    }
}

/// Writes `.eml` files (the development sink).
pub struct FileMailer {
    dir: PathBuf,
    from: String,
}

impl FileMailer {
    pub fn new(dir: PathBuf, from: &str) -> FileMailer {
        FileMailer { dir, from: from.to_string() }
    }
}

#[async_trait::async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &OutgoingMail) -> anyhow::Result<()> {
        let message = build(&self.from, mail)?;
        tokio::fs::create_dir_all(&self.dir).await?;
        let path = self.dir.join(format!("{}.eml", uuid::Uuid::now_v7()));
        tokio::fs::write(&path, message.formatted()).await?;
        tracing::info!(to = %mail.to, subject = %mail.subject, path = %path.display(), "mail written to the dev sink (set SMTP_URL to send)");
        Ok(())
    }
}
