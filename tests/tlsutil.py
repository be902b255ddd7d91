# SPDX-License-Identifier: MIT
"""Real TLS peers and test certificates for testing the native BearSSL TLS 1.2 client.

Everything here talks only to 127.0.0.1 and every wait is bounded.

* :func:`make_pki` mints a small PKI with the openssl CLI.  Not ``cryptography`` or
  ``trustme``: their leaves carry a *critical* Extended Key Usage, which BearSSL's
  X.509 engine rejects, so ours carry a non-critical ``serverAuth`` EKU.
* :class:`OpenSSLServer` runs ``openssl s_server`` (a TLS stack that is not ours).
* :class:`WebSocketEchoServer` runs a ``websockets`` echo server over TLS in a *subprocess*,
  so a native client spinning while holding the GIL cannot starve it.
* :class:`RawTLSServer` plays a scripted WebSocket server byte for byte, for edge cases.

The session-wide ``pki`` fixture (tests/conftest.py) calls :func:`make_pki` once.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NamedTuple, Self

from orchestrator.children import dies_with_parent

__all__ = [
    "WS_GUID",
    "ClientFrame",
    "OpenSSLServer",
    "Pki",
    "RawTLSServer",
    "Unencrypted",
    "WebSocketEchoServer",
    "child_env",
    "client_context",
    "close_payload",
    "issue_cert",
    "make_key",
    "make_pki",
    "parse_http_headers",
    "read_client_frames",
    "server_frame",
    "spki_sha256",
    "upgrade_response",
    "ws_accept",
]

OPENSSL = shutil.which("openssl") or "openssl"
#: How long one openssl CLI invocation may take (RSA key generation is the slow one).
OPENSSL_TIMEOUT = 60.0
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOCALHOST_SANS = ("DNS:localhost", "IP:127.0.0.1")


def child_env() -> dict[str, str]:
    """Environment for helper processes: a sanitizer runtime preloaded into pytest
    (STRATUM_SANITIZE=1 runs) has no business inside openssl or a Python server."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


class _Capture:
    """A file a child process writes its stdout or stderr to.  A file, not a pipe: no
    reader thread is needed and a chatty child can never block on a full pipe."""

    def __init__(self, *, open_file: bool = True) -> None:
        self.file: IO[bytes] | None = None
        if open_file:
            self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._final = b""

    def read(self) -> bytes:
        """All written so far; pread leaves alone the file offset the child shares."""
        if self.file is None:
            return self._final
        size = os.fstat(self.file.fileno()).st_size
        return os.pread(self.file.fileno(), size, 0) if size else b""

    def text(self) -> str:
        return self.read().decode(errors="replace")

    def close(self) -> None:
        """Keeps the final content readable, releases the descriptor."""
        if self.file is not None:
            self._final = self.read()
            self.file.close()
            self.file = None


# --------------------------------------------------------------------------- certificates


