//! `spin:variables/variables@3.0.0`: the edge's settings, from the host's config.

use crate::bindings::spin::variables::variables::{Error, Host, HostWithStore};
use std::collections::HashMap;
use wasmtime::component::{Accessor, HasData};

/// Marker type giving the generated bindings a store's variables.
pub struct Variables;

/// The variables of one instance.
pub struct VariablesView<'a>(pub &'a HashMap<String, String>);

impl HasData for Variables {
    type Data<'a> = VariablesView<'a>;
}

impl Host for VariablesView<'_> {}

impl<U> HostWithStore<U> for Variables {
    async fn get(
        accessor: &Accessor<U, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, Error>> {
        Ok(accessor.with(|mut access| match access.get().0.get(&name) {
            Some(value) => Ok(value.clone()),
            None => Err(Error::Undefined(name)),
        }))
    }
}
