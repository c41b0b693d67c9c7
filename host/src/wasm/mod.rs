//! The wasm plumbing both components share: the engine, the generated bindings, the
//! settings import, outbound HTTP and the guests' logs. The host context that gathers them
//! for an instance is the top-level `context` module.
//!
//! May use: nothing else in the host (it is the bottom layer, beside `config`).

pub mod bindings;
pub mod early_answers;
pub mod guest_log;
pub mod localhost_names;
pub mod outbound;
pub mod variables;

mod coalesced_body;

use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How an engine allocates instances.
#[derive(Debug, Clone, Copy)]
pub enum Allocation {
    /// From a pool reserved up front for this many instances: the edge instantiates per
    /// worker, often, and pooled instances start in microseconds.
    Pooled(u32),
    /// On demand: the archiver instantiates a few times per run.
    OnDemand,
}

/// Largest linear memory an instance may grow to: a 300 KB record, its stored copy and
/// the buffers around them fit many times over.
const MAX_MEMORY: usize = 256 << 20;

/// An engine for tiergate's components (component-model async, as WASIp3 needs).
pub fn engine(allocation: Allocation) -> wasmtime::Result<Engine> {
    let mut wasm = wasmtime::Config::new();
    wasm.wasm_component_model_async(true);
    if let Allocation::Pooled(instances) = allocation {
        let mut pooling = PoolingAllocationConfig::default();
        pooling
            .total_component_instances(instances)
            .total_core_instances(instances * 4)
            .total_memories(instances * 2)
            .total_tables(instances * 4)
            .max_memory_size(MAX_MEMORY);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    }
    Engine::new(&wasm)
}