def _openssl(*args: str | Path, stdin: bytes | None = None) -> bytes:
    """Runs one openssl CLI command; a failure raises with openssl's own stderr."""
    cmd = [OPENSSL, *(str(a) for a in args)]
    proc = subprocess.run(
        cmd, input=stdin, capture_output=True, timeout=OPENSSL_TIMEOUT, env=child_env()
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout


def make_key(path: Path, *, rsa: bool = False) -> Path:
    """Writes a PKCS#8 PEM private key: EC P-256 (fast to make) or RSA-2048."""
    if rsa:
        opts = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    else:
        opts = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    _openssl("genpkey", *opts, "-out", path)
    return path


# A config with nothing in it but what `openssl req` insists on, so the system
# openssl.cnf cannot slip extensions into our certificates.
_REQ_CONFIG = "[req]\ndistinguished_name = dn\n[dn]\n"


def _ext_section(
    *, ca: bool, pathlen: int | None = None, sans: Sequence[str] = (), rsa: bool = False
) -> str:
    """An ``[ext]`` config section: CA or TLS server leaf, never a critical EKU."""
    lines = ["[ext]", "subjectKeyIdentifier = hash"]
    if ca:
        bc = "critical, CA:TRUE" + (f", pathlen:{pathlen}" if pathlen is not None else "")
        lines += [f"basicConstraints = {bc}", "keyUsage = critical, keyCertSign, cRLSign"]
    else:
        ku = "digitalSignature, keyEncipherment" if rsa else "digitalSignature"
        lines += [
            "basicConstraints = critical, CA:FALSE",
            f"keyUsage = critical, {ku}",
            # BearSSL refuses a critical EKU: keep this one non-critical.
            "extendedKeyUsage = serverAuth",
        ]
        if sans:
            lines.append("subjectAltName = " + ", ".join(sans))
    return "\n".join(lines) + "\n"


def _self_signed_ca(directory: Path, name: str, cn: str) -> tuple[Path, Path]:
    key = make_key(directory / f"{name}.key")
    cert = directory / f"{name}.pem"
    cfg = directory / f"{name}.cnf"
    cfg.write_text(_REQ_CONFIG + _ext_section(ca=True))
    _openssl(
        "req", "-new", "-x509", "-config", cfg, "-extensions", "ext", "-key", key,
        "-subj", f"/CN={cn}", "-days", "3650", "-sha256",
        "-set_serial", f"0x{secrets.token_hex(8)}", "-out", cert,
    )  # fmt: skip
    return cert, key


def issue_cert(
    directory: Path,
    name: str,
    *,
    issuer: Path,
    issuer_key: Path,
    cn: str = "localhost",
    sans: Sequence[str] = LOCALHOST_SANS,
    rsa: bool = False,
    ca: bool = False,
    pathlen: int | None = None,
    validity: tuple[str, str] | None = None,
) -> tuple[Path, Path]:
    """Issues ``directory/name.pem`` + ``name.key`` signed by ``issuer``; returns both.

    ``validity`` is ``(start, end)`` as ``YYYYMMDDHHMMSSZ``, for certificates that are
    not valid now.  OpenSSL 3.0's ``x509 -req`` cannot set a start date, so those go
    through ``openssl ca`` with a throwaway database.
    """
    key = make_key(directory / f"{name}.key", rsa=rsa)
    cert = directory / f"{name}.pem"
    csr = directory / f"{name}.csr"
    cfg = directory / f"{name}.cnf"
    ext = _ext_section(ca=ca, pathlen=pathlen, sans=sans, rsa=rsa)
    ext += "authorityKeyIdentifier = keyid:always\n"
    cfg.write_text(_REQ_CONFIG + ext)
    _openssl("req", "-new", "-config", cfg, "-key", key, "-subj", f"/CN={cn}", "-out", csr)
    if validity is None:
        _openssl(
            "x509", "-req", "-in", csr, "-CA", issuer, "-CAkey", issuer_key,
            "-set_serial", f"0x{secrets.token_hex(8)}", "-days", "825", "-sha256",
            "-extfile", cfg, "-extensions", "ext", "-out", cert,
        )  # fmt: skip
        return cert, key
    start, end = validity
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        db = Path(tmp)
        (db / "index.txt").write_text("")
        (db / "serial").write_text(secrets.token_hex(8) + "\n")
        ca_cfg = db / "ca.cnf"
        ca_cfg.write_text(
            "[ca]\ndefault_ca = tmp_ca\n"
            f"[tmp_ca]\ndatabase = {db / 'index.txt'}\nnew_certs_dir = {db}\n"
            f"serial = {db / 'serial'}\ndefault_md = sha256\npolicy = any\n"
            "unique_subject = no\nemail_in_dn = no\ncopy_extensions = none\n"
            "[any]\ncommonName = supplied\n"
        )
        _openssl(
            "ca", "-batch", "-config", ca_cfg, "-cert", issuer, "-keyfile", issuer_key,
            "-in", csr, "-out", cert, "-notext", "-startdate", start, "-enddate", end,
            "-extfile", cfg, "-extensions", "ext",
        )  # fmt: skip
    return cert, key


def spki_sha256(cert_path: Path) -> bytes:
    """SHA-256 of the certificate's DER SubjectPublicKeyInfo (what a public-key pin pins)."""
    pub_pem = _openssl("x509", "-in", cert_path, "-pubkey", "-noout")
    der = _openssl("pkey", "-pubin", "-outform", "DER", stdin=pub_pem)
    return hashlib.sha256(der).digest()


@dataclasses.dataclass(frozen=True)
class Pki:
    """Paths of the PEM files :func:`make_pki` wrote.  Only ``root_ca`` is meant to be
    trusted; ``unknown_ca`` is a second root that the client must not trust."""

    directory: Path
    root_ca: Path
    root_ca_key: Path
    intermediate_ca: Path
    intermediate_ca_key: Path
    leaf: Path
    leaf_key: Path
    leaf_via_intermediate: Path
    leaf_via_intermediate_key: Path
    chain_via_intermediate: Path
    wrong_host_leaf: Path
    wrong_host_leaf_key: Path
    expired_leaf: Path
    expired_leaf_key: Path
    unknown_ca: Path
    unknown_ca_key: Path
    unknown_ca_leaf: Path
    unknown_ca_leaf_key: Path
    rsa_leaf: Path
    rsa_leaf_key: Path


def make_pki(directory: Path) -> Pki:
    """Mints the whole test PKI into ``directory`` (well under a second)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    root, root_key = _self_signed_ca(d, "root_ca", "stratum test root CA")
    inter, inter_key = issue_cert(
        d, "intermediate_ca", issuer=root, issuer_key=root_key,
        cn="stratum test intermediate CA", sans=(), ca=True, pathlen=0,
    )  # fmt: skip
    leaf, leaf_key = issue_cert(d, "leaf", issuer=root, issuer_key=root_key)
    via, via_key = issue_cert(d, "leaf_via_intermediate", issuer=inter, issuer_key=inter_key)
    chain = d / "chain_via_intermediate.pem"
    chain.write_bytes(via.read_bytes() + inter.read_bytes())
    wrong, wrong_key = issue_cert(
        d, "wrong_host_leaf", issuer=root, issuer_key=root_key,
        cn="wrong.example", sans=("DNS:wrong.example",),
    )  # fmt: skip
    expired, expired_key = issue_cert(
        d, "expired_leaf", issuer=root, issuer_key=root_key,
        validity=("20200101000000Z", "20200102000000Z"),
    )  # fmt: skip
    unknown, unknown_key = _self_signed_ca(d, "unknown_ca", "stratum untrusted root CA")
    unknown_leaf, unknown_leaf_key = issue_cert(
        d, "unknown_ca_leaf", issuer=unknown, issuer_key=unknown_key
    )
    rsa, rsa_key = issue_cert(d, "rsa_leaf", issuer=root, issuer_key=root_key, rsa=True)
    return Pki(
        directory=d,
        root_ca=root,
        root_ca_key=root_key,
        intermediate_ca=inter,
        intermediate_ca_key=inter_key,
        leaf=leaf,
        leaf_key=leaf_key,
        leaf_via_intermediate=via,
        leaf_via_intermediate_key=via_key,
        chain_via_intermediate=chain,
        wrong_host_leaf=wrong,
        wrong_host_leaf_key=wrong_key,
        expired_leaf=expired,
        expired_leaf_key=expired_key,
        unknown_ca=unknown,
        unknown_ca_key=unknown_key,
        unknown_ca_leaf=unknown_leaf,
        unknown_ca_leaf_key=unknown_leaf_key,
        rsa_leaf=rsa,
        rsa_leaf_key=rsa_key,
    )


def client_context(cafile: Path, *, max_tls12: bool = False) -> ssl.SSLContext:
    """A Python client context that trusts only ``cafile`` and checks the hostname."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if max_tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _server_context(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    """Server side: TLS 1.2 allowed (our client speaks only 1.2), 1.3 not forced."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_IGNORE_UNEXPECTED_EOF  # a client that just drops TCP is a test case
    ctx.load_cert_chain(str(certfile), str(keyfile))
    return ctx


# --------------------------------------------------------------------------- processes


def _stop_process(proc: subprocess.Popen[bytes], *captures: _Capture, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it has not gone within ``timeout``; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    if proc.stdin is not None:
        proc.stdin.close()
    for capture in captures:
        capture.close()


class _ServerProcess:
    """Stops the server subprocess (and closes its captured output) on exit."""

    _proc: subprocess.Popen[bytes] | None
    _out: _Capture
    _err: _Capture

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            _stop_process(self._proc, self._out, self._err)


class OpenSSLServer(_ServerProcess):
    """``openssl s_server`` on 127.0.0.1, on a port the kernel picks.

        It listens on port 0 and the port is read back from the ``ACCEPT host:port`` line it
        prints once listening (which is why it does not run with ``-quiet``).  That line,
        not a poll-connect, is the readiness signal: a probe connection would use up one of
        the ``-naccept`` connections.

        Default ``-tls1_2`` (what BearSSL speaks); ``tls13_only`` gives ``-tls1_3``; with
        both off, it negotiates either.  ``rev`` makes it reverse every line it receives
    (the line ``CLOSE`` makes it end the connection with a close_notify instead).
    Its parent-death signal is tied to the thread that starts it: start it from the
    test's own thread.
        ``chain`` (``-cert_chain``) holds the intermediates to send after ``cert``.
    """

    def __init__(
        self,
        cert: Path,
        key: Path,
        *,
        chain: Path | None = None,
        tls13_only: bool = False,
        force_tls12: bool = True,
        rev: bool = False,
        naccept: int | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 10.0,
    ) -> None:
        args: list[str] = ["s_server", "-accept", "127.0.0.1:0", "-cert", str(cert)]
        args += ["-key", str(key)]
        if chain is not None:
            args += ["-cert_chain", str(chain)]
        if tls13_only:
            args.append("-tls1_3")
        elif force_tls12:
            args.append("-tls1_2")
        if rev:
            args.append("-rev")
        if naccept is not None:
            args += ["-naccept", str(naccept)]
        self.args = [*args, *extra_args]
        self.start_timeout = start_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._out = _Capture(open_file=False)
        self._err = _Capture(open_file=False)

    def __enter__(self) -> Self:
        self._out = _Capture()
        self._err = _Capture()
        # stdin is a pipe we never write: /dev/null would be always readable at EOF,
        # and s_server would end each connection on it (or spin, with -quiet).
        self._proc = subprocess.Popen(
            dies_with_parent([OPENSSL, *self.args]),  # a SIGKILLed pytest leaves none
            stdin=subprocess.PIPE,
            stdout=self._out.file,
            stderr=self._err.file,
            env=child_env(),
        )
        try:
            self.port = self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self) -> int:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            found = re.search(rb"^ACCEPT\s+\S*:(\d+)\s*$", self._out.read(), re.M)
            if found:
                return int(found.group(1))
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"openssl s_server exited {self._proc.returncode}:\n{self.stderr_text()}"
                )
            time.sleep(0.005)
        raise TimeoutError(
            f"openssl s_server not listening after {self.start_timeout}s:\n{self.stderr_text()}"
        )


    @property
    def returncode(self) -> int | None:
        """None while it runs (``-naccept`` makes it exit by itself)."""
        return None if self._proc is None else self._proc.poll()

    def wait_exit(self, timeout: float = 5.0) -> int:
        """Waits for a ``-naccept`` server to finish on its own."""
        assert self._proc is not None
        return self._proc.wait(timeout=timeout)

    def stdout_text(self) -> str:
        return self._out.text()

    def stderr_text(self) -> str:
        return self._err.text()


