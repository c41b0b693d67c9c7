//! `spin:variables/variables@3.0.0`: a component's settings, from the host's config. Both
//! components read their settings this way, as they do under Spin.

use crate::wasm::bindings::spin::variables::variables::{self, Error, Host, HostWithStore};
use std::collections::HashMap;
use wasmtime::component::{Accessor, HasData, Linker};

/// A store's data that can show its instance's variables.
pub trait VariablesState: Send {
    /// The variables of this instance.
    fn variables(&self) -> &HashMap<String, String>;
}

/// Adds `spin:variables` to `linker`, for any state that shows its variables.
pub fn add_to_linker<T: VariablesState + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    variables::add_to_linker::<T, Variables>(linker, |state| VariablesView(state.variables()))
}

/// Marker type giving the generated bindings a store's variables.
struct Variables;

/// The variables of one instance.
struct VariablesView<'a>(&'a HashMap<String, String>);

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
