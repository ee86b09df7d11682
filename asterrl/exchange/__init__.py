"""Aster connectivity: the futures client and the local Aster exchange.

Client: ``client.AsterClient`` (REST: market data, account, orders; ``trading.py`` places each order at
most once), ``streams.py`` (market streams, order book sync), ``user_stream.UserDataStream`` (the account
view), ``signing.py`` (V3 EIP-712 and V1 HMAC), ``nonce.py``, ``rate_limits.py``, typed ``errors`` and
``models``. ``filters.py`` holds the order rules both sides check. The local exchange: ``local``
(``LocalAsterServer``, run by ``asterrl exchange serve``).
"""
