"""Request signing for Aster's futures API: V3 EIP-712 agent signatures and V1 HMAC-SHA256 (reference §4).

V3 signs the parameter string ``k1=v1&...&nonce=..&user=..&signer=..`` wrapped as EIP-712 typed data
``Message{msg: string}`` in the domain ``AsterSignTransaction`` / ``1`` / chain id / zero verifying contract.
The type is fixed, so the domain separator and type hash are computed once per chain id and the digest is
``keccak256(0x1901 ‖ domainSeparator ‖ keccak256(typeHash ‖ keccak256(msg)))``; signing and recovery use
libsecp256k1 (coincurve), about ten times faster than going through eth-account's generic typed-data
encoder, which the tests use as the independent reference. V1 signs ``query ‖ body`` with the secret.

A private key or secret lives only inside :class:`V3Signer` / :class:`HmacSigner`; neither's ``repr`` nor
any error raised here shows it.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

import coincurve
from Crypto.Hash import keccak
from eth_utils import to_checksum_address

from asterrl.errors import ConfigError

#: EIP-712 chain ids of V3 request signing (reference §2).
MAINNET_CHAIN_ID = 1666
TESTNET_CHAIN_ID = 714

_DOMAIN_TYPE = b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_MESSAGE_TYPE = b"Message(string msg)"
_DOMAIN_NAME = b"AsterSignTransaction"
_DOMAIN_VERSION = b"1"


def keccak256(data: bytes) -> bytes:
    """Ethereum's Keccak-256 (not NIST SHA3-256) of ``data``."""
    return keccak.new(digest_bits=256, data=data).digest()


_MESSAGE_TYPE_HASH = keccak256(_MESSAGE_TYPE)


@lru_cache(maxsize=16)
def domain_separator(chain_id: int) -> bytes:
    """EIP-712 domain separator of ``AsterSignTransaction`` v1 on ``chain_id`` (zero verifying contract)."""
    return keccak256(
        keccak256(_DOMAIN_TYPE)
        + keccak256(_DOMAIN_NAME)
        + keccak256(_DOMAIN_VERSION)
        + chain_id.to_bytes(32, "big")
        + bytes(32)
    )


def message_struct_hash(msg: str) -> bytes:
    """``hashStruct(Message{msg})``: keccak of the type hash and the keccak of the UTF-8 string."""
    return keccak256(_MESSAGE_TYPE_HASH + keccak256(msg.encode()))


def typed_data_digest(msg: str, chain_id: int) -> bytes:
    """The 32-byte EIP-712 digest that is signed for the V3 parameter string ``msg``."""
    return keccak256(b"\x19\x01" + domain_separator(chain_id) + message_struct_hash(msg))


def _key_bytes(private_key: str) -> bytes:
    text = private_key.strip().removeprefix("0x").removeprefix("0X")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ConfigError("signer private key is not hex (expected 32 bytes, 64 hex digits)") from None
    if len(raw) != 32:
        raise ConfigError("signer private key must be 32 bytes (64 hex digits)")
    return raw


def _address_of_public_key(public_key: coincurve.PublicKey) -> str:
    return to_checksum_address(keccak256(public_key.format(compressed=False)[1:])[-20:])


def address_of(private_key: str) -> str:
    """Checksummed address of a secp256k1 private key given as hex."""
    try:
        return _address_of_public_key(coincurve.PrivateKey(_key_bytes(private_key)).public_key)
    except ValueError:
        raise ConfigError("signer private key is not a valid secp256k1 key") from None


class V3Signer:
    """Signs V3 parameter strings with an API wallet's (agent's) key.

    :param private_key: the signer's private key, hex (with or without ``0x``).
    :param chain_id: EIP-712 chain id, :data:`MAINNET_CHAIN_ID` or :data:`TESTNET_CHAIN_ID`.
    :param prefix_0x: send signatures as ``0x…`` (ccxt) rather than bare hex (the official docs).
    """

    __slots__ = ("_key", "address", "chain_id", "prefix_0x")

    def __init__(
        self, private_key: str, chain_id: int = MAINNET_CHAIN_ID, *, prefix_0x: bool = False
    ) -> None:
        try:
            self._key = coincurve.PrivateKey(_key_bytes(private_key))
        except ValueError:
            raise ConfigError("signer private key is not a valid secp256k1 key") from None
        self.chain_id = chain_id
        self.prefix_0x = prefix_0x
        #: Checksummed address of the signer (the ``signer`` parameter).
        self.address = _address_of_public_key(self._key.public_key)

    def __repr__(self) -> str:
        return f"V3Signer(address={self.address}, chain_id={self.chain_id})"

    def sign(self, msg: str) -> str:
        """Signature ``r‖s‖v`` (65 bytes, v = 27/28) of the parameter string ``msg``, as hex."""
        raw = self._key.sign_recoverable(typed_data_digest(msg, self.chain_id), hasher=None)
        hex_sig = (raw[:64] + bytes((raw[64] + 27,))).hex()
        return "0x" + hex_sig if self.prefix_0x else hex_sig


def recover_signer(msg: str, signature: str, chain_id: int) -> str | None:
    """Checksummed address that signed ``msg`` on ``chain_id``, or ``None`` when ``signature`` is malformed.

    Accepts ``0x``-prefixed or bare hex, v as 27/28 or 0/1.
    """
    raw = recover_address_hex(msg, signature, chain_id)
    return to_checksum_address(raw) if raw is not None else None


def recover_address_hex(msg: str, signature: str, chain_id: int) -> str | None:
    """Lower-case ``0x`` address that signed ``msg`` (``recover_signer`` without the checksum casing, for
    comparisons on the server's hot path), or ``None`` when ``signature`` is malformed."""
    text = signature.removeprefix("0x").removeprefix("0X")
    if len(text) != 130:
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    v = raw[64] - 27 if raw[64] >= 27 else raw[64]
    if v not in (0, 1):
        return None
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            raw[:64] + bytes((v,)), typed_data_digest(msg, chain_id), hasher=None
        )
    except Exception:  # libsecp256k1 refuses r or s out of range: not a signature of anything
        return None
    return "0x" + keccak256(public.format(compressed=False)[1:])[-20:].hex()


class HmacSigner:
    """V1 signing: ``hex(HMAC-SHA256(secret, query ‖ body))`` with the API secret (reference §4.1).

    :param api_key: the ``X-MBX-APIKEY`` header value.
    :param secret: the API secret.
    """

    __slots__ = ("_secret", "api_key")

    def __init__(self, api_key: str, secret: str) -> None:
        if not api_key or not secret:
            raise ConfigError("V1 credentials need both an API key and a secret")
        self.api_key = api_key
        self._secret = secret.encode()

    def __repr__(self) -> str:
        return "HmacSigner(api_key=<hidden>)"

    def sign(self, payload: str) -> str:
        """Hex HMAC-SHA256 of ``payload`` (the exact query string followed directly by the body)."""
        return hmac_sha256_hex(self._secret, payload)


def hmac_sha256_hex(secret: bytes, payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of the UTF-8 ``payload`` under ``secret``."""
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
