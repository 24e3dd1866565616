"""`drawsvc`: the server-side command line (init, serve, log, token, key, witness).

Every command takes the instance directory from --home or DRAWSVC_HOME (default
./instance). Bad input exits 2 with a message; a failed audit exits 1.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from nacl.signing import SigningKey
from sqlalchemy import select, update

from ledger.entry import EntryError
from ledger.external import ExternalError, append_external, client_by_name, create_client, sign_record
from ledger.keys import encrypt_private_key, generate_actor_key
from ledger.note import NoteError, NoteVerifier
from ledger.schema import actor_keys, witnesses
from ledger.store import BadRequest, LedgerError, NotFound

from .instance import Instance, InstanceError, default_home, init_instance, load


class Ctx:
    def __init__(self, home: Path) -> None:
        self.home = home
        self._instance: Instance | None = None

    @property
    def instance(self) -> Instance:
        if self._instance is None:
            try:
                self._instance = load(self.home)
            except InstanceError as exc:
                raise click.UsageError(str(exc)) from None
        return self._instance


pass_ctx = click.make_pass_decorator(Ctx)


class Fail(click.ClickException):
    """Bad input or an unusable request: exit 2 with a message."""

    exit_code = 2


def fail(message: str) -> None:
    raise Fail(message)


class DrawsvcGroup(click.Group):
    """Turns the library's expected errors into exit 2 with a message, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (InstanceError, LedgerError, EntryError, ExternalError, NoteError, ValueError) as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=DrawsvcGroup)
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Instance directory (database, encrypted keys, config). Default: $DRAWSVC_HOME or ./instance")
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """双随机、一公开 verifiable spot-check service."""
    ctx.obj = Ctx(home or default_home())


@main.command()
@click.option("--origin", help="Log origin (checkpoint first line), e.g. spotcheck.example.gov.cn/log")
@click.option("--database-url", help="SQLAlchemy URL; default: embedded SQLite in the instance directory")
@click.option("--demo", is_flag=True, help="Also load the demo county (departments, registries, draws)")
@pass_ctx
def init(ctx: Ctx, origin: str | None, database_url: str | None, demo: bool) -> None:
    """Create the instance: schema, log and system keys, genesis entry, first checkpoint.

    With --demo the log begins 120 days ago and holds a demo history up to now."""
    if demo:
        from .demo import create_demo

        inst, notices, lines = create_demo(ctx.home, origin=origin, database_url=database_url)
    else:
        inst, notices = init_instance(ctx.home, origin=origin, database_url=database_url)
        lines = []
    ctx._instance = inst
    for n in notices:
        click.echo(f"note: {n}", err=True)
    ledger = inst.ledger()
    click.echo(f"initialised {ctx.home} — origin {inst.origin}")
    click.echo(f"log verifier key: {ledger.log_signer.verifier.encode()}")
    if inst.config.get("log_sm2_verifier_key"):
        click.echo(f"log SM2 (国密) verifier key: {inst.config['log_sm2_verifier_key']}")
    for line in lines:
        click.echo(line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="gunicorn worker processes")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="threads per worker")
@click.option("--timeout", default=60, show_default=True, type=click.IntRange(5, 3600),
              help="seconds a request may take before its worker is replaced")
@click.option("--access-log", default="-", show_default=True, help="access log file ('-' = stderr)")
@click.option("--public-ttl", default=1.0, show_default=True, type=click.FloatRange(0, 60),
              help="seconds a worker reuses the public data's version before reading it again (0 = every request)")
@pass_ctx
def serve(ctx: Ctx, host: str, port: int, workers: int, threads: int, timeout: int, access_log: str,
          public_ttl: float) -> None:
    """Serve the web application and API with gunicorn (production server).

    SIGHUP reloads gracefully (new workers start, old ones finish their requests); SIGTERM shuts
    down gracefully. Each worker builds its own app after the fork (no database connection is
    shared between processes); the login throttle, the append batcher and the checkpoint signer
    coordinate through the database (docs/WEB.md)."""
    from gunicorn.app.base import BaseApplication

    from .instance import migrate

    instance = ctx.instance  # fail here, before forking, if the instance is unusable
    migrate(instance.engine())  # an instance made by an older release gets the newer tables (idempotent)
    instance.engine().dispose()  # no connection crosses the fork
    options = gunicorn_options(host, port, workers, threads, timeout, access_log)
    click.echo(f"serving {instance.origin} on http://{host}:{port}/ with {workers} gunicorn workers", err=True)

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # a setting an older gunicorn lacks is left out
                    self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            from ledger.witnessing import Pusher
            from web import create_app

            app = create_app(instance, {"PUBLIC_VERSION_TTL": public_ttl})
            app.extensions["witness_pusher"] = Pusher(app.extensions["ledger"])  # each new checkpoint
            return app

    _App().run()


