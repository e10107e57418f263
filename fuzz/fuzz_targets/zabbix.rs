//! Zabbix JSON-RPC bodies: the envelope of each request, then `token.get`'s parameters, which
//! are the richest the door reads. Whatever the bytes, a result or a Zabbix error with one of
//! JSON-RPC's codes and a sentence that says what is wrong.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tessera_wire::zabbix::{envelope, get, ZabbixError};

fn well_formed(error: &ZabbixError) {
    assert!(
        [-32700, -32600, -32601, -32602, -32500].contains(&error.code),
        "{error:?}"
    );
    assert!(!error.data.is_empty(), "{error:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let requests = match body {
        Value::Array(batch) => batch,
        single => vec![single],
    };
    for request in requests {
        let params = match envelope(request) {
            Ok(call) => call.params,
            Err(error) => {
                well_formed(&error);
                continue;
            }
        };
        match get::token_get(&params) {
            Ok(found) => {
                if let Some(limit) = found.search.limit {
                    assert!(limit > 0, "a limit of zero or less is refused");
                }
            }
            Err(error) => well_formed(&error),
        }
        if let Err(error) = get::no_params(&params) {
            well_formed(&error);
        }
    }
});
