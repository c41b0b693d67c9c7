//! `tiergate:records/digest`: SHA-256 for the archiver, computed natively (SHA instructions
//! where the CPU has them) by the same function the core uses here.

use crate::wasm::bindings::archiver::tiergate::records::digest::{self, Host};
use wasmtime::component::{HasData, Linker};

/// Adds `tiergate:records/digest` to `linker`; it needs nothing from the store.
pub(super) fn add_to_linker<T: 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    digest::add_to_linker::<T, Digest>(linker, |_| Digest)
}

/// The digest functions.
struct Digest;

impl HasData for Digest {
    type Data<'a> = Digest;
}

impl Host for Digest {
    fn sha256(&mut self, data: Vec<u8>) -> wasmtime::Result<String> {
        Ok(tiergate_core::digest::sha256_hex(&data))
    }
}