def gunicorn_options(host: str, port: int, workers: int, threads: int, timeout: int, access_log: str) -> dict[str, Any]:
    """gunicorn settings for `serve`: threads for I/O waits, a hard request timeout (a runaway
    request costs one worker, which is replaced), graceful shutdown, an access log. No control
    socket (gunicorn ≥ 25.1 opens one at a per-user path that every instance on the machine would
    share, so `gunicornc` could reach the wrong one); reload and stop are signals (SIGHUP, SIGTERM)."""
    return {
        "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync", "timeout": timeout, "graceful_timeout": 30,
        "keepalive": 5, "accesslog": access_log, "errorlog": "-", "preload_app": False,
        "limit_request_line": 4094, "limit_request_fields": 100, "limit_request_field_size": 8190,
        "proc_name": "drawsvc", "control_socket_disable": True,
    }


# --- jobs ------------------------------------------------------------------------


@main.group()
def jobs() -> None:
    """Background jobs (long reports and exports; drawsvc.jobs)."""


@jobs.command("run")
@click.option("--once", is_flag=True, help="run the jobs queued now, then exit")
@click.option("--poll", default=2.0, show_default=True, type=click.FloatRange(0.1, 60), help="seconds between looks")
@pass_ctx
def jobs_run(ctx: Ctx, once: bool, poll: float) -> None:
    """Run queued jobs here, each in a memory-limited child process. The server's own runner
    threads do the same; this is for a separate job host, or with the runners switched off."""
    import drawsvc.jobs as jobq

    instance = ctx.instance
    runner = jobq.Runner(instance.engine(), instance.home, jobq.Budget.from_env(), poll_s=poll)
    if once:
        click.echo(f"ran {runner.run_pending()} jobs", err=True)
        return
    click.echo("running jobs; Ctrl-C stops", err=True)
    try:
        while True:
            runner.run_pending()
            time.sleep(poll)
    except KeyboardInterrupt:
        return


# --- log -------------------------------------------------------------------------


@main.group()
def log() -> None:
    """Read, append to, audit and export the log."""


@log.command("audit")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def log_audit(ctx: Ctx, as_json: bool) -> None:
    """Re-check every entry, tree node and checkpoint; exit 1 at the first broken point."""
    from ledger.audit import Auditor

    report = Auditor(ctx.instance.engine(), ctx.instance.genesis_log_key).run()
    first = report.first_broken()
    if as_json:
        click.echo(json.dumps({
            "ok": report.ok, "size": report.size, "entries_checked": report.entries_checked,
            "nodes_checked": report.nodes_checked, "checkpoints_checked": report.checkpoints_checked,
            "cosignatures_checked": report.cosignatures_checked,
            "first_broken": str(first) if first else None,
            "findings": [str(f) for f in report.findings]}, ensure_ascii=False, indent=2))
    else:
        click.echo(f"entries {report.entries_checked}, tree nodes {report.nodes_checked}, "
                   f"checkpoints {report.checkpoints_checked}, cosignatures {report.cosignatures_checked}")
        if report.ok:
            click.echo("audit: intact")
        else:
            click.echo(f"audit: BROKEN — first broken point: {first}")
            for f in report.findings[:50]:
                click.echo(f"  - {f}")
    sys.exit(0 if report.ok else 1)


@log.command("checkpoint")
@pass_ctx
def log_checkpoint(ctx: Ctx) -> None:
    """Sign a checkpoint of the current tree (if it grew) and print it."""
    click.echo(ctx.instance.ledger().checkpoint().note, nl=False)


@log.command("show")
@click.argument("seq", type=int)
@pass_ctx
def log_show(ctx: Ctx, seq: int) -> None:
    """Print one entry as JSON."""
    try:
        click.echo(json.dumps(ctx.instance.ledger().entry(seq).to_json(), ensure_ascii=False, indent=2))
    except NotFound as exc:
        fail(str(exc))


@log.command("tail")
@click.option("-n", "count", default=10, show_default=True)
@pass_ctx
def log_tail(ctx: Ctx, count: int) -> None:
    """Print the last entries, one line each."""
    ledger = ctx.instance.ledger()
    size = ledger.size()
    for e in ledger.entries(max(0, size - count), size):
        click.echo(f"{e.seq:>8} {e.time} {e.type:<32} {e.actor_id}")


