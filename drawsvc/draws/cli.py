"""`drawsvc draw prepare|seed|run|substitute|swap|publish|abort|show|list|bundle`.

Every command acts as a named account (`--as ACCOUNT`), whose own key signs the log entry. A
step's answer carries `receipt` (SPEC §D11.7): the entry's seq and leaf hash, the checkpoint
signed with it and the inclusion proof, so the operator can check it at once.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click

from drawsvc.draw.errors import DrawError
from drawsvc.i18n import tr
from drawsvc.registry.authz import Forbidden

from .inputs import InputsError
from .service import DrawNotFound, DrawService, DrawStateError


class _Fail(click.ClickException):
    exit_code = 2


def _service(ctx: click.Context) -> tuple[DrawService, Any]:
    from drawsvc.registry.service import Registry

    inst = ctx.find_object(object).instance  # the drawsvc Ctx
    ledger = inst.ledger()
    registry = Registry(ledger, inst.passphrase())
    return DrawService(ledger, registry), registry


def _actor(registry: Any, account: str) -> Any:
    rec = registry.get("account", account)
    if rec is None:
        raise _Fail(f"no account {account!r}")
    return registry.actor_for(rec)


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (DrawError, InputsError, DrawStateError, DrawNotFound, Forbidden) as exc:
        raise _Fail(f"{type(exc).__name__}: {exc}") from None


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _json_arg(text: str, what: str) -> Any:
    raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _Fail(f"{what} is not JSON: {exc}") from None


account_option = click.option("--as", "account", required=True, help="The operator account acting (its key signs)")


@click.group()
def draw() -> None:
    """Verifiable draws: prepare → seed → run → (substitute) → publish, or abort."""


@draw.command("prepare")
@account_option
@click.option("--plan", required=True)
@click.option("--department", required=True)
@click.option("--sources", required=True, help='JSON list of public sources, e.g. [{"type":"dice"}], or @FILE')
@click.option("--draw-date", help="YYYY-MM-DD (default today)")
@click.option("--note", default="")
@click.pass_context
def prepare(ctx: click.Context, account: str, plan: str, department: str, sources: str,
            draw_date: str | None, note: str) -> None:
    """Freeze the pools and commit to them and to the seed recipe (a checkpoint follows)."""
    svc, reg = _service(ctx)
    _echo(_run(svc.prepare, _actor(reg, account), plan, department, _json_arg(sources, "--sources"),
               draw_date=draw_date, note=note))


@draw.command("seed")
@account_option
@click.argument("draw_id")
@click.option("--reveals", required=True, help="JSON list of the public sources' values, in declared order, or @FILE")
@click.pass_context
def seed(ctx: click.Context, account: str, draw_id: str, reveals: str) -> None:
    """Record the dice digits, beacon round, witness contributions; fix the seed."""
    svc, reg = _service(ctx)
    _echo(_run(svc.seed, _actor(reg, account), draw_id, _json_arg(reveals, "--reveals")))


@draw.command("run")
@account_option
@click.argument("draw_id")
@click.pass_context
def run(ctx: click.Context, account: str, draw_id: str) -> None:
    """Draw subjects and match inspectors; log the sealed result."""
    svc, reg = _service(ctx)
    _echo(_run(svc.run, _actor(reg, account), draw_id))


@draw.command("substitute")
@account_option
@click.argument("draw_id")
@click.option("--subject", required=True)
@click.option("--leaving", help="Inspector leaving the team (omit to replace the subject itself)")
@click.option("--reason", required=True,
              help="recusal_conflict | cannot_attend | certificate_lapsed | left_department; "
                   "for a subject: deregistered | not_operating | out_of_scope")
@click.option("--incoming", help="Who you expect to come in; refused unless it is the next eligible")
@click.pass_context
def substitute(ctx: click.Context, account: str, draw_id: str, subject: str, leaving: str | None,
               reason: str, incoming: str | None) -> None:
    """Replace an inspector or a subject by the next eligible one in draw order."""
    svc, reg = _service(ctx)
    actor = _actor(reg, account)
    if leaving:
        _echo(_run(svc.substitute_inspector, actor, draw_id, subject, leaving, reason, incoming=incoming))
    else:
        _echo(_run(svc.substitute_subject, actor, draw_id, subject, reason, incoming=incoming))


@draw.command("swap")
@account_option
@click.argument("draw_id")
@click.option("--inspector-a", required=True)
@click.option("--subject-a", required=True)
@click.option("--inspector-b", required=True)
@click.option("--subject-b", required=True)
@click.pass_context
def swap(ctx: click.Context, account: str, draw_id: str, inspector_a: str, subject_a: str,
         inspector_b: str, subject_b: str) -> None:
    """Two drawn inspectors exchange targets (003 第十五条), checked and logged."""
    svc, reg = _service(ctx)
    _echo(_run(svc.swap, _actor(reg, account), draw_id, inspector_a, subject_a, inspector_b, subject_b))


@draw.command("publish")
@account_option
@click.argument("draw_id")
@click.pass_context
def publish(ctx: click.Context, account: str, draw_id: str) -> None:
    """Reveal nonce and salts: the draw becomes public and checkable by anyone."""
    svc, reg = _service(ctx)
    _echo(_run(svc.publish, _actor(reg, account), draw_id))


@draw.command("abort")
@account_option
@click.argument("draw_id")
@click.option("--reason", required=True)
@click.pass_context
def abort(ctx: click.Context, account: str, draw_id: str, reason: str) -> None:
    """Close a draw that will not be completed (it stays visible)."""
    svc, reg = _service(ctx)
    _echo(_run(svc.abort, _actor(reg, account), draw_id, reason))


@draw.command("show")
@click.argument("draw_id")
@click.pass_context
def show(ctx: click.Context, draw_id: str) -> None:
    """The draw's public record (commitments, status, log positions)."""
    svc, _ = _service(ctx)
    _echo(_run(svc.get, draw_id))


