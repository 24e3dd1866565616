"""Signing keys: Ed25519 for actors (entries) and for the log (checkpoints).

Private keys are stored only encrypted (PKCS#8, passphrase-based, by `cryptography`);
the passphrase comes from the environment or the instance's config, never from the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.signing import SigningKey

from .entry import key_id_for


class KeyError_(ValueError):
    """A key cannot be decrypted or is not an Ed25519 key."""


@dataclass(frozen=True)
class ActorSigner:
    """Who signs an entry: an actor id and that actor's current private key, and, for an actor
    that holds an SM2 key on the log (SPEC §3 item 11), that key's private scalar: such an
    actor's entries carry both signatures."""

    actor_id: str
    signing_key: SigningKey
    sm2_private: bytes | None = None

    @cached_property
    def sm2_public(self) -> bytes | None:
        """0x04 || X || Y of the SM2 key, computed once (a point multiplication costs a signature)."""
        if self.sm2_private is None:
            return None
        from .sm2 import public_key_of

        return public_key_of(self.sm2_private)

    @property
    def public_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def key_id(self) -> str:
        return key_id_for(self.public_key)


def generate_actor_key() -> SigningKey:
    return SigningKey.generate()


def encrypt_private_key(key: SigningKey, passphrase: bytes) -> bytes:
    """PEM PKCS#8 with the best encryption `cryptography` offers for a passphrase."""
    if not passphrase:
        raise KeyError_("refusing to store a private key without a passphrase")
    private = Ed25519PrivateKey.from_private_bytes(bytes(key))
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def decrypt_private_key(pem: bytes, passphrase: bytes) -> SigningKey:
    try:
        private = serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError):
        raise KeyError_("private key cannot be decrypted: wrong passphrase or damaged key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyError_("stored private key is not Ed25519")
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    return SigningKey(raw)
