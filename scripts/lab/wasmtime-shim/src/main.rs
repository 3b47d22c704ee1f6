//! containerd-shim-wasmtime-v1 for the kubewasm lab.
//!
//! runwasi ships its shim binaries only as GitHub release tarballs, which the
//! lab cannot reach, so the lab builds this small stand-in on runwasi's
//! `containerd-shim-wasm` library (crates.io) plus `wasmtime`. The library does
//! the containerd side (ttrpc task service, the youki container, stdio, the
//! rootfs); this file only says how to run one Wasm entrypoint inside it:
//! a WASI preview1 core module (`_start` or the function after `#` in the
//! entrypoint), or a `wasi:cli/command` component. No HTTP proxy, no
//! precompilation, no pooling allocator: the lab needs none of them.

use anyhow::{Context, Result, bail};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::sandbox::context::{Entrypoint, RuntimeContext, WasmBinaryType};
use containerd_shim_wasm::shim::{Cli, Shim, Version};
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::preview1::{self, WasiP1Ctx};
use wasmtime_wasi::{DirPerms, FilePerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

struct WasmtimeShim;

impl Shim for WasmtimeShim {
    // The runtime is io.containerd.wasmtime.v1, so the binary is
    // containerd-shim-wasmtime-v1; the library derives the rest from this name.
    fn name() -> &'static str {
        "wasmtime"
    }

    // Not the library's version!(): its revision runs `git describe` on the
    // kubewasm checkout at build time. The build script passes its cache key.
    fn version() -> Version {
        Version {
            version: env!("CARGO_PKG_VERSION"),
            revision: option_env!("KUBEWASM_SHIM_KEY").unwrap_or("<none>"),
        }
    }

    type Sandbox = WasmtimeSandbox;
}

struct WasmtimeSandbox {
    engine: Engine,
}

impl Default for WasmtimeSandbox {
    fn default() -> Self {
        let mut config = wasmtime::Config::new();
        // The library drives run_wasi on tokio, so the WASI host calls are async.
        config.async_support(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config).expect("failed to create the wasmtime engine");
        Self { engine }
    }
}

impl Sandbox for WasmtimeSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        let Entrypoint { source, func, .. } = ctx.entrypoint();
        let bytes = source.as_bytes()?;
        match WasmBinaryType::from_bytes(&bytes) {
            Some(WasmBinaryType::Module) => {
                let module = Module::from_binary(&self.engine, &bytes)?;
                exit_code(self.run_module(ctx, module, &func).await)
            }
            Some(WasmBinaryType::Component) => {
                let component = Component::from_binary(&self.engine, &bytes)?;
                exit_code(self.run_command(ctx, component).await)
            }
            None => bail!("the entrypoint is neither a Wasm module nor a Wasm component"),
        }
    }
}

impl WasmtimeSandbox {
    async fn run_module(&self, ctx: &impl RuntimeContext, module: Module, func: &str) -> Result<i32> {
        let mut store = Store::new(&self.engine, wasi(ctx)?.build_p1());
        let mut linker = Linker::new(&self.engine);
        preview1::add_to_linker_async(&mut linker, |cx: &mut WasiP1Ctx| cx)?;
        let instance = linker.instantiate_async(&mut store, &module).await?;
        let start = instance
            .get_func(&mut store, func)
            .with_context(|| format!("the module exports no function {func:?}"))?;
        start.call_async(&mut store, &[], &mut []).await?;
        Ok(0)
    }

    async fn run_command(&self, ctx: &impl RuntimeContext, component: Component) -> Result<i32> {
        let state = P2 { ctx: wasi(ctx)?.build(), table: ResourceTable::new() };
        let mut store = Store::new(&self.engine, state);
        let mut linker = wasmtime::component::Linker::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        let command = Command::instantiate_async(&mut store, &component, &linker).await?;
        match command.wasi_cli_run().call_run(&mut store).await? {
            Ok(()) => Ok(0),
            Err(()) => Ok(1),
        }
    }
}

/// WASI as runwasi's wasmtime shim sets it up: the container's args and env,
/// the shim's stdio (the container's fifos), and the rootfs preopened as `/`.
fn wasi(ctx: &impl RuntimeContext) -> Result<WasiCtxBuilder> {
    let envs: Vec<(String, String)> = ctx
        .envs()
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect();
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(ctx.args())
        .envs(&envs)
        .inherit_stdio()
        .inherit_network()
        .preopened_dir("/", "/", DirPerms::all(), FilePerms::all())?;
    Ok(builder)
}

/// proc_exit(n) surfaces as an I32Exit error; it is the task's exit code.
fn exit_code(result: Result<i32>) -> Result<i32> {
    result.or_else(|err| match err.downcast_ref::<I32Exit>() {
        Some(exit) => Ok(exit.0),
        None => Err(err),
    })
}

struct P2 {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for P2 {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }
}

fn main() {
    WasmtimeShim::run(None);
}
