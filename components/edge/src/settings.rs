//! The edge's settings, read once per instance: instances are reused across requests.

use std::sync::OnceLock;
use tiergate_core::EdgeSettings;
use tiergate_core::settings::names;

static SETTINGS: OnceLock<Result<EdgeSettings, String>> = OnceLock::new();

/// The settings, or why they are unusable.
pub(crate) async fn load() -> Result<&'static EdgeSettings, &'static str> {
    if SETTINGS.get().is_none() {
        let mut values = Vec::with_capacity(names::EDGE.len());
        for &name in names::EDGE {
            // Undeclared variables are errors in Spin, unset ones absent in the tiergate host,
            // and optional Spin variables default to "": all three mean "use the default".
            if let Ok(value) = spin_sdk::variables::get(name).await
                && !value.is_empty()
            {
                values.push((name, value));
            }
        }
        let parsed = EdgeSettings::from_variables(|name| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })
        .map_err(|e| e.to_string());
        let _ = SETTINGS.set(parsed);
    }
    match SETTINGS.get().expect("set above") {
        Ok(settings) => Ok(settings),
        Err(message) => Err(message),
    }
}
