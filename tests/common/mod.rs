//! Shared by the CLI integration tests: run the `llm-router` binary as a process.
// Test code (see tests/cli.rs): clippy.toml's allow-*-in-tests covers these helpers.
#![cfg(test)]

use std::io::Write;
use std::process::{Command, Stdio};

/// Run `llm-router ARGS` with `stdin`; returns (stdout, stderr, exited with success).
pub fn run(args: &[&str], stdin: &str) -> (String, String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-router"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_string();
    let writer = std::thread::spawn(move || input.write_all(data.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap(), out.status.success())
}
