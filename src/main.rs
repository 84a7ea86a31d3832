fn main() -> std::process::ExitCode {
    herokuops::cli::main()
}
