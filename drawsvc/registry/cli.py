"""CLI commands for the registries, registered by drawsvc/cli.py on the `drawsvc` group:

    drawsvc import subjects|inspectors FILE [--as ACCOUNT] [--dry-run] [--report out.json]
    drawsvc export subjects|inspectors|items|departments|experts|conflicts|sublibraries|plans|accounts FILE(.csv|.xlsx)
    drawsvc user create ID --role admin|operator|inspector|auditor [--department D]... [--inspector P]
    drawsvc user password ID
    drawsvc user token ID NAME
    drawsvc registry rebuild [--at N] [--check]     (fold the log; compare with the database)
    drawsvc registry demo                            (seed the demo county into an initialised instance)

Changes made from the CLI are signed by the named account (--as) or, without it, by `system`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from drawsvc.i18n import tr

from . import io as regio
from .authz import Actor, Forbidden
from .records import RecordError
from .service import Conflict, NotFound, Registry
from .state import diff_states, load_state, rebuild_from_ledger

EXPORTABLE = {"subjects": "subject", "inspectors": "inspector", "items": "item", "departments": "department",
              "experts": "expert", "conflicts": "conflict", "sublibraries": "sublibrary", "plans": "plan",
              "accounts": "account"}


def _registry(ctx: click.Context) -> Registry:
    inst = ctx.find_object(object).instance  # drawsvc.cli.Ctx
    return Registry(inst.ledger(), inst.passphrase())


def _actor(reg: Registry, account: str | None) -> Actor:
    if account is None:
        return reg.system
    rec = reg.get("account", account)
    if rec is None or rec["status"] != "active":
        raise click.UsageError(f"no active account {account!r}")
    return reg.actor_for(rec)


def _fail(exc: Exception) -> None:
    if isinstance(exc, RecordError):
        for e in exc.errors:
            click.echo(f"  {e['field']}: {e['message']} (value {e['value']!r})", err=True)
    raise click.ClickException(str(exc) if not isinstance(exc, RecordError) else "validation failed")


def _progress() -> regio.ImportProgress:
    """Progress of a long import on stderr: every 100,000 rows read or 10 seconds."""
    def emit(p: regio.ImportProgress) -> None:
        numbers = {"read": f"{p.read:,}", "written": f"{p.written:,}", "rate": f"{p.rate():,.0f}",
                   "seconds": f"{p.elapsed():.0f}"}
        click.echo(tr("导入进度：已读取 %(read)s 行，已写入 %(written)s 条日志，%(rate)s 行/秒，用时 %(seconds)s 秒",
                      **numbers), err=True)
    return regio.ImportProgress(emit=emit)


@click.command("import")
@click.argument("kind", type=click.Choice(["subjects", "inspectors"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "account", help="Account that signs the entries (default: system)")
@click.option("--dry-run", is_flag=True, help="Validate only")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here")
@click.pass_context
def import_cmd(ctx: click.Context, kind: str, file: Path, account: str | None, dry_run: bool,
               report: Path | None) -> None:
    """Import a .csv (UTF-8 or GBK), .xlsx or .xls registry file: all rows or none; re-importing changes nothing.

    Streamed: any number of rows (a province's 20 million), memory independent of them,
    progress on stderr."""
    reg = _registry(ctx)
    try:
        result = regio.import_file(reg, _actor(reg, account), kind[:-1], file, file.name, dry_run=dry_run,
                                   progress=_progress(), unbounded=True)
    except (regio.ImportFormatError, Forbidden, Conflict) as exc:
        raise click.ClickException(str(exc)) from None
    out = result.to_json()
    if report:
        report.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if not result.ok:
        for e in result.errors:
            click.echo(f"row {e['row']} column {e['column']}: {e['reason']} (value {e['value']!r})", err=True)
        click.echo(f"import refused: {len(result.errors)} error(s) in {result.rows} rows; nothing imported", err=True)
        sys.exit(1)
    verb = "would import" if dry_run else "imported"
    click.echo(f"{verb} {result.rows} rows: {result.added} added, {result.changed} changed, "
               f"{result.unchanged} unchanged")


@click.command("export")
@click.argument("kind", type=click.Choice(sorted(EXPORTABLE)))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def export_cmd(ctx: click.Context, kind: str, file: Path) -> None:
    """Export a registry to FILE (.csv or .xlsx, chosen by the extension)."""
    fmt = file.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise click.UsageError("FILE must end in .csv or .xlsx")
    reg = _registry(ctx)
    rows = reg.list(EXPORTABLE[kind])
    file.write_bytes(regio.export_bytes(rows, EXPORTABLE[kind], fmt))
    click.echo(f"exported {len(rows)} {kind} to {file}")


@click.group("user")
def user_cmd() -> None:
    """Accounts: create, set passwords, issue API tokens."""


@user_cmd.command("create")
@click.argument("account_id")
@click.option("--role", type=click.Choice(["admin", "operator", "inspector", "auditor"]), required=True)
@click.option("--name", default=None)
@click.option("--department", "departments", multiple=True)
@click.option("--inspector", default=None, help="Linked inspector id (role inspector)")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--as", "account", help="Admin account that creates it (default: system)")
@click.pass_context
def user_create(ctx: click.Context, account_id: str, role: str, name: str | None, departments: tuple[str, ...],
                inspector: str | None, password: str, account: str | None) -> None:
    """Create an account with its own Ed25519 signing key."""
    reg = _registry(ctx)
    try:
        rec = reg.create_account(_actor(reg, account), {"id": account_id, "name": name, "role": role,
                                                         "departments": list(departments), "inspector": inspector},
                                 password)
    except (RecordError, Conflict, Forbidden) as exc:
        _fail(exc)
    click.echo(f"created {rec['role']} {rec['id']} (key {rec['key_id']})")


@user_cmd.command("password")
@click.argument("account_id")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.pass_context
def user_password(ctx: click.Context, account_id: str, password: str) -> None:
    """Set an account's password."""
    reg = _registry(ctx)
    try:
        reg.set_password(reg.system, account_id, password)
    except (RecordError, NotFound) as exc:
        _fail(exc)
    click.echo(f"password of {account_id} set")


@user_cmd.command("token")
@click.argument("account_id")
@click.argument("name")
@click.pass_context
def user_token(ctx: click.Context, account_id: str, name: str) -> None:
    """Issue an API token for an account; prints the secret once."""
    reg = _registry(ctx)
    try:
        rec, secret = reg.issue_token(reg.system, account_id, name)
    except (RecordError, Conflict) as exc:
        _fail(exc)
    click.echo(f"token {rec['id']} for {account_id}: {secret}")


class _Refused(click.ClickException):
    """A refused key operation: exit 2 with the reason, nothing written."""

    exit_code = 2


@user_cmd.command("new-key")
@click.argument("account_id")
@click.option("--as", "account", help="Admin account that issues it (default: system)")
@click.pass_context
def user_new_key(ctx: click.Context, account_id: str, account: str | None) -> None:
    """Issue a new Ed25519 key to an active account whose keys were revoked (actor.key.registered)."""
    reg = _registry(ctx)
    try:
        rec = reg.issue_new_key(_actor(reg, account), account_id)
    except (Conflict, NotFound, Forbidden) as exc:
        raise _Refused(str(exc)) from None
    reg.ledger.checkpoint()
    click.echo(f"new key {rec['key_id']} issued to {account_id}")


@user_cmd.command("sm2-key")
@click.argument("account_id")
@click.option("--as", "account", help="Admin account that gives it (default: system)")
@click.pass_context
def user_sm2_key(ctx: click.Context, account_id: str, account: str | None) -> None:
    """Give an account an SM2 (国密) key (actor.sm2_key.registered, SPEC §3 item 11): its later
    entries carry an SM2 signature beside the Ed25519 one. Again: a new key replaces the old."""
    reg = _registry(ctx)
    try:
        out = reg.give_sm2_key(_actor(reg, account), account_id)
    except (Conflict, NotFound, Forbidden) as exc:
        raise _Refused(str(exc)) from None
    reg.ledger.checkpoint()
    click.echo(f"SM2 key registered for {account_id} at seq {out['seq']}; public key {out['sm2_public_key']}")


@click.group("registry")
def registry_cmd() -> None:
    """Registry maintenance: rebuild from the log, demo data."""


@registry_cmd.command("rebuild")
@click.option("--at", type=int, default=None, help="Log position (entries [0, at)); default: whole log")
@click.option("--check", is_flag=True, help="Compare with the database; exit 1 on any difference")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the state as JSON")
@click.pass_context
def registry_rebuild(ctx: click.Context, at: int | None, check: bool, output: Path | None) -> None:
    """Rebuild every registry from the log alone."""
    reg = _registry(ctx)
    state = rebuild_from_ledger(reg.ledger, at)
    counts = {k: len(v) for k, v in state.items()}
    click.echo(json.dumps(counts, ensure_ascii=False))
    if output:
        output.write_text(json.dumps(state, ensure_ascii=False, sort_keys=True, indent=1), encoding="utf-8")
    if check:
        with reg.ledger.engine.connect() as conn:
            diffs = diff_states(load_state(conn), state)
        for d in diffs[:50]:
            click.echo(d, err=True)
        if diffs:
            click.echo(f"{len(diffs)} difference(s) between the log and the database", err=True)
            sys.exit(1)
        click.echo("database equals the state rebuilt from the log")


@registry_cmd.command("demo")
@click.option("--subjects", default=300, show_default=True)
@click.pass_context
def registry_demo(ctx: click.Context, subjects: int) -> None:
    """Seed the demo county (departments, items, subjects, inspectors, accounts, plan)."""
    from .demo import seed_demo

    inst = ctx.find_object(object).instance
    for line in seed_demo(inst.ledger(), inst, subjects=subjects):
        click.echo(line)


COMMANDS = [import_cmd, export_cmd, user_cmd, registry_cmd]
