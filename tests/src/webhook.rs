//! A webhook receiver, as an operator's alerting endpoint: keeps every JSON body POSTed to
//! it and answers 204.

use crate::loopback::LoopbackServer;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// The receiver.
#[derive(Debug)]
pub struct Webhook {
    server: LoopbackServer,
    received: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Webhook {
    /// Starts on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        let service = service_fn(move |request: Request<Incoming>| {
            let kept = Arc::clone(&kept);
            async move {
                if let Ok(body) = request.into_body().collect().await
                    && let Ok(json) = serde_json::from_slice(&body.to_bytes())
                {
                    kept.lock().unwrap().push(json);
                }
                let mut response = Response::new(Empty::<Bytes>::new());
                *response.status_mut() = StatusCode::NO_CONTENT;
                Ok::<_, Infallible>(response)
            }
        });
        Ok(Self {
            server: LoopbackServer::start(service).await?,
            received,
        })
    }

    /// Its URL.
    pub fn url(&self) -> url::Url {
        format!("http://{}/alerts", self.server.addr())
            .parse()
            .expect("a valid URL")
    }

    /// Every body received so far.
    pub fn received(&self) -> Vec<serde_json::Value> {
        self.received.lock().unwrap().clone()
    }
}
