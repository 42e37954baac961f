fn main() -> std::process::ExitCode {
    elect::cli::main()
}