@log.command("export-tiles")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--watch", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Keep following the log: sync again every SECONDS until interrupted (SIGINT/SIGTERM)")
@click.option("--repair", is_flag=True,
              help="Look for every file the checkpoint needs (not only the new ones) and write any missing one")
@pass_ctx
def log_export_tiles(ctx: Ctx, directory: Path, watch: float | None, repair: bool) -> None:
    """Keep DIRECTORY in sync with the log as static C2SP tlog-tiles files (checkpoint, tile/...).

    Writes only what DIRECTORY lacks: each full tile once (never rewritten), a partial tile for
    every signed checkpoint size until its full tile exists (then removes it), the checkpoint
    last; each file atomically. Re-running is safe; the directory can be served as it is or
    copied with rsync / an object-store upload (tiles first, checkpoint last: docs/DEPLOY.md)."""
    import signal
    import time

    from sqlalchemy.exc import OperationalError

    from ledger.tileserve import sync_tiles

    ledger = ctx.instance.ledger()
    if watch is None:
        try:
            result = sync_tiles(ledger, directory, repair)
        except OSError as exc:
            fail(f"cannot write the tiles to {directory}: {exc.strerror or exc}")
        click.echo(f"{directory}: {result.summary()}")
        return
    stop = False

    def _stop(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop:
        try:
            result = sync_tiles(ledger, directory, repair)
            repair = False  # once is enough
        except (OperationalError, OSError) as exc:  # the database or the disk is away: try again next round
            click.echo(f"warning: {directory}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}", err=True)
        else:
            if result.written or result.removed:
                click.echo(f"{directory}: {result.summary()}")
        deadline = time.monotonic() + watch
        while not stop and time.monotonic() < deadline:
            time.sleep(min(0.1, watch))
    click.echo(f"{directory}: stopped", err=True)


@log.command("append")
@click.option("--client", "client_name", required=True, help="Registered client name (see `drawsvc token create`)")
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The client's Ed25519 private key file (base64 seed), as written by `token create`")
@click.option("--type", "entry_type", required=True, help="external.<name>")
@click.option("--record", required=True, help="JSON object, or @FILE")
@pass_ctx
def log_append(ctx: Ctx, client_name: str, key_file: Path, entry_type: str, record: str) -> None:
    """Append a client-signed external record and print its receipt (with inclusion proof)."""
    text = Path(record[1:]).read_text() if record.startswith("@") else record
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--record is not JSON: {exc}")
    key = _read_key_file(key_file)
    ledger = ctx.instance.ledger()
    client = client_by_name(ctx.instance.engine(), client_name)
    if bytes(key.verify_key) != client.public_key:
        fail(f"the key in {key_file} is not the one registered for client {client_name!r}")
    entry = append_external(ledger, client, entry_type, obj, sign_record(client_name, entry_type, obj, key))
    cp = ledger.checkpoint()
    proof = ledger.inclusion_proof(entry.seq, cp.size)
    click.echo(json.dumps({"seq": entry.seq, "leaf_hash": base64.b64encode(entry.leaf_hash()).decode(),
                           "tree_size": cp.size, "checkpoint": cp.note,
                           "inclusion_proof": [base64.b64encode(h).decode() for h in proof]}, indent=2))


@log.command("proof")
@click.option("--index", type=int, required=True)
@click.option("--size", type=int)
@pass_ctx
def log_proof(ctx: Ctx, index: int, size: int | None) -> None:
    """Print an inclusion proof (base64, RFC 9162 order)."""
    ledger = ctx.instance.ledger()
    size = size if size is not None else ledger.size()
    try:
        proof = ledger.inclusion_proof(index, size)
    except BadRequest as exc:
        fail(str(exc))
    click.echo(json.dumps({"index": index, "size": size, "proof": [base64.b64encode(h).decode() for h in proof]}))


def _read_key_file(path: Path) -> SigningKey:
    try:
        raw = base64.b64decode(path.read_text().strip(), validate=True)
        return SigningKey(raw)
    except (ValueError, TypeError):
        fail(f"{path} does not hold a base64 Ed25519 seed")
        raise AssertionError from None


# --- tokens, keys, witnesses -------------------------------------------------------


@main.group()
def token() -> None:
    """API tokens for other software (the trust layer)."""


@token.command("create")
@click.argument("name")
@click.option("--public-key", help="The client's Ed25519 public key (base64). Omit to generate a key pair.")
@click.option("--key-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write a generated private key (0600). Default: NAME.key")
@pass_ctx
def token_create(ctx: Ctx, name: str, public_key: str | None, key_out: Path | None) -> None:
    """Register a client's key on the log and print its API token (shown once)."""
    import os

    if public_key:
        try:
            pub = base64.b64decode(public_key, validate=True)
        except ValueError:
            fail("--public-key is not base64")
        if len(pub) != 32:
            fail("--public-key must be a 32-byte Ed25519 key")
    else:
        sk = SigningKey.generate()
        pub = bytes(sk.verify_key)
        key_out = key_out or Path(f"{name}.key")
        fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(bytes(sk)).decode() + "\n")
        click.echo(f"client private key written to {key_out} (0600); keep it with the client", err=True)
    tok = create_client(ctx.instance.ledger(), name, pub)
    click.echo(tok)