# Run as `python -c SCRIPT CONFIG_JSON`.  It prints "READY <port>" once listening, and
# exits when its stdin closes, so it cannot outlive a pytest that died.
_WS_SERVER_SCRIPT = r"""
import asyncio, json, os, ssl, sys, threading

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def watch_parent():
    sys.stdin.buffer.read()
    os._exit(0)


async def echo(ws):
    try:
        async for message in ws:  # str for text frames, bytes for binary: sent back alike
            await ws.send(message)
    except ConnectionClosed:
        pass


async def main(cfg):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_IGNORE_UNEXPECTED_EOF
    ctx.load_cert_chain(cfg["certfile"], cfg["keyfile"])
    # The same port again after a restart: serve() sets SO_REUSEADDR, but retry
    # a little in case the old process's socket is still being torn down.
    for attempt in range(100):
        try:
            server = await serve(
                echo, "127.0.0.1", cfg["port"], ssl=ctx, max_size=cfg["max_size"],
                compression=cfg["compression"], ping_interval=cfg["ping_interval"],
            )
            break
        except OSError:
            if cfg["port"] == 0 or attempt == 99:
                raise
            await asyncio.sleep(0.05)
    async with server:
        print("READY", server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()


threading.Thread(target=watch_parent, daemon=True).start()
asyncio.run(main(json.loads(sys.argv[1])))
"""


