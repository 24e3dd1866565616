"""`drawsvc`: the server-side command line (init, serve, log, token, key, witness).

Every command takes the instance directory from --home or DRAWSVC_HOME (default
./instance). Bad input exits 2 with a message; a failed audit exits 1.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import click
from nacl.signing import SigningKey
from sqlalchemy import insert, select

from ledger.entry import EntryError
from ledger.external import ExternalError, append_external, client_by_name, create_client, sign_record
from ledger.keys import encrypt_private_key, generate_actor_key
from ledger.note import NoteError, NoteVerifier
from ledger.schema import witnesses
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
@pass_ctx
def serve(ctx: Ctx, host: str, port: int, workers: int, threads: int, timeout: int, access_log: str) -> None:
    """Serve the web application and API with gunicorn (production server).

    SIGHUP reloads gracefully (new workers start, old ones finish their requests); SIGTERM shuts
    down gracefully. Each worker builds its own app after the fork (no database connection is
    shared between processes); the login throttle, the append batcher and the checkpoint signer
    coordinate through the database (docs/WEB.md)."""
    from gunicorn.app.base import BaseApplication

    instance = ctx.instance  # fail here, before forking, if the instance is unusable
    options = gunicorn_options(host, port, workers, threads, timeout, access_log)
    click.echo(f"serving {instance.origin} on http://{host}:{port}/ with {workers} gunicorn workers", err=True)

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            from ledger.witnessing import Pusher
            from web import create_app

            app = create_app(instance)
            app.extensions["witness_pusher"] = Pusher(app.extensions["ledger"])  # each new checkpoint
            return app

    _App().run()


def gunicorn_options(host: str, port: int, workers: int, threads: int, timeout: int, access_log: str) -> dict[str, Any]:
    """gunicorn settings for `serve`: threads for I/O waits, a hard request timeout (a runaway
    request costs one worker, which is replaced), graceful shutdown, an access log."""
    return {
        "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync", "timeout": timeout, "graceful_timeout": 30,
        "keepalive": 5, "accesslog": access_log, "errorlog": "-", "preload_app": False,
        "limit_request_line": 4094, "limit_request_fields": 100, "limit_request_field_size": 8190,
        "proc_name": "drawsvc",
    }


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
@pass_ctx
def log_export_tiles(ctx: Ctx, directory: Path) -> None:
    """Write the log as static C2SP tlog-tiles files (checkpoint, tile/...) into DIRECTORY."""
    from ledger.tileserve import export_tiles

    n = export_tiles(ctx.instance.ledger(), directory)
    click.echo(f"wrote {n} files to {directory}")


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


@main.group()
def witness() -> None:
    """Witnesses (C2SP tlog-witness): who cosigns the log's checkpoints, and how many must."""


@witness.command("add")
@click.argument("verifier_key")
@click.option("--url", help="submission prefix: the log POSTs <url>/add-checkpoint (local:<dir> runs the witness "
              "in this process, as the demo does)")
@pass_ctx
def witness_add(ctx: Ctx, verifier_key: str, url: str | None) -> None:
    """Register a witness by its cosignature verifier key (<name>+<hash>+<key>)."""
    from ledger.witnessing import check_registration

    v = NoteVerifier.parse(verifier_key)
    try:
        check_registration(ctx.instance.ledger(), v)
    except ValueError as exc:
        fail(str(exc))
    if url is not None and not url.startswith(("http://", "https://", "local:")):
        fail("--url must be http(s)://... or local:<state dir>")
    with ctx.instance.engine().begin() as conn:
        if conn.execute(select(witnesses).where(witnesses.c.name == v.name)).first():
            fail(f"witness {v.name!r} is registered already")
        conn.execute(insert(witnesses).values(name=v.name, verifier_key=v.encode(), url=url))
    click.echo(f"witness {v.name} registered")


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