@main.group()
def key() -> None:
    """Rotate the system or log signing key (each a signed log entry)."""


@key.command("rotate")
@click.option("--log-key", "which", flag_value="log", help="Rotate the checkpoint (log) key")
@click.option("--system", "which", flag_value="system", default=True, help="Rotate the system actor key")
@click.option("--sm2-key", "which", flag_value="sm2",
              help="Register a new SM2 (国密) checkpoint key; on a log without one, its first (docs/SPEC.md §3.6)")
@pass_ctx
def key_rotate(ctx: Ctx, which: str) -> None:
    from ledger.rotation import rotate_actor_key, rotate_log_key

    inst = ctx.instance
    ledger = inst.ledger()
    if which == "sm2":
        from ledger import sm2

        private = sm2.generate_private_key()
        entry = sm2.register_log_sm2_key(ledger, private, sm2.encrypt_private_key(private, inst.passphrase()))
        inst.config["log_sm2_verifier_key"] = entry.payload["sm2_log_key"]
        (inst.home / "instance.json").write_text(json.dumps(inst.config, indent=2) + "\n")
        click.echo(f"SM2 key registered at seq {entry.seq}; checkpoints from size {entry.seq + 1} on carry its line; "
                   f"SM2 verifier key {entry.payload['sm2_log_key']}")
        return
    new = generate_actor_key()
    enc = encrypt_private_key(new, inst.passphrase())
    if which == "log":
        entry = rotate_log_key(ledger, new, enc)
        click.echo(f"log key rotated at seq {entry.seq}; new verifier key {ledger.log_signer.verifier.encode()}")
    else:
        entry, signer = rotate_actor_key(ledger, ledger.system, new, enc)
        ledger.checkpoint()
        click.echo(f"system key rotated at seq {entry.seq}; new key id {signer.key_id}")


@key.command("revoke")
@click.argument("actor_id", required=False)
@click.option("--key-id", help="The key to revoke (default: the actor's key in force)")
@click.option("--log-key", "log_key", is_flag=True, help="Revoke the checkpoint (log) key: a new one replaces it")
@click.option("--reason", required=True, help="Why (1-200 characters; shown on the public key page)")
@pass_ctx
def key_revoke(ctx: Ctx, actor_id: str | None, key_id: str | None, log_key: bool, reason: str) -> None:
    """Revoke a key on the log (SPEC §3 items 7-8): from the next entry on, nothing it signs is valid.

    ACTOR_ID is e.g. user:<account> or client:<name>. The system key is rotated, never revoked."""
    from ledger.rotation import KeyLifecycleError, revoke_actor_key, revoke_log_key

    inst = ctx.instance
    ledger = inst.ledger()
    try:
        if log_key:
            if actor_id or key_id:
                fail("--log-key takes no ACTOR_ID or --key-id")
            new = generate_actor_key()
            entry = revoke_log_key(ledger, new, encrypt_private_key(new, inst.passphrase()), reason)
            click.echo(f"log key revoked at seq {entry.seq}; new verifier key {ledger.log_signer.verifier.encode()}")
            return
        if not actor_id:
            fail("give ACTOR_ID (e.g. user:alice) or --log-key")
        if key_id is None:
            with inst.engine().connect() as conn:
                key_id = conn.execute(select(actor_keys.c.key_id).where(
                    actor_keys.c.actor_id == actor_id, actor_keys.c.active.is_(True))).scalar()
            if key_id is None:
                fail(f"{actor_id!r} has no key in force; name one with --key-id")
        entry = revoke_actor_key(ledger, actor_id, key_id, reason)
    except KeyLifecycleError as exc:
        fail(str(exc))
    ledger.checkpoint()
    click.echo(f"key {key_id} of {actor_id} revoked at seq {entry.seq}")


@main.group()
def witness() -> None:
    """Witnesses (C2SP tlog-witness): who cosigns the log's checkpoints, and how many must; their
    keys live on the log (SPEC §3 item 9)."""


