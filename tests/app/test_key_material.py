"""A private key pasted where a path or a name belongs is refused and never repeated."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from thalex_mm.app.logs import QueueLogging
from thalex_mm.cli.main import main
from thalex_mm.journal.redact import redact
from thalex_mm.secrets import looks_like_key_material, scrub
from thalex_mm.venue.thalex.auth import generate_key_pair
from thalex_mm.venue.thalex.credentials import load_credentials

PRIVATE_PEM, _ = generate_key_pair(1024)
PEM_TEXT = PRIVATE_PEM.decode()
BODY = PEM_TEXT.splitlines()[1]  # one line of the key material
ESCAPED = PEM_TEXT.replace("\n", "\\n")  # as a one-line TOML string with \n escapes


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _config(tmp_path: Path, venue_lines: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(f'[venue]\nnetwork = "testnet"\nkey_id = "K1"\n{venue_lines}\n')
    return path


def _error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    rc = main(list(argv))
    captured = capsys.readouterr()
    assert rc == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("command", [["config", "check"], ["run", "--duration", "1", "--config"]])
def test_a_key_pasted_as_the_key_file_is_refused_without_repeating_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    path = _config(tmp_path, f'private_key_file = "{ESCAPED}"')
    line = _error_line(capsys, *command, str(path))
    assert "venue.private_key_file" in line and "key material" in line
    assert BODY not in line and "BEGIN" not in line


def test_a_key_pasted_on_the_command_line_is_refused_without_repeating_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = _error_line(
        capsys, "run", "--network", "testnet", "--key-id", "K1", "--private-key-file", PEM_TEXT
    )
    assert "--private-key-file" in line and BODY not in line and "BEGIN" not in line


def test_a_key_in_any_other_field_is_not_echoed_by_the_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "run.toml"
    path.write_text(f'[venue]\nnetwork = "{ESCAPED}"\n')
    line = _error_line(capsys, "config", "check", str(path))
    assert "venue" in line and BODY not in line and "BEGIN" not in line


def test_config_check_warns_about_a_key_file_others_can_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(PRIVATE_PEM)
    path = _config(tmp_path, f'private_key_file = "{key}"')
    key.chmod(0o644)
    assert main(["config", "check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "readable by its group and others" in err and "0644" in err and BODY not in err
    key.chmod(0o600)
    assert main(["config", "check", str(path)]) == 0
    assert capsys.readouterr().err == ""


def test_loading_a_group_readable_key_logs_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(PRIVATE_PEM)
    key.chmod(0o640)
    with caplog.at_level(logging.WARNING):
        load_credentials("K1", key_file=key)
    assert "readable by its group" in caplog.text and "others" not in caplog.text


def test_the_journal_redaction_masks_key_material_under_any_name() -> None:
    config = {"venue": {"account": None}, "instruments": [{"name": PEM_TEXT, "size": 1}]}
    masked = {"venue": {"account": None}, "instruments": [{"name": "***", "size": 1}]}
    assert redact(config) == masked


def test_log_lines_never_carry_key_material() -> None:
    stream = io.StringIO()
    with QueueLogging(stream=stream):
        logging.getLogger("thalex_mm.test").warning("bad value %r", PEM_TEXT)
    text = stream.getvalue()
    assert "bad value" in text and BODY not in text and "BEGIN" not in text


def test_what_counts_as_key_material() -> None:
    assert looks_like_key_material(PEM_TEXT) and looks_like_key_material(BODY)
    assert looks_like_key_material(ESCAPED)
    harmless = ("data/key.pem", "K123456789", "THALEX_MM_PRIVATE_KEY", "a" * 64, "0f" * 32)
    for text in (*harmless, "cannot read the private key file 'k.pem'"):
        assert not looks_like_key_material(text), text
    assert scrub(f"x {PEM_TEXT} y").startswith("x <key material hidden>")
    assert BODY not in scrub(f"x {ESCAPED} y")
