"""Authentication on the local exchange: V3 EIP-712 agent signatures and V1 API-key HMAC (reference §4).

V3: the signer is recovered from the received parameter string with ``signature=…`` removed — as received
(URI-encoded, as the docs' Python and ccxt sign it) or URL-decoded (as the JS demo signs it) — and must be
the ``signer`` sent, an API wallet the ``user`` authorised. The nonce (µs) must lie within the window of
the server's clock; the last 100 nonces of each signer are kept and a repeat, or a nonce below the oldest
kept once 100 are held, is refused with -4225. V1: ``X-MBX-APIKEY`` names a key; ``HMAC-SHA256(secret,
query ‖ body)`` must match; ``timestamp`` must satisfy ``serverTime - recvWindow <= timestamp < serverTime
+ 1000`` (recvWindow default 5000, at most 60000), else -1021.
"""

from __future__ import annotations

import bisect
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_plus

from asterrl.exchange.codes import Code
from asterrl.exchange.local.api import ApiError, mandatory
from asterrl.exchange.signing import MAINNET_CHAIN_ID, hmac_sha256_hex, recover_address_hex

#: Nonces kept per signer (reference §4.2).
NONCES_KEPT = 100


def strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=…`` pair (the rest byte for byte) and the signature's value."""
    if "signature=" not in raw:
        return raw, None
    kept, signature = [], None
    for part in raw.split("&"):
        if part.startswith("signature="):
            signature = unquote_plus(part[len("signature=") :])
        else:
            kept.append(part)
    return "&".join(kept), signature


def parse_params(query: str, body: str) -> dict[str, str]:
    """Parameters of a request: the form body's, overridden by the query string's (as on Aster)."""
    params = dict(parse_qsl(body, keep_blank_values=True)) if body else {}
    if query:
        params.update(parse_qsl(query, keep_blank_values=True))
    return params


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A V1 API key: its secret (bytes) and the account it trades for."""

    secret: bytes
    user: str


class Authenticator:
    """Who may call the signed endpoints, and the replay state (nonces) that keeps them safe.

    :param server_ms: the server's clock (UTC ms), skew included.
    :param chain_id: EIP-712 chain id of V3 signatures (1666 mainnet, 714 testnet).
    :param nonce_window_ms: how far a V3 nonce may lie from the server's clock, either side, ms.
    """

    def __init__(
        self, server_ms: Callable[[], int], chain_id: int = MAINNET_CHAIN_ID, nonce_window_ms: int = 10_000
    ) -> None:
        self.server_ms = server_ms
        self.chain_id = chain_id
        self.nonce_window_ms = nonce_window_ms
        self._lock = threading.Lock()
        self._agents: dict[str, str] = {}  # signer (lower case) -> user
        self._keys: dict[str, ApiKey] = {}
        self._nonces: dict[str, list[int]] = {}

    # -- registry ---------------------------------------------------------------------------------------

    def authorize_agent(self, user: str, signer: str) -> None:
        """Let the API wallet ``signer`` trade for ``user`` (as ``approveAgent`` does)."""
        with self._lock:
            self._agents[signer.lower()] = user.lower()

    def add_api_key(self, user: str, api_key: str, secret: str) -> None:
        """Register a V1 key and secret for ``user``."""
        with self._lock:
            self._keys[api_key] = ApiKey(secret.encode(), user.lower())

    def user_of_api_key(self, api_key: str | None) -> str:
        """The account of an ``X-MBX-APIKEY`` header (USER_STREAM endpoints need no signature in V1)."""
        if not api_key:
            raise ApiError.of(Code.BAD_API_KEY_FMT, status=401)
        key = self._keys.get(api_key)
        if key is None:
            raise ApiError.of(Code.REJECTED_MBX_KEY, status=401)
        return key.user

    # -- V3 ---------------------------------------------------------------------------------------------

    def verify_v3(self, query: str, body: str, params: dict[str, str]) -> str:
        """The user a V3-signed request acts for; raises the venue's error otherwise."""
        for name in ("signer", "nonce", "signature"):
            if not params.get(name):
                raise mandatory(name)
        signer = params["signer"]
        raw = "&".join(part for part in (query, body) if part)
        unsigned, signature = strip_signature(raw)
        assert signature is not None
        claimed_signer = signer.lower()
        recovered = recover_address_hex(unsigned, signature, self.chain_id)
        if recovered != claimed_signer:
            decoded = unquote_plus(unsigned)
            if decoded != unsigned:
                recovered = recover_address_hex(decoded, signature, self.chain_id)
        if recovered != claimed_signer:
            raise ApiError.of(Code.INVALID_SIGNATURE)
        user = self._agents.get(signer.lower())
        claimed = params.get("user")
        if user is None or (claimed and claimed.lower() != user):
            raise ApiError.of(Code.UNAUTHORIZED, status=401)
        self._use_nonce(signer.lower(), params["nonce"])
        return user

    def _use_nonce(self, signer: str, text: str) -> None:
        if not text.isdigit() or len(text) > 20:
            raise ApiError.of(Code.ILLEGAL_CHARS, name="nonce", pattern="^[0-9]{1,20}$")
        nonce = int(text)
        now_us = self.server_ms() * 1000
        window_us = self.nonce_window_ms * 1000
        if abs(nonce - now_us) > window_us:
            raise ApiError(400, int(Code.INVALID_TIMESTAMP), "Nonce is outside the server's time window.")
        with self._lock:
            kept = self._nonces.setdefault(signer, [])
            at = bisect.bisect_left(kept, nonce)
            if at < len(kept) and kept[at] == nonce:
                raise ApiError(400, int(Code.NONCE_EXPIRED), "Nonce is duplicated.")
            if len(kept) >= NONCES_KEPT and nonce < kept[0]:
                raise ApiError.of(Code.NONCE_EXPIRED)
            kept.insert(at, nonce)
            if len(kept) > NONCES_KEPT:
                del kept[0]

    # -- V1 ---------------------------------------------------------------------------------------------

    def verify_v1(self, api_key: str | None, query: str, body: str, params: dict[str, str]) -> str:
        """The user an HMAC-signed V1 request acts for; raises the venue's error otherwise."""
        user = self.user_of_api_key(api_key)
        key = self._keys[str(api_key)]
        for name in ("timestamp", "signature"):
            if not params.get(name):
                raise mandatory(name)
        query_unsigned, sig_q = strip_signature(query)
        body_unsigned, sig_b = strip_signature(body)
        signature = sig_q or sig_b or ""
        expected = hmac_sha256_hex(key.secret, query_unsigned + body_unsigned)
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError.of(Code.INVALID_SIGNATURE)
        timestamp, window = params["timestamp"], params.get("recvWindow") or "5000"
        if not timestamp.isdigit() or not window.isdigit():
            raise ApiError.of(Code.ILLEGAL_CHARS, name="timestamp", pattern="^[0-9]{1,20}$")
        if int(window) > 60_000:
            raise ApiError.of(Code.INVALID_PARAMETER, name="recvWindow")
        server = self.server_ms()
        if int(timestamp) >= server + 1000:
            raise ApiError(
                400,
                int(Code.INVALID_TIMESTAMP),
                "Timestamp for this request was 1000ms ahead of the server's time.",
            )
        if server - int(timestamp) > int(window):
            raise ApiError.of(Code.INVALID_TIMESTAMP)
        return user