@witness.command("add")
@click.argument("verifier_key")
@click.option("--url", help="submission prefix: the log POSTs <url>/add-checkpoint (local:<dir> runs the witness "
              "in this process, as the demo does)")
@pass_ctx
def witness_add(ctx: Ctx, verifier_key: str, url: str | None) -> None:
    """Register a witness by its cosignature verifier key (<name>+<hash>+<key>): a
    witness.key.registered entry, signed by system; `--url` is where the log pushes checkpoints."""
    from ledger.rotation import KeyLifecycleError, register_witness
    from ledger.witnessing import check_registration, resolve_witness_url

    if url is not None and not url.startswith(("http://", "https://", "local:")):
        fail("--url must be http(s)://... or local:<state dir>")
    if url is not None:
        try:
            url = resolve_witness_url(url)  # local:<dir> stored absolute: the server's cwd is not ours
        except ValueError as exc:
            fail(str(exc))
    ledger = ctx.instance.ledger()
    try:
        check_registration(ledger, NoteVerifier.parse(verifier_key))
        entry = register_witness(ledger, verifier_key)
    except (KeyLifecycleError, ValueError) as exc:
        fail(str(exc))
    if url is not None:
        with ctx.instance.engine().begin() as conn:
            conn.execute(update(witnesses).where(witnesses.c.name == entry.payload["name"]).values(url=url))
    ledger.checkpoint()
    click.echo(f"witness {entry.payload['name']} registered at seq {entry.seq}")


@witness.command("rotate")
@click.option("--statement", "statement_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The witness's signed statement (JSON, from `drawverify witness-rotate`)")
@pass_ctx
def witness_rotate(ctx: Ctx, statement_file: Path) -> None:
    """Rotate a witness's key with the statement both its keys signed (witness.key.rotated)."""
    import json

    from ledger.rotation import KeyLifecycleError, rotate_witness

    try:
        statement = json.loads(statement_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read the statement {statement_file}: {exc}")
    ledger = ctx.instance.ledger()
    try:
        entry = rotate_witness(ledger, statement)
    except KeyLifecycleError as exc:
        fail(str(exc))
    ledger.checkpoint()
    click.echo(f"witness {statement['name']} rotated at seq {entry.seq}")


@witness.command("revoke")
@click.argument("name")
@click.option("--reason", required=True, help="Why (1-200 characters; shown on the public key page)")
@pass_ctx
def witness_revoke(ctx: Ctx, name: str, reason: str) -> None:
    """Revoke a witness's key in force (witness.key.revoked): its later cosignatures count for nothing."""
    from ledger.rotation import KeyLifecycleError, revoke_witness

    ledger = ctx.instance.ledger()
    try:
        entry = revoke_witness(ledger, name, reason)
    except KeyLifecycleError as exc:
        fail(str(exc))
    ledger.checkpoint()
    click.echo(f"witness {name} revoked at seq {entry.seq}")


@witness.command("quorum")
@click.argument("k", type=int)
@pass_ctx
def witness_quorum(ctx: Ctx, k: int) -> None:
    """Publication waits until K registered witnesses cosigned a checkpoint covering it (0: no wait)."""
    from ledger.witnessing import set_quorum

    try:
        set_quorum(ctx.instance.engine(), k)
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"witness quorum: {k}")


@witness.command("push")
@pass_ctx
def witness_push(ctx: Ctx) -> None:
    """Push the newest checkpoint to every witness now (`serve` does this in the background)."""
    from ledger.witnessing import push

    ledger = ctx.instance.ledger()
    ledger.checkpoint()
    for r in push(ledger):
        click.echo(f"{r.witness}: {'ok' if r.ok else 'FAILED'} — {r.detail}")


@witness.command("list")
@pass_ctx
def witness_list(ctx: Ctx) -> None:
    """The registered witnesses, the quorum, and what each last cosigned."""
    from ledger.witnessing import quorum, registered

    engine = ctx.instance.engine()
    click.echo(f"quorum k = {quorum(engine)}")
    for w in registered(engine):
        click.echo(f"{w.name}  cosigned size {w.size}  {w.url or '(posts its own cosignatures)'}"
                   + (f"  last error: {w.last_error}" if w.last_error else ""))


# --- domain command groups are attached here ---------------------------------------

def _attach_domain_commands() -> None:
    from .draws.cli import draw
    from .inspections.cli import inspection
    from .registry.cli import COMMANDS
    from .registry.plan_cli import plan_cmd

    for command in (*COMMANDS, plan_cmd, draw, inspection):
        main.add_command(command)
_attach_domain_commands()

if __name__ == "__main__":
    main()
