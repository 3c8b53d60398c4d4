//! `telltale operator`: reconciles Telltale's custom resources in a Kubernetes cluster.

use crate::cli::OperatorArgs;
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: OperatorArgs) -> anyhow::Result<()> {
    let registry = ops::new_registry("operator")?;
    let web = args.web.load()?;
    let http = ops::bind(args.listen, "HTTP").await?;
    let readiness = Readiness::default();
    let shutdown = Shutdown::on_signals();
    ops::spawn_probes(&args.web, &readiness, shutdown.clone()).await?;
    let operator = telltale_operator::Operator::connect(args.namespace, &registry).await?;
    tracing::info!(http = %http.local_addr()?, "operator started");
    readiness.set_ready();
    let app = ops::router(&registry, readiness);
    let (o, h) = tokio::join!(
        operator.run(shutdown.clone().wait()),
        ops::serve_http(http, app, web, shutdown)
    );
    o?;
    h
}
