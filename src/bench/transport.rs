//! The transport floor (PostgreSQL): what the server's stack costs before it
//! does any work of its own. A second server in this process, on the same
//! stack as the real one (axum and hyper with the same layers, a request's
//! reads on one pooled connection through SeaORM and sqlx), answers every
//! request by running the captured statements of one dashboard request and
//! counting their rows. Nothing else: no GraphQL, no decoding into models, no
//! JSON of the rows. Set beside pgbench (the statements alone) and the
//! dashboard, it shows how much of the gap to the pgbench floor the stack
//! takes by itself.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::json;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    http::{self, DEFAULT_REQUEST_TIMEOUT, with_layers},
    store::Store,
};

struct Shared {
    store: Store,
    statements: Vec<String>,
}

/// The transport floor's server, serving until [`Server::stop`].
pub struct Server {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Serves `statements` on a loopback port, at `POST /graphql` (the load
/// generator's path), with `store`'s pool.
pub async fn start(store: Store, statements: Vec<String>) -> anyhow::Result<Server> {
    let shared = Arc::new(Shared { store, statements });
    let routes = Router::new()
        .route("/graphql", post(run))
        .with_state(shared);
    let router = with_layers(routes, DEFAULT_REQUEST_TIMEOUT);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .context("binding the transport floor's port")?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(http::serve(
        listener,
        router,
        http::DEFAULT_HEADER_TIMEOUT,
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(Server { addr, stop, task })
}

impl Server {
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await.context("the transport floor's server")?;
        Ok(())
    }
}

/// Runs the statements on a request's connection; the body is read and left.
async fn run(State(shared): State<Arc<Shared>>, _body: Bytes) -> Response {
    let store = shared.store.for_request();
    let mut rows = 0;
    for sql in &shared.statements {
        match store.read_raw(sql).await {
            Ok(n) => rows += n,
            Err(error) => {
                let errors = json!({ "errors": [{ "message": error.to_string() }] });
                return (StatusCode::INTERNAL_SERVER_ERROR, Json(errors)).into_response();
            }
        }
    }
    store.release().await;
    Json(json!({ "data": { "rows": rows } })).into_response()
}
