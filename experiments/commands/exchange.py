"""``asterrl exchange serve``: run the local Aster exchange on 127.0.0.1 until Ctrl-C.

It replays the configured market data (``data.*`` overrides; ``data=synthetic`` unless another data
group or source is given) on a clock running ``--speed`` times real time from ``--start`` (or the
``--warmup``-th bar), or follows a live public feed one bar behind with ``--live``. It opens an account
for each ``--user`` (or for a freshly generated test user), authorises API wallets (``--signer``) and V1
keys (``--api-key KEY:SECRET``), applies a fault plan (``--faults plan.json``), and prints the base URL
and the test keys. Examples::

    asterrl exchange serve                                       # synthetic BTCUSDT 1h at 60x, new test keys
    asterrl exchange serve --symbols BTCUSDT,ETHUSDT --speed 3600 data=synthetic data.start=2024-01-01
    asterrl exchange serve data=shared_btcusdt_1h --start 2023-06-01 --balance 50000 --port 8090
    asterrl exchange serve --live data.source=aster               # follow Aster's public feed
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from asterrl.data.market import load_market, parse_time_ms, remote_source
from asterrl.data.schema import interval_ms
from asterrl.errors import ConfigError
from asterrl.exchange.local import FaultPlan, LocalAsterServer, ScaledClock
from asterrl.exchange.local.replay import LiveFeed, book_from_markets
from asterrl.exchange.signing import MAINNET_CHAIN_ID, TESTNET_CHAIN_ID, address_of
from experiments.config import load_config
from experiments.hydra_cli import OVERRIDES_HELP, CommandParser, add_hydra_options, parse, plain_text, show


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="asterrl exchange",
        allow_abbrev=False,
        description=plain_text(__doc__ or ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="{serve}", parser_class=CommandParser)
    serve = sub.add_parser(
        "serve",
        help="run the local Aster exchange until Ctrl-C",
        description=plain_text(__doc__ or ""),
        prog="asterrl exchange serve",
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=OVERRIDES_HELP,
    )
    add_hydra_options(serve)
    serve.add_argument("--symbols", help="comma-separated symbols (default: data.symbol)")
    serve.add_argument(
        "--speed", type=float, default=60.0, help="market seconds per real second (default 60)"
    )
    serve.add_argument("--start", help="replay from this ISO time (default: the --warmup-th bar)")
    serve.add_argument(
        "--warmup", type=int, default=50, help="bars before the replay starts, at least 1 (default 50)"
    )
    serve.add_argument(
        "--live", action="store_true", help="follow the data source's live feed one bar behind"
    )
    serve.add_argument("--poll-s", type=float, default=15.0, help="seconds between live polls")
    serve.add_argument("--balance", type=float, default=10_000.0, help="starting balance per user, USDT")
    serve.add_argument("--user", action="append", default=[], help="user (main wallet) address to fund")
    serve.add_argument("--signer", action="append", default=[], help="API wallet address to authorise")
    serve.add_argument("--api-key", action="append", default=[], help="V1 key as KEY:SECRET")
    serve.add_argument("--faults", type=Path, help="fault plan file (JSON or YAML list)")
    serve.add_argument("--testnet", action="store_true", help="expect testnet signatures (chain id 714)")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    return parser


def run(argv: Sequence[str]) -> int:
    """Entry point used by ``experiments.cli`` with the tokens after ``exchange``."""
    invocation = parse(_parser(), argv)
    args, overrides = invocation.args, invocation.overrides
    if not any(o.startswith(("data=", "data.source=")) for o in overrides):
        overrides = ["data=synthetic", *overrides]
    if args.cfg or args.info:  # Hydra's --cfg/--info: print and exit, as every subcommand does
        return show(args, overrides)
    if args.multirun:
        raise ConfigError("-m (multirun) does not apply to asterrl exchange serve: it runs one server")
    _check(args)
    plan = FaultPlan.load(args.faults) if args.faults else None
    full = load_config(overrides)
    cfg, seed = full.data, int(getattr(full, "seed", 0))
    symbols = [s.strip().upper() for s in (args.symbols or cfg.symbol).split(",") if s.strip()]
    markets = [load_market(replace(cfg, symbol=s), seed=seed, show_progress=False) for s in symbols]
    book = book_from_markets(markets)
    step = interval_ms(cfg.interval)
    if args.live:
        clock = ScaledClock(int(time.time() * 1000) - step, 1.0)
    else:
        first_bars = [int(m.bars["timestamp"].iloc[min(args.warmup, len(m.bars) - 1)]) for m in markets]
        start = parse_time_ms(args.start, "start") if args.start else max(first_bars)
        clock = ScaledClock(start, args.speed)
    chain = TESTNET_CHAIN_ID if args.testnet else MAINNET_CHAIN_ID
    tiers = {m.key.symbol: m.instrument.brackets for m in markets}  # the data's instruments' margin tiers
    server = LocalAsterServer(book, now_ms=clock.ms, port=args.port, chain_id=chain, margin_tiers=tiers)
    for symbol in symbols:
        server.open_market(symbol, cfg.interval)
    keys = _accounts(server, args)
    feed = LiveFeed(server, remote_source(cfg), symbols, cfg.interval, args.poll_s) if args.live else None
    server.start()
    try:
        _announce(server, symbols, cfg.interval, args, clock, chain, keys)
        if plan is not None:
            server.apply_plan(plan)
        if feed is not None:
            feed.start()
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping the local exchange", flush=True)
    finally:
        if feed is not None:
            feed.stop()
        server.stop()
    print("stopped", flush=True)
    return 0


def _check(args: argparse.Namespace) -> None:
    if not args.speed > 0:
        raise ConfigError(f"--speed must be > 0 (market seconds per real second), got {args.speed}")
    if args.balance <= 0 or args.warmup < 1 or args.poll_s <= 0:
        raise ConfigError(
            "--balance and --poll-s must be > 0 and --warmup >= 1 (orders fill on a closed bar's estimates)"
        )
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must lie in [0, 65535], got {args.port}")
    for key in args.api_key:
        if ":" not in key:
            raise ConfigError("--api-key takes KEY:SECRET")


def _accounts(server: LocalAsterServer, args: argparse.Namespace) -> dict[str, str]:
    """Fund the users and authorise the keys; make a test user, signer and V1 key when none is given."""
    made: dict[str, str] = {}
    users, signers = list(args.user), list(args.signer)
    if not users:
        user_key, signer_key = "0x" + secrets.token_hex(32), "0x" + secrets.token_hex(32)
        users, signers = [address_of(user_key)], [*signers, address_of(signer_key)]
        made = {"user": users[0], "signer_key": signer_key}
    api_keys = dict(k.split(":", 1) for k in args.api_key)
    if not api_keys:
        api_keys = {f"local-{secrets.token_hex(8)}": secrets.token_hex(24)}
        made.update(zip(("api_key", "api_secret"), next(iter(api_keys.items())), strict=True))
    for user in users:
        server.add_user(user, args.balance, signers=signers, api_keys=api_keys)
    return made


def _announce(
    server: LocalAsterServer,
    symbols: list[str],
    interval: str,
    args: argparse.Namespace,
    clock: ScaledClock,
    chain: int,
    keys: dict[str, str],
) -> None:
    mode = "live feed, one bar behind" if args.live else f"replay at x{args.speed:g}"
    print(f"local Aster exchange: {server.base_url}  (streams {server.ws_url})", flush=True)
    print(f"markets: {', '.join(symbols)} {interval}, {mode}, clock at {clock.ms()} ms", flush=True)
    if "user" in keys:
        print(f"test user {keys['user']}  signer key {keys['signer_key']}  chain id {chain}", flush=True)
    if "api_key" in keys:
        print(f"test V1 api key {keys['api_key']}  secret {keys['api_secret']}", flush=True)
    print("Ctrl-C stops", flush=True)
