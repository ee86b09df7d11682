from __future__ import annotations

import pytest

from asterrl.sim.account import padded_accounts


@pytest.mark.parametrize(
    ("n_accounts", "columns"),
    [
        (1, 8),  # 1 line of 8 float64: odd already
        (8, 8),
        (9, 24),  # 2 lines -> 3
        (64, 72),  # 8 lines -> 9: a 512-byte row stride would alias every 8th L1 set
        (70, 72),  # 9 lines
        (1024, 1032),  # 128 lines -> 129 (8 KiB stride)
        (4096, 4104),  # 512 lines -> 513 (32 KiB stride)
    ],
)
def test_padded_accounts_gives_an_odd_number_of_cache_lines(n_accounts: int, columns: int) -> None:
    assert padded_accounts(n_accounts) == columns
