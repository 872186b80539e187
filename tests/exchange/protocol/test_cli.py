"""`thalex-mm keygen` and `thalex-mm exchange` as a user runs them."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
import sys
from pathlib import Path

import pytest
from _protocol_kit import OfficialClient

from thalex_mm.cli.main import main

pytestmark = pytest.mark.timeout(60)


def test_keygen_writes_a_private_key_only_the_owner_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keys"
    assert main(["keygen", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"key id:\s+K\d{9}\b", printed)
    private, public = out / "private.pem", out / "public.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    before = private.read_bytes()
    assert main(["keygen", "--out", str(out)]) == 2  # refuses to overwrite
    assert "already exist" in capsys.readouterr().err
    assert private.read_bytes() == before
    assert main(["keygen", "--out", str(out), "--force", "--key-id", "K1"]) == 0
    assert private.read_bytes() != before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--public-key", "K1"], "expected KID=PEMFILE"),
        (["--public-key", "K1=/no/such/file.pem"], "cannot read"),
        (["--time-scale", "0"], "time_scale must be positive"),
        (["--port", "70000"], "port must be"),
    ],
)
def test_exchange_reports_bad_flags_in_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["exchange", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_exchange_reports_bad_config_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "x.toml"
    config.write_text("[exchange]\nprot = 1\n")
    assert main(["exchange", "--config", str(config)]) == 2
    assert "unknown key(s) in [exchange]: prot" in capsys.readouterr().err
    config.write_text("[market]\nvolatility = -1\n")
    assert main(["exchange", "--config", str(config)]) == 2
    assert "volatility" in capsys.readouterr().err
    config.write_text("[exchange\n")
    assert main(["exchange", "--config", str(config)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


async def test_standalone_exchange_prints_a_usable_key_and_stops_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "thalex_mm",
        "exchange",
        "--port",
        "0",
        "--seed",
        "5",
        "--key-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    lines = []
    while not lines or "Ctrl-C" not in lines[-1]:
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line, f"exchange exited early: {await process.stderr.read()!r}"  # type: ignore[union-attr]
        lines.append(line.decode())
    text = "".join(lines)
    url = re.search(r"listening on (ws://\S+)", text).group(1)  # type: ignore[union-attr]
    key_id = re.search(r"API key (K\d{9}) -> account (A\d+)", text).group(1)  # type: ignore[union-attr]
    private_path = Path(re.search(r"private key: (\S+)", text).group(1))  # type: ignore[union-attr]
    client = OfficialClient(url)
    await client.connect()
    await client.login(key_id, private_path.read_text(), id=1)
    assert "account_number" in (await client.reply(1))["result"]
    await client.disconnect()
    process.send_signal(signal.SIGINT)
    rest = await asyncio.wait_for(process.stdout.read(), 20)
    assert await process.wait() == 0
    assert "local exchange stopped:" in rest.decode()
