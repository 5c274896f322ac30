"""The gateway config: TOML round trip, validation messages that name the field, the demo config, and
the CLI that writes it."""
from __future__ import annotations

import copy
import os
import stat

import pytest

from gateway.config import ConfigError, demo_config, dump_toml, load_config, parse_config, write_config
from gateway.serve_cli import ccxt_config
from gw_helpers import config_data


def test_demo_config_round_trips(tmp_path):
    cfg = demo_config()
    path = write_config(cfg, tmp_path / "bdax.toml")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600          # it holds secrets
    again = load_config(path)
    assert dump_toml(again) == dump_toml(cfg)
    assert [i.symbol for i in again.instruments] == ["BTC-KRW", "ETH-KRW", "BTC-USDT", "ETH-USDT"]
    assert len({k.key for a in again.accounts for k in a.api_keys}) == 3
    assert not again.instruments[0].single_tick                   # KRW tick bands
    engine = again.make_engine()
    assert set(engine.assets) == {"BTC", "ETH", "KRW", "USDT"}
    assert "secret" not in repr(again.accounts[0].api_keys[0])


def _broken(path_fn):
    data = copy.deepcopy(config_data())
    path_fn(data)
    return data


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["accounts"][1]["api_keys"][0].pop("secret"), "accounts[1].api_keys[0].secret: missing"),
    (lambda d: d["accounts"][0]["api_keys"][0].update(key="has space"), "accounts[0].api_keys[0].key:"),
    (lambda d: d["accounts"][1]["api_keys"][0].update(key=d["accounts"][0]["api_keys"][0]["key"]),
     "accounts[1].api_keys[0].key: already used by accounts[0].api_keys[0]"),
    (lambda d: d["accounts"][0]["api_keys"][0].update(permissions=["WITHDRAW"]),
     "accounts[0].api_keys[0].permissions: 'WITHDRAW'"),
    (lambda d: d["accounts"][0].update(balances={"DOGE": "1"}), "accounts[0].balances.DOGE: unknown asset"),
    (lambda d: d["accounts"][0].update(balances={"BTC": "0.000000001"}), "accounts[0].balances.BTC:"),
    (lambda d: d["accounts"][0].update(balances={"BTC": 1.5}), "accounts[0].balances.BTC: must be a decimal"),
    (lambda d: d["accounts"][0].update(id=0), "accounts[0].id: must be in 1.."),
    (lambda d: d["server"].update(fee_account=1), "accounts[0].id: 1 is the fee account"),
    (lambda d: d["accounts"][1].update(id=1), "accounts[1].id: account 1 is defined twice"),
    (lambda d: d["accounts"][0].update(fee_tier=9), "accounts[0].fee_tier: tier 9 is not in"),
    (lambda d: d["accounts"][0].update(nickname="x"), "accounts[0].nickname: unknown key"),
    (lambda d: d["instruments"][0].pop("lot_size"), "instruments[0].lot_size: missing"),
    (lambda d: d["instruments"][0].update(quote="EUR"), "instruments[0].quote: asset 'EUR' is not in [assets]"),
    (lambda d: d["instruments"][1].update(lot_size="0.000000001"), "instruments[1]: ETH-USDT: lot size"),
    (lambda d: d["instruments"][0].update(tick_table=[["0", "1"], ["1000"]]), "instruments[0].tick_table[1]:"),
    (lambda d: d["instruments"][1].update(tick_size=0.01), "instruments[1].tick_size: must be a decimal"),
    (lambda d: d.update(instruments=[]), "instruments: define at least one"),
    (lambda d: d["assets"].update(BTC="8"), "assets.BTC: must be an integer"),
    (lambda d: d["server"].update(fsync="sometimes"), "server.fsync: fsync policy 'sometimes'"),
    (lambda d: d["server"].update(default_stp="DECREMENT"), "server.default_stp: must be one of"),
    (lambda d: d["server"].update(admin_token="short"), "server.admin_token: use at least 16"),
    (lambda d: d["rate_limits"].update(orders_per_10s=0), "rate_limits.orders_per_10s: must be in 1.."),
    (lambda d: d["rate_limits"].update(orders_per_10s=True), "rate_limits.orders_per_10s: must be an integer"),
    (lambda d: d.update(fee_tiers=[{"tier": 1, "maker_bps": 1, "taker_bps": 1}]), "fee_tiers: tier 0"),
    (lambda d: d.update(fee_tiers=[{"tier": 0, "maker_bps": 10001, "taker_bps": 1}]),
     "fee_tiers[0].maker_bps: must be in 0..10000"),
    (lambda d: d.update(colour="blue"), "colour: unknown key"),
])
def test_errors_name_the_field(mutate, message):
    with pytest.raises(ConfigError) as err:
        parse_config(_broken(mutate))
    assert message in str(err.value)


