//! `elect explore`: Stateright Explorer, a web UI to browse a protocol's
//! states, on the same model options as `elect check`.

use super::model_args::ModelArgs;
use super::Failure;
use crate::model::{ElectionModel, ModelConfig, Modelled};
use crate::protocols::ProtocolKind;
use clap::Args;
use stateright::Model;

/// `elect explore`'s flags.
#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// Protocol to explore.
    #[arg(value_enum)]
    pub protocol: ProtocolKind,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address the Explorer web UI listens on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: String,
}

/// Serves the Explorer until the process is stopped.
pub fn explore(args: ExploreArgs) -> Result<bool, Failure> {
    let config = args.model.config(args.protocol)?;
    let addr: std::net::SocketAddr = args.addr.parse().map_err(|_| {
        Failure::Usage(format!(
            "--addr '{}' is not an IP address and port",
            args.addr
        ))
    })?;
    // Bind first so that a busy port is a clear error rather than a panic
    // inside Stateright's server thread.
    drop(
        std::net::TcpListener::bind(addr)
            .map_err(|e| Failure::Usage(format!("--addr {addr}: cannot listen there: {e}")))?,
    );
    eprintln!(
        "Stateright Explorer for {}: {}\nopen http://{addr}/ (Ctrl-C to stop)",
        args.protocol,
        config.describe()
    );
    crate::with_protocol!(args.protocol, P => serve::<P>(config, addr));
    Ok(true)
}

fn serve<P: Modelled>(config: ModelConfig, addr: std::net::SocketAddr) {
    let model = ElectionModel::<P>::new(config);
    let _checker = model.checker().threads(1).serve(addr);
}
