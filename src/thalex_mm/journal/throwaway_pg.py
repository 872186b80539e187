"""A throwaway PostgreSQL cluster for tests and benchmarks (never for production data).

Finds the server binaries (Debian: /usr/lib/postgresql/<major>/bin), runs ``initdb`` in a
temporary directory and starts the server on a free localhost port. ``initdb`` refuses to
run as root, so as root the cluster belongs to the ``postgres`` OS user (created by the
Debian package) and the tools run through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    """The newest PostgreSQL server bin directory, or None if none is installed."""
    candidates = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists():
            major = bindir.parent.name
            candidates.append((int(major) if major.isdigit() else 0, bindir))
    if candidates:
        return max(candidates)[1]
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ThrowawayCluster:
    bindir: Path
    root: Path
    port: int
    run_as: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return [*prefix, *args]

    def start(self) -> None:
        data = self.root / "data"
        subprocess.run(
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "-l",
                str(self.root / "server.log"),
                "start",
            ),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> ThrowawayCluster:
    """Start a cluster or raise RuntimeError saying why it can't."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")
    run_as: str | None = None
    root = Path(tempfile.mkdtemp(prefix="thalex-mm-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError("running as root and there is no 'postgres' OS user") from None
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = "postgres"
    cluster = ThrowawayCluster(bindir=bindir, root=root, port=_free_port(), run_as=run_as)
    try:
        cluster.start()
    except subprocess.CalledProcessError as exc:
        cluster.stop()
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"could not start PostgreSQL: {' '.join(detail)}") from exc
    return cluster
