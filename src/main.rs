/// mimalloc: glibc's allocator serialises the runtime's threads on its arena locks under load
/// (a quarter of the server's time in the benchmarks went to malloc, free and their futexes).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ctid::cli::main()
}
