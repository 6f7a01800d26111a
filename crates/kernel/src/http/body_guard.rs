//! The response body's last line of defence. A handler's panic is caught by
//! `CatchPanicLayer`, but a streamed body is polled by hyper after the handler has returned,
//! outside every layer's future, so a panic there used to reach stderr as a bare backtrace
//! and cut the connection with nothing in the logs or metrics. [`GuardedBody`] polls the
//! body inside the request's span, turns a panic into an error frame (the client sees a
//! truncated transfer, which is all HTTP/1.1 can say once the head is sent), logs it with
//! the request id and counts it in `backline_panics_total{site="body"}`.
//!
//! It also fuses the body: once it has ended (or failed) it is never polled again, so an
//! outer layer that polls past the end (the gzip encoder does) cannot reach a stream that
//! panics when polled after its end.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use prometheus_client::metrics::counter::Counter;

/// A response body that cannot take the connection down with a panic (see the module docs).
pub struct GuardedBody {
    inner: Body,
    span: tracing::Span,
    panics: Counter,
    ended: bool,
}

impl GuardedBody {
    pub fn new(inner: Body, span: tracing::Span, panics: Counter) -> Self {
        GuardedBody { inner, span, panics, ended: false }
    }
}

/// The text of a panic payload (`panic!` with a literal or with a formatted message).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let _entered = this.span.enter();
        let polled = catch_unwind(AssertUnwindSafe(|| Pin::new(&mut this.inner).poll_frame(cx)));
        match polled {
            Ok(Poll::Ready(None)) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Ok(Poll::Ready(Some(Err(e)))) => {
                this.ended = true;
                tracing::error!(error = %e, "response body failed while streaming");
                Poll::Ready(Some(Err(e)))
            }
            Ok(other) => other,
            Err(payload) => {
                this.ended = true;
                this.panics.inc();
                tracing::error!(panic = %panic_message(payload.as_ref()), "response body panicked while streaming");
                Poll::Ready(Some(Err(axum::Error::new(std::io::Error::other("response body panicked")))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.ended { SizeHint::with_exact(0) } else { self.inner.size_hint() }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use http_body_util::BodyExt;

    use super::*;

    fn chunks(n: usize) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        // A bare `unfold` panics when polled after it returned `None`, like the CSV export did.
        futures::stream::unfold(0usize, move |i| async move { (i < n).then(|| (Ok(Bytes::from(format!("{i};"))), i + 1)) })
    }

    #[tokio::test]
    async fn a_body_polled_past_its_end_stays_ended() {
        let panics = Counter::default();
        let mut body = GuardedBody::new(Body::from_stream(chunks(3)), tracing::Span::none(), panics.clone());
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            got.extend_from_slice(&frame.unwrap().into_data().unwrap());
        }
        assert_eq!(got, b"0;1;2;");
        for _ in 0..3 {
            assert!(body.frame().await.is_none(), "polling after the end answers the end again");
        }
        assert!(http_body::Body::is_end_stream(&body));
        assert_eq!(panics.get(), 0);
    }

    #[tokio::test]
    async fn a_panic_while_streaming_becomes_an_error_frame_and_is_counted() {
        let panics = Counter::default();
        let stream = chunks(2).chain(futures::stream::once(async {
            if panics_now() {
                panic!("export row could not be formatted");
            }
            Ok::<_, std::io::Error>(Bytes::new())
        }));
        let mut body = GuardedBody::new(Body::from_stream(stream), tracing::Span::none(), panics.clone());
        assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "0;");
        assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "1;");
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        assert!(body.frame().await.is_none());
        assert_eq!(panics.get(), 1);
    }

    fn panics_now() -> bool {
        std::hint::black_box(true)
    }
}
