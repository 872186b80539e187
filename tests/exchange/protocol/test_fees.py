"""Fee rates per instrument from the config (issue #14): rebates, overrides, bad values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _protocol_kit import PERP, T0, Harness, find_reply, notes

from thalex_mm.app.settings import config_from_data
from thalex_mm.app.strict_convert import ConfigError
from thalex_mm.cli.main import main
from thalex_mm.errors import UserError
from thalex_mm.exchange.config_file import load_config
from thalex_mm.exchange.engine import default_instruments
from thalex_mm.exchange.local import ExchangeConfig, LocalExchange, with_fees

ETH = "ETH-PERPETUAL"


def harness(config: ExchangeConfig) -> Harness:
    return Harness(instruments=with_fees(default_instruments(T0), config))


def trade(
    h: Harness, name: str, price: float, amount: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A1 rests a bid, A2 sells into it; returns (maker's, taker's) trade_history lines."""
    maker, taker = h.open(), h.open()
    h.login(maker)
    h.login(taker, "K000000002")
    for session in (maker, taker):
        h.send(session, "private/subscribe", {"channels": ["account.trade_history"]}, id=1)
    params = {"instrument_name": name, "amount": amount, "price": price}
    h.call(maker, "private/buy", params, id=2)
    out = h.send(taker, "private/sell", params, id=3)
    assert find_reply(out, 3)["result"]["status"] == "filled"
    (taker_line,) = notes(out, "account.trade_history")[0]
    (maker_line,) = notes(h.drain(maker), "account.trade_history")[0]
    return maker_line, taker_line


def test_a_fill_on_an_instrument_with_a_rebate_pays_the_maker() -> None:
    h = harness(ExchangeConfig(instrument_fees={ETH: {"maker_fee_rate": -0.0001}}))
    before = h.engine.account_summary("A000000001").balance
    maker, taker = trade(h, ETH, 3_000.0, 1.0)
    assert maker["maker_taker"] == "maker" and maker["fee_rate"] == -0.0001
    assert maker["fee"] == pytest.approx(-0.3)  # -1 bp of 3,000 USD, on the wire
    assert taker["fee_rate"] == 0.0003 and taker["fee"] == pytest.approx(0.9)
    assert h.engine.account_summary("A000000001").balance == pytest.approx(before + 0.3)


def test_an_override_changes_only_its_instrument() -> None:
    config = ExchangeConfig(
        maker_fee_rate=0.0, taker_fee_rate=0.0005, instrument_fees={ETH: {"taker_fee_rate": 0.001}}
    )
    h = harness(config)
    rates = {i.name: (i.maker_fee_rate, i.taker_fee_rate) for i in h.engine.instruments()}
    assert rates[ETH] == (0.0, 0.001)
    assert {v for k, v in rates.items() if k != ETH} == {(0.0, 0.0005)}
    maker, taker = trade(h, PERP, 70_000.0, 0.01)
    assert (maker["fee"], taker["fee"]) == (0.0, pytest.approx(0.35))


def test_the_defaults_are_unchanged() -> None:
    inst = with_fees(default_instruments(T0), ExchangeConfig())
    assert {(i.maker_fee_rate, i.taker_fee_rate) for i in inst} == {(0.0001, 0.0003)}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("maker_fee_rate = 0.5", "maker_fee_rate must be in [-0.01, 0.01], got 0.5"),
        ("taker_fee_rate = -0.0001", "taker_fee_rate must be in [0, 0.01]"),
        ('maker_fee_rate = "1bp"', "maker_fee_rate must be a finite number"),
        (
            "[exchange.instrument_fees.ETH-PERPETUAL]\nmaker_fee_rate = nan",
            "instrument_fees.ETH-PERPETUAL.maker_fee_rate must be a finite number",
        ),
        (
            "[exchange.instrument_fees.ETH-PERPETUAL]\nmaker = -0.0001",
            "instrument_fees.ETH-PERPETUAL: unknown key(s) maker",
        ),
        (
            "[exchange.instrument_fees.ETH-PERPETUAL]\nmaker_fee_rate = -0.0005",
            "instrument_fees.ETH-PERPETUAL: maker_fee_rate -0.0005 is a rebate larger than",
        ),
    ],
)
def test_bad_fee_values_in_the_exchange_config_file_name_the_field(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[exchange]\n" + toml + "\n")
    with pytest.raises(UserError) as caught:
        load_config(path, {})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_an_override_for_an_unlisted_instrument_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[exchange.instrument_fees.BTC-PERPETUA]\nmaker_fee_rate = 0.0\n")
    with pytest.raises(ValueError, match="BTC-PERPETUA not listed"):
        LocalExchange(load_config(path, {}))
    assert main(["exchange", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "instrument_fees: BTC-PERPETUA not listed" in err
    assert "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"maker_fee_rate": 0.02}, "local_exchange: maker_fee_rate must be in [-0.01, 0.01]"),
        (
            {"instrument_fees": {ETH: {"taker_fee_rate": -1.0}}},
            "local_exchange: instrument_fees.ETH-PERPETUAL.taker_fee_rate must be in [0, 0.01]",
        ),
    ],
)
def test_bad_fee_values_in_the_run_config_name_the_field(
    table: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_data({"local_exchange": table})
    assert message in str(caught.value)
