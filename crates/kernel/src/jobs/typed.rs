//! Typed domain events and typed jobs.
//!
//! A [`Topic<T>`] names an event and fixes its payload type `T` and schema version; a
//! [`JobKind<T>`] names a job and fixes its payload. Publishers, listeners and job handlers
//! all go through these constants, so renaming a payload field is a compile error in every
//! context that reads it instead of a silent `null` at run time. Payload types live in the
//! publishing context's public API (`identity::events`, `payments::events`, …) and are
//! listed in `docs/events.md`: outgoing webhooks expose them, so a change that is not
//! backwards compatible bumps the topic's version.
//!
//! Several topics may share one payload type (`booking.created`, `booking.confirmed`, … all
//! carry a booking snapshot): the type is the payload, the topic is what happened.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::{Envelope, JobHandler};

/// A domain event's name and payload type. Declare one `const` per topic in the publishing
/// context: `pub const BOOKING_CONFIRMED: Topic<BookingEvent> = Topic::new("booking.confirmed", 1);`
pub struct Topic<T> {
    name: &'static str,
    version: u32,
    payload: PhantomData<fn() -> T>,
}

impl<T> Topic<T> {
    /// `name` is dotted and past tense (`user.registered`); `version` starts at 1 and grows
    /// when the payload changes in a way an existing consumer would misread.
    pub const fn new(name: &'static str, version: u32) -> Topic<T> {
        Topic { name, version, payload: PhantomData }
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }

    pub const fn version(&self) -> u32 {
        self.version
    }

    /// The topic as listed in the event catalogue.
    pub fn info(&self) -> TopicInfo {
        TopicInfo { name: self.name, version: self.version, payload: short_type_name::<T>() }
    }
}

// Manual impls: a derive would require `T: Clone`/`T: Copy`, and payloads need be neither.
impl<T> Clone for Topic<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Topic<T> {}

impl<T> std::fmt::Debug for Topic<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (v{})", self.name, self.version)
    }
}

/// One row of a context's event catalogue (see `docs/events.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: &'static str,
    pub version: u32,
    /// The payload type's name, without its module path.
    pub payload: &'static str,
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    // `a::b::Type<c::D>` → `Type<c::D>`: cut at the last `::` before any generic argument.
    let head = full.split('<').next().unwrap_or(full);
    match head.rfind("::") {
        Some(i) => &full[i + 2..],
        None => full,
    }
}

/// A domain event as a listener receives it: the envelope with its payload decoded.
#[derive(Debug, Clone)]
pub struct Event<T> {
    pub id: Uuid,
    pub topic: String,
    pub version: u32,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub data: T,
}

/// A job's name and payload type. `pub const EXPIRE_HOLD: JobKind<ExpireHold> = JobKind::new("ticketing.expire_hold");`
pub struct JobKind<T> {
    name: &'static str,
    payload: PhantomData<fn(T)>,
}

impl<T> JobKind<T> {
    pub const fn new(name: &'static str) -> JobKind<T> {
        JobKind { name, payload: PhantomData }
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T> Clone for JobKind<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for JobKind<T> {}

impl<T> std::fmt::Debug for JobKind<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type EventFn = Arc<dyn Fn(Envelope) -> BoxFuture + Send + Sync>;

/// A job handler built from a typed closure.
pub(super) struct TypedJob<T, F> {
    pub(super) kind: &'static str,
    pub(super) run: F,
    pub(super) payload: PhantomData<fn(T)>,
}

#[async_trait::async_trait]
impl<T, F, Fut> JobHandler for TypedJob<T, F>
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    async fn run(&self, payload: serde_json::Value) -> anyhow::Result<()> {
        let payload: T = serde_json::from_value(payload)
            .map_err(|e| anyhow::anyhow!("payload of a `{}` job does not decode: {e}", self.kind))?;
        (self.run)(payload).await
    }
}

/// The listeners of one job kind, by topic: one kind may listen to several topics (the
/// waitlist reacts to every event that frees seats), each with its own payload type.
#[derive(Default)]
pub(super) struct Listeners {
    by_kind: RwLock<HashMap<String, HashMap<String, EventFn>>>,
}

impl Listeners {
    pub(super) fn add<T, F, Fut>(&self, topic: &Topic<T>, kind: &str, on: F)
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(Event<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let on = Arc::new(on);
        let f: EventFn = Arc::new(move |envelope: Envelope| {
            let on = on.clone();
            Box::pin(async move {
                let data: T = serde_json::from_value(envelope.data).map_err(|e| {
                    anyhow::anyhow!("`{}` event {} (v{}) does not decode: {e}", envelope.topic, envelope.id, envelope.version)
                })?;
                on(Event {
                    id: envelope.id,
                    topic: envelope.topic,
                    version: envelope.version,
                    occurred_at: envelope.occurred_at,
                    data,
                })
                .await
            }) as BoxFuture
        });
        let mut map = self.by_kind.write().expect("listeners lock");
        let topics = map.entry(kind.to_string()).or_default();
        assert!(topics.insert(topic.name().to_string(), f).is_none(), "`{kind}` listens to `{}` twice", topic.name());
    }

    fn get(&self, kind: &str, topic: &str) -> Option<EventFn> {
        self.by_kind.read().expect("listeners lock").get(kind)?.get(topic).cloned()
    }
}

/// The job handler of a listening kind: decodes the envelope and runs the topic's listener.
pub(super) struct Router {
    pub(super) kind: String,
    pub(super) listeners: Arc<Listeners>,
}

#[async_trait::async_trait]
impl JobHandler for Router {
    async fn run(&self, payload: serde_json::Value) -> anyhow::Result<()> {
        let envelope: Envelope = serde_json::from_value(payload)?;
        match self.listeners.get(&self.kind, &envelope.topic) {
            Some(on) => on(envelope).await,
            // Subscribed once, no longer: an event dispatched by an older build of the program.
            None => {
                tracing::warn!(kind = %self.kind, topic = %envelope.topic, "no listener for this topic any more; skipped");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Sample {
        n: i64,
    }

    const SAMPLE: Topic<Sample> = Topic::new("sample.happened", 2);

    #[test]
    fn catalogue_rows_name_the_payload_type() {
        assert_eq!(SAMPLE.info(), TopicInfo { name: "sample.happened", version: 2, payload: "Sample" });
        assert_eq!(short_type_name::<Vec<Sample>>(), "Vec<kernel::jobs::typed::tests::Sample>");
        assert_eq!(short_type_name::<u8>(), "u8");
    }
}
