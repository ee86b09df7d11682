"""``asterrl deploy``: run a frozen policy against Aster (live) or a paper venue, and control a running one.

    asterrl deploy artifact=DIR [mode=paper|live] [key=value ...]   trade (paper by default)
    asterrl deploy status [run_id=NAME] [state_dir=DIR]              state, position, equity, PnL today,
                                                                     limits used, last decision
    asterrl deploy stop|flatten|resume [run_id=NAME] [state_dir=DIR] ask the running bridge to stop
                                                                     (cancel orders), flatten, or resume

Settings are ``key=value`` (``config=FILE`` reads a YAML file first); see ``asterrl.live.config``:
``base_url=`` (paper: the local exchange or Aster's testnet; live: mainnet), ``key_file=`` (mode 0600) or the
``ASTER_USER``/``ASTER_SIGNER_KEY`` variables, ``execution.style=limit|market``, ``risk.*``, ``limits.*``,
``metrics_port=``. Live mode also needs ``confirm_live=true``. No Hydra here: the trading path stays light.

Refused with one line before anything is sent: an artifact that is not valid or was made for another
symbol or feature set, a missing or group/world-readable key file, live mode without the confirmation,
a symbol the exchange does not list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from asterrl.errors import ConfigError, LiveError

ACTIONS = ("status", "stop", "flatten", "resume")


def run(argv: Sequence[str]) -> int:
    args = list(argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    action = args.pop(0) if args and args[0] in ACTIONS else "run"
    options = [a for a in args if "=" not in a]
    if options:
        raise ConfigError(f"unknown argument(s) {' '.join(options)}; see asterrl deploy --help")
    file = next((a.split("=", 1)[1] for a in args if a.startswith("config=")), None)
    overrides = [a for a in args if not a.startswith("config=")]
    if action != "run":
        return _control(action, overrides, file)
    return asyncio.run(deploy(overrides, file))


def _control(action: str, overrides: list[str], file: str | None) -> int:
    from asterrl.live.config import load_deploy_config
    from asterrl.live.control import send_command
    from asterrl.live.monitoring import format_status
    from asterrl.live.status import read_status
    from asterrl.live.store import StateStore

    if not any(o.startswith(("artifact=", "deploy.artifact=")) for o in overrides):
        overrides = [*overrides, "artifact=-"]  # the run id names the deployment here, not the artifact
    cfg = load_deploy_config(overrides, file)
    if cfg.artifact == "-" and not cfg.run_id:
        raise ConfigError(f"asterrl deploy {action} needs run_id=NAME (or artifact=DIR mode=... of the run)")
    path = cfg.state_path()
    if action == "status":
        if not path.exists():
            raise LiveError(f"no deployment state at {path}")
        store = StateStore(path)
        try:
            print(format_status(read_status(store)))
        finally:
            store.close()
        return 0
    send_command(path, action, "cli")
    print(f"{action} sent to {cfg.name()} ({path})")
    return 0


async def deploy(overrides: list[str], file: str | None = None) -> int:
    """Check everything that can be checked before a request is made, then run the bridge."""
    from asterrl.live.artifact import Expectation, load_artifact
    from asterrl.live.config import load_deploy_config
    from asterrl.live.keys import load_keys
    from asterrl.live.monitoring import configure_logging

    cfg = load_deploy_config(overrides, file)
    if cfg.mode == "live" and not cfg.confirm_live:
        raise LiveError(
            "mode=live trades real money on Aster mainnet: add confirm_live=true to the command to go on"
        )
    keys = load_keys(cfg.key_file or None)
    policy = load_artifact(cfg.artifact, Expectation(symbol=cfg.symbol or None))
    configure_logging(cfg.log_file, keys.values())
    return await _trade(cfg, policy, keys)


async def _trade(cfg: object, policy: object, keys: object) -> int:
    from asterrl.data.sources.aster import AsterSource
    from asterrl.exchange.client import AsterClient
    from asterrl.exchange.rest import ClientConfig, V1Credentials, V3Credentials
    from asterrl.live.artifact import FrozenPolicy
    from asterrl.live.bridge import Bridge
    from asterrl.live.config import DeployConfig
    from asterrl.live.keys import ApiKeys
    from asterrl.live.monitoring import Metrics, MonitoringServer
    from asterrl.live.store import StateStore
    from asterrl.live.venue import Venue

    assert isinstance(cfg, DeployConfig) and isinstance(policy, FrozenPolicy) and isinstance(keys, ApiKeys)
    symbol = cfg.symbol or policy.manifest.symbol
    credentials: V3Credentials | V1Credentials
    if keys.version == "v3":
        credentials = V3Credentials(keys.user, keys.secret.reveal(), cfg.chain_id)
    else:
        assert keys.api_key is not None
        credentials = V1Credentials(keys.api_key.reveal(), keys.secret.reveal())
    state = cfg.state_path()
    store = StateStore(state, cfg.name())
    client_cfg = ClientConfig(cfg.rest_url, nonce_window_ms=cfg.nonce_window_ms,
                              recv_window_ms=min(cfg.nonce_window_ms, 60_000))  # fmt: skip
    nonces = state.with_suffix(".nonce")
    client = AsterClient(client_cfg, credentials, nonce_state=nonces)
    streams = AsterClient(client_cfg, credentials, nonce_state=nonces) if cfg.streams else None
    venue = Venue(client, symbol, policy.manifest.interval, AsterSource(cfg.rest_url), cfg.slow_call_ms)
    metrics = Metrics(labels={"run": cfg.name()})
    bridge = Bridge(cfg, policy, venue, store, metrics=metrics, handle_signals=True, stream_client=streams)
    server = None
    if cfg.metrics_port:
        server = MonitoringServer(cfg.metrics_port, metrics, lambda: store.get_meta("status", {}),
                                  bridge.kill.push).start()  # fmt: skip
    try:
        await bridge.run()
    finally:
        if server is not None:
            server.stop()
        await client.close()
        if streams is not None:
            await streams.close()
        venue.history.close()
        store.close()
    print(f"deploy {cfg.name()}: stopped ({bridge.stopping or 'max_bars reached'}); state in {Path(state)}")
    return 0
