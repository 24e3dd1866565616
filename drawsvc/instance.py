"""An instance directory: config, database, and how to open the ledger from them.

`drawsvc --home DIR` (or DRAWSVC_HOME; default ./instance) holds instance.json, the
embedded SQLite database, and — for the embedded default only — a 0600 passphrase
file. Production passes DATABASE_URL and DRAWSVC_KEY_PASSPHRASE in the environment.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, select

from ledger import sm2
from ledger.keys import ActorSigner, decrypt_private_key, encrypt_private_key, generate_actor_key
from ledger.note import NoteSigner, NoteVerifier
from ledger.schema import actor_keys
from ledger.store import Clock, Ledger, configure_engine, initialise, utcnow

MIGRATIONS = Path(__file__).parent / "migrations"
PASSPHRASE_ENV = "DRAWSVC_KEY_PASSPHRASE"


class InstanceError(Exception):
    """The instance directory is missing, incomplete or unusable."""


def default_home() -> Path:
    return Path(os.environ.get("DRAWSVC_HOME", "instance"))


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        kwargs["pool_pre_ping"] = True
    return configure_engine(create_engine(url, **kwargs))


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest Alembic revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


@dataclass
class Instance:
    home: Path
    config: dict[str, Any]

    @property
    def database_url(self) -> str:
        return os.environ.get("DATABASE_URL") or self.config["database_url"]

    @property
    def evidence_dir(self) -> Path:
        """Where inspection evidence files are kept: $DRAWSVC_EVIDENCE_DIR, else "evidence_dir" in
        instance.json, else <home>/evidence. Several hosts serving one database must share it
        (a network mount): a file uploaded through one host is downloaded through any
        (docs/DEPLOY.md). Files there are content-addressed and written once."""
        raw = os.environ.get("DRAWSVC_EVIDENCE_DIR") or self.config.get("evidence_dir")
        return Path(raw) if raw else self.home / "evidence"

    @property
    def origin(self) -> str:
        return self.config["origin"]

    @property
    def genesis_log_key(self) -> NoteVerifier:
        """The log key pinned at init: audits start from it and follow logged rotations."""
        return NoteVerifier.parse(self.config["log_verifier_key"])

    def passphrase(self) -> bytes:
        env = os.environ.get(PASSPHRASE_ENV)
        if env:
            return env.encode()
        path = self.home / "passphrase"
        if path.exists():
            return path.read_bytes().strip()
        raise InstanceError(f"no key passphrase: set {PASSPHRASE_ENV} or keep {path}")

    def secret_key(self) -> str:
        """The web session key: $DRAWSVC_SECRET_KEY, else a 0600 file made on first use."""
        env = os.environ.get("DRAWSVC_SECRET_KEY")
        if env:
            return env
        path = self.home / "secret_key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
        return path.read_text().strip()

    def engine(self) -> Engine:
        if not hasattr(self, "_engine"):
            self._engine = make_engine(self.database_url)
        return self._engine

    def active_signer(self, actor_id: str) -> ActorSigner:
        with self.engine().connect() as conn:
            row = conn.execute(select(actor_keys).where(actor_keys.c.actor_id == actor_id,
                                                        actor_keys.c.active.is_(True))).first()
            sm2_private = None if actor_id.startswith(("log:", "log-sm2:", "sm2:")) else \
                sm2.load_actor_private(conn, actor_id, self.passphrase())  # SPEC §3 item 11: sign with both
        if row is None or row.encrypted_private_key is None:
            raise InstanceError(f"no usable private key for {actor_id!r}")
        return ActorSigner(actor_id, decrypt_private_key(row.encrypted_private_key, self.passphrase()), sm2_private)

    def ledger(self, clock: Clock = utcnow) -> Ledger:
        log_key = self.active_signer(f"log:{self.origin}").signing_key
        ledger = Ledger(self.engine(), self.origin, NoteSigner(self.origin, log_key), self.active_signer("system"),
                        clock)
        sm2_signer = sm2.load_log_signer(self.engine(), self.origin, self.passphrase())
        if sm2_signer is not None:  # the 国密 line on every checkpoint (SPEC §5.1)
            ledger.note_signers.append(sm2_signer)
        return ledger


def load(home: Path) -> Instance:
    path = home / "instance.json"
    if not path.exists():
        raise InstanceError(f"{home} is not an instance directory (run `drawsvc --home {home} init`)")
    return Instance(home, json.loads(path.read_text()))


def init_instance(home: Path, origin: str | None = None, database_url: str | None = None,
                  passphrase: str | None = None, clock: Clock = utcnow,
                  sm2_key: bool = True) -> tuple[Instance, list[str]]:
    """Create the directory, schema, keys and genesis entry (dated by `clock`). Returns the
    instance and notices. `sm2_key=False` makes a log as the service made them before the
    国密 line (SPEC §3.6), for tests of the upgrade path (`drawsvc key rotate --sm2-key`)."""
    notices: list[str] = []
    if (home / "instance.json").exists():
        raise InstanceError(f"{home} is already initialised")
    home.mkdir(parents=True, exist_ok=True)
    origin = origin or f"spotcheck.localhost/log/{secrets.token_hex(4)}"
    url = database_url or os.environ.get("DATABASE_URL") or f"sqlite:///{(home / 'drawsvc.sqlite3').resolve()}"
    phrase = passphrase or os.environ.get(PASSPHRASE_ENV)
    if not phrase:
        phrase = secrets.token_urlsafe(32)
        pfile = home / "passphrase"
        fd = os.open(pfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(phrase + "\n")
        notices.append(f"key passphrase kept in {pfile} (mode 0600) for the embedded default; "
                       f"in production pass it in ${PASSPHRASE_ENV} instead and delete that file")
    config = {"origin": origin, "database_url": url, "format": 1}
    inst = Instance(home, config)
    engine = inst.engine()
    migrate(engine)
    system = ActorSigner("system", generate_actor_key())
    log_key = generate_actor_key()
    log_signer = NoteSigner(origin, log_key)
    config["log_verifier_key"] = log_signer.verifier.encode()  # the audit's trust anchor
    ledger = initialise(engine, origin, log_signer, system,
                        encrypt_private_key(system.signing_key, phrase.encode()),
                        encrypt_private_key(log_key, phrase.encode()), clock)
    if sm2_key:  # entry 1 registers the log's SM2 key: every later checkpoint carries its line (SPEC §3.6)
        private = sm2.generate_private_key()
        entry = sm2.register_log_sm2_key(ledger, private, sm2.encrypt_private_key(private, phrase.encode()))
        config["log_sm2_verifier_key"] = entry.payload["sm2_log_key"]
    (home / "instance.json").write_text(json.dumps(config, indent=2) + "\n")
    return inst, notices
