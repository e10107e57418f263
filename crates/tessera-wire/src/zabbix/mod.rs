//! Zabbix's JSON-RPC 2.0 (DIALECTS §4): its errors, its request envelope, and the parameters
//! of its `*.get` methods, checked with Zabbix's own messages.

mod envelope;
mod error;
pub mod get;

pub use envelope::{envelope, Envelope};
pub use error::ZabbixError;
