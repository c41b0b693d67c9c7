//! `tiergate:records/digest`: SHA-256 for the archiver, computed natively (SHA instructions
//! where the CPU has them) by the same function the core uses here.

use crate::bindings::archiver::tiergate::records::digest::Host;
use wasmtime::component::HasData;

/// The digest functions; they need nothing from the store.
pub struct Digest;

impl HasData for Digest {
    type Data<'a> = Digest;
}

impl Host for Digest {
    fn sha256(&mut self, data: Vec<u8>) -> wasmtime::Result<String> {
        Ok(tiergate_core::digest::sha256_hex(&data))
    }
}
