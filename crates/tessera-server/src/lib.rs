//! tessera's HTTP server: the front doors over one [`Authority`].
//!
//! Each door is a thin adapter in `doors/`: it parses its dialect's request into a core call and
//! writes the core's answer back in that dialect. Cross-cutting concerns (body limits, timeouts,
//! request ids, tracing without secrets) are tower layers set up in [`router`].

mod auth_header;
mod client_address;
mod doors;
mod metrics;
mod params;
mod rendered;
mod responses;
mod serving;
mod startup;
mod state;
mod tls;

pub use startup::{bind, ExtraViewConfig, ExtraViewXml, RunningServer, ServerConfig, ZabbixConfig};
pub use tls::{TlsFiles, TlsReloader};