class WebSocketEchoServer(_ServerProcess):
    """A ``websockets`` echo server over TLS on 127.0.0.1, in a subprocess.

    Text comes back as text and binary as binary.  ``kill()`` SIGKILLs it (a server
    dying under the client); ``restart()`` brings it back on the same port.
    ``certfile`` may hold the leaf followed by its intermediates.
    """

    def __init__(
        self,
        certfile: Path,
        keyfile: Path,
        *,
        max_size: int = 1 << 20,
        compression: str | None = None,
        ping_interval: float | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self.certfile = certfile
        self.keyfile = keyfile
        self.max_size = max_size
        self.compression = compression
        self.ping_interval = ping_interval
        self.start_timeout = start_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._out = _Capture(open_file=False)
        self._err = _Capture(open_file=False)

    @property
    def url(self) -> str:
        return f"wss://localhost:{self.port}/"

    def _start(self) -> None:
        cfg = {
            "certfile": str(self.certfile),
            "keyfile": str(self.keyfile),
            "port": self.port,
            "max_size": self.max_size,
            "compression": self.compression,
            "ping_interval": self.ping_interval,
        }
        self._out = _Capture()
        self._err = _Capture()
        self._proc = subprocess.Popen(
            dies_with_parent([sys.executable, "-c", _WS_SERVER_SCRIPT, json.dumps(cfg)]),
            stdin=subprocess.PIPE,
            stdout=self._out.file,
            stderr=self._err.file,
            env=child_env(),
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            found = re.search(rb"^READY (\d+)$", self._out.read(), re.M)
            if found:
                self.port = int(found.group(1))
                return
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"websocket server exited {self._proc.returncode}:\n{self.stderr_text()}"
                )
            time.sleep(0.01)
        _stop_process(self._proc, self._out, self._err)
        raise TimeoutError(
            f"websocket server not ready after {self.start_timeout}s:\n{self.stderr_text()}"
        )

    def __enter__(self) -> Self:
        self._start()
        return self


    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no close frame, no close_notify, just gone."""
        assert self._proc is not None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=5)
        _stop_process(self._proc, self._out, self._err)

    def restart(self) -> None:
        """Starts a fresh server on the same port (killing the old one if still up)."""
        if self._proc is not None:
            self.kill()
        self._start()

    def stderr_text(self) -> str:
        return self._err.text()


# --------------------------------------------------------------------------- raw WebSocket


def ws_accept(key: str) -> str:
    """The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def upgrade_response(accept: str, extra_headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A 101 Switching Protocols response carrying ``accept``."""
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept}",
        *(f"{name}: {value}" for name, value in extra_headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_http_headers(request: bytes) -> dict[str, str]:
    """Header fields of an HTTP request head, names lower-cased (the request line skipped)."""
    head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    headers: dict[str, str] = {}
    for line in head.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def server_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
    mask: bytes | None = None,
) -> bytes:  # fmt: skip
    """One server-to-client frame.  Servers must not mask; ``mask`` exists to test that
    the client rejects it.  ``rsv`` is the 3 RSV bits (0-7)."""
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload)
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 1 << 16:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: str = "") -> bytes:
    """Payload of a close frame: 2-byte status code then UTF-8 reason."""
    return struct.pack("!H", code) + reason.encode()


class ClientFrame(NamedTuple):
    """One frame from the client; compares equal to a plain 4-tuple."""

    opcode: int
    payload: bytes  # already unmasked
    fin: bool
    masked: bool


def read_client_frames(data: bytes) -> list[ClientFrame]:
    """Parses the frames in ``data``; an incomplete trailing frame is left out."""
    frames: list[ClientFrame] = []
    pos = 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        n = b1 & 0x7F
        p = pos + 2
        if n == 126:
            if p + 2 > len(data):
                break
            (n,) = struct.unpack_from("!H", data, p)
            p += 2
        elif n == 127:
            if p + 8 > len(data):
                break
            (n,) = struct.unpack_from("!Q", data, p)
            p += 8
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            if p + 4 > len(data):
                break
            key = data[p : p + 4]
            p += 4
        if p + n > len(data):
            break
        payload = data[p : p + n]
        if masked:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        frames.append(ClientFrame(b0 & 0x0F, payload, bool(b0 & 0x80), masked))
        pos = p + n
    return frames


class Unencrypted(bytes):
    """A script item that :class:`RawTLSServer` writes to the TCP socket itself, outside
    TLS: garbage where the client expects a TLS record."""


class RawTLSServer:
    """Accepts ONE TLS connection on 127.0.0.1 and plays a WebSocket server by script.

    It reads the upgrade request (``.request``), answers 101 with the right
    Sec-WebSocket-Accept (or sends ``response`` verbatim instead), writes each item of
    ``script``, then records all the client sends in ``.received`` until the client
    closes or ``read_timeout`` passes.  ``byte_by_byte`` writes every byte of the
    response and script in its own send() (so its own TLS record) with TCP_NODELAY.
    ``byte_delay`` is the pause between those bytes (a slowloris at 1.0).
    ``shutdown_after_script`` closes the connection right after the script.
    ``send()`` queues more bytes for the server thread to write while it reads.
    Runs in a thread: it only ever waits on sockets, with short timeouts.
    """

    def __init__(
        self,
        certfile: Path,
        keyfile: Path,
        script: Sequence[bytes] = (),
        *,
        byte_by_byte: bool = False,
        byte_delay: float = 0.0,
        response: bytes | None = None,
        extra_headers: Iterable[tuple[str, str]] = (),
        shutdown_after_script: bool = False,
        read_timeout: float = 5.0,
        accept_timeout: float = 10.0,
    ) -> None:
        self.script = list(script)
        self.byte_by_byte = byte_by_byte
        self.byte_delay = byte_delay
        self.response = response
        self.extra_headers = list(extra_headers)
        self.shutdown_after_script = shutdown_after_script
        self.read_timeout = read_timeout
        self.accept_timeout = accept_timeout
        self.request = b""
        self.received = b""
        self.error: BaseException | None = None
        self.port = 0
        self._ctx = _server_context(certfile, keyfile)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._handshake = threading.Event()
        self._done = threading.Event()
        self._cond = threading.Condition()
        self._outbox: queue.Queue[bytes] = queue.Queue()

    @property
    def url(self) -> str:
        return f"wss://localhost:{self.port}/"

    def __enter__(self) -> Self:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="RawTLSServer", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    # -- waiting helpers for the test thread

    def wait_request(self, timeout: float = 5.0) -> bytes:
        """The client's upgrade request, once read (raises on timeout)."""
        if not self._handshake.wait(timeout):
            raise TimeoutError(f"no upgrade request within {timeout}s (error: {self.error!r})")
        return self.request

    def wait_received(self, predicate: Callable[[bytes], bool], timeout: float = 5.0) -> bytes:
        """Waits until ``predicate(self.received)`` holds, e.g. a pong has arrived."""
        with self._cond:
            if not self._cond.wait_for(
                lambda: predicate(self.received) or self._done.is_set(), timeout
            ):
                raise TimeoutError(f"condition not met within {timeout}s: {self.received!r}")
            if not predicate(self.received):
                raise AssertionError(
                    f"connection ended first: {self.received!r} (error: {self.error!r})"
                )
            return self.received

    def wait_done(self, timeout: float | None = None) -> bytes:
        """Waits for the client to close (or the read timeout); returns ``.received``."""
        limit = timeout if timeout is not None else self.accept_timeout + self.read_timeout + 1
        if not self._done.wait(limit):
            raise TimeoutError(f"connection still open after {limit}s")
        return self.received

    def send(self, data: bytes) -> None:
        """Queues ``data`` for the server thread to write (honours ``byte_by_byte``)."""
        self._outbox.put(data)

    # -- the server thread

    def _write(self, conn: ssl.SSLSocket, data: bytes) -> None:
        if isinstance(data, Unencrypted):  # small: the socket buffer takes it whole
            if os.write(conn.fileno(), data) != len(data):
                raise ConnectionError("unencrypted write cut short")
            return
        if not self.byte_by_byte:
            conn.sendall(data)
            return
        for i in range(len(data)):
            if self._stop.is_set():
                return
            conn.sendall(data[i : i + 1])
            time.sleep(self.byte_delay)

    def _record(self, data: bytes) -> None:
        with self._cond:
            self.received += data
            self._cond.notify_all()

    def _accept(self) -> socket.socket | None:
        assert self._listener is not None
        deadline = time.monotonic() + self.accept_timeout
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                raw, _ = self._listener.accept()
                return raw
            except TimeoutError:
                continue
        return None

    def _run(self) -> None:
        try:
            raw = self._accept()
            if raw is None:
                return
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.settimeout(self.read_timeout)
            with contextlib.closing(self._ctx.wrap_socket(raw, server_side=True)) as conn:
                self._serve(conn)
        except BaseException as e:  # kept for the test to look at, not raised in a thread
            self.error = e
        finally:
            self._handshake.set()
            with self._cond:
                self._done.set()
                self._cond.notify_all()

    def _serve(self, conn: ssl.SSLSocket) -> None:
        deadline = time.monotonic() + self.read_timeout
        buf = b""
        while b"\r\n\r\n" not in buf:
            if time.monotonic() > deadline or len(buf) > 65536:
                raise TimeoutError(f"incomplete upgrade request: {buf!r}")
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError(f"client closed during the upgrade request: {buf!r}")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        self.request = head + b"\r\n\r\n"
        self._handshake.set()
        self._record(rest)
        response = self.response
        if response is None:
            key = parse_http_headers(self.request).get("sec-websocket-key")
            if key is None:
                response = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
            else:
                response = upgrade_response(ws_accept(key), self.extra_headers)
        self._write(conn, response)
        for item in self.script:
            self._write(conn, item)
        if self.shutdown_after_script:
            return
        conn.settimeout(0.02)
        while not self._stop.is_set() and time.monotonic() < deadline:
            while True:
                try:
                    self._write(conn, self._outbox.get_nowait())
                except queue.Empty:
                    break
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except (ConnectionError, ssl.SSLError):
                return  # the client reset or broke TLS: what it sent so far stays recorded
            if not chunk:
                return
            self._record(chunk)