def test_wire_name_collision_is_refused():
    data = config_data()
    data["assets"]["BTCK"] = 8
    data["assets"]["RW"] = 0
    data["instruments"].append({"symbol": "BTCK-RW", "base": "BTCK", "quote": "RW", "tick_size": "1",
                                "lot_size": "1"})
    with pytest.raises(ConfigError, match="both have the wire name BTCKRW"):
        parse_config(data)


def test_load_config_reports_file_and_syntax(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[server\nfsync = 1\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_config(path)
    path.write_text('[server]\nfsync = "off"\n')
    with pytest.raises(ConfigError, match="bad.toml: assets: missing"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_ccxt_config_recipe_a():
    cfg = ccxt_config("0.0.0.0", 9000, "k", "s")
    api = cfg["urls"]["api"]
    assert api["public"] == "http://127.0.0.1:9000/api/v3" and api["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:9000/ws-api/v3"
    assert cfg["options"] == {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}


def test_cli_keys_create_and_help(tmp_path, capsys):
    from gateway.cli import main
    path = write_config(parse_config(config_data()), tmp_path / "bdax.toml")
    assert main(["keys", "create", "--account", "2", "--permissions", "READ", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    cfg = load_config(path)
    new = [k for k in cfg.account(2).api_keys if k.key in out]
    assert len(new) == 1 and new[0].permissions == frozenset({"READ"}) and new[0].secret in out
    assert main(["keys", "create", "--account", "9", "--config", str(path)]) == 0
    assert load_config(path).account(9).api_keys[0].permissions == frozenset({"READ", "TRADE"})
    assert main(["keys", "create", "--account", "2", "--permissions", "ROOT", "--config", str(path)]) == 2
    for argv in (["serve", "--help"], ["keys", "create", "--help"], ["admin", "deposit", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    assert main(["serve", "--config", str(tmp_path / "nope.toml"), "--data-dir", str(tmp_path)]) == 2
    assert main(["admin", "deposit", "--account", "1", "--asset", "KRW", "--amount", "1", "--config", str(path),
                 "--url", "http://127.0.0.1:9"]) == 1


def test_first_run_prints_a_ccxt_config_that_pastes_into_python(tmp_path, capsys):
    """The printed dict is Python (True/False, not JSON's true/false), so pasting it works; the JSON twin
    for freqtrade is written beside the config, private, and equal to it."""
    import json

    from gateway.serve_cli import CCXT_JSON_NAME, _print_demo
    cfg = demo_config()
    path = write_config(cfg, tmp_path / "bdax.toml")
    _print_demo(cfg, path, "127.0.0.1", 8123)
    out = capsys.readouterr().out
    code = out[out.index("config = "):].split("\n\n")[0].split("\nThe same as JSON")[0]
    scope: dict = {}
    exec(code, scope)                                   # what a user does by pasting it
    pasted = scope["config"]
    key = cfg.accounts[0].api_keys[0]
    assert pasted == ccxt_config("127.0.0.1", 8123, key.key, key.secret)
    json_path = tmp_path / CCXT_JSON_NAME
    assert json.loads(json_path.read_text()) == pasted
    assert stat.S_IMODE(os.stat(json_path).st_mode) == 0o600


def test_stream_limits_come_from_the_config(tmp_path):
    """[rate_limits] sets the market-stream limits (streams per connection, control messages per second,
    the slow-client send queue), validated like every field, and they reach the stream hub."""
    from gateway.app import create_app
    data = config_data()
    data["rate_limits"] = {"max_streams": 8, "messages_per_second": 3, "send_queue": 64}
    cfg = parse_config(data)
    assert (cfg.rate_limits.max_streams, cfg.rate_limits.messages_per_second, cfg.rate_limits.send_queue) \
        == (8, 3, 64)
    assert load_config(write_config(cfg, tmp_path / "bdax.toml")).rate_limits == cfg.rate_limits
    hub = create_app(cfg, tmp_path).state.bdax.market_hub
    assert (hub.limits.max_streams, hub.limits.messages_per_second, hub.limits.send_queue) == (8, 3, 64)
    data["rate_limits"] = {"max_streams": 0}
    with pytest.raises(ConfigError, match="rate_limits.max_streams"):
        parse_config(data)