@draw.command("list")
@click.pass_context
def list_draws(ctx: click.Context) -> None:
    """Every draw, newest first (aborted ones included)."""
    svc, _ = _service(ctx)
    for d in svc.list():
        click.echo(f"{d['id']:<24} {d['status']:<10} plan {d['plan']:<16} {d['department']}")


@draw.command("bundle")
@click.argument("draw_id")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="the bundle file; with --split, a new directory (bundle.json and pool/subjects-NNNNNN.jsonl)")
@click.option("--privileged", is_flag=True, help="Include sealed material (for auditors) before publication")
@click.option("--checkpoint", "checkpoint_size", type=click.IntRange(min=1),
              help="Against the stored checkpoint of this tree size (later steps come as pending_entries)")
@click.option("--split", is_flag=True, help="The subject pool as parts beside bundle.json (SPEC §D12.1): "
              "written one part at a time, for pools of millions")
@click.option("--part-size", type=click.IntRange(min=1), default=None,
              help="Subjects per part with --split (a power of two; default 1048576, the stored parts')")
@click.pass_context
def bundle(ctx: click.Context, draw_id: str, out: Path, privileged: bool, checkpoint_size: int | None,
           split: bool, part_size: int | None) -> None:
    """Write the draw's evidence bundle for offline verification (drawverify bundle FILE or DIR)."""
    from ledger.store import NotFound

    from .bundle import build_bundle
    from .pool_parts import PART_SIZE, part_file, valid_part_size

    if part_size is not None and not split:
        raise _Fail(tr("--part-size 只能与 --split 一起使用"))
    size = PART_SIZE if part_size is None else part_size
    if not valid_part_size(size):
        raise _Fail(tr("--part-size 应为 2 的幂"))
    if split and out.exists():
        raise _Fail(tr("%(path)s 已存在", path=str(out)))
    inst = ctx.find_object(object).instance
    tmp = out.with_name(out.name + ".partial") if split else None
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "pool").mkdir(parents=True)

    def sink(n: int, data: bytes) -> None:
        assert tmp is not None
        (tmp / part_file(n)).write_bytes(data)
    try:
        data = _run(build_bundle, inst.ledger(), draw_id, privileged=privileged,
                    log_verifier_key=inst.genesis_log_key.encode(), checkpoint_size=checkpoint_size,
                    part_size=size if split else None, part_sink=sink if split else None)
        if tmp is None:
            out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        else:  # all parts and bundle.json, then one rename: never a half-written directory
            (tmp / "bundle.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            tmp.rename(out)
    except NotFound as exc:
        raise _Fail(str(exc)) from None
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    click.echo(f"wrote {out}")
