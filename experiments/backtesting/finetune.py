"""``walkforward.fit=ppo``: an SB3 checkpoint fine-tuned on each training window, trading the next window.

Each fold starts from the checkpoint (not from the previous fold's fine-tune), trains
``walkforward.ppo_iterations`` PPO iterations on an env over the whole days of its training window that end
before its test window, and the fine-tuned policy decides every bar of the test window through the
backtester's step-by-step path on the env's observations.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asterrl.backtest.engine import ObservationSource, backtest_policy
from asterrl.backtest.report import ReportSection
from asterrl.backtest.walkforward import FoldChoice, fold_figure, fold_plan, fold_table
from asterrl.errors import ConfigError
from asterrl.sim.market_arrays import DAY_MS
from experiments.backtesting.policies import policy_decider
from experiments.backtesting.run import Backtested, _setup, _tables

#: Environments stepped together while fine-tuning.
FINETUNE_ENVS = 4


def ppo_walk_forward(cfg: Any, show_progress: bool) -> Backtested:
    """The walk-forward of a fine-tuned SB3 checkpoint (``cfg`` is the checkpoint's run config)."""
    import json

    from stable_baselines3 import PPO

    from agents.sb3.ppo import SB3Policy, learn_iteration
    from agents.sb3.vec_env import SB3VecEnv
    from envs.core import build_core
    from envs.vector_env import AsterPerpVectorEnv
    from experiments.training.checkpoints import CHECKPOINT_INFO
    from experiments.training.environment import prepare_market

    w = cfg.walkforward
    checkpoint = Path(cfg.backtest.checkpoint).expanduser()
    info_path = checkpoint / CHECKPOINT_INFO
    if not cfg.backtest.checkpoint or not info_path.exists():
        raise ConfigError("walkforward.fit=ppo fine-tunes backtest.checkpoint=PATH (<run>/checkpoints/final)")
    if json.loads(info_path.read_text()).get("framework") != "sb3":
        raise ConfigError("walkforward.fit=ppo fine-tunes SB3 checkpoints (agent=sb3_ppo runs)")
    run_market = prepare_market(cfg, show_progress=show_progress)
    observations = ObservationSource.from_matrix(run_market.features, cfg.env.window)
    setup = _setup(cfg, run_market.market, None)
    setup = setup.with_span(max(setup.start_bar, observations.first_bar), setup.end_bar)
    stamps = setup.market.timestamps
    folds, policies = [], []
    for fold in fold_plan(setup, w).folds:
        first_day = pd.Timestamp(int(stamps[fold.fit_start]), unit="ms", tz="UTC").date()
        last_ms = min(int(stamps[fold.val_end - 1]), int(stamps[fold.test_start]) - DAY_MS)
        last_day = pd.Timestamp(last_ms, unit="ms", tz="UTC").date()
        if last_day <= first_day:
            raise ConfigError(f"fold {fold.index + 1}: its training window holds less than two whole days")
        env = dataclasses.replace(cfg.env, splits={"train": [str(first_day), str(last_day)]}, split="train",
                                  autoreset_mode="same_step")  # fmt: skip
        core = build_core(config=env, risk=cfg.risk, data=run_market.market, features=run_market.features)
        venv = SB3VecEnv(AsterPerpVectorEnv(FINETUNE_ENVS, core=core))
        model = PPO.load(str(checkpoint / "model.zip"), env=venv, device="cpu")
        model.set_random_seed(cfg.seed + fold.index)
        for _ in range(w.ppo_iterations):
            learn_iteration(model, cfg.agent.train_batch_size)
        policies.append(policy_decider(SB3Policy(model, cfg.agent.name), stamps))
        test_end = min(fold.test_end, setup.end_bar)
        folds.append(FoldChoice(fold.index, fold.fit_start, fold.val_end - 1, fold.test_start, test_end,
                                fold.index, float("nan"), f"fine-tune {fold.index + 1}"))  # fmt: skip
    starts = np.array([f.test_start for f in folds])

    def decide(t: int, obs: Any) -> float:
        return policies[int(np.searchsorted(starts, t, side="right")) - 1](t, obs)

    span = setup.with_span(folds[0].test_start, folds[-1].test_end)
    result, acc = backtest_policy(span, decide, f"{cfg.agent.name} walk-forward", observations)
    params = {"checkpoint": str(checkpoint.resolve()), "walkforward": dataclasses.asdict(w)}
    done = Backtested(result, f"{cfg.agent.name}-walkforward", params, span)
    _tables(done, span, acc.steps[:, 0], acc.totals[0], acc.fill_rows)
    table = fold_table(result, folds, setup)
    done.tables["folds"] = table.frame
    done.sections.append(ReportSection(
        "Walk-forward folds", "folds",
        (f"The checkpoint fine-tuned {w.ppo_iterations} PPO iterations on each training window ({w.scheme}, "
         f"{len(folds)} folds), then trading its test window; one account over the test windows.",),
        table.frame, fold_figure(result, table, "(no score)"),
    ))  # fmt: skip
    return done
